"""``python -m letta_ls`` behaves like ``letta-ls``."""

import sys

from letta_ls.cli import main

sys.exit(main())
