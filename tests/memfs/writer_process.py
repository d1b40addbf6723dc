"""A separate process that writes memory in a loop and acknowledges each commit on stdout.

Used by the concurrency and crash tests: ``python writer_process.py REPO NAME COUNT [shared]``.
With ``shared``, every write also appends a line to ``shared.md`` through str_replace-style
read-modify-write, which loses updates unless writers are serialised.
"""

import sys

from letta_ls.memfs.operations import MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo


def main() -> None:
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shared = len(sys.argv) > 4
    repo = MemoryRepo(path)
    ops = MemoryOperations(repo, Author(name, f"{name}@letta-ls.local"))
    for i in range(count):
        if shared:
            result = ops.insert("shared.md", 10**6, f"{name}-{i}", reason=f"{name} line {i}")
        else:
            result = ops.create(f"w/{name}-{i}.md", f"note {i} of {name}", f"{name} wrote {i}", reason=f"{name} {i}")
        print(f"ACK {name}-{i} {result.commit}", flush=True)


if __name__ == "__main__":
    main()
