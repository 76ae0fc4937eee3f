// The web page in a real headless Chromium against the real engine with the example workflows:
// the cart-abandon graph, live counts, an error flagged at its line in the editor, a fix saved as a
// new version, completion of event paths from the catalog, a decision table drawn as a table, an
// experiment's entries and conversions on the graph, and a run's timeline. Screenshots go to
// <target>/web-screenshots/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startEngine, openPage, client, shots } from "./engine.mjs";

let engine, url, browser, page, consoleErrors, post, getJson;
const SPLIT_FLOW = `workflow "web-split" version 1
on event promo.viewed
re-enroll always
split "web-banner" convert order.placed within 1d {
  variant "a" 50 { do log(variant: "a") }
  variant "b" 50 { do log(variant: "b") }
} as banner
`;

before(async () => {
  // An experiment that splits at once (the examples' split waits an hour first).
  ({ child: engine, url } = await startEngine({ "web-split.mkw": SPLIT_FLOW }));
  ({ post, getJson } = client(url));
  ({ browser, page, consoleErrors } = await openPage());
});

after(async () => {
  await browser?.close();
  engine?.kill();
});

test("the cart-abandon workflow is drawn with the right nodes", async () => {
  await page.goto(url + "/");
  await page.getByRole("link", { name: "cart-abandon" }).click();
  await page.waitForSelector("svg.graph g.node");
  const labels = await page.$$eval("svg.graph g.node text.label", (ts) => ts.map((t) => t.textContent));
  assert.deepEqual(labels, ["event cart.abandoned", "wait 1h", "split cart-reminder-coupon", "wait 2d", "if event.cart.total >= 200", "email.send(coupon, template, to)", "email.send(subject, text, to)", "task.create(queue, title)", "end"]);
  const edges = await page.$$eval("svg.graph text.edge-label", (ts) => ts.map((t) => t.textContent));
  assert.ok(edges.includes("yes") && edges.includes("no"), edges.join(","));
  assert.ok(edges.includes("coupon 45%") && edges.includes("holdout 10%"), edges.join(","));
  await page.screenshot({ path: path.join(shots, "graph.png") });
});

