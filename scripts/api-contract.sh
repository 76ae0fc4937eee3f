#!/usr/bin/env bash
# The API against its own OpenAPI document: starts the engine (example workflows copied to a
# temporary folder, a fresh SQLite file, a bootstrap admin token), runs Schemathesis
# (tests/api/schemathesis.toml: no server errors; status codes, content types, headers and
# bodies as documented) and fails if the engine logged an error meanwhile.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import schemathesis" 2>/dev/null; then
  echo "installing schemathesis (the API contract tests)"
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis>=4,<5"
fi
target="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p mikawaya-cli --bin mikawaya
work="$(mktemp -d)"
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
cp -r workflows "$work/workflows"
export MIKAWAYA_TOKEN="contract-$RANDOM$RANDOM"
"$target/debug/mikawaya" serve --listen 127.0.0.1:0 --workflows "$work/workflows" \
  --db "$work/api.db" --outbox "$work/outbox" --token "$MIKAWAYA_TOKEN" \
  >"$work/out" 2>"$work/log" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^mikawaya listening on //p' "$work/out")"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "the engine did not start:"; cat "$work/log"; exit 1; }
schemathesis --config-file tests/api/schemathesis.toml run "$url/openapi.json"
if grep -q "ERROR" "$work/log"; then
  echo "the engine logged errors during the contract run:"
  grep "ERROR" "$work/log"
  exit 1
fi
echo "API contract: no server errors, every answer as documented"
