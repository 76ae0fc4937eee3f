// The builder: a workflow's graph one can edit (insert a step on any edge, select a step to edit
// it in a form, move or delete it), beside the text editor. The file's text is the one truth:
// every canvas edit is a small patch of it (yamlpatch.ts) made in the editor, so the editor's
// undo history covers both, and every change is checked by the engine before the canvas is
// redrawn from the checked result. DSL (.mkw) files are edited as text; their canvas follows.

import { redo, undo } from "@codemirror/commands";
import { api, el } from "./api";
import { createEditor, replaceText, type Checked } from "./editor";
import { drawGraph, type Graph, type GraphEdge, type GraphNode } from "./graph";
import { showProblems, type Field } from "./forms";
import type { KnownPath } from "./conditions";
import { kindOf, stepPanel, stepTemplates, workflowPanel, type ActionInfo, type PanelContext } from "./panel";
import { deleteItem, deleteValue, getValue, insertItem, lineFinder, moveItem, setValue, stepPaths, type Path } from "./yamlpatch";
import { triggerType } from "./complete";
import { tryControls } from "./tryout";

/** Where a step inserted on `edge` goes: a list and an index in it, or `null` (not there);
 *  `doc` is the whole file as plain data. */
function insertionPoint(edge: GraphEdge, pathOf: (id: string) => Path | undefined, doc: unknown): { seq: Path; index: number } | null {
  if (edge.from === "trigger") return { seq: ["steps"], index: 0 };
  const from = pathOf(edge.from);
  if (!from) return null;
  const step = from.reduce((v: any, k) => v?.[k], doc) as any;
  const kind = kindOf(step);
  if (kind === "if") return { seq: [...from, edge.label === "yes" ? "then" : "else"], index: 0 };
  if (kind === "split") {
    const name = edge.label.replace(/ \d+%.*$/, "");
    const k = (step.variants ?? []).findIndex((v: any) => v.name === name);
    return k < 0 ? null : { seq: [...from, "variants", k, "steps"], index: 0 };
  }
  if (kind === "wait" && edge.label && edge.label !== "timeout") return null;
  return { seq: from.slice(0, -1), index: (from[from.length - 1] as number) + 1 };
}

async function orEmpty<T>(p: Promise<T>, empty: T): Promise<T> {
  return p.catch(() => empty);
}

