#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECONDS each (default 20), one after the other, starting from
# the committed corpus and regressions. A crash fails the script and leaves the input in
# fuzz/artifacts/<target>/; add it to fuzz/regressions/<target>/ with a name saying what failed.
# With --keep, new inputs are added to fuzz/corpus/ (minimise with `cargo +nightly fuzz cmin
# <target> corpus/<target>` before committing); otherwise they go to a temporary folder.
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-20}"
keep="${2:-}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/mikawaya-fuzz-target}"
targets=(yaml dsl expr event manifest api)
cargo +nightly fuzz build --target-dir "$CARGO_TARGET_DIR"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  if [ "$keep" = "--keep" ]; then dirs=(corpus/"$t"); else mkdir -p "$scratch/$t"; dirs=("$scratch/$t" corpus/"$t"); fi
  if [ -d regressions/"$t" ]; then dirs+=(regressions/"$t"); fi
  echo "== fuzz $t for ${seconds}s"
  log="$scratch/$t.log"
  if ! cargo +nightly fuzz run --target-dir "$CARGO_TARGET_DIR" "$t" "${dirs[@]}" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $t failed; the input is in fuzz/artifacts/$t/"
    exit 1
  fi
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added)|cov: .*(DONE|INITED)" "$log" || true
done
