#!/usr/bin/env bash
# Runs the engine with the example workflows on the embedded SQLite file mikawaya.db, serving the
# API and the web page at http://127.0.0.1:8080. Cargo builds the web page too when npm is
# available (engine/build.rs); without npm the API works and the build warns.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run --release --bin mikawaya -- serve "$@"
