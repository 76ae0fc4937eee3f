// Draws a workflow's step graph (nodes and edges from the engine's IR export) as SVG, laid out
// by dagre. Nodes are focusable and open their details with Enter or a click; in the builder,
// edges carry a focusable "+" that inserts a step there, and a run's path can be highlighted.

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

/** What the builder and the run view add to the drawing. */
export interface GraphOptions {
  /** Offers a "+" on each edge this returns true for; called with the edge when chosen. */
  insertable?: (e: GraphEdge) => boolean;
  onInsert?: (e: GraphEdge, button: SVGGElement) => void;
  /** The selected node, drawn marked. */
  selected?: string;
  /** Nodes and edges (`from>to`) of a run's path, drawn highlighted. */
  path?: Set<string>;
}

function activate(target: SVGElement, act: () => void) {
  target.addEventListener("click", act);
  target.addEventListener("keydown", (ev) => {
    if ((ev as KeyboardEvent).key === "Enter" || (ev as KeyboardEvent).key === " ") {
      ev.preventDefault();
      act();
    }
  });
}

export function drawGraph(graph: Graph, counts: Record<string, string>, onSelect: (n: GraphNode) => void, opts: GraphOptions = {}): SVGSVGElement {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 40, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) {
    const width = Math.min(320, Math.max(120, n.label.length * 7 + 24));
    g.setNode(n.id, { width, height: counts[n.id] ? 52 : 38 });
  }
  graph.edges.forEach((e, i) => g.setEdge(e.from, e.to, { label: e.label, width: e.label.length * 6, height: 14 }, String(i)));
  dagre.layout(g);
  const { width = 400, height = 300 } = g.graph();
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "group", "aria-label": "workflow graph", class: "graph" });
  const defs = svg("defs", {});
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }));
  defs.append(marker);
  root.append(defs);
  const plus: SVGGElement[] = [];
  const label = (id: string) => graph.nodes.find((n) => n.id === id)?.label ?? id;
  for (const e of g.edges()) {
    const edge = g.edge(e);
    const d = edge.points.map((p: { x: number; y: number }, i: number) => `${i ? "L" : "M"}${p.x},${p.y}`).join(" ");
    const onPath = opts.path?.has(`${e.v}>${e.w}`);
    root.append(svg("path", { d, class: onPath ? "edge on-path" : "edge", "marker-end": "url(#arrow)", "data-edge": `${e.v}>${e.w}` }));
    if (edge.label) {
      const t = svg("text", { x: edge.x, y: edge.y, class: "edge-label", "text-anchor": "middle" });
      t.textContent = edge.label.length > 40 ? edge.label.slice(0, 38) + "…" : edge.label;
      root.append(t);
    }
    const ge = graph.edges[Number(e.name)];
    if (ge && opts.onInsert && opts.insertable?.(ge)) {
      const mid = edge.points[Math.floor(edge.points.length / 2)];
      // Beside a label, left of it; else on the edge's middle.
      const shown = Math.min(edge.label.length, 40) * 3;
      const [x, y] = edge.label ? [edge.x - shown - 12, edge.y - 4] : [mid.x, mid.y];
      const button = svg("g", { class: "insert", tabindex: 0, role: "button", "data-insert": `${e.v}>${e.w}`, "aria-label": `insert a step after ${label(e.v)}${ge.label ? ` (${ge.label})` : ""}` });
      button.append(svg("circle", { cx: x, cy: y, r: 9 }));
      const t = svg("text", { x, y: y + 4, "text-anchor": "middle" });
      t.textContent = "+";
      button.append(t);
      activate(button, () => opts.onInsert!(ge, button));
      plus.push(button);
    }
  }
  for (const n of graph.nodes) {
    const box = g.node(n.id);
    const marks = `${opts.selected === n.id ? " selected" : ""}${opts.path?.has(n.id) ? " on-path" : ""}`;
    const group = svg("g", { class: `node ${n.kind}${marks}`, tabindex: 0, role: "button", "data-id": n.id, "aria-label": `${n.kind} ${n.label}` });
    group.append(svg("rect", { x: box.x - box.width / 2, y: box.y - box.height / 2, width: box.width, height: box.height, rx: n.kind === "branch" ? 2 : 8 }));
    const label = svg("text", { x: box.x, y: box.y - (counts[n.id] ? 6 : -4), "text-anchor": "middle", class: "label" });
    label.textContent = n.label.length > 44 ? n.label.slice(0, 42) + "…" : n.label;
    group.append(label);
    if (counts[n.id]) {
      const c = svg("text", { x: box.x, y: box.y + 14, "text-anchor": "middle", class: "counts", "data-counts": n.id });
      c.textContent = counts[n.id];
      group.append(c);
    }
    activate(group, () => onSelect(n));
    root.append(group);
  }
  // The "+" buttons go last, above the nodes, so a click always reaches them.
  root.append(...plus);
  return root;
}
