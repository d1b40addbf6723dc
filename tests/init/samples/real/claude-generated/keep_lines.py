"""Leave out of a generated transcript the bookkeeping lines that carry Claude Code's own text.

2.1.3xx writes into the transcript the system prompt it sends (``prompt_snapshot`` attachments), the request's
shape with every tool's description (``api-request-shape``), its skill and agent listings and its environment
section: Anthropic's program text, not our session, and not ours to republish. Every such line is a
bookkeeping record over 3,000 characters; conversation records (user, assistant, system, summary,
queue-operation) are always kept, whatever their length. Other lines are copied byte for byte.

Run: ``python3 keep_lines.py FILE`` (rewrites FILE in place and prints the line numbers left out).
"""

import json
import sys

CONVERSATION = {"user", "assistant", "system", "summary", "queue-operation"}
MAX_BOOKKEEPING_CHARS = 3000

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    lines = f.readlines()
kept, left_out = [], []
for number, line in enumerate(lines, 1):
    kind = json.loads(line).get("type")
    if kind not in CONVERSATION and len(line) > MAX_BOOKKEEPING_CHARS:
        left_out.append(number)
    else:
        kept.append(line)
with open(path, "w", encoding="utf-8") as f:
    f.writelines(kept)
print(f"{path}: kept {len(kept)} of {len(lines)} lines; left out {left_out or 'none'}")
