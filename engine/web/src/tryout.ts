// Trying a draft before saving it: its rule tests (pass or fail with what differed) and a
// backtest over the stored history (customers reaching each step on the canvas, what it would
// have called), both run by the engine in a sandbox.

import { api, el } from "./api";

/** One test file's result as `POST /workflows/{name}/tests` gives it. */
interface TestFile { file: string; error: string | null; cases: { name: string; failures: string[] }[] }

/** The tests' report: a line per case, failures with their text (the diff against the closest call). */
export function testReport(r: { passed: number; failed: number; files: TestFile[] }): HTMLElement {
  if (!r.files.length) return el("p", { class: "help" }, "This workflow has no tests yet: add a NAME.test.yaml beside it.");
  return el("div", { class: "tests" },
    el("p", { class: r.failed ? "status bad" : "status ok", role: "status" }, `${r.passed} passed, ${r.failed} failed`),
    ...r.files.map((f) => el("section", {},
      el("h3", {}, f.file.split("/").pop() ?? f.file),
      f.error ? el("p", { class: "case failed", role: "alert" }, `✗ ${f.error}`) : "",
      el("ul", { class: "cases" }, ...f.cases.map((c) => el("li", { class: c.failures.length ? "case failed" : "case passed" },
        `${c.failures.length ? "✗" : "✓"} ${c.name}`,
        ...c.failures.map((text) => el("pre", { class: "diff" }, text))))))));
}

/** A backtest's report: what the draft would have done over the period. */
export interface Backtest { report: any; graph: any }

/** Counts for the canvas: customers that reached each step (the trigger: enrolled). */
export function backtestCounts(b: Backtest): Record<string, string> {
  const counts: Record<string, string> = { trigger: `${b.report.customers} enrolled` };
  for (const [step, n] of Object.entries<number>(b.report.reached ?? {})) counts[step] = `${n} reached`;
  return counts;
}

/** The backtest's numbers beside the canvas. */
export function backtestReport(b: Backtest, days: number): HTMLElement {
  const r = b.report;
  const rows = (m: Record<string, number>) => Object.entries(m).map(([k, n]) => el("tr", {}, el("td", {}, k), el("td", {}, String(n))));
  return el("div", { class: "backtest" },
    el("p", { role: "status" }, `Over the last ${days} day(s): ${r.events} events replayed, ${r.runs} runs for ${r.customers} customers.`),
    el("table", {}, el("caption", {}, "Actions it would have called"), el("tbody", {}, ...rows(r.actions)), Object.keys(r.actions).length ? "" : el("tbody", {}, el("tr", {}, el("td", {}, "none")))),
    el("table", {}, el("caption", {}, "Runs by how they ended"), el("tbody", {}, ...rows(r.by_status))),
    Object.keys(r.skipped).length ? el("table", {}, el("caption", {}, "Steps skipped, by reason"), el("tbody", {}, ...rows(r.skipped))) : "",
  );
}

/** The "Try it" controls: run tests and backtest, calling back with what to show. */
export function tryControls(name: string, source: () => string, show: (what: HTMLElement, counts?: Record<string, string>) => void): HTMLElement {
  const tests = el("button", { type: "button" }, "Run tests");
  const days = el("select", { "aria-label": "backtest period" }, ...[1, 7, 30, 90].map((d) => el("option", { value: String(d) }, `last ${d} day${d > 1 ? "s" : ""}`)));
  days.value = "7";
  const backtest = el("button", { type: "button" }, "Backtest");
  const busy = async (button: HTMLButtonElement, work: () => Promise<void>) => {
    button.disabled = true;
    show(el("p", { role: "status" }, "running in a sandbox…"));
    try {
      await work();
    } catch (e: any) {
      const problems = e.body?.problems?.map((p: any) => `line ${p.line}: ${p.message}`) ?? [];
      show(el("div", { role: "alert", class: "status bad" }, e.message, ...problems.map((p: string) => el("div", {}, p))));
    } finally {
      button.disabled = false;
    }
  };
  tests.addEventListener("click", () => busy(tests, async () => {
    const r = await api(`/workflows/${encodeURIComponent(name)}/tests`, { method: "POST", body: JSON.stringify({ source: source() }) });
    show(testReport(r));
  }));
  backtest.addEventListener("click", () => busy(backtest, async () => {
    const n = Number(days.value);
    const r: Backtest = await api(`/workflows/${encodeURIComponent(name)}/backtest`, { method: "POST", body: JSON.stringify({ source: source(), days: n }) });
    show(backtestReport(r, n), backtestCounts(r));
  }));
  return el("span", { class: "try" }, tests, days, backtest);
}
