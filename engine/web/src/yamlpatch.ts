// Minimal edits of a YAML workflow file: the builder's changes become patches of the text at
// the places the `yaml` package's parser locates, so comments, blank lines, quoting and key
// order of everything untouched stay as the author wrote them (re-serialising the document
// would normalise all of it). New values are serialised on their own at the indentation of
// their place. Every function takes the text and returns the new text.

import { Document, parseDocument, isMap, isSeq, isScalar, isPair, stringify, type Node, type Pair } from "yaml";

/** A path into the document: keys and sequence indexes (`["steps", 2, "then", 0]`). */
export type Path = (string | number)[];

type Ranged = Node & { range: [number, number, number] };

const lineStart = (text: string, pos: number) => text.lastIndexOf("\n", pos - 1) + 1;
/** The position after the end of the line holding `pos` (after its newline). */
const lineEnd = (text: string, pos: number) => {
  const i = text.indexOf("\n", pos);
  return i < 0 ? text.length : i + 1;
};
/** The position after the line on which `node`'s value ends (block collections end after a newline). */
const afterNode = (text: string, node: Ranged) => lineEnd(text, Math.max(node.range[0], node.range[1] - 1));
const indentAt = (text: string, pos: number) => /^ */.exec(text.slice(lineStart(text, pos)))![0].length;
const splice = (text: string, from: number, to: number, insert: string) => text.slice(0, from) + insert + text.slice(to);
const isObject = (v: unknown) => typeof v === "object" && v !== null;

/** `value` as YAML; lines after the first indented by `indent` spaces. */
function blockText(value: unknown, indent: number): string {
  const out = stringify(value, { lineWidth: 0, indent: 2 }).replace(/\n$/, "");
  return out.split("\n").map((line, i) => (i && line ? " ".repeat(indent) + line : line)).join("\n");
}

function flowText(value: unknown): string {
  const doc = new Document(value);
  if (doc.contents && (isMap(doc.contents) || isSeq(doc.contents))) doc.contents.flow = true;
  return doc.toString({ lineWidth: 0 }).trim();
}

/** `key: value` for a new pair in a block map whose keys start at column `indent`. */
function pairText(key: string, value: unknown, indent: number): string {
  const k = stringify(key).trim();
  if (isObject(value) && Object.keys(value as object).length) {
    return `${k}:\n${" ".repeat(indent + 2)}${blockText(value, indent + 2)}`;
  }
  return `${k}: ${isObject(value) ? flowText(value) : blockText(value, indent + 2)}`;
}

function parse(text: string) {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) throw new Error(`the YAML does not parse: ${doc.errors[0].message}`);
  return doc;
}

function nodeAt(doc: Document, path: Path): Ranged | undefined {
  const node = path.length ? doc.getIn(path, true) : doc.contents;
  return node && (node as any).range ? (node as Ranged) : undefined;
}

/** The value at `path` as plain data, or `undefined`. */
export function getValue(text: string, path: Path): unknown {
  const node = nodeAt(parse(text), path) as any;
  return node ? (node.toJSON ? node.toJSON() : node) : undefined;
}

/** The column of the key whose value starts at `pos` (after any `- ` on its line). */
const keyColumn = (text: string, pos: number) => /^[\s-]*/.exec(text.slice(lineStart(text, pos)))![0].replace(/-\s*$/, (m) => " ".repeat(m.length)).length;

const filled = (value: unknown) => isObject(value) && Object.keys(value as object).length > 0;
const empty = (node: Ranged) => ((isMap(node) || isSeq(node)) && !node.items.length) || (isScalar(node) && node.value == null);

