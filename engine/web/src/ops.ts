// Operations views: why an event did or did not start each workflow (the explain verdicts, with
// the values its conditions saw), and the dead letters with a retry button.

import { api, el, time } from "./api";

function condition(x: any): HTMLElement {
  return el("li", { class: x.result ? "held" : "failed" },
    el("code", {}, x.expr), ` ${x.result ? "held" : "did not hold"}`, x.saw ? el("span", { class: "saw" }, ` (saw ${x.saw})`) : "",
    x.parts?.length ? el("ul", {}, ...x.parts.map(condition)) : "");
}

/** `#/explain/ID`: the verdict of every workflow listening to the event's type. */
export async function explainView(main: HTMLElement, id: string) {
  const x = await api(`/events/${encodeURIComponent(id)}/explain`);
  main.replaceChildren(
    el("h1", {}, "Event ", el("small", {}, `${x.event_id} · ${x.event_type} · customer ${x.customer_id ?? "-"}`)),
    x.workflows.length ? "" : el("p", {}, "No workflow listens to this event's type."),
    ...x.workflows.map((v: any) => el("section", { class: `verdict ${v.fired ? "fired" : "not-fired"}` },
      el("h2", {}, `${v.fired ? "✓" : "✗"} `, el("a", { href: `#/w/${encodeURIComponent(v.workflow)}` }, `${v.workflow} v${v.version}`)),
      el("p", {}, v.summary, v.run_id ? el("span", {}, " — ", el("a", { href: `#/run/${v.run_id}` }, "its run")) : ""),
      v.condition ? el("ul", { class: "conditions" }, condition(v.condition)) : "",
      v.skipped?.length ? el("ul", {}, ...v.skipped.map(([step, why]: [string, string]) => el("li", {}, `step ${step} skipped: ${why}`))) : "")),
  );
}

/** `#/dead-letters`: steps that failed for good, each with a button sending its run back. */
export async function deadLettersView(main: HTMLElement) {
  const letters = await api("/dead-letters");
  const rows = letters.map((d: any) => {
    const status = el("td", { class: "retry-status", "aria-live": "polite" }, d.retried_at ? `retried ${time(d.retried_at)}` : "");
    const retry = el("button", { type: "button", "aria-label": `retry dead letter ${d.id} (run ${d.run_id})` }, "Retry");
    retry.disabled = !!d.retried_at;
    retry.addEventListener("click", async () => {
      retry.disabled = true;
      try {
        const r = await api(`/dead-letters/${d.id}/retry`, { method: "POST", body: "{}" });
        status.textContent = `sent back: run ${r.run_id}`;
      } catch (e: any) {
        status.textContent = `not retried: ${e.message}`;
        retry.disabled = false;
      }
    });
    return el("tr", { "data-letter": String(d.id) },
      el("td", {}, el("a", { href: `#/run/${d.run_id}` }, d.run_id.slice(0, 13) + "…")), el("td", {}, d.step_id), el("td", {}, d.action),
      el("td", {}, el("code", {}, d.error)), el("td", {}, String(d.attempts)), el("td", {}, time(d.created_at)), el("td", {}, retry), status);
  });
  main.replaceChildren(el("h1", {}, "Dead letters"), el("p", { class: "help" }, "Steps that failed after every retry. Retry sends the run back to the failed step (needs a token with runs:write)."),
    rows.length ? el("table", {}, el("thead", {}, el("tr", {}, ...["run", "step", "action", "error", "attempts", "failed at", "", ""].map((h) => el("th", {}, h)))), el("tbody", {}, ...rows)) : el("p", {}, "None."));
}
