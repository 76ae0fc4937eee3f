#!/usr/bin/env bash
# The whole test suite. Starts PostgreSQL and NATS if they are down (scripts/services.sh) and
# installs what the tests need beyond Rust (aiosmtpd: the real SMTP server
# the email tests send to; clang/lld and AssemblyScript: the example WASM plugins, built from
# source; Node.js for the web page; Chromium for its tests; Schemathesis for the API contract),
# then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  echo "installing aiosmtpd (the SMTP server the email tests use)"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi
# PostgreSQL (the store conformance suite, the many-node tests) and NATS, started if down.
scripts/services.sh
plugins/examples/build.sh
# The web page is built by cargo (engine/build.rs runs engine/web/build.sh when its sources are
# newer than the bundle); it needs Node.js and npm.
if ! command -v npm >/dev/null; then
  echo "installing Node.js and npm (the web page)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
# The simulator with crash points runs 10,000 seeds here (about 4 minutes on two cores); plain
# `cargo test` runs 300.
export MIKAWAYA_CHAOS_SEEDS="${MIKAWAYA_CHAOS_SEEDS:-10000}"
cargo test --workspace "$@"

# The HTTP API against its OpenAPI document (Schemathesis, from PyPI).
scripts/api-contract.sh

# The web page in a real headless Chromium (Debian's package), driven by playwright-core.
if ! command -v chromium >/dev/null; then
  echo "installing chromium (the web page tests)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq chromium >/dev/null
fi
cargo build -q -p mikawaya-cli --bin mikawaya
(cd tests/web && npm ci --no-audit --no-fund --loglevel=error)
node --test tests/web/
