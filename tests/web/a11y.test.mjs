// Accessibility and keyboard use of the page, in a real headless Chromium at 1280×800: every
// view passes axe-core's WCAG 2 A/AA rules, and a step is inserted and edited on the canvas
// with the keyboard alone.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { startEngine, openPage, client, until, shots } from "./engine.mjs";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
let engine, url, browser, page, consoleErrors, post, getJson;

before(async () => {
  ({ child: engine, url } = await startEngine());
  ({ post, getJson } = client(url));
  ({ browser, page, consoleErrors } = await openPage({ width: 1280, height: 800 }));
});

after(async () => {
  await browser?.close();
  engine?.kill();
});

/** The WCAG 2 A/AA violations axe finds on the page as it is now. */
async function violations() {
  await page.addScriptTag({ path: axePath });
  const found = await page.evaluate(async () => (await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] })).violations);
  return found.map((v) => `${v.id}: ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(", ")}`);
}

test("every view passes axe's WCAG 2 A and AA rules", async () => {
  await post("/events", { id: "a-1", type: "cart.abandoned", customer: { id: "c-a11y", email: "a@example.com", consent: { email: true } }, data: { cart: { total: 80 } } });
  let runs = [];
  await until(async () => (runs = await getJson("/runs?customer=c-a11y")).length === 1);
  const views = [
    ["workflow", "/#/w/cart-abandon", "svg.graph g.node"],
    ["builder", "/#/w/cart-abandon/edit", ".status.ok"],
    ["new workflow", "/#/new", "#wf-name"],
    ["run", `/#/run/${runs[0].id}`, ".where-now"],
    ["explain", "/#/explain/a-1", ".verdict"],
    ["dead letters", "/#/dead-letters", "h1"],
    ["customer", "/#/customer/c-a11y", "table.runs"],
  ];
  for (const [name, at, ready] of views) {
    await page.goto(url + at);
    await page.waitForSelector(ready);
    if (name === "builder") {
      await page.click('svg.graph g.node[data-id="reminder"]');
      await page.waitForSelector(".panel fieldset");
      await page.screenshot({ path: path.join(shots, "builder.png") });
    }
    assert.deepEqual(await violations(), [], `${name} view`);
  }
});

test("a step is inserted and filled with the keyboard alone", async () => {
  await page.goto(url + "/#/w/support-escalation/edit");
  await page.waitForSelector(".status.ok");
  await page.focus('svg.graph g.insert[data-insert="trigger>1"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector('.menu [role="menuitem"]:focus');
  for (let i = 0; i < 10; i++) {
    if ((await page.evaluate(() => document.activeElement.textContent)) === "Wait") break;
    await page.keyboard.press("ArrowDown");
  }
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => [...document.querySelectorAll("svg.graph g.node.selected text.label")].some((t) => t.textContent === "wait 1d"));
  await page.focus(".panel input[name=for]");
  await page.keyboard.press("Control+A");
  await page.keyboard.type("2h");
  await page.keyboard.press("Tab");
  await page.waitForFunction(() => window.mikawayaEditor.state.doc.toString().includes("steps:\n  - wait:\n      for: 2h\n  - wait:\n      for: 4h\n"));
  await page.waitForFunction(() => document.querySelector("svg.graph g.node.selected text.label")?.textContent === "wait 2h");
  // Escape closes the menu and gives the focus back to its "+".
  await page.focus('svg.graph g.insert[data-insert="trigger>1"]');
  await page.keyboard.press("Enter");
  await page.waitForSelector(".menu");
  await page.keyboard.press("Escape");
  assert.equal(await page.$(".menu"), null);
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-insert")), "trigger>1");
});

test("the views logged no console errors", () => {
  assert.deepEqual(consoleErrors, []);
});
