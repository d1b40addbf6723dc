#!/usr/bin/env bash
# Build editors/vscode/letta-ls.vsix: install the pinned tools when package-lock.json changed (npm ci),
# typecheck (tsc --noEmit), bundle (esbuild) and package (@vscode/vsce). Run by `make vsix`.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_BIN="$(scripts/node24.sh)"
export PATH="$NODE_BIN:$PATH"
export npm_config_nodedir="$(dirname "$NODE_BIN")"   # not the machine's nodedir: this is Node 24
lock_sum="$(sha1sum package-lock.json | cut -c1-40)"
if [ "$(cat node_modules/.letta-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.letta-lock-sum
fi
npm run --silent package >&2
echo "$(pwd)/letta-ls.vsix"
