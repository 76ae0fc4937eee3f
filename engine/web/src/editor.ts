// The text editor: CodeMirror with the source and live validation by the engine (problems at
// their line and column), shared by the builder, whose canvas edits arrive here as changes.

import { EditorView, keymap, lineNumbers } from "@codemirror/view";
import { EditorState } from "@codemirror/state";
import { defaultKeymap, history, historyKeymap } from "@codemirror/commands";
import { yaml } from "@codemirror/lang-yaml";
import { syntaxHighlighting, defaultHighlightStyle } from "@codemirror/language";
import { forceLinting, linter, lintGutter, type Diagnostic } from "@codemirror/lint";
import { autocompletion, completionKeymap } from "@codemirror/autocomplete";
import { pathCompletion } from "./complete";
import { api, el } from "./api";
import type { Graph } from "./graph";

/** What the engine's checker answered for a draft. */
export interface Checked { ok: boolean; problems: any[]; graph?: Graph; name?: string }

/** A CodeMirror editor over `source` whose every change is checked by the engine (problems at
 *  their line and column); `onChecked` gets each answer with the text it was for. */
export function createEditor(parent: HTMLElement, file: string, source: string, status: HTMLElement, problems: HTMLElement, onChecked: (r: Checked, text: string) => void): { view: EditorView; stale: () => void } {
  // Checks run on the server in parallel and may answer out of order: only the latest request
  // may set the status (a save also makes every earlier answer stale).
  let latest = 0;
  const check = linter(async (view): Promise<Diagnostic[]> => {
    const doc = view.state.doc;
    const text = doc.toString();
    const mine = ++latest;
    const r: Checked = await api("/validate", { method: "POST", body: JSON.stringify({ file, source: text }) });
    if (mine !== latest) return [];
    problems.replaceChildren();
    onChecked(r, text);
    if (r.ok) {
      status.textContent = "No problems.";
      status.className = "status ok";
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
    parent,
    state: EditorState.create({
      doc: source,
      extensions: [lineNumbers(), history(), keymap.of([...defaultKeymap, ...historyKeymap, ...completionKeymap]), autocompletion({ override: [pathCompletion()] }), syntaxHighlighting(defaultHighlightStyle), file.endsWith(".mkw") ? [] : yaml(), lintGutter(), check, EditorView.lineWrapping, EditorView.contentAttributes.of({ "aria-label": `source of ${file.split("/").pop()}` })],
    }),
  });
  (window as any).mikawayaEditor = view;
  return { view, stale: () => latest++ };
}

/** Replaces the editor's text with `text`, changing only the part between the common start and
 *  end (so undo and the cursor see a small edit), and checks it at once. */
export function replaceText(view: EditorView, text: string) {
  const old = view.state.doc.toString();
  if (old === text) return;
  let start = 0;
  while (start < old.length && start < text.length && old[start] === text[start]) start++;
  let end = 0;
  while (end < old.length - start && end < text.length - start && old[old.length - 1 - end] === text[text.length - 1 - end]) end++;
  view.dispatch({ changes: { from: start, to: old.length - end, insert: text.slice(start, text.length - end) }, userEvent: "input.builder" });
  forceLinting(view);
}
