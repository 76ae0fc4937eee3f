// The editor view: CodeMirror with the source, live validation by the engine (problems at their
// line and column), the graph redrawn from the draft, and saving a new version.

import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { pathCompletion } from "./complete";
import { api, el } from "./api";
import { drawGraph } from "./graph";

export async function editorView(main: HTMLElement, name: string, onSaved: () => void) {
  const src = await api(`/workflows/${encodeURIComponent(name)}/source`);
  const status = el("p", { class: "status", role: "status", "aria-live": "polite" }, "checking…");
  const problems = el("ul", { class: "problems", "aria-label": "problems" });
  const preview = el("div", { class: "preview" });
  const save = el("button", { type: "button", class: "primary" }, "Save as a new version");
  const holder = el("div", { class: "editor" });
  main.replaceChildren(
    el("h1", {}, `Edit ${name} `, el("small", {}, `${src.file} · version ${src.version}`)),
    el("p", { class: "help" }, "Changes are checked as you type. Saving needs the write token; runs in flight keep their version."),
    el("div", { class: "edit-grid" }, el("div", {}, holder, status, problems, save), preview),
  );
  // Checks run on the server in parallel and may answer out of order: only the latest request
  // may set the status (a save also makes every earlier answer stale).
  let latest = 0;
  const check = linter(async (view): Promise<Diagnostic[]> => {
    const doc = view.state.doc;
    const mine = ++latest;
    const r = await api("/validate", { method: "POST", body: JSON.stringify({ file: src.file, source: doc.toString() }) });
    if (mine !== latest) return [];
    problems.replaceChildren();
    if (r.ok) {
      status.textContent = "No problems.";
      status.className = "status ok";
      preview.replaceChildren(drawGraph(r.graph, {}, () => {}));
      return [];
    }
    status.textContent = `${r.problems.length} problem(s)`;
    status.className = "status bad";
    return r.problems.map((p: any) => {
      const line = doc.line(Math.min(p.line, doc.lines));
      const from = Math.min(line.from + p.column - 1, line.to);
      const endLine = doc.line(Math.min(p.end_line, doc.lines));
      const to = Math.max(from + 1, Math.min(endLine.from + p.end_column - 1, doc.length));
      problems.append(el("li", { "data-line": String(p.line) }, `line ${p.line}, column ${p.column}: ${p.message}`, p.hint ? el("span", { class: "hint" }, ` — ${p.hint}`) : ""));
      return { from, to: Math.min(to, doc.length), severity: "error", message: p.message + (p.hint ? `\nhint: ${p.hint}` : "") };
    });
  }, { delay: 300 });
  const view = new EditorView({
    parent: holder,
    state: EditorState.create({
      doc: src.source,
      extensions: [lineNumbers(), history(), keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap]), autocompletion({ override: [pathCompletion()] }), syntaxHighlighting(defaultHighlightStyle), src.file.endsWith(".mkw") ? [] : yaml(), lintGutter(), check, EditorView.lineWrapping],
    }),
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    latest++;
    try {
      const r = await api(`/workflows/${encodeURIComponent(name)}/source`, { method: "PUT", body: JSON.stringify({ source: view.state.doc.toString() }) });
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
  (window as any).mikawayaEditor = view;
}
