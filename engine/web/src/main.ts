// The mikawaya page: workflows drawn from their IR with live counts, the builder (canvas, forms
// and text editor with live validation), new workflows, run timelines and a customer (attributes, scores, runs).
// Hash routes: #/w/NAME, #/w/NAME/edit, #/w/NAME/runs, #/new, #/run/ID, #/customer/ID,
// #/explain/EVENT, #/dead-letters.

import "./style.css";
import { api, el, time } from "./api";
import { drawGraph, type GraphNode } from "./graph";
import { builderView } from "./builder";
import { newWorkflowView } from "./newflow";
import { annotateSplits, decisionTable, variantTable, type Experiment } from "./steps";
import { funnel, nodeCounts, PERIODS, reasons } from "./watch";
import { runPath, whereNow } from "./runpath";
import { deadLettersView, explainView } from "./ops";
import { customerView } from "./customer";

const main = document.getElementById("main")!;
const list = document.getElementById("workflows")!;
let refresh: number | undefined;

async function loadList() {
  const workflows = await api("/workflows");
  list.replaceChildren(
    ...workflows.map((w: any) =>
      el("li", {}, el("a", { href: `#/w/${encodeURIComponent(w.name)}` }, w.name), el("small", {}, ` v${w.version} · ${w.trigger}`),
        el("div", { class: "counts-line" }, `${w.runs.active} active · ${w.runs.completed} done · ${w.runs.failed} failed (24 h)`)),
    ),
  );
}

/** The period the workflow view counts over (kept while the page is open). */
let period = "7d";

async function workflowView(name: string) {
  const q = encodeURIComponent(name);
  const [w, steps] = await Promise.all([api(`/workflows/${q}`), api(`/workflows/${q}/steps?period=${period}`)]);
  const splits = w.workflow.steps.some((s: any) => s.kind.kind === "split");
  const experiments: Experiment[] = splits ? await api(`/experiments?workflow=${q}`) : [];
  const details = el("aside", { class: "details", "aria-live": "polite" }, el("p", { class: "help" }, "Select a step to see its definition and recent runs."));
  const select = (n: GraphNode) => {
    const step = w.workflow.steps.find((s: any) => s.id === n.id);
    const recent = steps.recent.filter(([, e]: any) => e.step_id === n.id).slice(0, 10);
    const table = step?.kind.kind === "decide" ? decisionTable(step.kind) : step?.kind.kind === "split" ? variantTable(step.kind, experiments) : null;
    const shown = table ? el("div", { class: "table-scroll" }, table) : "";
    details.replaceChildren(
      el("h2", {}, `${n.kind}: ${n.id}`),
      shown,
      reasons(steps.stats, n.id === "trigger" ? "run" : n.id),
      el("pre", {}, JSON.stringify(step ?? (n.kind === "trigger" ? { trigger: w.workflow.trigger, when: w.workflow.when } : { end: true }), null, 2)),
      el("h3", {}, "Recent runs here"),
      recent.length ? el("ul", {}, ...recent.map(([run, e]: any) => el("li", {}, el("a", { href: `#/run/${run}` }, `${time(e.at)} ${e.status}`)))) : el("p", {}, "none yet"),
    );
  };
  const graph = drawGraph(annotateSplits(w.graph, w.workflow.steps, experiments), nodeCounts(steps.stats, w.runs_at_step), select);
  const periods = el("select", { id: "period", "aria-label": "count over" }, ...PERIODS.map(([v, label]) => el("option", { value: v }, label)));
  periods.value = period;
  periods.addEventListener("change", () => {
    period = periods.value;
    workflowView(name).catch(() => {});
  });
  main.replaceChildren(
    el("h1", {}, `${name} `, el("small", {}, `version ${w.workflow.version} · ${w.workflow.file}`)),
    w.workflow.description ? el("p", {}, w.workflow.description) : "",
    el("p", { class: "actions" }, el("a", { href: `#/w/${q}/edit`, class: "button" }, "Build"), " ", el("a", { href: `#/w/${q}/runs`, class: "button" }, "Runs"), " ", el("label", { for: "period" }, "Counts of the "), periods),
    el("div", { class: "graph-grid" }, el("div", { class: "graph-holder" }, graph), details),
    funnel(w.workflow, steps.stats),
  );
}

