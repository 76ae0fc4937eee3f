// Forms generated from JSON Schema: a step kind's fields (from the engine's schema of the YAML
// form, `GET /schema`) and an action's input (`GET /actions`). Text, numbers, checkboxes, enums
// as selects, required marks, descriptions as help, and errors shown at the field: the form's
// own (a required field left empty, a number that is not one) and the checker's, by line.

import { stringify, parse } from "yaml";
import { el } from "./api";
import { conditionBuilder, type KnownPath } from "./conditions";
import type { Path } from "./yamlpatch";

/** The fields holding an expression: they get the condition builder. */
const CONDITIONS = new Set(["when", "if", "where"]);

/** A field of a form: where it writes, and where its error shows. */
export interface Field { path: Path; error: HTMLElement; input: HTMLElement }

/** What a form needs from the builder. */
export interface FormContext {
  /** The schema `$ref`s resolve against. */
  root: any;
  /** Paths for condition fields' completion. */
  paths: KnownPath[];
  /** Writes a field: a value, or `undefined` to remove it. */
  change: (path: Path, value: unknown) => void;
  /** Every field made, for showing the checker's problems. */
  fields: Field[];
}

let ids = 0;

/** `schema` with `$ref` followed and `anyOf: [x, null]` / `type: [x, "null"]` reduced to `x`. */
export function resolve(schema: any, root: any): any {
  let s = schema ?? {};
  for (let guard = 0; s.$ref && guard < 10; guard++) s = s.$ref.replace(/^#\//, "").split("/").reduce((n: any, k: string) => n?.[k], root) ?? {};
  const alts = s.anyOf ?? s.oneOf;
  if (alts) {
    const real = alts.filter((a: any) => a.type !== "null");
    if (real.length === 1) return { ...resolve(real[0], root), description: s.description ?? real[0].description };
  }
  if (Array.isArray(s.type)) {
    const real = s.type.filter((t: string) => t !== "null");
    if (real.length === 1) return { ...s, type: real[0] };
  }
  return s;
}

function describe(id: string, schema: any): HTMLElement | string {
  return schema.description ? el("small", { id: `${id}-help` }, schema.description) : "";
}

/** The value typed into a field, as the schema's type wants it; an `Error` when it is not one. */
export function readInput(raw: string, schema: any): unknown {
  const v = raw.trim();
  if (v === "") return undefined;
  if (schema.type === "integer" || schema.type === "number") {
    const n = Number(v);
    if (!Number.isFinite(n) || (schema.type === "integer" && !Number.isInteger(n))) return new Error(`${schema.type === "integer" ? "a whole number" : "a number"} is needed here`);
    if (schema.minimum !== undefined && n < schema.minimum) return new Error(`at least ${schema.minimum}`);
    if (schema.maximum !== undefined && n > schema.maximum) return new Error(`at most ${schema.maximum}`);
    return n;
  }
  if (schema.type === "string" || schema.enum) return v;
  try {
    return parse(v);
  } catch (e: any) {
    return new Error(`not valid YAML: ${e.message.split("\n")[0]}`);
  }
}

/** One field for `schema` at `path`, showing `value`. A required field of an object that is
 *  not there (an optional `retry:`) is marked but not flagged: it is required once the object is. */
export function field(ctx: FormContext, name: string, schema: any, path: Path, value: unknown, required: boolean, parentThere = true): HTMLElement {
  const s = resolve(schema, ctx.root);
  const id = `f${++ids}`;
  const error = el("span", { class: "field-error", id: `${id}-err`, role: "alert" });
  const label = el("label", { for: id }, name, required ? el("span", { class: "req", "aria-hidden": "true" }, "*") : "");
  if (s.type === "object" && s.properties) {
    const set = el("fieldset", {}, el("legend", {}, name), describe(id, s));
    const v = (value ?? {}) as Record<string, unknown>;
    for (const [k, sub] of Object.entries<any>(s.properties)) set.append(field(ctx, k, sub, [...path, k], v[k], (s.required ?? []).includes(k), value !== undefined && value !== null));
    return set;
  }
  if (CONDITIONS.has(name) && (s.type === "string" || !s.type || s.anyOf)) {
    const builder = conditionBuilder({ id, label: name, value: value == null ? "" : String(value), paths: ctx.paths, onChange: (t) => ctx.change(path, t || undefined) });
    ctx.fields.push({ path, error, input: builder });
    return el("div", { class: "field" }, el("span", { class: "label" }, el("strong", {}, name), required ? el("span", { class: "req" }, "*") : ""), describe(id, s), builder, error);
  }
  let input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
  const attrs: Record<string, string> = { id, name, "aria-describedby": `${id}-help ${id}-err` };
  if (required) attrs["aria-required"] = "true";
  if (s.enum) {
    input = el("select", attrs, required ? "" : el("option", { value: "" }, "(default)"), ...s.enum.filter((o: unknown) => o !== null).map((o: any) => el("option", { value: String(o) }, String(o))));
    input.value = value == null ? "" : String(value);
  } else if (s.type === "boolean") {
    input = el("input", { ...attrs, type: "checkbox" });
    (input as HTMLInputElement).checked = value === true;
  } else if (s.type === "string" || s.type === "number" || s.type === "integer") {
    input = el("input", { ...attrs, type: s.type === "string" ? "text" : "number", step: "any" });
    input.value = value == null ? "" : String(value);
  } else {
    input = el("textarea", { ...attrs, rows: "3", spellcheck: "false" });
    input.value = value == null ? "" : stringify(value, { lineWidth: 0 }).trim();
  }
  const commit = () => {
    const read = input instanceof HTMLInputElement && input.type === "checkbox" ? input.checked || undefined : readInput(input.value, s);
    const problem = read instanceof Error ? read.message : required && read === undefined ? `${name} is required` : "";
    error.textContent = problem;
    input.setAttribute("aria-invalid", String(!!problem));
    // Nothing is written while the field is wrong; an emptied optional field is removed.
    if (!problem) ctx.change(path, read);
  };
  input.addEventListener("change", commit);
  ctx.fields.push({ path, error, input });
  if (required && parentThere && (value === undefined || value === "")) {
    error.textContent = `${name} is required`;
    input.setAttribute("aria-invalid", "true");
  }
  return el("div", { class: "field" }, label, describe(id, s), input, error);
}

/** Fields for the `names` of object schema `schema` at `path` (all of them when omitted). */
export function fields(ctx: FormContext, schema: any, path: Path, value: Record<string, unknown>, names?: string[]): HTMLElement[] {
  const s = resolve(schema, ctx.root);
  const props = s.properties ?? {};
  // Required fields first: servers may list properties sorted by name.
  const required: string[] = s.required ?? [];
  const all = Object.keys(props).sort((a, b) => Number(required.includes(b)) - Number(required.includes(a)));
  return (names ?? all).filter((n) => props[n]).map((n) => field(ctx, n, props[n], [...path, n], value?.[n], (s.required ?? []).includes(n)));
}

/** Shows the checker's problems at the fields on their lines; the rest are returned. */
export function showProblems(fieldsMade: Field[], problems: { line: number; message: string }[], lineOf: (p: Path) => number | undefined): { line: number; message: string }[] {
  const left = [...problems];
  for (const f of fieldsMade) {
    const line = lineOf(f.path);
    const mine = left.filter((p) => p.line === line);
    if (!mine.length) continue;
    f.error.textContent = mine.map((p) => p.message).join("; ");
    f.input.setAttribute("aria-invalid", "true");
    for (const p of mine) left.splice(left.indexOf(p), 1);
  }
  return left;
}