function replaceNode(text: string, node: Ranged, value: unknown): string {
  const [from, to] = node.range;
  const keyEnd = text.lastIndexOf(":", from);
  if (empty(node) && filled(value) && keyEnd > lineStart(text, from) - 1 && keyEnd >= 0) {
    // `then: []` or `else:` gets its first item: written as a block under the key.
    const indent = keyColumn(text, keyEnd) + 2;
    return splice(text, keyEnd + 1, to, `\n${" ".repeat(indent)}${blockText(value, indent)}`);
  }
  if ((isMap(node) || isSeq(node)) && !node.flow) {
    const trailingNewline = text[to - 1] === "\n" ? "\n" : "";
    if (isObject(value) && Object.keys(value as object).length) {
      return splice(text, from, to, blockText(value, indentAt(text, from)) + trailingNewline);
    }
    // A block collection becomes a scalar or an empty collection: put it after the key.
    return splice(text, keyEnd + 1, to, ` ${isObject(value) ? flowText(value) : blockText(value, indentAt(text, from) + 2)}${trailingNewline}`);
  }
  const fresh = isObject(value) ? flowText(value) : blockText(value, indentAt(text, from) + 2);
  return splice(text, from, to, fresh);
}

/** Sets the value at `path`, creating the maps and sequences on the way. */
export function setValue(text: string, path: Path, value: unknown): string {
  const doc = parse(text);
  const node = nodeAt(doc, path);
  if (node) return replaceNode(text, node, value);
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1];
  const parent = nodeAt(doc, parentPath);
  if (!parent) return setValue(text, parentPath, typeof key === "number" ? [value] : { [key]: value });
  if (isSeq(parent)) return insertItem(text, parentPath, parent.items.length, value);
  if (!isMap(parent)) return replaceNode(text, parent, { [key]: value });
  if (parent.flow || !parent.items.length) return replaceNode(text, parent, { ...(parent.toJSON() as object), [key]: value });
  const last = parent.items[parent.items.length - 1] as Pair<Ranged, Ranged>;
  const indent = indentAt(text, last.key.range[0]) + (isFirstOfItem(text, last.key) ? 2 : 0);
  const at = afterNode(text, last.value ?? last.key);
  const eol = text.length && !text.endsWith("\n") && at === text.length ? "\n" : "";
  return splice(text, at, at, `${eol}${" ".repeat(indent)}${pairText(String(key), value, indent)}\n`);
}

/** Whether `key` is written on its sequence item's `- ` line (then its column is indent + 2). */
function isFirstOfItem(text: string, key: Ranged): boolean {
  return /^\s*-\s/.test(text.slice(lineStart(text, key.range[0]), key.range[0]));
}

/** Removes the value at `path`; a map or sequence left empty goes with it (not the document). */
export function deleteValue(text: string, path: Path): string {
  const doc = parse(text);
  const parentPath = path.slice(0, -1);
  const key = path[path.length - 1];
  const parent = nodeAt(doc, parentPath);
  if (!parent) return text;
  if (isSeq(parent)) return deleteItem(text, parentPath, Number(key));
  if (!isMap(parent)) return text;
  const index = parent.items.findIndex((p) => isScalar(p.key) && p.key.value === key);
  if (index < 0) return text;
  if (parent.items.length === 1 && parentPath.length) return deleteValue(text, parentPath);
  if (parent.flow) {
    const rest = { ...(parent.toJSON() as Record<string, unknown>) };
    delete rest[key as string];
    return replaceNode(text, parent, rest);
  }
  const pair = parent.items[index] as Pair<Ranged, Ranged>;
  const end = afterNode(text, pair.value ?? pair.key);
  if (isFirstOfItem(text, pair.key)) {
    // `- key: v` then `  next: w`: the next key moves up onto the `- ` line.
    const next = parent.items[index + 1] as Pair<Ranged, Ranged>;
    return splice(text, pair.key.range[0], next.key.range[0], "");
  }
  return splice(text, lineStart(text, pair.key.range[0]), end, "");
}

function itemBlock(text: string, item: Ranged): [number, number] {
  return [lineStart(text, item.range[0]), afterNode(text, item)];
}

