"""``memory-stale`` after a workspace rename, end to end over LSP, against the plain audit in the same server.

``bench/stale.py`` times the checker in this process; what the user waits for is more: the editor's
notification read, the rename debounced, the workspace's facts updated, every committed note's findings
republished and the open note checked and published. So a real ``python -m letta_ls serve`` serves a home
whose memory (``bench.corpus``, 2,000 files) has an /init overview saying it describes a real 20,000-file git
workspace, which is the editor's workspace folder. The client says what VS Code says: it can take a dynamic
registration of ``workspace/didChangeWatchedFiles`` and sends ``workspace/didRenameFiles``.

A memory document whose note names a workspace file is open. Each round renames that file on disk (as an
explorer rename does), sends ``workspace/didRenameFiles`` and the watcher's ``didChangeWatchedFiles`` (deleted
old, created new), and times until the ``publishDiagnostics`` of that document carrying the ``memory-stale``
finding that names the new path; the next round renames it back and times until the finding is gone.
Figure: publish time - send time - the workspace debounce (``stale_notes.DEBOUNCE_SECONDS``). Floor: the plain
audit's publish latency past its debounce after a memory edit (``bench.server.bench_diagnostics``), measured in
the same run with the same server, before and after the renames. Target (issue 16): < 30 ms past the debounce.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.server import BIG_PATH, RpcPeer, bench_diagnostics, build_home, server_env
from bench.stale import _workspace
from letta_ls.server.stale_notes import DEBOUNCE_SECONDS
from letta_ls.server.uris import memory_uri

OVERVIEW = "system/project/bench-workspace.md"
NOTE = "reference/bench-workspace/layout.md"
GONE_NOTE = "reference/bench-workspace/history.md"  # its memory-stale finding says the first judgement is done
# what VS Code announces about the workspace (the parts the server reads)
CLIENT_CAPABILITIES = {
    "workspace": {"workspaceFolders": True, "didChangeWatchedFiles": {"dynamicRegistration": True},
                  "fileOperations": {"dynamicRegistration": True, "didRename": True}},
    "textDocument": {"publishDiagnostics": {"versionSupport": True}, "synchronization": {"didSave": True}},
}


class EditorPeer(RpcPeer):
    """An ``RpcPeer`` that also keeps the server's requests (``client/registerCapability``) as notifications,
    so the bench can wait until the server has read the workspace and asked to watch it."""

    judged = 0  # publishes of ``judged_uri`` with its memory-stale finding: each ends a committed refresh
    judged_uri = ""

    def _dispatch(self, message: dict) -> dict | None:
        if "method" in message and "id" in message:
            self.notifications.append((time.perf_counter(), message["method"], message.get("params")))
        params = message.get("params")
        if message.get("method") == "textDocument/publishDiagnostics" and params["uri"] == self.judged_uri \
                and _stale_messages(params):
            self.judged += 1
        return super()._dispatch(message)

    def wait_judged(self, after: int, timeout: float = 300.0) -> None:
        """Until a committed refresh (the audit and memory-stale judgement of every note: seconds, silent)
        published after ``after`` publishes were counted."""
        deadline = time.perf_counter() + timeout
        while self.judged <= after:
            message = self.receive(max(0.0, deadline - time.perf_counter()))
            if message is None:
                raise RuntimeError(f"no memory-stale judgement of the committed memory within {timeout}s")
            self._dispatch(message)
        self.settle(0.5)


def memory_files(files: dict[str, str], workspace: Path, workspace_paths: list[str]) -> dict[str, str]:
    """The corpus, an /init overview naming ``workspace``, its project note and every 10th reference note
    naming a workspace file (so ~200 notes hold claims the rename update looks at)."""
    notes = dict(files)
    for n, path in enumerate(sorted(files)):
        if n % 10 == 0 and path.startswith("reference/"):
            named = workspace_paths[(n * 7) % len(workspace_paths)]
            notes[path] = files[path] + f"\nThe code is in `{named}`; run `make test` first.\n"
    notes[OVERVIEW] = ("---\ndescription: The bench workspace, as /init recorded it.\n---\n# Bench workspace\n\n"
                       f"- Folder: `{workspace}`.\n\nLayout: [[{NOTE.removesuffix('.md')}]].\n")
    notes[GONE_NOTE] = ("---\ndescription: A note naming a file the workspace never had.\n---\n"
                        f"The old entry point was `{workspace_paths[0].rsplit('/', 1)[0]}/gone.py`.\n")
    notes[NOTE] = ("---\ndescription: Where the code lives in the bench workspace.\n---\n# Layout\n\n"
                   f"The entry point is `{workspace_paths[1]}`.\nRun `make test` before pushing.\n")
    return notes


def _stale_messages(params: Any) -> list[str]:
    return [d["message"] for d in params["diagnostics"] if d.get("code") == "memory-stale"]


def _rename(peer: RpcPeer, workspace: Path, old: str, new: str) -> float:
    """Rename on disk and tell the server as VS Code does; returns the send time."""
    os.rename(workspace / old, workspace / new)
    old_uri, new_uri = (workspace / old).as_uri(), (workspace / new).as_uri()
    sent = time.perf_counter()
    peer.notify("workspace/didRenameFiles", {"files": [{"oldUri": old_uri, "newUri": new_uri}]})
    peer.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": old_uri, "type": 3},
                                                                {"uri": new_uri, "type": 1}]})
    return sent


def bench_rename(peer: RpcPeer, workspace: Path, uri: str, named: str, rounds: int) -> dict:
    moved = named.replace(".py", "_moved.py")
    flagged, cleared = [], []
    for i in range(rounds):
        if i % 2 == 0:
            sent = _rename(peer, workspace, named, moved)
            at = peer.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and any(
                f"renamed to `{moved}`" in m for m in _stale_messages(p)))
            flagged.append(at - sent - DEBOUNCE_SECONDS)
        else:
            sent = _rename(peer, workspace, moved, named)
            at = peer.wait_for("textDocument/publishDiagnostics",
                               lambda p: p["uri"] == uri and not _stale_messages(p))
            cleared.append(at - sent - DEBOUNCE_SECONDS)
        peer.settle(0.3)  # the other notes' republish, outside the timing
    if len(flagged) > len(cleared):  # leave the workspace as it was
        _rename(peer, workspace, moved, named)
        peer.settle(0.3)
    return {"flagged": flagged, "cleared": cleared}


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(tmp: Path, files: dict[str, str], *, quick: bool) -> list[dict]:
    n_workspace = 2_000 if quick else 20_000
    rounds = 4 if quick else 30
    workspace = (tmp / "stale-server-ws").resolve()
    paths = _workspace(workspace, n_workspace)
    notes = memory_files(files, workspace, paths)
    home_dir = tmp / "stale-server-home"
    _home, agent_id, repo = build_home(home_dir, notes)
    peer = EditorPeer([sys.executable, "-m", "letta_ls", "serve"], server_env(home_dir))
    peer.judged_uri = memory_uri(agent_id, GONE_NOTE)
    try:
        peer.request("initialize", {"processId": os.getpid(), "rootUri": workspace.as_uri(),
                                    "workspaceFolders": [{"uri": workspace.as_uri(), "name": workspace.name}],
                                    "capabilities": CLIENT_CAPABILITIES})
        peer.notify("initialized", {})
        peer.wait_for("client/registerCapability", lambda p: any(
            r["method"] == "workspace/didChangeWatchedFiles" for r in p["registrations"]), timeout=120)
        peer.request("letta/memoryTree", {})
        peer.wait_judged(0)
        judged = peer.judged
        floor_before = bench_diagnostics(peer, agent_id, repo, 5 if quick else 15)
        peer.wait_judged(judged)  # closing the document re-audits every committed file
        uri = memory_uri(agent_id, NOTE)
        text = repo.read(NOTE).text
        peer.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "markdown", "version": 1,
                                                              "text": text}})
        peer.wait_for("textDocument/publishDiagnostics", lambda p: p["uri"] == uri and p.get("version") == 1)
        peer.settle(0.3)
        load = os.getloadavg()
        timed = bench_rename(peer, workspace, uri, paths[1], rounds)
        # the floor again, on a new text (the same edits again would be answered from the caches)
        judged = peer.judged
        peer.request("letta/memoryWrite", {"uri": memory_uri(agent_id, BIG_PATH), "reason": "bench",
                                           "text": repo.read(BIG_PATH).text.replace("Step 40:", "Step forty:")})
        peer.wait_judged(judged)
        floor_after = bench_diagnostics(peer, agent_id, repo, 5 if quick else 15)
    finally:
        peer.close()
    ours = timed["flagged"] + timed["cleared"]
    floor_past = [floor_before["past_debounce_ms"], floor_after["past_debounce_ms"]]
    floor_ms = statistics.median(floor_past)
    median = statistics.median(ours)
    return [{
        "name": f"memory-stale over LSP after a workspace rename ({len(notes)} memory files, "
                f"{n_workspace} workspace files)",
        "median_past_debounce_ms": _ms(median), "p95_past_debounce_ms": _ms(_p95(ours)),
        "flagged_median_ms": _ms(statistics.median(timed["flagged"])),
        "cleared_median_ms": _ms(statistics.median(timed["cleared"])),
        "debounce_ms": DEBOUNCE_SECONDS * 1000,
        "floor_name": "plain audit: memory edit to published diagnostics, past its debounce (same server)",
        "floor_past_debounce_ms": floor_past, "ratio": round(median * 1000 / floor_ms, 2) if floor_ms > 0 else None,
        "load_average_1m": round(load[0], 2), "samples": len(ours),
        "target_past_debounce_ms": 30.0, "meets_target": median < 0.030,
    }]

