#!/usr/bin/env bash
# Build editors/vscode/letta-ls.vsix: install the pinned tools when package-lock.json changed (npm ci),
# typecheck (tsc --noEmit), bundle (esbuild) and package (@vscode/vsce). Run by `make vsix`.
#   build.sh          build and print the path of the .vsix
#   build.sh --deps   only make sure node_modules matches package-lock.json (for the unit tests)
# The tools' chatter is shown only when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
exec 9>.build.lock
flock 9   # one build at a time (pytest workers may ask together)
NODE_BIN="$(scripts/node24.sh)"
export PATH="$NODE_BIN:$PATH"
export npm_config_nodedir="$(dirname "$NODE_BIN")"   # not the machine's nodedir: this is Node 24
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
run() {
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "build.sh: '$*' failed in editors/vscode" >&2
    exit 1
  fi
}
lock_sum="$(sha1sum package-lock.json | cut -c1-40)"
if [ "$(cat node_modules/.letta-lock-sum 2>/dev/null)" != "$lock_sum" ]; then
  run npm ci --no-audit --no-fund
  echo "$lock_sum" > node_modules/.letta-lock-sum
fi
[ "${1:-}" = "--deps" ] && exit 0
run npm run package
echo "$(pwd)/letta-ls.vsix"
