"""Server features as objects: one class per feature, typed lifecycle methods, found by type.

A feature (the chat, sync, dreams, the git watcher, ``letta/status``…) is a ``Feature`` subclass registered
on the server with ``add_feature`` and looked up with ``get_feature(ChatFeature)``; what it needs from
another feature comes in through its constructor, so the dependencies are visible where it is built
(``build_server``) and a missing one fails at start-up, not on the first request. Modelled on esbonio's
``LanguageFeature`` and ``get_feature(cls)``.

What happens to the server is an ``Event``; ``LettaServer.fire`` calls the method of the same name on every
feature, in registration order. ``Feature`` declares one no-op method per event, so a feature overrides
only what it hears, a typo is an ``AttributeError`` at once, and a test checks the enum and the methods
name each other exactly (no event fired that nobody could declare).
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from typing import Any


class Event(enum.Enum):
    """Something that happened to the server; the value is the ``Feature`` method that hears it."""

    INITIALIZED = "initialized"  # the client is ready and a session is open: start background work
    AFTER_COMMIT = "after_commit"  # memory moved to a new commit (paths: list[str])
    SETTINGS_CHANGED = "settings_changed"
    AGENT_SWITCHED = "agent_switched"
    ACTIVITY = "activity"  # any client message (the dreams' idle gate, the configuration re-check)
    CONVERSATION_CHANGED = "conversation_changed"  # (conversation_id: str)
    DREAM_CHANGED = "dream_changed"  # (state: str)
    RUNS_CHANGED = "runs_changed"  # a subagent run started, progressed, queued or ended
    SYNC_CHANGED = "sync_changed"  # a sync started or ended
    RUNTIME_CREATED = "runtime_created"  # the chat built an AgentRuntime (runtime)
    REVIEW_CHANGED = "review_changed"  # a dream now waits for review, or the user decided on its changes
    WORKSPACE_CHANGED = "workspace_changed"  # the workspace's files changed (memory-stale is judged again)


class Feature:
    """Base of every server feature: each event method does nothing unless the feature overrides it."""

    def initialized(self) -> None:
        """The client is ready and the session open (again, after a fixed configuration)."""

    async def stop(self) -> None:
        """The client asked to shut down: finish or cancel background work (awaited, in order)."""

    def after_commit(self, paths: list[str]) -> None:
        """Memory moved to a new commit that changed ``paths``."""

    def settings_changed(self) -> None:
        """The settings in force changed (client, settings.json, a command)."""

    def agent_switched(self) -> None:
        """``session.agent`` is another agent now."""

    def activity(self) -> None:
        """A client message arrived."""

    def conversation_changed(self, conversation_id: str) -> None:
        """The current conversation changed (a turn, a new conversation)."""

    def dream_changed(self, state: str) -> None:
        """The dream scheduler's state changed."""

    def runs_changed(self) -> None:
        """A memory subagent run of some runner changed."""

    def sync_changed(self) -> None:
        """A sync started or ended."""

    def review_changed(self) -> None:
        """A dream's changes wait for review, or some were accepted or rejected."""

    def workspace_changed(self) -> None:
        """The workspace folders' files or history changed (the notes about them are judged again)."""

    def runtime_created(self, runtime: Any) -> None:
        """The chat built a new ``AgentRuntime`` (dreams count its steps and hear its compactions)."""


class RecentCommits:
    """The commits this server made itself, newest last, at most ``limit`` of them.

    The git watcher asks whether a head it sees is one of ours (then it is not announced back to the editor
    that saved it). Only recent heads matter: the watcher sees a commit within moments of its making, so an
    old entry is never asked about again and is dropped rather than kept for the server's whole life."""

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._commits: OrderedDict[str, None] = OrderedDict()

    def add(self, commit: str) -> None:
        self._commits[commit] = None
        self._commits.move_to_end(commit)
        while len(self._commits) > self.limit:
            self._commits.popitem(last=False)

    def __contains__(self, commit: object) -> bool:
        return commit in self._commits

    def __len__(self) -> int:
        return len(self._commits)
