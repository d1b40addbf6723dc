"""``python -m letta_ls`` behaves like ``letta-ls``.

Guarded: a ``spawn`` worker process (the server's audit worker) re-imports the main module under
another name, and must not start a second CLI or language server there.
"""

import sys

from letta_ls.cli import main

if __name__ == "__main__":
    sys.exit(main())
