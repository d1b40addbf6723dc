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

__all__ = ["FILE_CHECKS", "SNAPSHOT_CHECKS"]