/** Inserts `value` into the sequence at `seqPath` before index `index` (at the end when past it). */
export function insertItem(text: string, seqPath: Path, index: number, value: unknown): string {
  const doc = parse(text);
  const seq = nodeAt(doc, seqPath);
  if (!seq || empty(seq)) return seq ? replaceNode(text, seq, [value]) : setValue(text, seqPath, [value]);
  if (!isSeq(seq)) throw new Error(`${seqPath.join(".")} is not a list`);
  if (seq.flow) {
    const items = seq.toJSON() as unknown[];
    items.splice(index, 0, value);
    return replaceNode(text, seq, items);
  }
  const items = seq.items as Ranged[];
  const dash = indentAt(text, items[0].range[0]);
  const line = `${" ".repeat(dash)}- ${blockText(value, dash + 2)}\n`;
  if (index < items.length) {
    const at = lineStart(text, items[index].range[0]);
    return splice(text, at, at, line);
  }
  const at = afterNode(text, items[items.length - 1]);
  const eol = at === text.length && !text.endsWith("\n") ? "\n" : "";
  return splice(text, at, at, eol + line);
}

/** Removes item `index` of the sequence at `seqPath`; a nested list left empty goes with its key. */
export function deleteItem(text: string, seqPath: Path, index: number): string {
  const doc = parse(text);
  const seq = nodeAt(doc, seqPath);
  if (!isSeq(seq) || !seq.items[index]) return text;
  if (seq.items.length === 1 && seqPath.length > 1) return deleteValue(text, seqPath);
  if (seq.flow) {
    const items = seq.toJSON() as unknown[];
    items.splice(index, 1);
    return replaceNode(text, seq, items);
  }
  const [from, to] = itemBlock(text, seq.items[index] as Ranged);
  return splice(text, from, to, "");
}

/** Swaps item `index` of the sequence at `seqPath` with its neighbour `index + delta` (±1). */
export function moveItem(text: string, seqPath: Path, index: number, delta: -1 | 1): string {
  const seq = nodeAt(parse(text), seqPath);
  const other = index + delta;
  if (!isSeq(seq) || seq.flow || !seq.items[index] || !seq.items[other]) return text;
  const [first, second] = [Math.min(index, other), Math.max(index, other)].map((i) => itemBlock(text, seq.items[i] as Ranged));
  return text.slice(0, first[0]) + text.slice(...second) + text.slice(first[1], second[0]) + text.slice(...first) + text.slice(second[1]);
}

/** Where each step of the file is: its 1-based line (where the checker places it) to its path. */
export function stepPaths(text: string): Map<number, Path> {
  const doc = parse(text);
  const out = new Map<number, Path>();
  const lineOf = (pos: number) => text.slice(0, pos).split("\n").length;
  const walk = (path: Path) => {
    const seq = nodeAt(doc, path);
    if (!isSeq(seq)) return;
    seq.items.forEach((item, i) => {
      if (!isMap(item)) return;
      const at = [...path, i];
      out.set(lineOf((item as Ranged).range[0]), at);
      walk([...at, "then"]);
      walk([...at, "else"]);
      const variants = item.get("variants", true);
      if (isSeq(variants)) variants.items.forEach((_, v) => walk([...at, "variants", v, "steps"]));
    });
  };
  walk(["steps"]);
  return out;
}

/** The key/value pairs of the map at `path` in source order, for forms. */
export function keysAt(text: string, path: Path): string[] {
  const node = nodeAt(parse(text), path);
  return isMap(node) ? node.items.filter(isPair).map((p) => String((p.key as any)?.value)) : [];
}

/** The 1-based line of the value at a path of `text` (parsed once for every path asked), for
 *  showing the checker's problems at fields. */
export function lineFinder(text: string): (path: Path) => number | undefined {
  const doc = parse(text);
  return (path) => {
    const node = nodeAt(doc, path);
    return node ? text.slice(0, node.range[0]).split("\n").length : undefined;
  };
}
