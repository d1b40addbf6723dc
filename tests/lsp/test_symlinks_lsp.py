"""issue 11.1 through the real language server: the editor's save, delete and rename never follow a link.

A link planted in memory (``notes/gitlink -> ../.git``, and a tracked folder swapped for a link to
``.git``) is aimed at by ``letta/memoryWrite``, ``letta/memoryDelete`` and ``letta/memoryRename``; each is
answered with a clear error, ``.git``'s files are byte-identical and a ``core.fsmonitor`` payload never runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from letta_ls.home import Home
from letta_ls.memfs.repo import user_author
from letta_ls.server.uris import memory_uri
from tests.lsp.raw import RawServer


def test_editor_save_delete_and_rename_through_links_are_refused(tmp_path):
    home = tmp_path / "home"
    agent = Home(home).current_agent()
    memory = agent.memory_dir
    repo = Home(home).memory_repo(agent)
    repo.commit({"notes/a.md": b"---\ndescription: a\n---\nalpha\n", "hooked/config": b"[core]\n",
                 "hooked/HEAD": b"ref: refs/heads/main\n"}, "seed", user_author(memory))
    git = memory / ".git"
    hook = git / "hooks" / "post-commit"
    hook.write_text("#!/bin/sh\necho hook\n")
    watched = {p: p.read_bytes() for p in (git / "config", git / "HEAD", git / "description", hook)}
    marker = tmp_path / "fsmonitor-ran"
    payload = f'[core]\n\tfsmonitor = "touch {marker}"\n'
    os.symlink("../.git", memory / "notes" / "gitlink")
    shutil.rmtree(memory / "hooked")
    os.symlink(".git", memory / "hooked")
    uri = lambda path: memory_uri(agent.id, path)  # noqa: E731
    server = RawServer(home)
    try:
        server.initialize()
        answers = [
            server.request("letta/memoryWrite", {"uri": uri("notes/gitlink/config"), "text": payload}),
            server.request("letta/memoryWrite", {"uri": uri("notes/gitlink/hooks/post-commit"), "text": payload}),
            server.request("letta/memoryWrite", {"uri": uri("hooked/config"), "text": payload}),
            server.request("letta/memoryDelete", {"uri": uri("hooked/config")}),
            server.request("letta/memoryDelete", {"uri": uri("hooked")}),
            server.request("letta/memoryRename", {"uri": uri("hooked/HEAD"), "newUri": uri("notes/HEAD")}),
            server.request("letta/memoryRename", {"uri": uri("notes/a.md"), "newUri": uri("notes/gitlink/a.md")}),
        ]
        for answer in answers:
            assert "error" in answer, answer
            assert "link" in answer["error"]["message"] and "Traceback" not in answer["error"]["message"], answer
        tree = server.request("letta/memoryTree", {})
        assert tree["result"]["entries"]
    finally:
        server.close()
    for path, data in watched.items():
        assert path.read_bytes() == data, f"{path} changed"
    subprocess.run(["git", "status"], cwd=memory, capture_output=True)
    assert not marker.exists()
    assert (memory / "notes" / "a.md").read_text().endswith("alpha\n")
