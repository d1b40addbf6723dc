"""What a merge reports: its kind, the new head, the changed paths and a note per file that needed care.

``MergeOutcome`` is returned by ``merge.merge_into``; callers (the runner, dreams, sync, the language
server) read it to say precisely what happened, e.g. ``letta/memoryChanged`` from ``head`` and ``changed``
and a report from ``describe()``. ``FileNote.kind`` is one of ``NOTE_KINDS``:

``clean`` (changed on one side only) · ``three_way`` (both sides changed it, on different lines) ·
``resolved`` (same lines; the resolver's text was accepted) · ``kept_both`` (same lines; both versions
marked in the file) · ``kept_both_files`` (binary, non-UTF-8 or non-markdown; the other side's version is
``detail``) · ``modified_over_delete`` · ``moved_aside`` (a file on disk was kept at ``detail``) ·
``saved_user_edit`` (an uncommitted edit was committed as the user first) · ``left_uncommitted`` (an
uncommitted edit holding a secret was left out of memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from letta_ls.memfs.repo_errors import MemoryRepoError

MergeKind = Literal["up_to_date", "fast_forward", "merged"]
NoteKind = Literal["clean", "three_way", "resolved", "kept_both", "kept_both_files", "modified_over_delete",
                   "moved_aside", "saved_user_edit", "left_uncommitted"]
NOTE_KINDS: tuple[str, ...] = ("clean", "three_way", "resolved", "kept_both", "kept_both_files",
                               "modified_over_delete", "moved_aside", "saved_user_edit", "left_uncommitted")


class MergeError(MemoryRepoError):
    """A merge could not be made; nothing changed and the source commit is intact. Says what to do."""


@dataclass(frozen=True)
class FileNote:
    """What the merge did with one file. ``detail`` names the other file, the aside path, or why a
    resolver's text was refused."""

    path: str
    kind: NoteKind
    detail: str = ""


@dataclass(frozen=True)
class MergeOutcome:
    kind: MergeKind
    head: str  # the branch's commit after the merge
    previous: str  # the branch's commit the merge was made on (after saving the user's edits)
    source: str
    changed: tuple[str, ...]  # paths whose content on the branch changed
    notes: tuple[FileNote, ...]
    saved_edits: str | None = None  # the commit that saved the user's uncommitted edits, if one was needed
    attempts: int = 1

    def paths_with(self, *kinds: str) -> list[str]:
        return [note.path for note in self.notes if note.kind in kinds]

    @property
    def conflicts(self) -> list[str]:
        """Files where both versions were kept for a person (or a later dream) to reconcile."""
        return self.paths_with("kept_both", "kept_both_files")

    def describe(self) -> str:
        """A few lines a person can read: what landed, and every file that needed care."""
        if self.kind == "up_to_date":
            lines = ["nothing to merge: already up to date"]
        else:
            how = "fast-forward" if self.kind == "fast_forward" else "merge commit"
            lines = [f"{how} {self.head[:12]}: {len(self.changed)} file(s) changed"]
        labels = {"three_way": "merged line by line", "resolved": "conflict resolved by the model",
                  "kept_both": "both versions kept, marked in the file",
                  "kept_both_files": "both versions kept as two files",
                  "modified_over_delete": "kept the modified file over its deletion",
                  "moved_aside": "a file on disk was moved aside", "saved_user_edit": "your uncommitted edit saved",
                  "left_uncommitted": "your uncommitted edit left alone"}
        for note in self.notes:
            if note.kind in labels:
                lines.append(f"- {note.path}: {labels[note.kind]}" + (f" ({note.detail})" if note.detail else ""))
        return "\n".join(lines)
