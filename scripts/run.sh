#!/usr/bin/env bash
# Runs the engine with the example workflows on the embedded SQLite file mikawaya.db, serving the
# API and the web page at http://127.0.0.1:8080. Builds the web page first when npm is available.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v npm >/dev/null; then
  engine/web/build.sh >/dev/null
else
  echo "note: npm not found; the web page will not be built (the API works without it)" >&2
fi
exec cargo run --release --bin mikawaya -- serve "$@"
