// The condition builder: an expression as rows of path / operator / value joined by `and` or
// `or`, writing the same text the DSL reads. An expression the rows cannot show (parentheses,
// functions, `and` mixed with `or`) stays text to edit, with a button back to rows when it fits.

import { el } from "./api";

/** A path a condition can read, with its type, as `GET /event-types/{type}/paths` gives it. */
export interface KnownPath { path: string; type: string; source: string }

/** One row: `event.cart.total >= 50`, or a path alone (`customer.consent.email`, truthy). */
export interface Row { path: string; op: string; value: string }

/** The operators of a row; `is true` and `is false` are a path alone and `not` a path. */
export const OPERATORS = ["==", "!=", ">", ">=", "<", "<=", "in", "not in", "contains", "is true", "is false"];

const PATH = String.raw`[A-Za-z_][\w]*(?:\.[\w-]+)*`;
const LITERAL = String.raw`-?\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|true|false|null|\[[^\[\]]*\]`;
const CLAUSE = new RegExp(String.raw`^(?:(not)\s+(${PATH})|(${PATH})(?:\s*(==|!=|>=|<=|>|<|not\s+in|in|contains)\s*(${LITERAL}))?)$`);

/** Splits `text` at top-level ` and ` / ` or ` (outside quotes, brackets and parentheses). */
function topLevel(text: string): { parts: string[]; joins: string[] } | null {
  const parts: string[] = [];
  const joins: string[] = [];
  let depth = 0, quote = "", start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "(" || c === "[") depth++;
    else if (c === ")" || c === "]") depth--;
    else if (depth === 0) {
      const m = /^\s+(and|or)\s+/.exec(text.slice(i));
      if (m && /\s/.test(c)) {
        parts.push(text.slice(start, i).trim());
        joins.push(m[1]);
        i += m[0].length - 1;
        start = i + 1;
      }
    }
  }
  if (quote || depth) return null;
  parts.push(text.slice(start).trim());
  return { parts, joins };
}

/** The rows and their joining word, when `text` is rows joined all by `and` or all by `or`. */
export function parseCondition(text: string): { join: "and" | "or"; rows: Row[] } | null {
  if (!text.trim()) return { join: "and", rows: [] };
  const split = topLevel(text.trim());
  if (!split || new Set(split.joins).size > 1) return null;
  const rows: Row[] = [];
  for (const part of split.parts) {
    const m = CLAUSE.exec(part);
    if (!m) return null;
    if (m[1]) rows.push({ path: m[2], op: "is false", value: "" });
    else if (!m[4]) rows.push({ path: m[3], op: "is true", value: "" });
    else rows.push({ path: m[3], op: m[4].replace(/\s+/, " "), value: m[5] });
  }
  return { join: (split.joins[0] as "and" | "or") ?? "and", rows };
}

const isLiteral = (v: string) => new RegExp(`^(?:${LITERAL})$`).test(v.trim());
const quoted = (v: string) => JSON.stringify(v);

/** A value as typed, as an expression literal: numbers, quoted text, `true`, lists stay;
 *  other text is quoted; `a, b` for `in` becomes a list. */
export function literal(value: string, op: string): string {
  const v = value.trim();
  if (isLiteral(v)) return v;
  if (op === "in" || op === "not in") {
    return `[${v.replace(/^\[|\]$/g, "").split(",").map((x) => x.trim()).filter(Boolean).map((x) => (isLiteral(x) ? x : quoted(x))).join(", ")}]`;
  }
  return quoted(v);
}

/** The expression text of `rows` joined by `join`. */
export function conditionText(join: string, rows: Row[]): string {
  return rows
    .filter((r) => r.path.trim())
    .map((r) => (r.op === "is true" ? r.path.trim() : r.op === "is false" ? `not ${r.path.trim()}` : `${r.path.trim()} ${r.op} ${literal(r.value, r.op)}`))
    .join(` ${join} `);
}

let lists = 0;

/** The builder for one condition field; `onChange` gets the new text ("" when no rows). */
export function conditionBuilder(opts: { id: string; label: string; value: string; paths: KnownPath[]; onChange: (text: string) => void }): HTMLElement {
  const box = el("div", { class: "condition", role: "group", "aria-label": opts.label });
  const listId = `paths-${++lists}`;
  const datalist = () => el("datalist", { id: listId }, ...opts.paths.map((p) => el("option", { value: p.path }, `${p.type} · ${p.source}`)));
  let text = opts.value;
  // Rows still without a path write nothing but stay on the screen: the rows are the state.
  let state = parseCondition(text);
  const emit = () => opts.onChange((text = conditionText(state!.join, state!.rows)));
  const asText = () => {
    const input = el("textarea", { id: opts.id, "aria-label": `${opts.label} as text`, rows: "2" });
    input.value = text;
    input.addEventListener("change", () => opts.onChange((text = input.value.trim())));
    const back = el("button", { type: "button" }, "Edit as rows");
    back.addEventListener("click", () => {
      state = parseCondition(input.value);
      if (state) render();
      else back.textContent = "Does not fit rows (parentheses, functions, and mixed with or)";
    });
    box.replaceChildren(input, back);
  };
  const render = () => {
    if (!state) return asText();
    const { rows } = state;
    const joinSelect = el("select", { "aria-label": `${opts.label}: rows combine with` }, el("option", { value: "and" }, "all of these hold (and)"), el("option", { value: "or" }, "any of these holds (or)"));
    joinSelect.value = state.join;
    joinSelect.addEventListener("change", () => { state!.join = joinSelect.value as "and" | "or"; emit(); });
    const rowEls = rows.map((r, i) => {
      const n = i + 1;
      const path = el("input", { type: "text", list: listId, "aria-label": `${opts.label}: path of row ${n}`, placeholder: "event.cart.total", value: r.path, class: "cond-path" });
      const op = el("select", { "aria-label": `${opts.label}: operator of row ${n}`, class: "cond-op" }, ...OPERATORS.map((o) => el("option", { value: o }, o)));
      op.value = r.op;
      const value = el("input", { type: "text", "aria-label": `${opts.label}: value of row ${n}`, placeholder: "50 or text", value: r.value.replace(/^"((?:[^"\\]|\\.)*)"$/, "$1"), class: "cond-value" });
      value.disabled = r.op.startsWith("is ");
      const remove = el("button", { type: "button", "aria-label": `remove row ${n} of ${opts.label}` }, "✕");
      path.addEventListener("change", () => { r.path = path.value; emit(); });
      op.addEventListener("change", () => { r.op = op.value; value.disabled = r.op.startsWith("is "); emit(); });
      value.addEventListener("change", () => { r.value = value.value; emit(); });
      remove.addEventListener("click", () => { rows.splice(i, 1); emit(); render(); });
      return el("div", { class: "row" }, path, op, value, remove);
    });
    const add = el("button", { type: "button", class: "add-row" }, "+ condition");
    add.addEventListener("click", () => {
      rows.push({ path: "", op: "==", value: "" });
      render();
      (box.querySelectorAll(".cond-path")[rows.length - 1] as HTMLInputElement | undefined)?.focus();
    });
    const edit = el("button", { type: "button" }, "Edit as text");
    edit.addEventListener("click", asText);
    box.replaceChildren(datalist(), rows.length > 1 ? joinSelect : "", ...rowEls, el("div", { class: "step-actions" }, add, edit));
  };
  render();
  return box;
}
