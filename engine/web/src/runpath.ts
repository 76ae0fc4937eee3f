// A run drawn on its workflow's graph: the path it took highlighted (the steps of its timeline
// in order), where it waits and until when, and where it goes next.

import { el, time } from "./api";
import type { Graph } from "./graph";

/** The timeline lines the page reads. */
interface Line { step_id: string; status: string; at: number; detail: any }

/** The nodes a run visited and the edges between them (`from>to`), from its timeline. */
export function runPath(graph: Graph, timeline: Line[]): Set<string> {
  const path = new Set<string>(["trigger"]);
  let at = "trigger";
  for (const line of timeline) {
    if (line.step_id === "run" || !graph.nodes.some((n) => n.id === line.step_id)) continue;
    if (line.step_id !== at) {
      path.add(`${at}>${line.step_id}`);
      at = line.step_id;
    }
    path.add(at);
  }
  return path;
}

/** A sentence on where a run stands: waiting where and until when, and the ways on from
 *  there; or how it ended. */
export function whereNow(run: any, graph: Graph, timeline: Line[]): HTMLElement {
  const last = [...timeline].reverse().find((l) => l.step_id !== "run");
  const label = (id: string) => graph.nodes.find((n) => n.id === id)?.label ?? id;
  if (run.status === "waiting" && last) {
    const due = last.detail?.due_at ? ` until ${last.detail.due_at.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")}` : "";
    const ways = graph.edges.filter((e) => e.from === last.step_id).map((e) => `${e.label || "then"} → ${label(e.to)}`);
    return el("p", { class: "where-now", role: "status" }, `Waiting at “${label(last.step_id)}”${due}. Next: ${ways.join("; ") || "the end"}.`);
  }
  if (run.status === "active") return el("p", { class: "where-now", role: "status" }, `Running: next “${last ? label(last.step_id) : "its first step"}” (${time(run.updated_at)}).`);
  return el("p", { class: "where-now", role: "status" }, `${run.status}${run.exit_reason ? `: ${run.exit_reason}` : ""} at ${time(run.ended_at ?? run.updated_at)}.`);
}
