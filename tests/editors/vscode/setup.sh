#!/usr/bin/env bash
# Idempotent set-up for the real-VS-Code test (tests/editors/test_vscode.py).
#
#   Debian's chromium, plus libkrb5-dev for code-server's native `kerberos` build   (apt-get, when missing)
#   Node 24.21.0 and code-server 4.139.1, both from the npm registry                 (cached, keyed by version)
#   playwright-core, pinned by this folder's package-lock.json                      (npm ci, when stale)
#
# The heavy parts live in ${XDG_CACHE_HOME:-~/.cache}/letta-ls/vscode-e2e/, outside the clone, so CI (a
# clean clone on a machine whose home persists) installs them once. A finished install is moved into
# place in one rename, so an interrupted run never leaves a half-built cache. Logs go to stderr; stdout
# ends with KEY=VALUE lines (NODE_BIN, CODE_SERVER, CHROMIUM) for the caller.
set -euo pipefail
CODE_SERVER_VERSION=4.139.1
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${LETTA_VSCODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/letta-ls/vscode-e2e}"
log() { echo "vscode-e2e setup: $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------------
missing=()
command -v chromium >/dev/null || missing+=(chromium)
dpkg-query -W -f='${Status}' libkrb5-dev 2>/dev/null | grep -q "ok installed" || missing+=(libkrb5-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    log "needs ${missing[*]}: run  sudo apt-get install -y ${missing[*]}  and try again"; exit 2
  fi
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
CHROMIUM="$(command -v chromium)"

# --- Node 24 ---------------------------------------------------------------------------------------
NODE_BIN="$("$HERE/../../../editors/vscode/scripts/node24.sh")"
NODE_VERSION="$("$NODE_BIN/node" --version)"
export PATH="$NODE_BIN:$PATH"
# The machine's npm config may point node-gyp at another Node's headers (nodedir=/usr): native modules
# must be built against the Node that will load them.
export npm_config_nodedir="$(dirname "$NODE_BIN")"

# --- code-server -----------------------------------------------------------------------------------
CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION-node-${NODE_VERSION#v}"
CODE_SERVER="$CS_DIR/node_modules/.bin/code-server"
if [ ! -x "$CODE_SERVER" ]; then
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.code-server.lock"
  flock 9
  if [ ! -x "$CODE_SERVER" ]; then
    log "installing code-server $CODE_SERVER_VERSION (builds native modules; about 2-4 minutes)"
    tmp="$(mktemp -d "$CACHE/.code-server-tmp.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    echo '{"private": true}' > "$tmp/package.json"
    (cd "$tmp" && npm install --foreground-scripts --no-audit --no-fund --loglevel=error \
        "code-server@$CODE_SERVER_VERSION" >&2)
    # a smoke test that writes nothing to the home directory (code-server creates its config on start)
    XDG_CONFIG_HOME="$tmp/.xdg" XDG_DATA_HOME="$tmp/.xdg" "$tmp/node_modules/.bin/code-server" --version >&2
    rm -rf "$tmp/.xdg"
    rm -rf "$CS_DIR" && mv "$tmp" "$CS_DIR"
    trap - EXIT
  fi
fi

# --- the driver's node modules ---------------------------------------------------------------------
lock_sum="$(sha1sum "$HERE/package-lock.json" | cut -c1-40)"
if [ "$(cat "$HERE/node_modules/.letta-lock-sum" 2>/dev/null)" != "$lock_sum" ]; then
  log "npm ci (playwright-core)"
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
  echo "$lock_sum" > "$HERE/node_modules/.letta-lock-sum"
fi

echo "NODE_BIN=$NODE_BIN"
echo "CODE_SERVER=$CODE_SERVER"
echo "CHROMIUM=$CHROMIUM"
