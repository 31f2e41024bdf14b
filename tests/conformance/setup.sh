#!/usr/bin/env bash
# Installs the JS side of the conformance tests (Miniflare, which embeds workerd) from the
# committed lock file. Idempotent and quick when already installed: the lock file's hash is
# stamped into node_modules. Without node it does nothing (the tests then skip loudly).
set -euo pipefail
cd "$(dirname "$0")/js"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "conformance/setup.sh: node or npm not found; the conformance tests will be skipped" >&2
  exit 0
fi
stamp=node_modules/.conformance-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/miniflare ]; then
  exit 0
fi
# --ignore-scripts: nothing is built or downloaded; workerd's binary ships in its npm package.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
