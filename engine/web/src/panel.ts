// The builder's side panel: the form of the selected step (its kind's fields from the engine's
// JSON Schema, an action's input from the action's own schema) or of the workflow itself (the
// trigger node), with the step's move and delete buttons, and the kinds of step one can insert.

import { el } from "./api";
import { decisionTable } from "./steps";
import { field, fields, resolve, type FormContext } from "./forms";
import { getValue, type Path } from "./yamlpatch";

/** An action as `GET /actions` lists it. */
export interface ActionInfo { name: string; channel: string | null; plugin: string | null; input_schema: any }

/** What the panel needs from the builder. */
export interface PanelContext extends FormContext {
  text: () => string;
  actions: ActionInfo[];
  /** Moves the step at `path` one place up (-1) or down (1) in its list. */
  move: (path: Path, delta: -1 | 1) => void;
  remove: (path: Path) => void;
}

/** The kind of a YAML step, from the key that makes it one. */
export function kindOf(step: any): string {
  for (const k of ["action", "wait", "if", "exit", "split", "decide"]) if (step && k in step) return k;
  return "step";
}

/** A new step of each kind the canvas offers; `event` is the type a new wait waits for, `path`
 *  a path of the trigger's events for a new decision table's input. */
export function stepTemplates(actions: ActionInfo[], event: string, path: string): { label: string; step: unknown }[] {
  const actionSteps = actions.map((a) => {
    const required: string[] = a.input_schema?.required ?? [];
    const skeleton = Object.fromEntries(required.map((k) => [k, k === "to" && a.channel === "email" ? "{{ customer.email }}" : ""]));
    return { label: `Action: ${a.name}${a.plugin ? ` (plugin ${a.plugin})` : ""}`, step: { action: a.name, with: skeleton } };
  });
  return [
    ...actionSteps,
    { label: "Wait", step: { wait: { for: "1d" } } },
    { label: "Wait for an event", step: { wait: { for: "3d", until_event: event } } },
    { label: "If / else", step: { if: "customer.consent.email", then: [] } },
    { label: "Split (A/B test)", step: { split: "new-experiment", variants: [{ name: "a", weight: 50 }, { name: "b", weight: 50 }] } },
    { label: "Decision table", step: { id: "decision", decide: { inputs: [path], hit: "first", rows: [{ when: ["-"], then: { lane: "default" } }] } } },
    { label: "Exit", step: { exit: "done" } },
  ];
}

const STEP_FIELDS: Record<string, string[]> = {
  wait: ["id"],
  if: ["id", "if"],
  split: ["id", "split", "convert", "variants"],
  decide: ["id", "decide"],
};

function actionFields(ctx: PanelContext, path: Path, step: any): HTMLElement[] {
  const action = ctx.actions.find((a) => a.name === step.action);
  const select = el("select", { id: "step-action", "aria-describedby": "step-action-help" }, ...ctx.actions.map((a) => el("option", { value: a.name }, a.name)));
  if (!action) select.prepend(el("option", { value: step.action }, `${step.action} (unknown)`));
  select.value = step.action;
  select.addEventListener("change", () => ctx.change([...path, "action"], select.value));
  const out: HTMLElement[] = [
    field(ctx, "id", { type: "string", description: "Optional id, unique in the workflow (other steps read `steps.<id>.output`)." }, [...path, "id"], step.id, false),
    el("div", { class: "field" }, el("label", { for: "step-action" }, "action", el("span", { class: "req", "aria-hidden": "true" }, "*")), el("small", { id: "step-action-help" }, action?.input_schema?.description ?? "The action this step calls."), select),
  ];
  const schema = action?.input_schema;
  const withValue = (step.with ?? {}) as Record<string, unknown>;
  if (schema?.properties) {
    const set = el("fieldset", {}, el("legend", {}, `with (${step.action})`), ...fields(ctx, schema, [...path, "with"], withValue));
    const extra = Object.keys(withValue).filter((k) => !(k in schema.properties));
    for (const k of extra) set.append(field(ctx, k, {}, [...path, "with", k], withValue[k], false));
    out.push(set);
  } else {
    out.push(field(ctx, "with", { description: "The action's arguments as YAML (it declares no input schema)." }, [...path, "with"], step.with, false));
  }
  out.push(...fields(ctx, ctx.root.$defs?.YamlStep ?? {}, path, step, ["retry", "throttle"]));
  return out;
}

/** The panel's contents for the step at `path`. */
export function stepPanel(ctx: PanelContext, path: Path, siblings: number): HTMLElement[] {
  const step = getValue(ctx.text(), path) as any;
  const kind = kindOf(step);
  const index = path[path.length - 1] as number;
  const up = el("button", { type: "button" }, "Move up");
  const down = el("button", { type: "button" }, "Move down");
  const remove = el("button", { type: "button", class: "danger" }, "Delete step");
  up.disabled = index === 0;
  down.disabled = index >= siblings - 1;
  up.addEventListener("click", () => ctx.move(path, -1));
  down.addEventListener("click", () => ctx.move(path, 1));
  remove.addEventListener("click", () => ctx.remove(path));
  const stepSchema = ctx.root.$defs?.YamlStep ?? {};
  let form: HTMLElement[];
  if (kind === "action") form = actionFields(ctx, path, step);
  else if (kind === "exit") form = [field(ctx, "exit", { type: "string", description: "Ends the run here, with this reason." }, [...path, "exit"], step.exit, false)];
  else if (kind === "wait") {
    const wait = typeof step.wait === "object" ? step.wait : {};
    form = [...fields(ctx, stepSchema, path, step, STEP_FIELDS.wait), el("fieldset", {}, el("legend", {}, "wait"), ...fields(ctx, resolve(stepSchema.properties?.wait, ctx.root), [...path, "wait"], wait))];
  } else form = fields(ctx, stepSchema, path, step, STEP_FIELDS[kind] ?? Object.keys(step ?? {}));
  const table = kind === "decide" && step.decide?.rows ? [el("div", { class: "table-scroll" }, decisionTable(tableOf(step.decide)))] : [];
  return [
    el("h2", {}, `${kind}${step?.id ? `: ${step.id}` : ""}`),
    el("div", { class: "step-actions" }, up, down, remove),
    ...table,
    ...form,
  ];
}

/** A YAML `decide:` as the IR shape the table drawer reads. */
function tableOf(d: any): any {
  const cell = (v: any) => (v === "-" ? { test: "any" } : { test: "is", value: v });
  return { hit: d.hit ?? "first", complete: !!d.complete, inputs: d.inputs, rows: d.rows.map((r: any) => ({ cells: (r.when ?? []).map(cell), output: r.then ?? {} })) };
}

/** The panel's contents for the workflow itself: its name, trigger, entry condition, goal,
 *  re-enrollment and the rest of the top-level settings. */
export function workflowPanel(ctx: PanelContext): HTMLElement[] {
  const value = getValue(ctx.text(), []) as Record<string, unknown>;
  const names = ["workflow", "version", "description", "trigger", "when", "goal", "re_enroll", "priority", "over_cap", "debounce", "send_window"];
  return [el("h2", {}, "Workflow"), el("p", { class: "help" }, "What starts a run, who enters, and when a run ends early."), ...fields(ctx, ctx.root, [], value, names)];
}
