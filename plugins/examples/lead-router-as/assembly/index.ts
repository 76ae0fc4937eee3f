// Lead routing plugin for mikawaya, in AssemblyScript (ABI version 1, see plugins/README.md).
//
// Action `route.assign`: input {"queue": "sales", "strategy": "round_robin" | "least_loaded" |
// "region", "agents": ["amy@APAC", "bob@EMEA"], "region": "APAC", "score": 91}.
// Output {"agent": "amy", "queue": "sales", "strategy": "...", "load": 3, "priority": "high"}.
// Counters live in the plugin's key-value store, so routing is fair across runs and restarts.

@external("mikawaya", "log")
declare function host_log(level: i32, ptr: usize, len: i32): void;
@external("mikawaya", "kv_get")
declare function kv_get(keyPtr: usize, keyLen: i32): i64;
@external("mikawaya", "kv_set")
declare function kv_set(keyPtr: usize, keyLen: i32, valPtr: usize, valLen: i32): i32;

export function mikawaya_abi_1(): void {}

export function alloc(len: i32): usize {
  return heap.alloc(<usize>len);
}

// ---- strings in and out -----------------------------------------------------------------

function result(json: string): i64 {
  const buf = String.UTF8.encode(json);
  const len = buf.byteLength;
  const ptr = heap.alloc(<usize>len);
  memory.copy(ptr, changetype<usize>(buf), <usize>len);
  return (<i64>ptr << 32) | <i64>len;
}

function log(message: string): void {
  const buf = String.UTF8.encode(message);
  host_log(1, changetype<usize>(buf), buf.byteLength);
}

// Returns the stored value, "" when absent, or null when the store is not available.
function kvGet(key: string): string | null {
  const k = String.UTF8.encode(key);
  const r = kv_get(changetype<usize>(k), k.byteLength);
  if (r == 0) return "";
  if (r < 0) return null;
  return String.UTF8.decodeUnsafe(<usize>(r >>> 32), <usize>(r & 0xffffffff));
}

function kvSet(key: string, value: string): bool {
  const k = String.UTF8.encode(key);
  const v = String.UTF8.encode(value);
  return kv_set(changetype<usize>(k), k.byteLength, changetype<usize>(v), v.byteLength) == 0;
}

// ---- a tiny reader for the fields we need -----------------------------------------------

function valueStart(json: string, key: string): i32 {
  const at = json.indexOf('"' + key + '"');
  if (at < 0) return -1;
  let i = at + key.length + 2;
  while (i < json.length && (json.charAt(i) == " " || json.charAt(i) == ":")) i++;
  return i;
}

function str(json: string, key: string): string {
  const i = valueStart(json, key);
  if (i < 0 || json.charAt(i) != '"') return "";
  const end = json.indexOf('"', i + 1);
  return end < 0 ? "" : json.substring(i + 1, end);
}

function num(json: string, key: string): i32 {
  const i = valueStart(json, key);
  if (i < 0) return -1;
  let n = 0;
  let j = i;
  while (j < json.length) {
    const c = json.charCodeAt(j);
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
    j++;
  }
  return j == i ? -1 : n;
}

function strings(json: string, key: string): string[] {
  const out = new Array<string>();
  const i = valueStart(json, key);
  if (i < 0 || json.charAt(i) != "[") return out;
  const end = json.indexOf("]", i);
  let j = i;
  while (true) {
    const open = json.indexOf('"', j + 1);
    if (open < 0 || open > end) break;
    const close = json.indexOf('"', open + 1);
    out.push(json.substring(open + 1, close));
    j = close;
  }
  return out;
}

function nameOf(agent: string): string {
  const at = agent.indexOf("@");
  return at < 0 ? agent : agent.substring(0, at);
}

function regionOf(agent: string): string {
  const at = agent.indexOf("@");
  return at < 0 ? "" : agent.substring(at + 1).toUpperCase();
}

// ---- the action ---------------------------------------------------------------------------

export function route_assign(ptr: usize, len: i32): i64 {
  const req = String.UTF8.decodeUnsafe(ptr, <usize>len);
  const queue = str(req, "queue");
  let strategy = str(req, "strategy");
  if (strategy == "") strategy = "round_robin";
  const all = strings(req, "agents");
  if (all.length == 0) return result('{"error":"no agents to route to: pass `agents`"}');

  let candidates = all;
  if (strategy == "region") {
    const region = str(req, "region").toUpperCase();
    const local = new Array<string>();
    for (let i = 0; i < all.length; i++) if (regionOf(all[i]) == region) local.push(all[i]);
    if (local.length > 0) candidates = local;
  } else if (strategy != "round_robin" && strategy != "least_loaded") {
    return result('{"error":"unknown strategy; use round_robin, least_loaded or region"}');
  }

  let chosen = 0;
  if (strategy == "round_robin") {
    const counter = kvGet("rr:" + queue);
    if (counter == null) return result('{"error":"the lead router needs the kv capability"}');
    const n = counter == "" ? 0 : I32.parseInt(counter);
    chosen = n % candidates.length;
    kvSet("rr:" + queue, (n + 1).toString());
  } else {
    let best = i32.MAX_VALUE;
    for (let i = 0; i < candidates.length; i++) {
      const stored = kvGet("load:" + queue + ":" + nameOf(candidates[i]));
      if (stored == null) return result('{"error":"the lead router needs the kv capability"}');
      const load = stored == "" ? 0 : I32.parseInt(stored);
      if (load < best) {
        best = load;
        chosen = i;
      }
    }
  }
  const agent = nameOf(candidates[chosen]);
  const loadKey = "load:" + queue + ":" + agent;
  const before = kvGet(loadKey);
  const load = (before == null || before == "" ? 0 : I32.parseInt(before)) + 1;
  kvSet(loadKey, load.toString());
  const priority = num(req, "score") >= 80 ? "high" : "normal";
  log("routed to " + agent + " in " + queue);
  return result(
    '{"ok":{"agent":"' + agent + '","queue":"' + queue + '","strategy":"' + strategy +
    '","load":' + load.toString() + ',"priority":"' + priority + '"}}'
  );
}
