#!/usr/bin/env bash
# Where a completed run's instructions go: runs the release engine under callgrind (which counts
# instructions, so the figures repeat whatever else the machine does), sends it N benchmark
# events through `mikawaya bench --until completed` (the workflow and counting sink of the bench),
# and prints the inclusive cost of the engine's main parts. Needs valgrind.
#   scripts/profile.sh [EVENTS]      (default 4000; the profile is left in target/profile/)
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-4000}"
target="${CARGO_TARGET_DIR:-target}"
cargo build -q --release -p mikawaya-cli
bin="$target/release/mikawaya"
dir="$target/profile"
rm -rf "$dir" && mkdir -p "$dir/workflows"
cat > "$dir/workflows/bench-0.mkw" <<'MKW'
workflow "bench-0" version 1
on event cart.abandoned
when event.cart.total >= 50 and customer.consent.email
re-enroll always

do webhook(url: "http://127.0.0.1:9977/hook", event: event.id)
MKW
MIKAWAYA_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
  "$bin" serve --listen 127.0.0.1:7788 --db "$dir/profile.db" --workflows "$dir/workflows" \
  --no-watch > "$dir/serve.log" 2>&1 &
engine=$!
until curl -sf http://127.0.0.1:7788/health >/dev/null; do sleep 0.5; done
"$bin" bench --url http://127.0.0.1:7788 --sink-port 9977 --until completed \
  --events "$events" --batch 50 --concurrency 16 | grep -E "completed:"
kill -INT "$engine"
wait "$engine" || true
callgrind_annotate --inclusive=yes "$dir/callgrind.out" 2>/dev/null \
  | grep -E "PROGRAM TOTALS|write_tx::|matched::apply|commit::apply|insert_event_rows|Executor::execute::|WebhookAction as|match_continuously::|intake::writer|sqlite3_step |Value as core::fmt::Display|handle_connection" \
  | cut -c1-160
echo "per run: divide by $events; the whole profile: callgrind_annotate $dir/callgrind.out"
