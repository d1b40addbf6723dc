"""The editor may report workspace changes before the server has finished reading the workspace (a large
one, a loaded machine). Those reports must not be dropped: the rename an explorer reported is the only
place its new path is known until it is committed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from letta_ls.server import stale_notes
from letta_ls.server.app import LettaServer
from letta_ls.server.stale_notes import StaleNotes
from letta_ls.staleness.workspace import load_workspace
from tests.staleness.corpus import make_workspace


async def test_a_rename_reported_while_the_workspace_is_still_being_read_is_applied_after(tmp_path, monkeypatch):
    root = tmp_path / "workspace"
    make_workspace(root)
    root = root.resolve()
    reading = threading.Event()
    may_finish = threading.Event()

    def slow_load(folder: Path):
        ws = load_workspace(folder)  # read before the rename: the state the editor's report then changes
        reading.set()
        may_finish.wait(10)
        return ws

    monkeypatch.setattr(stale_notes, "workspace_folders", lambda ls: [root])
    monkeypatch.setattr(stale_notes, "load_workspace", slow_load)
    ls = LettaServer()
    notes = StaleNotes(ls)
    loading = asyncio.create_task(notes.load())
    await asyncio.get_running_loop().run_in_executor(None, reading.wait, 10)

    (root / "src/app/main.py").rename(root / "src/app/entry.py")
    notes.report("rename", (root / "src/app/main.py").as_uri(), (root / "src/app/entry.py").as_uri())
    await asyncio.sleep(stale_notes.DEBOUNCE_SECONDS * 3)  # the debounce passes while the read goes on
    may_finish.set()
    await loading
    await asyncio.wait_for(asyncio.shield(notes.pending), 10)

    ws = notes.checkers[root].ws
    assert "src/app/entry.py" in ws.files and "src/app/main.py" not in ws.files
    gone = ws.gone("src/app/main.py")
    assert gone is not None and gone.new == "src/app/entry.py"