function runsTable(runs: any[]) {
  if (!runs.length) return el("p", {}, "No runs.");
  return el("table", { class: "runs" },
    el("thead", {}, el("tr", {}, ...["run", "workflow", "customer", "status", "started", "exit"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...runs.map((r) => el("tr", {},
      el("td", {}, el("a", { href: `#/run/${r.id}` }, r.id.slice(0, 13) + "…")), el("td", {}, `${r.workflow} v${r.version}`),
      el("td", {}, r.customer_id ? el("a", { href: `#/customer/${encodeURIComponent(r.customer_id)}` }, r.customer_id) : "-"),
      el("td", { class: `st ${r.status}` }, r.status), el("td", {}, time(r.started_at)), el("td", {}, r.exit_reason ?? "")))));
}

async function runView(id: string) {
  const { run, timeline, graph } = await api(`/runs/${encodeURIComponent(id)}`);
  const path = graph ? runPath(graph, timeline) : new Set<string>();
  main.replaceChildren(
    el("h1", {}, "Run ", el("small", {}, run.id)),
    el("p", {}, el("a", { href: `#/w/${encodeURIComponent(run.workflow)}` }, `${run.workflow} v${run.version}`), ` · customer ${run.customer_id ?? "-"} · `, el("strong", { class: `st ${run.status}` }, run.status), run.exit_reason ? ` (${run.exit_reason})` : ""),
    graph ? whereNow(run, graph, timeline) : el("p", { class: "help" }, `Version ${run.version} is no longer loaded: its drawing is not available.`),
    graph ? el("div", { class: "graph-holder run-graph" }, drawGraph(graph, {}, () => {}, { path })) : "",
    el("table", { class: "timeline" },
      el("thead", {}, el("tr", {}, ...["time", "step", "kind", "status", "attempt", "detail"].map((h) => el("th", {}, h)))),
      el("tbody", {}, ...timeline.map((e: any) => el("tr", { class: `st ${e.status}` },
        el("td", {}, time(e.at)), el("td", {}, e.step_id), el("td", {}, e.kind), el("td", {}, e.status), el("td", {}, String(e.attempt)),
        el("td", {}, el("code", {}, JSON.stringify(e.detail))))))),
  );
}

async function route() {
  clearInterval(refresh);
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  try {
    document.querySelector(".menu")?.remove();
    if (parts[0] === "w" && parts[2] === "edit") await builderView(main, parts[1], loadList);
    else if (parts[0] === "new") await newWorkflowView(main, loadList);
    else if (parts[0] === "w" && parts[2] === "runs") {
      main.replaceChildren(el("h1", {}, `Runs of ${parts[1]}`), runsTable(await api(`/runs?workflow=${encodeURIComponent(parts[1])}&limit=100`)));
    } else if (parts[0] === "w" && parts[1]) {
      await workflowView(parts[1]);
      refresh = window.setInterval(() => workflowView(parts[1]).catch(() => {}), 2000);
    } else if (parts[0] === "run") await runView(parts[1]);
    else if (parts[0] === "explain") await explainView(main, parts[1]);
    else if (parts[0] === "dead-letters") await deadLettersView(main);
    else if (parts[0] === "customer") await customerView(main, parts[1], runsTable); else main.replaceChildren(el("h1", {}, "Workflows"), el("p", {}, "Pick a workflow on the left to see it drawn from its compiled steps, with live counts."));
  } catch (e: any) {
    main.replaceChildren(el("h1", {}, "Something went wrong"), el("p", { role: "alert" }, e.status === 401 ? "The engine wants a token: enter it at the top right." : e.message));
  }
}

const tokenInput = document.getElementById("token") as HTMLInputElement;
tokenInput.value = sessionStorage.getItem("mikawaya-token") || "";
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("mikawaya-token", tokenInput.value);
  loadList().catch(() => {});
});
document.getElementById("explain-search")!.addEventListener("submit", (ev) => {
  ev.preventDefault();
  location.hash = `#/explain/${encodeURIComponent((document.getElementById("explain-event") as HTMLInputElement).value)}`;
});
document.getElementById("customer-search")!.addEventListener("submit", (ev) => {
  ev.preventDefault();
  location.hash = `#/customer/${encodeURIComponent((document.getElementById("customer") as HTMLInputElement).value)}`;
});
window.addEventListener("hashchange", route);
loadList().catch(() => {});
route();