test("a node opens its definition from the keyboard", async () => {
  await page.focus('svg.graph g.node[data-id="reminder"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector(".details h2");
  assert.equal(await page.textContent(".details h2"), "action: reminder");
  assert.match(await page.textContent(".details pre"), /"template": \{\s*"value": "cart-reminder"/);
});

test("an event changes the node counts", async () => {
  await post("/events", { id: "web-1", type: "cart.abandoned", customer: { id: "c-web", email: "web@example.com", consent: { email: true } }, data: { cart: { total: 120, items: ["tea"] } } });
  await page.waitForFunction(() => document.querySelector('svg.graph text.counts[data-counts="1"]')?.textContent?.startsWith("1 in · 1 here"), null, { timeout: 10000 });
  await page.screenshot({ path: path.join(shots, "counts.png") });
});

test("an error typed into the editor is flagged at its line, and the fix is saved as a new version", async () => {
  await page.goto(url + "/#/w/cart-abandon/edit");
  await page.waitForSelector(".cm-content");
  await page.waitForSelector(".status.ok");
  const whenLine = page.locator(".cm-line", { hasText: "when: event.cart.total" });
  await whenLine.click();
  await page.keyboard.press("End");
  await page.keyboard.type(" and lenn(1) > 0");
  await page.waitForSelector(".problems li");
  const problem = await page.textContent(".problems li");
  assert.match(problem, /^line 10, column \d+: unknown function `lenn`/);
  assert.ok(await page.$(".cm-lintRange-error"), "the error is underlined in the editor");
  await page.screenshot({ path: path.join(shots, "editor-error.png") });

  for (let i = 0; i < " and lenn(1) > 0".length; i++) await page.keyboard.press("Backspace");
  await page.waitForSelector(".status.ok");
  await page.locator(".cm-line", { hasText: "re_enroll: after 30d" }).click();
  await page.keyboard.press("End");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.keyboard.press("Backspace");
  await page.keyboard.type("14d");
  await page.waitForSelector(".status.ok");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await page.waitForSelector(".status.saved");
  assert.match(await page.textContent(".status"), /cart-abandon is now version 3/);
  const workflows = await getJson("/workflows");
  assert.equal(workflows.find((w) => w.name === "cart-abandon").version, 3);
  await page.screenshot({ path: path.join(shots, "editor-saved.png") });
});

test("the editor completes event paths from the catalog, the trigger's own first", async () => {
  await page.goto(url + "/#/w/lead-routing/edit");
  await page.waitForSelector(".status.ok");
  await page.locator(".cm-line", { hasText: "lead_id:" }).click();
  await page.keyboard.press("End");
  await page.keyboard.type(" event.lead.sc");
  await page.waitForSelector(".cm-tooltip-autocomplete li");
  const options = await page.$$eval(".cm-tooltip-autocomplete li", (lis) => lis.map((li) => li.textContent));
  assert.ok(options.some((o) => o.startsWith("event.lead.score") && o.includes("number")), options.join(" | "));
  await page.screenshot({ path: path.join(shots, "editor-completion.png") });
  await page.keyboard.press("Escape");
});

test("a decision table is shown as a table", async () => {
  await page.goto(url + "/#/w/lead-routing");
  await page.waitForSelector('svg.graph g.node[data-id="route"]');
  await page.click('svg.graph g.node[data-id="route"]');
  await page.waitForSelector("table.decision");
  const head = await page.$$eval("table.decision thead th", (ths) => ths.map((t) => t.textContent));
  assert.deepEqual(head, ["#", "event.lead.region", "event.lead.score", "→ lane", "→ queue"]);
  const rows = await page.$$eval("table.decision tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(rows.length, 5);
  assert.deepEqual(rows[0], ["1", "APAC", ">= 80", "sales", "sales-apac"]);
  assert.deepEqual(rows[1].slice(1, 3), ['in [EMEA, NA]', ">= 80"]);
  assert.deepEqual(rows[4], ["5", "-", "-", "log", ""]);
  assert.equal(await page.textContent("table.decision caption"), "hit policy: first · complete");
  await page.screenshot({ path: path.join(shots, "decision-table.png") });
});

test("an experiment's entries and conversions appear on the graph and in its table", async () => {
  for (const c of ["w1", "w2", "w3", "w4"]) {
    await post("/events", { id: `promo-${c}`, type: "promo.viewed", customer: { id: c }, data: {} });
  }
  await post("/events", { id: "order-w1", type: "order.placed", customer: { id: "w1" }, data: { order: { id: "o-1" } } });
  await page.goto(url + "/#/w/web-split");
  const sum = (labels, word) => labels.reduce((n, l) => n + Number((l.match(new RegExp(`(\\d+) ${word}`)) || [0, 0])[1]), 0);
  await page.waitForFunction(() => {
    const labels = [...document.querySelectorAll("svg.graph text.edge-label")].map((t) => t.textContent);
    return labels.filter((l) => / in · /.test(l)).reduce((n, l) => n + Number(l.match(/(\d+) in/)[1]), 0) === 4
      && labels.some((l) => /1 conv/.test(l));
  }, null, { timeout: 10000 });
  const labels = await page.$$eval("svg.graph text.edge-label", (ts) => ts.map((t) => t.textContent));
  assert.equal(sum(labels, "in"), 4, labels.join(" | "));
  assert.equal(sum(labels, "conv"), 1, labels.join(" | "));
  // A split counts as done for each run that took it (the counts refresh every 2 s).
  await page.waitForFunction(() => /^4 in · 0 here · 4 done/.test(document.querySelector('svg.graph text.counts[data-counts="banner"]')?.textContent ?? ""), null, { timeout: 10000 });
  await page.click('svg.graph g.node[data-id="banner"]');
  await page.waitForSelector("table.variants");
  const rates = await page.$$eval("table.variants tbody tr", (trs) => trs.map((tr) => tr.children[4].textContent));
  assert.ok(rates.some((r) => /^\d+\.\d% \(\d+\.\d%–\d+\.\d%\)$/.test(r)), rates.join(" | "));
  await page.screenshot({ path: path.join(shots, "experiment.png") });
});

test("a run's timeline and a customer's runs are shown", async () => {
  const runs = await getJson("/runs?customer=c-web");
  assert.equal(runs.length, 1);
  assert.equal(runs[0].version, 2, "the run in flight keeps its version");
  await page.goto(url + `/#/run/${runs[0].id}`);
  await page.waitForSelector("table.timeline tbody tr");
  const statuses = await page.$$eval("table.timeline tbody tr td:nth-child(4)", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(statuses, ["started", "waiting"]);
  // Drawn on its own version's graph (the workflow is on version 3 by now): the path taken
  // highlighted, where it waits, until when, and the way on.
  const onPath = await page.$$eval("svg.graph g.node.on-path", (gs) => gs.map((g) => g.getAttribute("data-id")));
  assert.deepEqual(onPath, ["trigger", "1"]);
  assert.ok(await page.$('svg.graph path.edge.on-path[data-edge="trigger>1"]'));
  assert.match(await page.textContent(".where-now"), /^Waiting at “wait 1h” until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\. Next: then → split cart-reminder-coupon\.$/);
  await page.screenshot({ path: path.join(shots, "run.png") });
  await page.fill("#customer", "c-web");
  await page.keyboard.press("Enter");
  await page.waitForSelector("text=Runs of customer c-web");
  assert.match(await page.textContent("main table.runs tbody"), /cart-abandon v2/);
});

test("the page logged no console errors", () => {
  assert.deepEqual(consoleErrors, []);
});
