/* SLA escalation plugin for mikawaya, in C (freestanding wasm32, ABI version 1).
 *
 * Action `sla.level`: input {"priority": "low|normal|high|urgent", "age_minutes": N, "tier":
 * "standard|gold|enterprise"}. Output {"level": 0..3, "target": "none|team-lead|manager|director",
 * "overdue_minutes": N}. Each priority has an SLA in minutes; gold halves the allowance of the
 * next level, enterprise escalates one level higher. Unknown priorities are a permanent error.
 */

typedef unsigned int u32;
typedef unsigned long long u64;

/* ---- the ABI ---------------------------------------------------------------------------- */

__attribute__((import_module("mikawaya"), import_name("log"))) void host_log(int level, const char *ptr, int len);

extern unsigned char __heap_base;
static unsigned char *heap_top = 0;

__attribute__((export_name("mikawaya_abi_1"))) void mikawaya_abi_1(void) {}

/* A bump allocator: every call runs in a fresh instance, so nothing needs freeing. */
__attribute__((export_name("alloc"))) unsigned char *alloc(int len) {
  if (!heap_top) heap_top = &__heap_base;
  unsigned char *p = heap_top;
  u32 need = (u32)(len + 7) & ~7u;
  u32 end = (u32)(p + need);
  u32 have = __builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    if (__builtin_wasm_memory_grow(0, (end - have + 65535u) / 65536u) < 0) return 0;
  }
  heap_top = p + need;
  return p;
}

static u64 result(const char *text, int len) {
  unsigned char *out = alloc(len);
  for (int i = 0; i < len; i++) out[i] = text[i];
  return ((u64)(u32)out << 32) | (u32)len;
}

/* ---- a tiny reader for flat JSON objects ---------------------------------------------- */

static int str_len(const char *s) { int n = 0; while (s[n]) n++; return n; }

/* Finds "key": in json and returns the index just after the colon and spaces, or -1. */
static int find_value(const char *json, int len, const char *key) {
  int klen = str_len(key);
  for (int i = 0; i + klen + 2 < len; i++) {
    if (json[i] != '"') continue;
    int j = 0;
    while (j < klen && json[i + 1 + j] == key[j]) j++;
    if (j != klen || json[i + 1 + klen] != '"') continue;
    int k = i + klen + 2;
    while (k < len && (json[k] == ' ' || json[k] == ':')) k++;
    return k;
  }
  return -1;
}

static int read_int(const char *json, int len, const char *key, int fallback) {
  int i = find_value(json, len, key);
  if (i < 0 || i >= len || json[i] < '0' || json[i] > '9') return fallback;
  int n = 0;
  while (i < len && json[i] >= '0' && json[i] <= '9') n = n * 10 + (json[i++] - '0');
  return n;
}

/* Copies the string value of key into buf (at most cap-1 bytes); returns its length or -1. */
static int read_str(const char *json, int len, const char *key, char *buf, int cap) {
  int i = find_value(json, len, key);
  if (i < 0 || json[i] != '"') return -1;
  int n = 0;
  for (i++; i < len && json[i] != '"' && n < cap - 1; i++) buf[n++] = json[i];
  buf[n] = 0;
  return n;
}

static int eq(const char *a, const char *b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}

static int put(char *out, int at, const char *s) { while (*s) out[at++] = *s++; return at; }

static int put_int(char *out, int at, int n) {
  char digits[12]; int d = 0;
  if (n == 0) digits[d++] = '0';
  while (n > 0) { digits[d++] = '0' + n % 10; n /= 10; }
  while (d > 0) out[at++] = digits[--d];
  return at;
}

/* ---- the action --------------------------------------------------------------------------- */

__attribute__((export_name("sla_level"))) u64 sla_level(const char *req, int len) {
  char priority[16], tier[16];
  if (read_str(req, len, "priority", priority, sizeof priority) < 0) {
    const char *e = "{\"error\":\"missing `priority`\"}";
    return result(e, str_len(e));
  }
  if (read_str(req, len, "tier", tier, sizeof tier) < 0) tier[0] = 0;
  int age = read_int(req, len, "age_minutes", 0);

  int sla;
  if (eq(priority, "urgent")) sla = 60;
  else if (eq(priority, "high")) sla = 240;
  else if (eq(priority, "normal")) sla = 1440;
  else if (eq(priority, "low")) sla = 4320;
  else {
    const char *e = "{\"error\":\"unknown priority; use low, normal, high or urgent\"}";
    return result(e, str_len(e));
  }
  if (eq(tier, "gold")) sla = sla * 3 / 4;

  int level = 0;
  if (age >= sla) level = 1;
  if (age >= 2 * sla) level = 2;
  if (age >= 4 * sla) level = 3;
  if (eq(tier, "enterprise") && level > 0 && level < 3) level++;

  static const char *targets[] = {"none", "team-lead", "manager", "director"};
  char out[160];
  int n = put(out, 0, "{\"ok\":{\"level\":");
  n = put_int(out, n, level);
  n = put(out, n, ",\"target\":\"");
  n = put(out, n, targets[level]);
  n = put(out, n, "\",\"overdue_minutes\":");
  n = put_int(out, n, age > sla ? age - sla : 0);
  n = put(out, n, "}}");
  host_log(1, out, n);
  return result(out, n);
}
