// Draws a workflow's step graph (nodes and edges from the engine's IR export) as SVG, laid out
// by dagre. Nodes are focusable and open their details with Enter or a click.

import dagre from "@dagrejs/dagre";

export interface GraphNode { id: string; kind: string; label: string; line: number | null }
export interface GraphEdge { from: string; to: string; label: string }
export interface Graph { nodes: GraphNode[]; edges: GraphEdge[] }

const SVG = "http://www.w3.org/2000/svg";

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

export function drawGraph(graph: Graph, counts: Record<string, string>, onSelect: (n: GraphNode) => void): SVGSVGElement {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    const width = Math.min(320, Math.max(120, n.label.length * 7 + 24));
    g.setNode(n.id, { width, height: counts[n.id] ? 52 : 38 });
  }
  for (const e of graph.edges) g.setEdge(e.from, e.to, { label: e.label, width: e.label.length * 6, height: 14 });
  dagre.layout(g);
  const { width = 400, height = 300 } = g.graph();
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": "workflow graph", class: "graph" });
  const defs = svg("defs", {});
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  defs.append(marker);
  root.append(defs);
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points.map((p: { x: number; y: number }, i: number) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
    root.append(svg("path", { d, class: "edge", "marker-end": "url(#arrow)" }));
    if (edge.label) {
      const t = svg("text", { x: edge.x, y: edge.y, class: "edge-label", "text-anchor": "middle" });
      t.textContent = edge.label.length > 40 ? edge.label.slice(0, 38) + "…" : edge.label;
      root.append(t);
    }
  }
  for (const n of graph.nodes) {
    const box = g.node(n.id);
    const group = svg("g", { class: `node ${n.kind}`, tabindex: 0, role: "button", "data-id": n.id, "aria-label": `${n.kind} ${n.label}` });
    group.append(svg("rect", { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height, rx: n.kind === "branch" ? 2 : 8 }));
    const label = svg("text", { x: box.x, y: box.y - (counts[n.id] ? 6 : -4), "text-anchor": "middle", class: "label" });
    label.textContent = n.label.length > 44 ? n.label.slice(0, 42) + "…" : n.label;
    group.append(label);
    if (counts[n.id]) {
      const c = svg("text", { x: box.x, y: box.y + 14, "text-anchor": "middle", class: "counts", "data-counts": n.id });
      c.textContent = counts[n.id];
      group.append(c);
    }
    group.addEventListener("click", () => onSelect(n));
    group.addEventListener("keydown", (ev) => {
      if ((ev as KeyboardEvent).key === "Enter" || (ev as KeyboardEvent).key === " ") {
        ev.preventDefault();
        onSelect(n);
      }
    });
    root.append(group);
  }
  return root;
}
