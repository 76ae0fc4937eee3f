// Loads one of the page's TypeScript modules (engine/web/src) in Node for unit tests, bundled
// with the page's own bundler (rolldown, installed with the page's dependencies).
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const web = path.resolve(import.meta.dirname, "../../engine/web");

/** The module `engine/web/src/<name>.ts`, bundled for Node. */
export async function load(name) {
  const out = path.join(mkdtempSync(path.join(tmpdir(), `${name}-`)), `${name}.mjs`);
  execFileSync(path.join(web, "node_modules/.bin/rolldown"), [path.join(web, `src/${name}.ts`), "--format", "esm", "--platform", "node", "--file", out], { cwd: web, stdio: "pipe" });
  return import(out);
}
