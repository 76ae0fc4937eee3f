// A customer as the engine knows them: their attributes, their scores with what added which
// points (each event links to its explanation), and their runs across workflows.

import { api, el, time } from "./api";

function shown(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A score with its value, description and latest changes. */
function scoreSection(s: any): HTMLElement {
  return el("section", { class: "score", "data-score": s.name },
    el("h3", {}, `${s.name} `, el("span", { class: "score-value" }, Number(s.value).toFixed(2))),
    s.description ? el("p", { class: "help" }, s.description) : "",
    s.history.length
      ? el("table", { class: "score-history" }, el("caption", {}, "Latest changes"),
        el("thead", {}, el("tr", {}, ...["when", "points", "value after", "event"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...[...s.history].reverse().map((c: any) => el("tr", {},
          el("td", {}, time(c.at)), el("td", {}, `${c.points > 0 ? "+" : ""}${c.points}`), el("td", {}, String(c.value)),
          el("td", {}, el("a", { href: `#/explain/${encodeURIComponent(c.event)}` }, c.event))))))
      : el("p", {}, "No points yet."));
}

/** `#/customer/ID`. */
export async function customerView(main: HTMLElement, id: string, runsTable: (runs: any[]) => HTMLElement) {
  const q = encodeURIComponent(id);
  const [customer, scores, runs] = await Promise.all([
    api(`/customers/${q}`).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
    api(`/customers/${q}/scores`).catch((e) => (e.status === 404 ? [] : Promise.reject(e))),
    api(`/runs?customer=${q}&limit=100`),
  ]);
  const attrs = Object.entries(customer ?? {}).filter(([k]) => k !== "score" && k !== "id");
  main.replaceChildren(
    el("h1", {}, "Customer ", el("small", {}, id)),
    customer ? "" : el("p", { class: "help" }, "The engine has no attributes for this customer."),
    attrs.length ? el("table", { class: "attributes" }, el("caption", {}, "Attributes"),
      el("tbody", {}, ...attrs.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, el("code", {}, shown(v))))))) : "",
    scores.length ? el("h2", {}, "Scores") : "",
    ...scores.map(scoreSection),
    el("h2", {}, `Runs of customer ${id}`),
    runsTable(runs),
  );
}
