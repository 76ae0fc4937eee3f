// A customer as the engine knows them: their attributes, segments and RFM quintiles, their
// scores with what added which points (each event links to its explanation), each model's
// prediction with the features behind it, and their runs across workflows.

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
        el("thead", {}, el("tr", {}, ...["when", "points", "value after", "event", "rule that held"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...[...s.history].reverse().map((c: any) => el("tr", {},
          el("td", {}, time(c.at)), el("td", {}, `${c.points > 0 ? "+" : ""}${c.points}`), el("td", {}, String(c.value)),
          el("td", {}, el("a", { href: `#/explain/${encodeURIComponent(c.event)}` }, c.event)),
          el("td", {}, el("code", {}, c.rule))))))
      : el("p", {}, "No points yet."));
}

/** The segments the customer is in, and their RFM quintiles (5 is best). */
function segmentsSection(customer: any): HTMLElement | string {
  const segments: string[] = customer?.segments ?? [];
  const rfm = customer?.rfm;
  if (!customer?.segments && !rfm) return "";
  return el("section", { class: "segments" },
    el("h2", {}, "Segments"),
    segments.length
      ? el("ul", { class: "segment-list" }, ...segments.map((s) => el("li", { "data-segment": s }, s)))
      : el("p", {}, "In no segment."),
    rfm ? el("p", { class: "rfm" }, "RFM ", el("strong", {}, rfm.code),
      ` (recency ${rfm.r}, frequency ${rfm.f}, monetary ${rfm.m}; 5 is best)`) : "");
}

/** A model's predicted chance and the features that moved it most. */
function predictionSection(p: any): HTMLElement {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  return el("section", { class: "prediction", "data-model": p.model },
    el("h3", {}, `${p.model} `, el("span", { class: "chance" }, pct(p.chance)), el("small", {}, ` version ${p.version}`)),
    el("table", { class: "because" }, el("caption", {}, "What moved it (effect on the log-odds)"),
      el("thead", {}, el("tr", {}, ...["feature", "value", "effect"].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...p.because.slice(0, 5).map((c: any) => el("tr", {},
        el("td", {}, c.feature), el("td", {}, String(Math.round(c.value * 100) / 100)),
        el("td", { class: c.contribution > 0 ? "up" : "down" }, `${c.contribution > 0 ? "+" : ""}${c.contribution}`))))));
}

/** `#/customer/ID`. */
export async function customerView(main: HTMLElement, id: string, runsTable: (runs: any[]) => HTMLElement) {
  const q = encodeURIComponent(id);
  const [customer, scores, predictions, runs] = await Promise.all([
    api(`/customers/${q}`).catch((e) => (e.status === 404 ? null : Promise.reject(e))),
    api(`/customers/${q}/scores`).catch((e) => (e.status === 404 ? [] : Promise.reject(e))),
    api(`/customers/${q}/predictions`).catch((e) => (e.status === 404 ? [] : Promise.reject(e))),
    api(`/runs?customer=${q}&limit=100`),
  ]);
  const derived = ["score", "id", "segments", "rfm", "predict"];
  const attrs = Object.entries(customer ?? {}).filter(([k]) => !derived.includes(k));
  main.replaceChildren(
    el("h1", {}, "Customer ", el("small", {}, id)),
    customer ? "" : el("p", { class: "help" }, "The engine has no attributes for this customer."),
    attrs.length ? el("table", { class: "attributes" }, el("caption", {}, "Attributes"),
      el("tbody", {}, ...attrs.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, el("code", {}, shown(v))))))) : "",
    segmentsSection(customer),
    scores.length ? el("h2", {}, "Scores") : "",
    ...scores.map(scoreSection),
    predictions.length ? el("h2", {}, "Predictions") : "",
    ...predictions.map(predictionSection),
    el("h2", {}, `Runs of customer ${id}`),
    runsTable(runs),
  );
}
