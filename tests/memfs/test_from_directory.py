"""``MemorySnapshot.from_directory`` reads what the straightforward ``os.walk`` reading read (it now walks with
``os.scandir`` and resolves only symlinks, issue 14): hidden entries, symlinks in and out of the root, a
symlinked folder, a broken link and a FIFO."""

from __future__ import annotations

import os
from pathlib import Path

from letta_ls.memfs.snapshot import MemoryFile, MemorySnapshot, git_blob_id


def walk_reference(root: Path, max_file_bytes: int = 8 * 1024 * 1024) -> dict[str, bytes]:
    root_real = os.path.realpath(root)
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith(".") and not (name == ".memfs.config.json" and dirpath == str(root)):
                continue
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full)
            if not real.startswith(root_real + os.sep) or not os.path.isfile(real):
                continue
            with open(full, "rb") as handle:
                out[os.path.relpath(full, root).replace(os.sep, "/")] = handle.read(max_file_bytes + 1)
    return dict(sorted(out.items()))


def test_the_same_files_as_a_walk(tmp_path: Path):
    outside = tmp_path / "outside.md"
    outside.write_text("secret plans\n")
    root = tmp_path / "memory"
    for path, text in {"system/persona.md": "me\n", "reference/a/b/c.md": "deep\n", ".memfs.config.json": "{}\n",
                       "reference/.memfs.config.json": "{}\n", ".git/HEAD": "ref\n", "reference/.hidden.md": "h\n",
                       ".obsidian/x.md": "x\n", "big.md": "y" * 50}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    os.symlink(root / "system/persona.md", root / "reference/link-in.md")
    os.symlink(outside, root / "reference/link-out.md")
    os.symlink(root / "reference/a", root / "linked-folder")
    os.symlink(root / "missing.md", root / "broken.md")
    os.mkfifo(root / "reference/pipe.md")
    snapshot = MemorySnapshot.from_directory(root, max_file_bytes=20)
    expected = walk_reference(root, max_file_bytes=20)
    assert {p: f.data for p, f in snapshot.files.items()} == expected
    assert list(snapshot.files) == list(expected)
    assert all(f == MemoryFile(p, git_blob_id(f.data), f.data) for p, f in snapshot.files.items())
    assert "reference/link-in.md" in expected and "reference/link-out.md" not in expected
