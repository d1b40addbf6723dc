"""What the prompt's memory section shows of a snapshot, kept from one ``HEAD`` to the next (issue 14).

A chat turn that writes memory compiles the section again on the step after each write, and a commit
changes a file or two. Sorting ~2,000 paths into the persona, the in-context files and the external tree,
then drawing that tree again, cost ~15 ms a step on a 2,000-file memory; ``SectionParts.advance`` instead
compares the new snapshot with the one it was built from (by blob id) and moves only the paths that
differ, and the external tree is a ``DrawnTree`` whose unchanged folders keep their drawn lines.

The rules are ``compile._render``'s (which builds from scratch, and which a property test compares this
with over random histories): hidden paths and names holding a secret are left out; in-context files are
``system/`` Markdown (a MemFS v2 memory: the root Markdown files); the external tree holds the projected
files of the ``external`` tier (in v2 only Markdown). A change of layout (a ``MEMORY.md`` added or removed
anywhere, which moves v2 projections) or of the tree limits is answered by building anew.
"""

from __future__ import annotations

from collections.abc import Mapping

from letta_ls.memfs.letta_code_rules import INDEX_NAME
from letta_ls.memfs.secret_gate import name_holds_secret
from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, is_memory_markdown
from letta_ls.memfs.tree import DrawnTree, TreeLimits, file_description, is_hidden

MOST_CHANGES_FOLLOWED = 64  # beyond this many changed paths (or a quarter of memory) a fresh build is as cheap


class SectionParts:
    """The persona, the in-context files and the external tree of the snapshot last given."""

    def __init__(self, snapshot: MemorySnapshot, limits: TreeLimits) -> None:
        self.limits = limits
        self.files: Mapping[str, MemoryFile] = snapshot.files
        self.v2 = snapshot.v2
        self.persona_path = snapshot.persona_path
        self.persona: MemoryFile | None = None
        self.system: dict[str, MemoryFile] = {}
        self.tree = DrawnTree(limits.max_children)
        self.system_version = 0  # moves whenever the persona or an in-context file changes
        for path, file in snapshot.files.items():
            self._add(snapshot, path, file)

    def _add(self, snapshot: MemorySnapshot, path: str, file: MemoryFile) -> None:
        if is_hidden(path) or name_holds_secret(path):
            return
        tier = snapshot.tier(path)
        if tier == "system":
            if not is_memory_markdown(path):
                return
            if path == self.persona_path:
                self.persona = file
            else:
                self.system[path] = file
            self.system_version += 1
        elif tier == "external" and (not self.v2 or is_memory_markdown(path)) and snapshot.projected(path):
            self.tree.put(path, file_description(file))

    def _drop(self, path: str) -> None:
        if path == self.persona_path and self.persona is not None:
            self.persona = None
            self.system_version += 1
        elif self.system.pop(path, None) is not None:
            self.system_version += 1
        else:
            self.tree.remove(path)

    def changed_paths(self, snapshot: MemorySnapshot) -> list[str] | None:
        """The paths whose blob differs from the last snapshot's (added and removed included), or None when
        there are too many to follow one by one."""
        old, new = self.files, snapshot.files
        limit = max(MOST_CHANGES_FOLLOWED, len(new) // 4)
        known = snapshot.paths_changed_since(old)  # a commit's snapshot says which paths it changed
        if known is not None:
            return sorted(known) if len(known) <= limit else None
        if abs(len(new) - len(old)) > limit:  # each path added or removed is a change: another memory, most likely
            return None
        changed: list[str] = []
        added = 0
        for path, file in new.items():
            before = old.get(path)
            if before is not file and (before is None or before.blob != file.blob):
                changed.append(path)
                added += before is None
                if len(changed) > limit:
                    return None
        if len(old) != len(new) - added:  # some paths are gone
            changed += [path for path in old if path not in new]
        return changed if len(changed) <= limit else None

    def advance(self, snapshot: MemorySnapshot, limits: TreeLimits) -> bool:
        """Follow ``snapshot`` from the last one; False (and nothing changed) when a fresh build is needed."""
        if limits != self.limits or snapshot.v2 != self.v2:
            return False
        changed = self.changed_paths(snapshot)
        if changed is None:
            return False
        if self.v2 and any(path.rsplit("/", 1)[-1] == INDEX_NAME for path in changed):
            return False  # a folder's index decides whether its whole subtree is projected
        for path in changed:
            self._drop(path)
            file = snapshot.files.get(path)
            if file is not None:
                self._add(snapshot, path, file)
        self.files = snapshot.files
        return True
