#!/usr/bin/env bash
# Builds the example plugins from source:
#   sla-escalation-c  with Debian's clang + lld for wasm32 (freestanding, no libc)
#   lead-router-as    with AssemblyScript from npm (versions pinned in package-lock.json)
# Installs the toolchains when missing (apt-get, npm ci). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null; then
  echo "installing clang and lld (wasm32 target)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq clang lld >/dev/null
fi
if ! command -v npm >/dev/null; then
  echo "installing Node.js and npm (AssemblyScript)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
echo "building sla-escalation-c"
clang --target=wasm32 -O2 -nostdlib -fno-builtin -Wl,--no-entry -Wl,--export-dynamic \
  -o sla-escalation-c/sla.wasm sla-escalation-c/sla.c

echo "building lead-router-as"
rm -f lead-router-as/lead_router.wasm
(cd lead-router-as && npm ci --no-audit --no-fund --loglevel=error && { npm run --silent build > build.log 2>&1 || { cat build.log; exit 1; }; })
test -s lead-router-as/lead_router.wasm
echo "built: $(ls -1 */*.wasm | tr '\n' ' ')"
