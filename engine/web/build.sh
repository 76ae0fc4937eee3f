#!/usr/bin/env bash
# Builds the web page into engine/web/dist (embedded into the binary by rust-embed), reproducibly
# from package-lock.json. Installs Node.js and npm when missing.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
npm ci --no-audit --no-fund --loglevel=error
npm run --silent build
echo "built: $(ls dist/assets | tr '\n' ' ')"