export async function builderView(main: HTMLElement, name: string, onSaved: () => void) {
  const src = await api(`/workflows/${encodeURIComponent(name)}/source`);
  const readOnly = src.file.endsWith(".mkw");
  const [schema, actions] = await Promise.all([orEmpty(api("/schema"), {}), orEmpty<ActionInfo[]>(api("/actions"), [])]);
  let paths: KnownPath[] = [];
  let pathsFor = "";
  const status = el("p", { class: "status", role: "status", "aria-live": "polite" }, "checking…");
  const problems = el("ul", { class: "problems", "aria-label": "problems" });
  const canvas = el("div", { class: "graph-holder canvas", "aria-label": "workflow canvas" });
  const panel = el("aside", { class: "panel", "aria-label": "step details", "aria-live": "polite" }, el("p", { class: "help" }, readOnly ? "This workflow is written in the DSL: edit its text below; the canvas follows." : "Select a step to edit it, or a + on an arrow to insert one."));
  const holder = el("div", { class: "editor" });
  const [undoButton, redoButton] = [el("button", { type: "button", "aria-keyshortcuts": "Control+Z" }, "Undo"), el("button", { type: "button", "aria-keyshortcuts": "Control+Shift+Z" }, "Redo")];
  const save = el("button", { type: "button", class: "primary" }, "Save as a new version");
  const results = el("section", { class: "results", "aria-label": "try it", "aria-live": "polite" });
  // A backtest's counts stay on the canvas while the text is the one it ran on.
  let overlay: { text: string; counts: Record<string, string> } | undefined;
  const tryIt = tryControls(name, () => text(), (what, counts) => {
    results.replaceChildren(what);
    overlay = counts ? { text: text(), counts } : undefined;
    redraw();
  });
  main.replaceChildren(
    el("h1", {}, `Build ${name} `, el("small", {}, `${src.file} · version ${src.version}`)),
    el("div", { class: "toolbar" }, undoButton, redoButton, save, tryIt, status),
    el("div", { class: "builder-grid" }, canvas, panel),
    results,
    problems,
    el("details", { class: "source", open: "" }, el("summary", {}, "Source"), holder),
  );

  let graph: Graph = { nodes: [], edges: [] };
  let lines = new Map<number, Path>();
  let selected: string | undefined;
  let selectedPath: Path | "trigger" | undefined;
  let formFields: Field[] = [];
  let lastProblems: any[] = [];

  const text = () => editor.view.state.doc.toString();
  const pathOf = (id: string) => lines.get(graph.nodes.find((n) => n.id === id)?.line ?? -1);
  const idOf = (path: Path) => graph.nodes.find((n) => n.line != null && lines.get(n.line)?.join("/") === path.join("/"))?.id;
  const edit = (next: string, select?: Path) => {
    if (select) selectedPath = select;
    replaceText(editor.view, next);
  };
  const ctx: PanelContext = {
    root: schema,
    paths,
    fields: formFields,
    actions,
    text,
    change: (path, value) => edit(value === undefined ? deleteValue(text(), path) : setValue(text(), path, value)),
    move: (path, delta) => {
      const index = path[path.length - 1] as number;
      edit(moveItem(text(), path.slice(0, -1), index, delta), [...path.slice(0, -1), index + delta]);
    },
    remove: (path) => {
      selectedPath = undefined;
      selected = undefined;
      edit(deleteItem(text(), path.slice(0, -1), path[path.length - 1] as number));
    },
  };

  const renderPanel = () => {
    if (readOnly || !selectedPath) return;
    const focused = document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.id;
    formFields.length = 0;
    ctx.paths = paths;
    try {
      if (selectedPath === "trigger") panel.replaceChildren(...workflowPanel(ctx));
      else {
        const siblings = (getValue(text(), selectedPath.slice(0, -1)) as unknown[] | undefined)?.length ?? 0;
        panel.replaceChildren(...stepPanel(ctx, selectedPath, siblings));
      }
    } catch (e: any) {
      panel.replaceChildren(el("p", { role: "alert" }, `Cannot show this step: ${e.message}`));
    }
    // Problems no field shows stay in the list under the canvas.
    showProblems(formFields, lastProblems, lineFinder(text()));
    const again = [...panel.querySelectorAll<HTMLElement>("input, select, textarea, button")].find((e) => (e.getAttribute("aria-label") ?? e.id) === focused);
    again?.focus();
  };

  const openMenu = (edge: GraphEdge, button: SVGGElement) => {
    const at = insertionPoint(edge, pathOf, getValue(text(), []));
    if (!at) return;
    document.querySelector(".menu")?.remove();
    const t = text();
    const event = (getValue(t, ["goal"]) as string) || triggerType(t) || "order.placed";
    const firstPath = paths.find((p) => p.type !== "object")?.path ?? "customer.tier";
    const items = stepTemplates(actions, event, firstPath).map((choice) => {
      const b = el("button", { type: "button", role: "menuitem" }, choice.label);
      b.addEventListener("click", () => {
        menu.remove();
        edit(insertItem(text(), at.seq, at.index, choice.step), [...at.seq, at.index]);
      });
      return b;
    });
    const menu = el("div", { class: "menu", role: "menu", "aria-label": "insert a step" }, ...items);
    const box = button.getBoundingClientRect();
    const host = main.getBoundingClientRect();
    menu.style.left = `${box.right - host.left + main.scrollLeft + 4}px`;
    menu.style.top = `${box.top - host.top + main.scrollTop}px`;
    menu.addEventListener("keydown", (ev) => {
      const at = items.indexOf(document.activeElement as HTMLButtonElement);
      if (ev.key === "Escape") {
        menu.remove();
        button.focus();
      } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
        ev.preventDefault();
        items[(at + (ev.key === "ArrowDown" ? 1 : items.length - 1)) % items.length].focus();
      }
    });
    main.style.position = "relative";
    main.append(menu);
    items[0]?.focus();
  };

  const select = (n: GraphNode) => {
    if (n.kind === "end") return;
    selected = n.id;
    selectedPath = n.id === "trigger" ? "trigger" : pathOf(n.id);
    redraw();
    renderPanel();
  };

  const redraw = () => {
    if (!graph.nodes.length) {
      canvas.replaceChildren(el("p", { class: "help" }, "The drawing appears once the workflow checks."));
      return;
    }
    if (selectedPath && selectedPath !== "trigger") selected = idOf(selectedPath);
    const counts = overlay && overlay.text === text() ? overlay.counts : {};
    // The file as data once per drawing: each edge's "+" asks where it would insert.
    const doc = readOnly ? undefined : getValue(text(), []);
    const svg = drawGraph(graph, counts, select, {
      selected,
      insertable: readOnly ? undefined : (e) => insertionPoint(e, pathOf, doc) !== null,
      onInsert: readOnly ? undefined : openMenu,
    });
    canvas.replaceChildren(svg);
  };

  const onChecked = async (r: Checked, checked: string) => {
    lastProblems = r.problems ?? [];
    if (r.ok && r.graph) {
      graph = r.graph;
      if (!readOnly) lines = stepPaths(checked);
      canvas.classList.remove("stale");
    } else canvas.classList.add("stale");
    const trigger = triggerType(checked);
    if (trigger && trigger !== pathsFor) {
      pathsFor = trigger;
      paths = await orEmpty(api(`/event-types/${encodeURIComponent(trigger)}/paths`), []);
    }
    redraw();
    renderPanel();
  };

  const editor = createEditor(holder, src.file, src.source, status, problems, onChecked);
  undoButton.addEventListener("click", () => undo(editor.view));
  redoButton.addEventListener("click", () => redo(editor.view));
  save.addEventListener("click", async () => {
    save.disabled = true;
    editor.stale();
    try {
      const r = await api(`/workflows/${encodeURIComponent(name)}/source`, { method: "PUT", body: JSON.stringify({ source: text() }) });
      status.textContent = `Saved: ${name} is now version ${r.version}.`;
      status.className = "status ok saved";
      onSaved();
    } catch (e: any) {
      status.textContent = `Not saved: ${e.message}`;
      status.className = "status bad";
    } finally {
      save.disabled = false;
    }
  });
}
