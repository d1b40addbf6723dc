"""``letta-ls memory sync`` started at a given moment: ``python sync_at.py HOME UNIX_TIME``.

Imports everything first, then waits for ``UNIX_TIME`` and runs the CLI's ``main`` (its exit code is this
process's), so two of these started together sync at the same moment to within a millisecond or so, as two
machines on a timer would.
"""

import sys
import time

from letta_ls.cli import main
from letta_ls.sync import memory_sync  # noqa: F401  (imported before the moment, not after)


def run() -> int:
    home, at = sys.argv[1], float(sys.argv[2])
    time.sleep(max(0.0, at - time.time()))
    return main(["--home", home, "memory", "sync", "--format", "json"])


if __name__ == "__main__":
    sys.exit(run())
