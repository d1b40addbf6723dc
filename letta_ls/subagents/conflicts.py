"""What a merge writes for a file both sides changed in the same lines.

Three answers, in the order ``merge`` tries them:

1. **A resolver's text**, accepted only when it is valid memory (``check_resolution``): UTF-8 text with
   frontmatter that parses and a description, no conflict markers left, no secret that neither side
   held, within the size cap.
2. **Both versions in one file** (``keep_both_markdown``): git-style markers in the body
   (``<<<<<<< main`` / ``=======`` / ``>>>>>>> <label>``) under frontmatter that stays valid, so the
   prompt still compiles and the doctor still reads the file. A frontmatter conflict keeps main's
   frontmatter and shows both sides' frontmatter lines in a marked block at the top of the body.
3. **Both versions as two files** (``side_file_name``): for binary, non-UTF-8 and non-markdown files,
   and for markdown that cannot be given valid frontmatter.

Pure functions over texts (``git merge-file`` does the line merging, in a temporary directory). Never
drops a side.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from letta_ls.doctor.guard import new_secrets
from letta_ls.memfs.frontmatter import MemoryDocument, parse_document
from letta_ls.memfs.operations import MAX_FILE_BYTES
from letta_ls.memfs.paths import MAX_PATH_BYTES, UnsafePathError, check_memory_path
from letta_ls.memfs.snapshot import decode_text

MARKER_OURS = "<<<<<<<"
MARKER_SPLIT = "======="
MARKER_THEIRS = ">>>>>>>"
_MARKER_LINE = re.compile(r"^(<<<<<<<|>>>>>>>)( |$)", re.MULTILINE)


class TextMergeError(RuntimeError):
    """``git merge-file`` could not merge the texts (it is missing, or refused the input)."""


def merge_text(ours: str, base: str, theirs: str, *, ours_label: str, theirs_label: str) -> tuple[str, int]:
    """git's three-way text merge: the merged text (markers where both sides changed the same lines) and
    the number of conflicting hunks."""
    with tempfile.TemporaryDirectory(prefix="letta-merge-file-") as tmp:
        files = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8"))
            files.append(str(path))
        proc = subprocess.run(
            ["git", "merge-file", "-p", "-L", ours_label, "-L", "base", "-L", theirs_label, *files],
            capture_output=True, check=False, env={**os.environ, "LC_ALL": "C"})
    if proc.returncode < 0 or proc.returncode > 127:
        raise TextMergeError(f"git merge-file failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout.decode("utf-8", "surrogateescape"), proc.returncode


def _valid(doc: MemoryDocument) -> bool:
    return doc.has_frontmatter and not doc.errors


def _header(doc: MemoryDocument) -> str:
    head = "".join(doc.text.splitlines(keepends=True)[: doc.body_start_line])
    return head if head.endswith("\n") else head + "\n"


def _block(lines: str) -> str:
    return lines if not lines or lines.endswith("\n") else lines + "\n"


def keep_both_markdown(base: str | None, ours: str, theirs: str, *, ours_label: str,
                       theirs_label: str) -> str | None:
    """One markdown file holding both versions, clearly marked, with valid frontmatter and a description;
    None when no side has frontmatter that could head it (the caller then keeps two files)."""
    mine, other = parse_document(ours), parse_document(theirs)
    old = parse_document(base) if base is not None else None
    if not (_valid(mine) and mine.description) and not (_valid(other) and other.description):
        return None
    body_base = old.body if old is not None and _valid(old) else (base or "")
    body_ours = mine.body if _valid(mine) else ours
    body_theirs = other.body if _valid(other) else theirs
    header: str | None = None
    if _valid(mine) and _valid(other):
        base_header = _header(old) if old is not None and _valid(old) else ""
        merged, conflicts = merge_text(_header(mine), base_header, _header(other), ours_label=ours_label,
                                       theirs_label=theirs_label)
        candidate = parse_document(merged)
        if conflicts == 0 and _valid(candidate) and candidate.description:
            header = merged
    fm_block = ""
    if header is None:
        header = _header(mine) if _valid(mine) and mine.description else _header(other)
        fm_block = (f"{MARKER_OURS} {ours_label} (frontmatter)\n{_block(mine.raw_frontmatter)}{MARKER_SPLIT}\n"
                    f"{_block(other.raw_frontmatter)}{MARKER_THEIRS} {theirs_label} (frontmatter)\n")
    body, _ = merge_text(body_ours, body_base, body_theirs, ours_label=ours_label, theirs_label=theirs_label)
    text = header + fm_block + body
    result = parse_document(text)
    return text if _valid(result) and result.description else None


def check_resolution(text: object, ours: str, theirs: str) -> str | None:
    """Why a resolver's text cannot be accepted, or None when it is valid memory."""
    if not isinstance(text, str) or not text.strip():
        return "the resolver gave no text"
    if decode_text(text.encode("utf-8", "surrogateescape")) is None:
        return "the resolver's text is not UTF-8 (or holds a NUL byte)"
    if len(text.encode("utf-8", "surrogateescape")) > MAX_FILE_BYTES:
        return f"the resolver's text is over {MAX_FILE_BYTES:,} bytes"
    if _MARKER_LINE.search(text):
        return "the resolver's text still holds conflict markers"
    doc = parse_document(text)
    if doc.errors:
        return f"the resolver's text has invalid frontmatter ({doc.errors[0].message})"
    if not (doc.description or "").strip():
        return "the resolver's text has no description"
    if new_secrets(ours + "\n" + theirs, text):
        return "the resolver's text holds a secret that neither version held"
    return None


def side_file_name(path: str, label: str, taken: Callable[[str], bool]) -> str:
    """A free path beside ``path`` for the other side's version: ``notes.<label>.txt``."""
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")[:48] or "other"
    n = 1
    while True:
        suffix = slug if n == 1 else f"{slug}-{n}"
        candidate = f"{stem}.{suffix}" + (f".{ext}" if ext else "")
        full = f"{folder}/{candidate}" if folder else candidate
        if len(full.encode("utf-8")) > MAX_PATH_BYTES:
            full = (f"{folder}/" if folder else "") + f"{suffix}.{ext or 'bin'}"
        try:
            check_memory_path(full)
        except UnsafePathError:
            full = f"{suffix}-{n}.{ext or 'bin'}"
        if not taken(full):
            return full
        n += 1
