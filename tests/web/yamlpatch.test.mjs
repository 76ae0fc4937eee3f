// Unit tests of the builder's YAML patches (engine/web/src/yamlpatch.ts), bundled for Node with
// the page's own bundler: a visual edit changes only what it edits; comments, blank lines,
// quoting and key order of the rest stay.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { load } from "./bundle.mjs";

let p;
before(async () => {
  p = await load("yamlpatch");
});

const FLOW = `# Win back: a comment at the top.
workflow: win-back   # the name
version: 1
trigger:
  event: order.placed

steps:
  # wait first
  - wait: { for: 1h }
  - id: mail
    action: email.send
    with:
      to: "{{ customer.email }}"   # keep me
      subject: 'Hello'
  - if: event.total >= 50
    then:
      - exit: big
`;

test("setting a leaf replaces only its value", () => {
  const out = p.setValue(FLOW, ["steps", 1, "with", "subject"], "Welcome back");
  assert.equal(out, FLOW.replace("'Hello'", "Welcome back"));
  assert.equal(p.setValue(FLOW, ["steps", 0, "wait", "for"], "2d"), FLOW.replace("{ for: 1h }", "{ for: 2d }"));
});

test("a new key goes after the map's last key at its indentation", () => {
  const out = p.setValue(FLOW, ["steps", 1, "retry", "attempts"], 3);
  assert.match(out, /      subject: 'Hello'\n    retry:\n      attempts: 3\n  - if:/);
  const flow = p.setValue(FLOW, ["steps", 0, "wait", "until_event"], "order.placed");
  assert.match(flow, /- wait: \{ for: 1h, until_event: order.placed \}/);
  const top = p.setValue(FLOW, ["goal"], "order.placed");
  assert.ok(top.endsWith("      - exit: big\ngoal: order.placed\n"), top);
  assert.equal(p.getValue(top, ["goal"]), "order.placed");
});

test("steps are inserted, deleted and moved as whole items, comments kept", () => {
  const inserted = p.insertItem(FLOW, ["steps"], 1, { action: "log", with: { message: "hi {{ event.id }}" } });
  assert.match(inserted, /  - wait: \{ for: 1h \}\n  - action: log\n    with:\n      message: hi \{\{ event.id \}\}\n  - id: mail/);
  assert.ok(inserted.includes("# keep me") && inserted.includes("# wait first") && inserted.includes("# the name"));
  const nested = p.insertItem(FLOW, ["steps", 2, "then"], 0, { wait: { for: "1d" } });
  assert.match(nested, /    then:\n      - wait:\n          for: 1d\n      - exit: big/);
  const elseBranch = p.insertItem(FLOW, ["steps", 2, "else"], 0, { exit: "small" });
  assert.ok(elseBranch.endsWith("      - exit: big\n    else:\n      - exit: small\n"), elseBranch);
  assert.equal(p.deleteItem(inserted, ["steps"], 1), FLOW);
  const emptyThen = FLOW.replace("    then:\n      - exit: big\n", "    then: []\n");
  assert.ok(p.insertItem(emptyThen, ["steps", 2, "then"], 0, { exit: "big" }) === FLOW, p.insertItem(emptyThen, ["steps", 2, "then"], 0, { exit: "big" }));
  const moved = p.moveItem(FLOW, ["steps"], 1, -1);
  assert.match(moved, /  # wait first\n  - id: mail[\s\S]*subject: 'Hello'\n  - wait: \{ for: 1h \}\n  - if:/);
  assert.equal(p.moveItem(moved, ["steps"], 0, 1), FLOW);
});

test("deleting keys keeps the item's dash and drops emptied parents", () => {
  const noId = p.deleteValue(FLOW, ["steps", 1, "id"]);
  assert.match(noId, /  - action: email.send\n    with:/);
  const noWith = p.deleteValue(p.deleteValue(FLOW, ["steps", 1, "with", "to"]), ["steps", 1, "with", "subject"]);
  assert.ok(!noWith.includes("with:"), noWith);
  const noElse = p.deleteItem(FLOW, ["steps", 2, "then"], 0);
  assert.ok(!noElse.includes("then:"), noElse);
});

test("every step is found at the line the checker gives it", () => {
  const lines = [...p.stepPaths(FLOW)].map(([line, at]) => `${line} ${at.join(".")}`);
  assert.deepEqual(lines, ["9 steps.0", "10 steps.1", "15 steps.2", "17 steps.2.then.0"]);
  const cart = readFileSync(path.resolve(import.meta.dirname, "../../workflows/cart-abandon.yaml"), "utf8");
  const paths = [...p.stepPaths(cart).values()].map((at) => at.join("."));
  assert.ok(paths.includes("steps.1.variants.0.steps.0") && paths.includes("steps.3.then.0"), paths.join(" "));
});
