// The visual builder in a real headless Chromium against the real engine, as an ops user would
// use it: a workflow created from nothing (trigger, an entry condition built from rows), a
// wait-for-event and an email inserted on the canvas and filled through forms, saved, events
// sent and counted on its nodes; a step inserted and deleted, undo and redo; the text editor
// changed and the canvas following; a visual edit of a commented YAML file keeping every
// comment in the saved file. Screenshots go to <target>/web-screenshots/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startEngine, openPage, client, shots, root } from "./engine.mjs";

let engine, url, workflows, browser, page, consoleErrors, post, getJson;

before(async () => {
  // The example WASM plugins (plugins/examples/build.sh) with their grants: their actions and
  // input schemas are offered like the built-ins'.
  const grants = path.join(mkdtempSync(path.join(tmpdir(), "grants-")), "grants.yaml");
  writeFileSync(grants, "lead-router: { kv: true }\n");
  const plugins = ["--plugins", path.join(root, "plugins/examples"), "--plugin-grants", grants];
  ({ child: engine, url, workflows } = await startEngine({}, plugins));
  ({ post, getJson } = client(url));
  ({ browser, page, consoleErrors } = await openPage({ width: 1280, height: 800 }));
});

after(async () => {
  await browser?.close();
  engine?.kill();
});

const source = () => page.evaluate(() => window.mikawayaEditor.state.doc.toString());
const labels = () => page.$$eval("svg.graph g.node text.label", (ts) => ts.map((t) => t.textContent));
/** Inserts a step of the kind labelled `choice` on the "+" whose label starts with `after`. */
async function insert(after, choice) {
  await page.locator(`svg.graph g.insert[aria-label^="insert a step after ${after}"]`).first().click();
  await page.getByRole("menuitem", { name: choice, exact: true }).click();
}
/** Types into a form field and leaves it, as a user does. */
async function fill(selector, value) {
  await page.fill(selector, value);
  await page.press(selector, "Tab");
}

test("a workflow is created from nothing, with an entry condition built from rows", async () => {
  // Not in the catalog: the condition builder learns its paths from recent events.
  await post("/events", { id: "t-0", type: "trial.started", customer: { id: "seed", consent: { email: true } }, data: { trial: { plan: "pro", seats: 3 } } });
  await page.goto(url + "/");
  await page.getByRole("link", { name: "+ New workflow" }).click();
  await page.fill("#wf-name", "trial-nudge");
  await page.fill("#wf-description", "Nudge pro trials that did not convert");
  await page.fill("#wf-event", "trial.started");
  await page.press("#wf-event", "Tab");
  await page.waitForSelector('datalist option[value="event.trial.plan"]', { state: "attached" });
  await page.getByRole("button", { name: "+ condition" }).click();
  await page.fill('[aria-label="entry condition: path of row 1"]', "event.trial.plan");
  await page.fill('[aria-label="entry condition: value of row 1"]', "pro");
  await page.press('[aria-label="entry condition: value of row 1"]', "Tab");
  await page.getByRole("button", { name: "+ condition" }).click();
  await page.fill('[aria-label="entry condition: path of row 2"]', "customer.consent.email");
  await page.selectOption('[aria-label="entry condition: operator of row 2"]', "is true");
  await page.press('[aria-label="entry condition: operator of row 2"]', "Tab");
  await page.fill("#wf-goal", "trial.converted");
  await page.selectOption("#wf-re-enroll", "when_finished");
  await page.screenshot({ path: path.join(shots, "builder-new.png") });
  await page.getByRole("button", { name: "Create workflow" }).click();
  await page.waitForURL(/#\/w\/trial-nudge\/edit$/);
  await page.waitForSelector(".status.ok");
  const file = readFileSync(path.join(workflows, "trial-nudge.yaml"), "utf8");
  assert.match(file, /^when: event\.trial\.plan == "pro" and customer\.consent\.email$/m);
  assert.match(file, /^trigger:\n  event: trial\.started$/m);
  assert.match(file, /^re_enroll: when_finished$/m);
  assert.deepEqual(await labels(), ["event trial.started", "exit: done", "end"]);
});

test("steps are inserted on the canvas and filled through their forms, then saved", async () => {
  await insert("event trial.started", "Wait for an event");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 3d for trial.converted"));
  // The new step is selected: its form shows the wait's fields.
  await fill(".panel input[name=for]", "2d");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 2d for trial.converted"));
  await insert("wait 2d for trial.converted (timeout)", "Action: email.send");
  await page.waitForSelector(".panel legend >> text=with (email.send)");
  assert.equal(await page.inputValue(".panel input[name=to]"), "{{ customer.email }}");
  assert.ok(await page.$(".panel input[name=to][aria-required=true]"), "`to` is marked required");
  await fill(".panel input[name=subject]", "Your trial ends soon");
  await fill(".panel input[name=text]", "Hi, your {{ event.trial.plan }} trial has {{ event.trial.seats }} seats.");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "email.send(subject, text, to)"));
  assert.deepEqual(await labels(), ["event trial.started", "wait 2d for trial.converted", "email.send(subject, text, to)", "exit: done", "end"]);
  await page.screenshot({ path: path.join(shots, "builder-form.png") });
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await page.waitForSelector(".status.saved");
  const file = readFileSync(path.join(workflows, "trial-nudge.yaml"), "utf8");
  assert.match(file, /^steps:\n  - wait:\n      for: 2d\n      until_event: trial\.converted\n  - action: email\.send\n    with:\n      to: "\{\{ customer\.email \}\}"\n      subject: Your trial ends soon\n/m);
});

