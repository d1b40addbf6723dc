"""``memfs-constraint``: the tree limits Letta Code's hook enforces (``letta-memory-constraints.cjs``).

A memory with a ``.memfs.config.json`` (``maxDepth``, ``maxFileCharacters``, per-glob
``fileCharacterLimits``), and every MemFS v2 memory (with Letta Code's defaults, and a ``MEMORY.md``
index in every folder), is checked as a whole on every commit Letta Code makes: a file too deep or
too long, a missing index or a malformed config blocks *any* commit until it is fixed, so each is an
error here, in the hook's own words.
"""

from __future__ import annotations

from letta_ls.doctor.checks.common import CheckContext, finding
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.letta_code_rules import CONFIG_PATH, tree_refusals

REFUSED = "Letta Code will refuse to commit this: "
_ADVICE = {
    "depth": " Move the file up, closer to the memory's root.",
    "size": " Split the file into smaller ones.",
    "core-size": " Move detail out of the root files into folders behind their MEMORY.md index.",
    "index-missing": " Add a MEMORY.md (no frontmatter) to the folder, listing what it holds.",
    "config": " Correct `.memfs.config.json` (only a person may change it).",
}


def check_snapshot(ctx: CheckContext) -> list[Finding]:
    if not ctx.enabled("memfs-constraint"):
        return []
    config = ctx.snapshot.get(CONFIG_PATH)
    if config is None and not ctx.v2:
        return []
    config_text = None
    if config is not None:
        config_text = config.text if config.text is not None else config.data.decode("utf-8", "replace")
    characters = {
        f.path: len(f.text if f.text is not None else f.data.decode("utf-8", "replace"))
        for f in ctx.snapshot if f.path.endswith(".md")
    }
    return [
        finding("memfs-constraint", refusal.path, 0, REFUSED + refusal.message + "." + _ADVICE.get(refusal.kind, ""))
        for refusal in tree_refusals(characters, config_text, ctx.v2)
    ]
