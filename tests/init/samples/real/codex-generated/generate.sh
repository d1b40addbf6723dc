#!/usr/bin/env bash
# Re-create the Codex rollouts kept next to this script by running the real Codex CLI (installed from npm,
# pinned versions) against scripted_model.py, a scripted stand-in for the model on 127.0.0.1. Needs node/npm,
# python3 and git; reaches nothing but the npm registry. Not part of `make test`; run it by hand:
#
#     bash tests/init/samples/real/codex-generated/generate.sh
#
# Each run uses a fresh temporary HOME (CODEX_HOME=$HOME/.codex), so nothing of this machine's Codex setup is
# read or written; the temporary HOME is then written as /home/user in the kept files (the only edit). Codex
# writes new ids and times on every run, so a re-run gives files of the same shape, not the same bytes.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OLDEST_VERSION=0.20.0         # the bare format ({"record_type":"state"} lines), no <environment_context> kept
OLD_VERSION=0.29.0            # the last npm release writing the bare format
MID_VERSION=0.77.0            # session_meta / response_item / event_msg: `compacted` and `context_compacted`
NEW_VERSION=0.171.0-linux-x64 # a current release: `compacted` after the model's summary as an assistant message
WORK=$(mktemp -d)
SERVER_PID=""
trap 'if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT

npm install --silent --no-audit --no-fund --prefix "$WORK/npm-oldest" "@openai/codex@$OLDEST_VERSION"
npm install --silent --no-audit --no-fund --prefix "$WORK/npm-old" "@openai/codex@$OLD_VERSION"
npm install --silent --no-audit --no-fund --prefix "$WORK/npm-mid" "@openai/codex@$MID_VERSION"
npm install --silent --no-audit --no-fund --prefix "$WORK/npm-new" "@openai/codex@$NEW_VERSION"
OLDEST_CODEX="$WORK/npm-oldest/node_modules/@openai/codex/bin/codex-x86_64-unknown-linux-musl"
OLD_CODEX="$WORK/npm-old/node_modules/@openai/codex/bin/codex-x86_64-unknown-linux-musl"
MID_CODEX="$WORK/npm-mid/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex"
NEW_CODEX="$WORK/npm-new/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/bin/codex"

# new_home NAME PROJECT: a fresh HOME with a small git project (one commit, a GitHub remote) in it
new_home() {
    export HOME="$WORK/$1" CODEX_HOME="$WORK/$1/.codex"
    PROJECT="$HOME/projects/$2"
    mkdir -p "$CODEX_HOME" "$PROJECT"
    git -C "$PROJECT" init -q -b main
    printf '# Greeter: says helo\n' > "$PROJECT/README.md"
    printf 'def greet(name):\n    return f"Hello, {name}!"\n' > "$PROJECT/greet.py"
    git -C "$PROJECT" add .
    git -C "$PROJECT" -c user.name=User -c user.email=user@example.com commit -qm "Greeter"
    git -C "$PROJECT" remote add origin "https://github.com/example/$2.git"
}

# start_model FULL_AT PATCH_SPELLING MODEL [CONFIG_LINES]: the scripted server and a config.toml for it
start_model() {
    rm -f "$WORK/port"
    python3 "$HERE/scripted_model.py" "$WORK/port" "$WORK/requests-$(basename "$HOME").jsonl" "$1" "$2" &
    SERVER_PID=$!
    for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
    cat > "$CODEX_HOME/config.toml" <<EOF
model = "$3"
model_provider = "scripted"
${4:-}

[model_providers.scripted]
name = "scripted model"
base_url = "http://127.0.0.1:$(cat "$WORK/port")/v1"
wire_api = "responses"
env_key = "SCRIPTED_API_KEY"
request_max_retries = 0
stream_max_retries = 0
EOF
}

stop_model() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""; }

# keep: copy the rollouts of this HOME here, the temporary HOME written as /home/user
keep() {
    local rollout kept
    for rollout in $(find "$CODEX_HOME/sessions" -name 'rollout-*.jsonl' | sort); do
        kept="$HERE/$(basename "$rollout")"
        sed "s#$HOME#/home/user#g" "$rollout" > "$kept"
        if grep -q "$WORK" "$kept"; then echo "a temporary path is left in $kept" >&2; exit 1; fi
        echo "kept $(basename "$rollout") ($(wc -l < "$rollout") lines)"
    done
}

export SCRIPTED_API_KEY=dummy-key-for-the-scripted-model
FLAGS=(--dangerously-bypass-approvals-and-sandbox --skip-git-repo-check)

# bare_format NAME PROJECT CODEX PATCH_SPELLING: the bare format of the Codex binary CODEX: the first prompt, shell
# calls, a heredoc edit spelt PATCH_SPELLING; the second prompt resumes it (`experimental_resume`)
bare_format() {
    local codex=$3 rollout
    new_home "$1" "$2"
    start_model none "$4" gpt-5
    (cd "$PROJECT" && "$codex" exec "${FLAGS[@]}" "Fix the typo in README.md" > /dev/null)
    rollout=$(find "$CODEX_HOME/sessions" -name 'rollout-*.jsonl')
    (cd "$PROJECT" && "$codex" exec "${FLAGS[@]}" -c "experimental_resume=\"$rollout\"" "Add a test for greet" \
        > /dev/null)
    stop_model
    keep
}

# 0. the bare format as 0.20 wrote it, an `apply_patch` edit; 0.20 appends the resumed prompt to the same rollout
bare_format oldest greeter-0.20 "$OLDEST_CODEX" apply_patch

# 1. the bare format as 0.29 wrote it, an `applypatch` edit; 0.29 writes the resumed prompt as a new rollout that
#    first replays the one it resumes
bare_format old greeter-0.29 "$OLD_CODEX" applypatch

# 2. a rollout of December 2025 compacting within a turn: the second prompt's first call reports 200,000 tokens
#    of usage over a limit of 5,000, so Codex asks the model for a summary before sending the call's output
#    (0.77 starts a resumed session's usage at zero: it would not compact before the second prompt)
new_home mid greeter-0.77
start_model test:0 apply_patch gpt-5.1-codex 'model_auto_compact_token_limit = 5000'
(cd "$PROJECT" && "$MID_CODEX" exec "${FLAGS[@]}" "Fix the typo in README.md" > /dev/null 2>&1)
(cd "$PROJECT" && "$MID_CODEX" exec "${FLAGS[@]}" resume --last "Add a test for greet" > /dev/null 2>&1)
stop_model
keep

# 3. a current rollout with an automatic compaction: the first prompt's last answer reports 200,000 tokens of
#    usage over a limit of 5,000, so Codex asks the model for a summary before the second prompt
new_home new greeter-0.171
start_model typo:3 apply_patch gpt-5.5 'model_auto_compact_token_limit = 5000'
(cd "$PROJECT" && "$NEW_CODEX" exec "${FLAGS[@]}" "Fix the typo in README.md" > /dev/null 2>&1)
(cd "$PROJECT" && "$NEW_CODEX" exec resume --last "${FLAGS[@]}" "Add a test for greet" > /dev/null 2>&1)
stop_model
keep