test("events sent through the API appear as counts on the new workflow's nodes", async () => {
  await post("/events", { id: "t-1", type: "trial.started", customer: { id: "ann", email: "ann@example.com", consent: { email: true } }, data: { trial: { plan: "pro", seats: 5 } } });
  await post("/events", { id: "t-2", type: "trial.started", customer: { id: "bob", consent: { email: true } }, data: { trial: { plan: "free", seats: 1 } } });
  await page.goto(url + "/#/w/trial-nudge");
  await page.waitForFunction(() => /^1 in · 1 here/.test(document.querySelector("svg.graph g.node.wait text.counts")?.textContent ?? ""), null, { timeout: 10000 });
  const runs = await getJson("/runs?workflow=trial-nudge");
  assert.deepEqual(runs.map((r) => r.customer_id), ["ann"], "bob's free plan does not pass the condition");
});

test("a step inserted and deleted; undo and redo go through the same history", async () => {
  await page.goto(url + "/#/w/trial-nudge/edit");
  await page.waitForSelector(".status.ok");
  const before = await source();
  await insert("email.send", "Wait");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 1d"));
  await page.getByRole("button", { name: "Delete step" }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 1d"));
  assert.equal(await source(), before, "insert then delete leaves the file as it was");
  await page.getByRole("button", { name: "Undo" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 1d"));
  await page.getByRole("button", { name: "Redo" }).click();
  await page.waitForFunction(() => ![...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 1d"));
});

test("the canvas follows the text editor", async () => {
  await page.locator(".cm-line", { hasText: "for: 2d" }).click();
  await page.keyboard.press("End");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("5d");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 5d for trial.converted"));
  // A step moved on the canvas moves in the text.
  await page.click('svg.graph g.node.action');
  await page.getByRole("button", { name: "Move up" }).click();
  await page.waitForFunction(() => document.querySelector("svg.graph g.node.selected text.label")?.textContent === "email.send(subject, text, to)");
  assert.match(await source(), /^steps:\n  - action: email\.send\n[\s\S]*\n  - wait:\n      for: 5d\n/m);
});

test("a visual edit of a commented YAML file keeps every comment in the saved file", async () => {
  const original = readFileSync(path.join(root, "workflows", "cart-abandon.yaml"), "utf8");
  await page.goto(url + "/#/w/cart-abandon/edit");
  await page.waitForSelector(".status.ok");
  await page.locator("svg.graph g.node", { hasText: "task.create" }).click();
  await fill(".panel input[name=queue]", "retention-vip");
  await page.waitForFunction(() => window.mikawayaEditor.state.doc.toString().includes("queue: retention-vip"));
  await page.waitForSelector(".status.ok");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await page.waitForSelector(".status.saved");
  const saved = readFileSync(path.join(workflows, "cart-abandon.yaml"), "utf8");
  assert.equal(saved, original.replace("queue: retention", "queue: retention-vip"));
  await page.screenshot({ path: path.join(shots, "builder-canvas.png") });
});

test("a DSL file is edited as text, with its canvas drawn but read-only", async () => {
  await page.goto(url + "/#/w/renewal-reminder/edit");
  await page.waitForSelector("h1 >> text=Build renewal-reminder");
  await page.waitForSelector(".status.ok");
  assert.equal(await page.$("svg.graph g.insert"), null, "no + on a .mkw canvas");
  assert.match(await page.textContent(".panel"), /written in the DSL/);
  assert.ok((await labels()).includes("wait 14d for contract.renewed"));
  await page.locator(".cm-line", { hasText: "wait 14d until event contract.renewed" }).click();
  await page.keyboard.press("Home");
  for (let i = 0; i < "wait 1".length; i++) await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Delete");
  await page.keyboard.type("0");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph text.label")].some((t) => t.textContent === "wait 10d for contract.renewed"));
});

test("a draft's tests run from the page: the passing and the failing case with its diff", async () => {
  await page.goto(url + "/#/w/support-escalation/edit");
  await page.waitForSelector(".status.ok");
  await page.click('svg.graph g.node[data-id="4"]');
  await fill(".panel input[name=queue]", "support-leads");
  await page.waitForFunction(() => window.mikawayaEditor.state.doc.toString().includes("queue: support-leads"));
  await page.getByRole("button", { name: "Run tests" }).click();
  await page.waitForSelector(".results .tests");
  assert.match(await page.textContent(".results .tests .status"), /^[1-9]\d* passed, 1 failed$/);
  const failed = page.locator(".results li.case.failed");
  assert.equal(await failed.count(), 1);
  assert.match(await failed.textContent(), /a reply to another ticket does not count/);
  // The missing call, field by field against the closest call made.
  assert.match(await failed.locator("pre.diff").first().textContent(), /expected action #2 `task\.create` at \+8h[\s\S]*\n\s+- queue: "support-managers"\n\s+\+ queue: "/);
  assert.ok((await page.locator(".results li.case.passed").count()) >= 1);
  await page.screenshot({ path: path.join(shots, "builder-tests.png"), fullPage: true });
});

test("a backtest replays the stored history and shows who reached each node", async () => {
  const ago = (hours) => new Date(Date.now() - hours * 3600_000).toISOString();
  const ticket = (id, type, customer, t, at) => ({ id, type, customer: { id: customer }, occurred_at: at, data: { ticket: t } });
  await post("/events", [
    ticket("h-1", "ticket.opened", "c1", { id: "T1", priority: "urgent" }, ago(48)),
    ticket("h-2", "ticket.replied", "c1", { id: "T1" }, ago(47)),
    ticket("h-3", "ticket.opened", "c2", { id: "T2", priority: "high" }, ago(40)),
    ticket("h-4", "ticket.opened", "c3", { id: "T3", priority: "low" }, ago(30)),
  ]);
  await page.getByRole("button", { name: "Backtest" }).click();
  await page.waitForSelector(".results .backtest");
  const counts = async () => Object.fromEntries(await page.$$eval("svg.graph text.counts", (ts) => ts.map((t) => [t.getAttribute("data-counts"), t.textContent])));
  assert.deepEqual(await counts(), { trigger: "2 enrolled", 1: "2 reached", "1.on_event": "1 reached", 2: "1 reached", 3: "1 reached", 4: "1 reached" });
  assert.match(await page.textContent(".results .backtest"), /task\.create\s*2/);
  await page.screenshot({ path: path.join(shots, "builder-backtest.png"), fullPage: true });
});

test("a WASM plugin's action gets its form from the plugin's input schema", async () => {
  await page.goto(url + "/#/w/trial-nudge/edit");
  await page.waitForSelector("h1 >> text=Build trial-nudge");
  await page.waitForSelector(".status.ok");
  await insert("event trial.started", "Action: sla.level (plugin sla-escalation)");
  await page.waitForSelector(".panel legend >> text=with (sla.level)");
  const options = await page.$$eval(".panel select[name=priority] option", (os) => os.map((o) => o.value));
  assert.deepEqual(options, ["low", "normal", "high", "urgent"], "an enum is a select; required, so no empty choice");
  assert.ok(await page.$(".panel input[name=age_minutes][type=number][aria-required=true]"));
  await page.selectOption(".panel select[name=priority]", "urgent");
  await fill(".panel input[name=age_minutes]", "-5");
  assert.equal(await page.textContent(".panel .field:has(input[name=age_minutes]) .field-error"), "at least 0");
  await fill(".panel input[name=age_minutes]", "45");
  await page.waitForFunction(() => /- action: sla\.level\n    with:\n      priority: urgent\n      age_minutes: 45\n/.test(window.mikawayaEditor.state.doc.toString()));
});

test("the builder logged no console errors", () => {
  assert.deepEqual(consoleErrors, []);
});
