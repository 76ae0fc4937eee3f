#!/usr/bin/env bash
# The whole test suite. Installs what the tests need beyond Rust (aiosmtpd: the real SMTP server
# the email tests send to; clang/lld and AssemblyScript: the example WASM plugins, built from
# source), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  echo "installing aiosmtpd (the SMTP server the email tests use)"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi
plugins/examples/build.sh
cargo test --workspace "$@"
