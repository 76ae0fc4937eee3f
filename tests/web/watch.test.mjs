// Watching workflows in the page, in a real headless Chromium against the real engine: per-node
// counts of a chosen period with the reasons of skipped steps, the funnel from trigger to goal,
// the explain verdicts of an event, and a dead letter sent back with its Retry button.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { startEngine, openPage, client, shots, until } from "./engine.mjs";

const WATCH_FLOW = `workflow: watch-flow
version: 1
trigger:
  event: visit.logged
when: event.visit.pages >= 2
goal: order.placed
re_enroll: always
steps:
  - id: greet
    action: log
    with: { message: "hi" }
  - id: mail
    action: email.send
    with: { to: "{{ customer.email }}", subject: "Hi", text: "Hello" }
  - id: pause
    wait: { for: 1d }
  - id: bye
    action: log
    with: { message: "bye" }
`;
// A webhook nobody answers: its step fails at once (one attempt) into a dead letter.
const BROKEN_HOOK = `workflow: broken-hook
version: 1
trigger:
  event: hook.test
re_enroll: always
steps:
  - id: call
    action: webhook
    with: { url: "http://127.0.0.1:9/nobody" }
    retry: { attempts: 1 }
`;

let engine, url, browser, page, consoleErrors, post, getJson;

before(async () => {
  ({ child: engine, url } = await startEngine({ "watch-flow.yaml": WATCH_FLOW, "broken-hook.yaml": BROKEN_HOOK }));
  ({ post, getJson } = client(url));
  ({ browser, page, consoleErrors } = await openPage({ width: 1280, height: 800 }));
});

after(async () => {
  await browser?.close();
  engine?.kill();
});

const visit = (id, customer, pages) => ({ id, type: "visit.logged", customer: { id: customer, email: `${customer}@example.com` }, data: { visit: { pages } } });

test("node counts of a period, skipped reasons, and the funnel to the goal", async () => {
  await post("/events", [visit("v1", "ann", 3), visit("v2", "bob", 5), visit("v3", "cid", 1)]);
  await until(async () => (await getJson("/runs?workflow=watch-flow")).filter((r) => r.status === "waiting").length === 2);
  await post("/events", { id: "o1", type: "order.placed", customer: { id: "ann" }, data: {} });
  await page.goto(url + "/#/w/watch-flow");
  await page.waitForFunction(() => /goal: order\.placed\s*1 \(50%\)/.test(document.querySelector(".funnel")?.textContent ?? ""), null, { timeout: 10000 });
  const stages = await page.$$eval(".funnel li", (lis) => lis.map((li) => `${li.querySelector(".stage").textContent} ${li.querySelector(".n").textContent}`));
  assert.deepEqual(stages, ["started 2 (100%)", "greet 2 (100%)", "mail 2 (100%)", "pause 2 (100%)", "bye 0 (0%)", "goal: order.placed 1 (50%)"]);
  const counts = Object.fromEntries(await page.$$eval("svg.graph text.counts", (ts) => ts.map((t) => [t.getAttribute("data-counts"), t.textContent])));
  assert.equal(counts.trigger, "2 started");
  assert.equal(counts.mail, "2 in · 0 here · 0 done · 2 skipped");
  assert.equal(counts.pause, "2 in · 1 here · 0 done");
  await page.click('svg.graph g.node[data-id="mail"]');
  await page.waitForSelector("table.reasons");
  const reasons = await page.$$eval("table.reasons tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(reasons.length, 1, JSON.stringify(reasons));
  assert.equal(reasons[0][0], "skipped");
  assert.match(reasons[0][1], /consent/);
  assert.equal(reasons[0][2], "2");
  await page.screenshot({ path: path.join(shots, "watch-funnel.png"), fullPage: true });
  // Another period asks the engine for that period's counts.
  const asked = page.waitForRequest((r) => r.url().includes("/workflows/watch-flow/steps?period=1h"));
  await page.selectOption("#period", "1h");
  await asked;
  await page.waitForFunction(() => document.querySelector('svg.graph text.counts[data-counts="trigger"]')?.textContent === "2 started");
});

test("an event's explain verdicts show what each condition saw", async () => {
  await page.fill("#explain-event", "v3");
  await page.press("#explain-event", "Enter");
  await page.waitForSelector(".verdict");
  assert.match(await page.textContent(".verdict h2"), /^✗ watch-flow v1$/);
  assert.match(await page.textContent(".verdict .conditions"), /event\.visit\.pages >= 2 did not hold \(saw 1 >= 2\)/);
  await page.goto(url + "/#/explain/v1");
  await page.waitForSelector(".verdict.fired");
  assert.ok(await page.$('.verdict a[href^="#/run/"]'), "a started run is linked");
});

test("a dead letter is sent back with its Retry button", async () => {
  await post("/events", { id: "h1", type: "hook.test", customer: { id: "dan" }, data: {} });
  let letters = [];
  await until(async () => (letters = await getJson("/dead-letters")).length === 1);
  await page.getByRole("link", { name: "Dead letters" }).click();
  await page.waitForSelector(`tr[data-letter="${letters[0].id}"]`);
  await page.getByRole("button", { name: `retry dead letter ${letters[0].id} (run ${letters[0].run_id})` }).click();
  await page.waitForFunction(() => /^sent back: run /.test(document.querySelector(".retry-status")?.textContent ?? ""));
  // Retried: marked so (the webhook still fails, so the run ends in a new letter).
  await until(async () => (await getJson("/dead-letters")).find((d) => d.id === letters[0].id)?.retried_at);
  await page.screenshot({ path: path.join(shots, "dead-letters.png") });
});

test("a customer's page shows their attributes, scores with what added which points, and runs", async () => {
  const ev = (id, type, data = {}) => ({ id, type, customer: { id: "lea", email: "lea@example.com", tier: "gold" }, data });
  await post("/events", [ev("s-1", "email.opened"), ev("s-2", "email.opened"), ev("s-3", "lead.form_submitted", { form: "demo" })]);
  await until(async () => (await getJson("/customers/lea/scores"))[0]?.history.length === 3);
  await page.fill("#customer", "lea");
  await page.press("#customer", "Enter");
  await page.waitForSelector('.score[data-score="lead"]');
  assert.equal(await page.textContent('.score[data-score="lead"] .score-value'), "40.00");
  const changes = await page.$$eval(".score-history tbody tr", (trs) => trs.map((tr) => [...tr.children].slice(1).map((td) => td.textContent)));
  assert.deepEqual(changes.map((c) => c.slice(0, 3)), [["+30", "40", "s-3"], ["+5", "10", "s-2"], ["+5", "5", "s-1"]], "newest first");
  assert.deepEqual(changes.map((c) => c[3]), ['lead.form_submitted where event.form == "demo"', "email.opened", "email.opened"], "each with the rule that held");
  assert.ok(await page.$('.score-history a[href="#/explain/s-3"]'), "each change links to its event's explanation");
  const attrs = Object.fromEntries(await page.$$eval("table.attributes tr", (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[1].textContent])));
  assert.equal(attrs.tier, "gold");
  assert.equal(attrs._scores, undefined, "the stored states stay hidden");
  assert.match(await page.textContent("main"), /Runs of customer lea/);
  await page.screenshot({ path: path.join(shots, "customer.png"), fullPage: true });
});

test("the watch views logged no console errors", () => {
  assert.deepEqual(consoleErrors, []);
});
