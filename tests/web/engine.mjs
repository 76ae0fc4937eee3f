// What the browser tests share: the real engine on a copy of the example workflows (plus extra
// files), a headless Chromium page with the write token, console errors collected, and calls
// to the API. Screenshots go to <target>/web-screenshots/.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, cpSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { chromium } from "playwright-core";

export const root = path.resolve(import.meta.dirname, "../..");
const target = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, "target");
export const binary = process.env.MIKAWAYA_BIN || path.join(target, "debug", "mikawaya");
export const shots = path.join(target, "web-screenshots");
export const TOKEN = "s3cret-write";

/** Starts the engine on a fresh folder with the examples and `extra` files ({ name: text }),
 *  with `args` added to `serve`. */
export async function startEngine(extra = {}, args = []) {
  const dir = mkdtempSync(path.join(tmpdir(), "mikawaya-web-"));
  const workflows = path.join(dir, "workflows");
  cpSync(path.join(root, "workflows"), workflows, { recursive: true });
  for (const [file, text] of Object.entries(extra)) writeFileSync(path.join(workflows, file), text);
  const child = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--token", TOKEN, "--db", path.join(dir, "web.db"), "--workflows", workflows, "--outbox", path.join(dir, "outbox"), ...args], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, MIKAWAYA_LOG: "warn" } });
  const line = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`engine exited with ${code}`)));
    child.once("error", (e) => reject(new Error(`cannot start ${binary}: ${e.message}`)));
  });
  return { child, url: line.replace("mikawaya listening on ", "").trim(), workflows, dir };
}

/** A browser page at 1366×800 (or `viewport`) that sends the token, and its console errors. */
export async function openPage(viewport = { width: 1366, height: 800 }) {
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport });
  const consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
  page.on("pageerror", (e) => consoleErrors.push(String(e)));
  await page.addInitScript((t) => sessionStorage.setItem("mikawaya-token", t), TOKEN);
  return { browser, page, consoleErrors };
}

/** An API client for the engine at `url`. */
export function client(url) {
  const headers = { "content-type": "application/json", authorization: `Bearer ${TOKEN}` };
  return {
    async post(pathname, body, status = 202) {
      const r = await fetch(url + pathname, { method: "POST", headers, body: JSON.stringify(body) });
      assert.equal(r.status, status, await r.text());
    },
    async getJson(pathname) {
      const r = await fetch(url + pathname, { headers });
      return r.json();
    },
  };
}

/** Polls `done` every 100 ms for up to 10 s. */
export async function until(done) {
  for (let i = 0; i < 100; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`not reached: ${done}`);
}
