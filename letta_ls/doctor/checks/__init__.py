"""The doctor's checks, one module per family of diagnostic codes (SPEC section 8).

Each family module exposes ``check_file(ctx, file)`` (findings on one file, in the context of the whole
snapshot) and, where a rule is about the tree as a whole, ``check_snapshot(ctx)``. ``FILE_CHECKS`` and
``SNAPSHOT_CHECKS`` list them in the order the audit runs them.
"""

from __future__ import annotations

from letta_ls.doctor.checks import constraints, duplicates, frontmatter, links, placement, secrets, size, structure

FILE_CHECKS = (
    structure.check_file,
    frontmatter.check_file,
    size.check_file,
    placement.check_file,
    links.check_file,
    secrets.check_file,
    duplicates.check_file,
)
SNAPSHOT_CHECKS = (structure.check_snapshot, constraints.check_snapshot)

# Codes whose finding on one file may depend on *other* files: their content (duplicates), the set of paths
# (links, a folder beside a file) or the ``system/`` total (the budget). Every other code a per-file check
# reports depends only on the file itself, the settings and the layout (MemFS v2 or not, the folder indexes,
# ``.memfs.config.json``), which lets the write guard judge a change by the files it touches
# (``doctor.guard``); a new cross-file rule must be listed here.
CROSS_FILE_CODES = frozenset({"duplicate-content", "link-broken", "name-clash", "system-over-budget"})

__all__ = ["CROSS_FILE_CODES", "FILE_CHECKS", "SNAPSHOT_CHECKS"]
