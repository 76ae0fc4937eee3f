// Calls to the engine's HTTP API (same origin), with the token from the header field.

export type Json = any;

export function token(): string {
  return (document.getElementById("token") as HTMLInputElement).value || sessionStorage.getItem("mikawaya-token") || "";
}

export async function api(path: string, init: RequestInit = {}): Promise<Json> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const t = token();
  if (t) headers["authorization"] = `Bearer ${t}`;
  const resp = await fetch(path, { ...init, headers: { ...headers, ...(init.headers as any) } });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw Object.assign(new Error(body.error || resp.statusText), { status: resp.status, body });
  return body;
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

export function time(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}
