// A new workflow from the page: name, trigger (event, schedule or date), entry condition built
// from rows, goal and re-enrollment become a YAML file in the workflows folder (`POST
// /workflows`, write token), which opens in the builder to add its steps.

import { stringify } from "yaml";
import { api, el } from "./api";
import { conditionBuilder, type KnownPath } from "./conditions";

const RE_ENROLL: [string, string][] = [
  ["never", "never: once per customer"],
  ["after 30d", "again 30 days after the last start"],
  ["when_finished", "again once the last run ended"],
  ["replace", "a new trigger replaces the running run"],
  ["always", "every trigger starts a run"],
];

function labelled(id: string, text: string, input: HTMLElement, help = "", required = false): HTMLElement {
  return el("div", { class: "field" }, el("label", { for: id }, text, required ? el("span", { class: "req", "aria-hidden": "true" }, "*") : ""), help ? el("small", { id: `${id}-help` }, help) : "", input, el("span", { class: "field-error", id: `${id}-err`, role: "alert" }));
}

function input(id: string, attrs: Record<string, string> = {}): HTMLInputElement {
  return el("input", { type: "text", id, name: id, "aria-describedby": `${id}-help ${id}-err`, ...attrs });
}

/** The YAML of a new workflow from the form's values (empty values left out). */
export function newWorkflowYaml(v: Record<string, string>): string {
  const trigger: Record<string, string> =
    v.kind === "schedule" ? { schedule: v.schedule, timezone: v.timezone } : v.kind === "date" ? { date: v.date, [v.direction || "before"]: v.offset, from_event: v.from_event } : { event: v.event };
  const doc: Record<string, unknown> = { workflow: v.name, version: 1, description: v.description, trigger, when: v.when, goal: v.goal, re_enroll: v.re_enroll === "never" ? "" : v.re_enroll, steps: [{ exit: "done" }] };
  const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== "" && x !== undefined));
  doc.trigger = clean(trigger);
  return `# ${v.description || v.name}: made in the builder.\n${stringify(clean(doc), { lineWidth: 0 })}`;
}

export async function newWorkflowView(main: HTMLElement, onCreated: () => void) {
  const types: { name: string }[] = await api("/event-types").catch(() => []);
  const values: Record<string, string> = { kind: "event", re_enroll: "never", direction: "before" };
  const name = input("wf-name", { required: "", pattern: "[a-z0-9][a-z0-9_\\-]*", placeholder: "win-back" });
  const description = input("wf-description", { placeholder: "Bring back customers who stopped ordering" });
  const kind = el("select", { id: "wf-kind" }, el("option", { value: "event" }, "an event arrives"), el("option", { value: "schedule" }, "on a schedule (cron)"), el("option", { value: "date" }, "a date in a customer's data comes near"));
  const eventType = input("wf-event", { list: "wf-event-types", placeholder: "order.placed" });
  const eventTypes = el("datalist", { id: "wf-event-types" }, ...types.map((t) => el("option", { value: t.name })));
  const schedule = input("wf-schedule", { placeholder: "0 9 * * 1" });
  const timezone = input("wf-timezone", { placeholder: "Europe/Berlin" });
  const date = input("wf-date", { placeholder: "event.contract.renewal_date" });
  const offset = input("wf-offset", { placeholder: "30d" });
  const direction = el("select", { id: "wf-direction" }, el("option", { value: "before" }, "before"), el("option", { value: "after" }, "after"));
  const fromEvent = input("wf-from-event", { list: "wf-event-types", placeholder: "contract.updated" });
  const goal = input("wf-goal", { list: "wf-event-types", placeholder: "order.placed" });
  const reEnroll = el("select", { id: "wf-re-enroll" }, ...RE_ENROLL.map(([v, t]) => el("option", { value: v }, t)));
  const conditionHolder = el("div", {});
  const problems = el("ul", { class: "problems", "aria-label": "problems" });
  const create = el("button", { type: "submit", class: "primary" }, "Create workflow");
  const byKind: Record<string, HTMLElement> = {
    event: labelled("wf-event", "Event type", eventType, "The event that starts a run.", true),
    schedule: el("div", {}, labelled("wf-schedule", "Cron", schedule, "5 fields: minute hour day month weekday.", true), labelled("wf-timezone", "Time zone", timezone)),
    date: el("div", {}, labelled("wf-date", "Date path", date, "Where the date is in the event.", true), labelled("wf-offset", "How long", offset, "", true), labelled("wf-direction", "Before or after", direction), labelled("wf-from-event", "Event carrying the date", fromEvent, "", true)),
  };
  const triggerHolder = el("div", {}, byKind.event);
  let pathsFor = "";
  const drawCondition = async () => {
    const type = values.kind === "date" ? fromEvent.value : eventType.value;
    if (type === pathsFor && conditionHolder.childElementCount) return;
    pathsFor = type;
    const paths: KnownPath[] = type ? await api(`/event-types/${encodeURIComponent(type)}/paths`).catch(() => []) : [];
    conditionHolder.replaceChildren(conditionBuilder({ id: "wf-when", label: "entry condition", value: values.when ?? "", paths, onChange: (t) => (values.when = t) }));
  };
  kind.addEventListener("change", () => {
    values.kind = kind.value;
    triggerHolder.replaceChildren(byKind[kind.value]);
    drawCondition();
  });
  eventType.addEventListener("change", drawCondition);
  fromEvent.addEventListener("change", drawCondition);
  const form = el("form", { class: "new-workflow", "aria-label": "new workflow" },
    labelled("wf-name", "Name", name, "Lowercase letters, digits and -: also the file name (NAME.yaml).", true),
    labelled("wf-description", "Description", description),
    labelled("wf-kind", "Starts when", kind),
    triggerHolder, eventTypes,
    el("div", { class: "field" }, el("strong", {}, "Who enters"), el("small", {}, "Only customers for whom these hold start a run (none: everyone)."), conditionHolder),
    labelled("wf-goal", "Goal event", goal, "A run ends early, as converted, when the customer sends this event."),
    labelled("wf-re-enroll", "Re-enrollment", reEnroll),
    create, problems);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    Object.assign(values, { name: name.value.trim(), description: description.value.trim(), event: eventType.value.trim(), schedule: schedule.value.trim(), timezone: timezone.value.trim(), date: date.value.trim(), offset: offset.value.trim(), direction: direction.value, from_event: fromEvent.value.trim(), goal: goal.value.trim(), re_enroll: reEnroll.value });
    problems.replaceChildren();
    form.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
    try {
      const r = await api("/workflows", { method: "POST", body: JSON.stringify({ file: `${values.name}.yaml`, source: newWorkflowYaml(values) }) });
      onCreated();
      location.hash = `#/w/${encodeURIComponent(r.name)}/edit`;
    } catch (e: any) {
      const where = e.body?.field === "file" ? "wf-name-err" : "";
      if (where) document.getElementById(where)!.textContent = e.message;
      for (const p of e.body?.problems ?? [{ message: e.message }]) problems.append(el("li", {}, p.line ? `line ${p.line}: ${p.message}` : p.message));
    }
  });
  main.replaceChildren(el("h1", {}, "New workflow"), el("p", { class: "help" }, "It is saved as a YAML file in the workflows folder (needs the write token); add its steps on the canvas next."), form);
  await drawCondition();
}
