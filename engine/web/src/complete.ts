// Completion of event and customer paths in the editor, from the event catalog the engine has
// loaded (`GET /event-types`): typing `event.` offers the payload fields, the trigger's own type
// first, each with its type and the event type that declares it.

import type { Completion, CompletionContext, CompletionResult } from "@codemirror/autocomplete";
import { api } from "./api";

interface EventType { name: string; data: any; customer: any }

function typeOf(schema: any): string {
  if (Array.isArray(schema?.type)) return schema.type.join(" | ");
  return schema?.type ?? (schema?.enum ? "enum" : "any");
}

/** Every path into the declared payloads and customer attributes, with the types declaring it. */
export function catalogPaths(types: EventType[]): Map<string, { type: string; from: string[] }> {
  const out = new Map<string, { type: string; from: string[] }>();
  const walk = (prefix: string, schema: any, from: string) => {
    for (const [field, sub] of Object.entries<any>(schema?.properties ?? {})) {
      const path = `${prefix}.${field}`;
      const seen = out.get(path);
      if (seen) seen.from.push(from);
      else out.set(path, { type: typeOf(sub), from: [from] });
      walk(path, sub, from);
    }
  };
  for (const t of types) {
    walk("event", t.data, t.name);
    walk("customer", t.customer, t.name);
  }
  return out;
}

/** The event type a draft is triggered by (`event: x` in YAML, `on event x` in the DSL). */
export function triggerType(text: string): string | undefined {
  return /(?:^\s*event:\s*|\bon event\s+)([\w.-]+)/m.exec(text)?.[1];
}

/** A completion source over the catalog, fetched once per editor. */
export function pathCompletion(): (ctx: CompletionContext) => Promise<CompletionResult | null> {
  let paths: Promise<Map<string, { type: string; from: string[] }>> | undefined;
  return async (ctx) => {
    const word = ctx.matchBefore(/\b(?:event|customer)\.[\w.]*/);
    if (!word || (word.from === word.to && !ctx.explicit)) return null;
    paths ??= api("/event-types").then(catalogPaths).catch(() => new Map());
    const trigger = triggerType(ctx.state.doc.toString());
    const options: Completion[] = [...(await paths)].map(([label, p]) => ({
      label,
      type: "property",
      detail: p.type,
      info: `declared by ${p.from.join(", ")}`,
      boost: trigger && p.from.includes(trigger) ? 10 : 0,
    }));
    return { from: word.from, options, validFor: /^[\w.]*$/ };
  };
}
