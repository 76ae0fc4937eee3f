// Step kinds shown as people read them: a decision table as a table, and an experiment's
// variants with their entries, conversions and the 95% interval of the rate, on the graph's
// edges and in the details panel.

import { el } from "./api";
import type { Graph } from "./graph";

const CELL: Record<string, string> = { not: "!= ", lt: "< ", le: "<= ", gt: "> ", ge: ">= " };

function show(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A cell of a decision table as written in the DSL: `-`, a value, a test or `in [...]`. */
export function cellText(cell: { test: string; value?: unknown }): string {
  if (cell.test === "any") return "-";
  if (cell.test === "is") return show(cell.value);
  if (cell.test === "in") return `in [${(cell.value as unknown[]).map(show).join(", ")}]`;
  return (CELL[cell.test] ?? `${cell.test} `) + show(cell.value);
}

function argText(arg: any): string {
  if (arg && typeof arg === "object") {
    if ("value" in arg) return show(arg.value);
    if ("expr" in arg) return String(arg.expr);
    if ("template" in arg) return show(arg.template?.source ?? arg.template);
  }
  return show(arg);
}

/** A `decide` step's rows under its inputs and outputs, with the hit policy in the caption. */
export function decisionTable(kind: any): HTMLTableElement {
  const outputs: string[] = [...new Set<string>(kind.rows.flatMap((r: any) => Object.keys(r.output)))];
  const inputs: string[] = kind.inputs.map(String);
  return el("table", { class: "decision" },
    el("caption", {}, `hit policy: ${kind.hit}${kind.complete ? " · complete" : ""}`),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "#"), ...inputs.map((i) => el("th", { scope: "col", class: "input" }, i)),
      ...outputs.map((o) => el("th", { scope: "col", class: "output" }, `→ ${o}`)))),
    el("tbody", {}, ...kind.rows.map((r: any, n: number) => el("tr", {}, el("td", {}, String(n + 1)),
      ...r.cells.map((c: any) => el("td", { class: "input" }, cellText(c))),
      ...outputs.map((o) => el("td", { class: "output" }, o in r.output ? argText(r.output[o]) : ""))))));
}

/** One experiment's numbers as the API gives them. */
export interface Experiment { experiment: string; variants: { variant: string; entered: number; converted: number; rate: number; rate_low: number; rate_high: number }[] }

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Adds each variant's entries and conversions to its edge out of the split (`coupon 45%`). */
export function annotateSplits(graph: Graph, steps: any[], experiments: Experiment[]): Graph {
  const edges = graph.edges.map((e) => {
    const split = steps.find((s) => s.id === e.from && s.kind.kind === "split");
    const numbers = split && experiments.find((x) => x.experiment === split.kind.experiment);
    const v = numbers?.variants.find((v) => e.label.startsWith(`${v.variant} `));
    return v ? { ...e, label: `${e.label} · ${v.entered} in · ${v.converted} conv` } : e;
  });
  return { ...graph, edges };
}

/** A split's variants: entered, converted, rate and its 95% Wilson interval. */
export function variantTable(kind: any, experiments: Experiment[]): HTMLTableElement {
  const numbers = experiments.find((x) => x.experiment === kind.experiment);
  return el("table", { class: "variants" },
    el("caption", {}, kind.convert ? `converts on ${kind.convert.event}` : "no conversion goal"),
    el("thead", {}, el("tr", {}, ...["variant", "weight", "entered", "converted", "rate (95% interval)"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...kind.variants.map((v: any) => {
      const n = numbers?.variants.find((x) => x.variant === v.name);
      return el("tr", { "data-variant": v.name }, el("td", {}, v.name), el("td", {}, String(v.weight)),
        el("td", {}, String(n?.entered ?? 0)), el("td", {}, String(n?.converted ?? 0)),
        el("td", {}, n && n.entered ? `${pct(n.rate)} (${pct(n.rate_low)}–${pct(n.rate_high)})` : "-"));
    })));
}
