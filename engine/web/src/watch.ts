// Watching a workflow work: per-node counts of a chosen period (entered, here now, done, failed,
// skipped with the reasons), and for a workflow with a goal, the funnel from its trigger to
// the goal.

import { el } from "./api";

/** A stat as `GET /workflows/{name}/steps` gives it: step, status, count, reason. */
export type Stat = [string, string, number, string];

/** Statuses that mean a run went on from the step. */
const DONE = ["done", "yes", "no", "timeout", "event", "exited", "variant", "decided"];

/** The periods one can pick, as the API reads them. */
export const PERIODS: [string, string][] = [["1h", "last hour"], ["24h", "last 24 hours"], ["7d", "last 7 days"], ["30d", "last 30 days"], ["all", "all time"]];

function sums(stats: Stat[]): Record<string, Record<string, number>> {
  const by: Record<string, Record<string, number>> = {};
  for (const [step, status, n] of stats) {
    const s = (by[step] ??= {});
    s[status] = (s[status] ?? 0) + n;
  }
  return by;
}

/** The line under each node: `3 in · 1 here · 2 done · 1 failed · 1 skipped`. */
export function nodeCounts(stats: Stat[], atStep: { step: string; runs: number }[]): Record<string, string> {
  const by = sums(stats);
  const here: Record<string, number> = {};
  for (const s of atStep) here[s.step] = s.runs;
  const out: Record<string, string> = {};
  for (const step of new Set([...Object.keys(by), ...Object.keys(here)])) {
    if (step === "run") continue;
    const s = by[step] ?? {};
    const parts = [`${s.entered ?? 0} in`, `${here[step] ?? 0} here`, `${DONE.reduce((n, k) => n + (s[k] ?? 0), 0)} done`];
    if (s.failed) parts.push(`${s.failed} failed`);
    if (s.skipped) parts.push(`${s.skipped} skipped`);
    out[step] = parts.join(" · ");
  }
  if (by.run?.started) out.trigger = `${by.run.started} started`;
  return out;
}

/** The codes of skip reasons, as people say them. */
const WHY: Record<string, string> = {
  no_consent: "no consent to the channel", capped: "over a frequency cap", suppressed: "address suppressed",
  outside_window: "outside the send window", global_control: "in the global control group",
  no_customer: "no customer to check consent for", unknown_kind: "unknown message kind",
};

/** Why runs skipped `step` (or how they left it), with how many times each. */
export function reasons(stats: Stat[], step: string): HTMLElement | "" {
  const rows = stats.filter(([s, status, , reason]) => s === step && reason && (status === "skipped" || status === "exited"));
  if (!rows.length) return "";
  return el("table", { class: "reasons" }, el("caption", {}, "Skipped or ended, by reason"),
    el("tbody", {}, ...rows.map(([, status, n, reason]) => el("tr", {}, el("td", {}, status), el("td", {}, WHY[reason] ?? reason), el("td", {}, String(n))))));
}

/** From trigger to goal: runs started, then how many entered each top-level step, then the
 *  runs that reached the goal, each as a share of those started. */
export function funnel(workflow: any, stats: Stat[]): HTMLElement | "" {
  if (!workflow.goal) return "";
  const by = sums(stats);
  const started = by.run?.started ?? 0;
  const goalReached = stats.filter(([s, status, , reason]) => s === "run" && status === "exited" && reason.startsWith("goal:")).reduce((n, [, , c]) => n + c, 0);
  const top: any[] = [];
  // The main line: each sequence step's `next`; past a branch or split, the step after it when
  // one of its ways leads there (else the line ends: the rest lies inside the branches).
  const index = (t: any) => (t && typeof t === "object" ? t.step : undefined);
  for (let i = index(workflow.start); i !== undefined && workflow.steps[i] && top.length < 12; ) {
    const k = workflow.steps[i].kind;
    top.push(workflow.steps[i]);
    const ways = [k.then, k.otherwise, ...(k.variants ?? []).map((v: any) => v.start)].map(index);
    i = k.next !== undefined ? index(k.next) : ways.includes(i + 1) ? i + 1 : undefined;
  }
  const stages: [string, number][] = [["started", started], ...top.map((s): [string, number] => [s.id, by[s.id]?.entered ?? 0]), [`goal: ${workflow.goal}`, goalReached]];
  const pct = (n: number) => (started ? `${Math.round((100 * n) / started)}%` : "–");
  return el("figure", { class: "funnel", "aria-label": "funnel from trigger to goal" },
    el("figcaption", {}, "Funnel: trigger to goal"),
    el("ol", {}, ...stages.map(([label, n]) => el("li", {},
      el("span", { class: "stage" }, label),
      el("span", { class: "bar", style: `width: ${started ? Math.max(2, (100 * n) / started) : 2}%` }),
      el("span", { class: "n" }, `${n} (${pct(n)})`)))));
}
