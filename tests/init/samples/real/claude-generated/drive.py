"""Feed `claude -p --input-format stream-json` its stdin messages, either all at once or one per turn.

``at-once`` writes every message and closes stdin (2.1.x then queues the later ones while it works on the
first; 1.0.98 answers only the first). ``paced`` writes the next message only after the CLI printed the
``result`` of the previous turn, as a person typing after each answer would, then closes stdin.

Run: ``python3 drive.py MODE STDIN_FILE STDOUT_FILE -- claude ARGS...``
"""

import json
import subprocess
import sys

mode, stdin_file, stdout_file = sys.argv[1:4]
command = sys.argv[sys.argv.index("--") + 1:]
with open(stdin_file, encoding="utf-8") as f:
    messages = [line for line in f if line.strip()]
with open(stdout_file, "w", encoding="utf-8") as out:
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    if mode == "at-once":
        process.stdin.write("".join(messages))
        process.stdin.close()
        out.write(process.stdout.read())
    else:
        for message in messages:
            process.stdin.write(message)
            process.stdin.flush()
            for line in process.stdout:
                out.write(line)
                if json.loads(line).get("type") == "result":
                    break
        process.stdin.close()
        out.write(process.stdout.read())
    sys.exit(process.wait())
