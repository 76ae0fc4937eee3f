// A customer's page with what the engine learned of them, in a real headless Chromium against
// the real engine: a generated history (`mikawaya demo-data --send`), a sweep, the churn model
// trained; the page shows the customer's segments, RFM quintiles and churn prediction with the
// features behind it, as the API gives them.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { startEngine, openPage, client, shots, until, binary, TOKEN } from "./engine.mjs";

let engine, url, browser, page, consoleErrors, getJson;

before(async () => {
  ({ child: engine, url } = await startEngine({}, ["--segment-sweep-seconds", "0"]));
  ({ getJson } = client(url));
  ({ browser, page, consoleErrors } = await openPage({ width: 1280, height: 900 }));
});

after(async () => {
  await browser?.close();
  engine?.kill();
});

const call = async (method, pathname) => {
  const r = await fetch(url + pathname, { method, headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text);
};

test("a customer's segments, RFM and churn prediction are shown as the engine knows them", async () => {
  execFileSync(binary, ["demo-data", "--customers", "150", "--seed", "3", "--send", "--url", url, "--token", TOKEN]);
  const unmatched = async () => {
    const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    return Number(/^mikawaya_events_unmatched (\d+)/m.exec(text)?.[1] ?? -1);
  };
  for (let i = 0; i < 6 && (await unmatched()) !== 0; i++) await until(async () => (await unmatched()) === 0).catch(() => {});
  assert.equal(await unmatched(), 0);
  // The generated history is what a backtest replays: every ticket of the last 90 days is
  // triaged and becomes one task.
  const backtest = await fetch(`${url}/workflows/ticket-routing/backtest`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ days: 90 }) });
  const { report: replayed } = await backtest.json();
  assert.equal(backtest.status, 200, JSON.stringify(replayed));
  assert.ok(replayed.runs > 0 && replayed.events > replayed.runs, JSON.stringify(replayed));
  assert.equal(replayed.actions["ticket.triage"], replayed.runs, JSON.stringify(replayed.actions));
  assert.equal(replayed.actions["task.create"], replayed.runs, JSON.stringify(replayed.actions));
  await call("POST", "/segments/sweep");
  const trained = await call("POST", "/models/churn/train");
  assert.ok(trained.evaluation.auc > 0.5, JSON.stringify(trained.evaluation));
  // A customer in a segment, with RFM quintiles.
  let id;
  for (let i = 0; i < 150 && !id; i++) {
    const c = await getJson(`/customers/cust-${String(i).padStart(5, "0")}`);
    if (c.segments?.length && c.rfm) id = c.id;
  }
  assert.ok(id, "some customer is in a segment and has RFM quintiles");
  const customer = await getJson(`/customers/${id}`);
  const [prediction] = await getJson(`/customers/${id}/predictions`);
  await page.goto(`${url}/#/customer/${id}`);
  await page.waitForSelector('.prediction[data-model="churn"]');
  const segments = await page.$$eval(".segment-list li", (lis) => lis.map((li) => li.textContent));
  assert.deepEqual(segments, customer.segments);
  assert.match(await page.textContent(".rfm"), new RegExp(`RFM ${customer.rfm.code}`));
  assert.equal(await page.textContent('.prediction[data-model="churn"] .chance'), `${(100 * prediction.chance).toFixed(1)}%`);
  const features = await page.$$eval(".because tbody tr", (trs) => trs.map((tr) => tr.children[0].textContent));
  assert.deepEqual(features, prediction.because.slice(0, 5).map((c) => c.feature), "largest effects first");
  const attrs = await page.$$eval("table.attributes th", (ths) => ths.map((th) => th.textContent));
  for (const hidden of ["_history", "_segments", "predict", "rfm"]) assert.ok(!attrs.includes(hidden), `${hidden} is not an attribute row`);
  await page.screenshot({ path: path.join(shots, "customer-intel.png"), fullPage: true });
  assert.deepEqual(consoleErrors, []);
});
