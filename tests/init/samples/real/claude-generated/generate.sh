#!/usr/bin/env bash
# Writes a real Claude Code transcript with image blocks: the real CLI (@anthropic-ai/claude-code at a
# pinned version, from npm) runs `claude -p` in a throw-away git project against scripted_server.py, a
# scripted Anthropic Messages API on 127.0.0.1 (no model, no network beyond the npm registry). The model's
# words are the script's; the records and their shapes are the program's.
#
#   tests/init/samples/real/claude-generated/generate.sh [VERSION] [paced|at-once]   (default: 1.0.98 paced)
#
# The committed files: `1.0.98 paced`, `2.1.332 at-once` (the later messages queued while it works).
#
# Not run by `make test`: it downloads the CLI. The transcript is copied next to this script as
# <version>-<mode>/<session-id>.jsonl with the temporary project path replaced by /home/user/logo-demo
# (and its munged form by -home-user-logo-demo), without the bookkeeping lines that hold Claude Code's own
# system prompt and tool descriptions (keep_lines.py).
set -euo pipefail

VERSION="${1:-1.0.98}"
MODE="${2:-paced}"  # paced: each message after the previous answer; at-once: all on stdin at the start
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'kill "$(cat "$WORK/server.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PROJECT="$WORK/logo-demo"
FIXED_PROJECT=/home/user/logo-demo

npm install --silent --no-audit --no-fund --prefix "$WORK/npm" "@anthropic-ai/claude-code@$VERSION" >/dev/null

mkdir -p "$WORK/home" "$PROJECT"
git -C "$PROJECT" init -q -b main
printf '# Demo\n\nA tiny project.\n' > "$PROJECT/README.md"
python3 "$HERE/tiny_png.py" "$PROJECT/logo.png" 200,60,40
git -C "$PROJECT" add .
GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
  git -C "$PROJECT" -c user.name=demo -c user.email=demo@example.com commit -qm "Start the demo"

python3 "$HERE/scripted_server.py" "$WORK/port" "$PROJECT" "$WORK/server.log" &
echo $! > "$WORK/server.pid"
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT="$(cat "$WORK/port")"

# three typed turns on stdin (stream-json): text beside an image, an image alone, then text alone
image() { python3 -c "import base64, sys; sys.path.insert(0, '$HERE'); from tiny_png import tiny_png; \
print(base64.b64encode(tiny_png(($1))).decode())"; }
BLUE="$(image 40,90,200)"
SMALL="$(image 200,60,40)"
{
  printf '{"type":"user","message":{"role":"user","content":[{"type":"text","text":"What does this logo show? Put a short description in NOTES.md and mention the logo in README.md."},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"%s"}}]}}\n' "$BLUE"
  printf '{"type":"user","message":{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"%s"}}]}}\n' "$SMALL"
  printf '{"type":"user","message":{"role":"user","content":"Thanks, that is all for now."}}\n'
} > "$WORK/stdin.jsonl"

(cd "$PROJECT" && env -i PATH="$PATH" HOME="$WORK/home" TERM=dumb \
  ANTHROPIC_BASE_URL="http://127.0.0.1:$PORT" ANTHROPIC_API_KEY=dummy \
  DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1 CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1 \
  timeout 300 python3 "$HERE/drive.py" "$MODE" "$WORK/stdin.jsonl" "$WORK/stdout.jsonl" -- \
  "$WORK/npm/node_modules/.bin/claude" -p --input-format stream-json --output-format stream-json \
  --verbose --permission-mode acceptEdits 2> "$WORK/stderr.txt") \
  || { echo "claude failed:"; cat "$WORK/stderr.txt"; tail -5 "$WORK/stdout.jsonl"; exit 1; }

munge() { printf '%s' "$1" | tr -c 'a-zA-Z0-9' '-'; }
echo "requests the CLI made:"; cat "$WORK/server.log"
mkdir -p "$HERE/$VERSION-$MODE"
find "$WORK/home/.claude/projects" -name '*.jsonl' | while read -r file; do
  target="$HERE/$VERSION-$MODE/${file#"$WORK"/home/.claude/projects/*/}"
  mkdir -p "$(dirname "$target")"
  # the project's path, also as Claude Code munges it for folder names (every non-alphanumeric a dash)
  sed -e "s#$PROJECT#$FIXED_PROJECT#g" -e "s#$WORK/home#/home/user#g" \
      -e "s#$(munge "$PROJECT")#$(munge "$FIXED_PROJECT")#g" "$file" > "$target"
  python3 "$HERE/keep_lines.py" "$target"  # leaves out the lines that hold Claude Code's own prompts
  echo "wrote $target ($(wc -l < "$target") lines)"
done
git -C "$PROJECT" status --short
