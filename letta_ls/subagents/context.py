"""What a subagent's work function is given: its worktree, memory tools bound to it, its own conversation.

``RunContext`` is built by the runner for each run; the work function only reads it. Everything it hands
out writes into the run's worktree, never into main: ``ctx.operations()`` (the memory tool, with the
doctor's guard), ``ctx.session`` (a ``Session`` whose ``repo`` is the worktree), ``ctx.runtime(provider)``
(an ``AgentRuntime`` whose memory is the worktree and whose conversation is the run's own). Main is
readable as ``ctx.main`` (to compare, or to read the conversation history); writing to it is the merge's
job.

The run's conversation is created on first use, in the agent's conversations with a title such as
``dream 2026-12-01 14:03`` and ``subagent: "dream"`` in the index, so it stays readable later
(``letta-conversation://``) but never becomes the conversation the user resumes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from letta_ls.agent.conversations import ConversationStore
from letta_ls.doctor.guard import memory_change_guard
from letta_ls.memfs.operations import Actor, MemoryOperations
from letta_ls.memfs.repo import Author, MemoryRepo, user_author
from letta_ls.session import Session
from letta_ls.subagents.worktrees import Worktree

if TYPE_CHECKING:
    from letta_ls.agent.providers.base import Provider
    from letta_ls.agent.runtime import AgentRuntime

Progress = Callable[[str, "int | None"], None]


class WorktreeSession(Session):
    """A view of ``parent`` whose memory repository is a run's worktree; home, agent and settings are
    shared. It cannot switch agents."""

    def __init__(self, parent: Session, repo: MemoryRepo) -> None:
        self.__dict__.update(parent.__dict__)
        self.repo = repo
        self.parent = parent

    def switch(self, key: str):  # type: ignore[override]
        raise RuntimeError("a subagent's session is bound to its worktree; it cannot switch agents")


class RunConversationStore(ConversationStore):
    """The agent's conversations, seen from one run: the conversation to resume is the run's own, and a
    turn never changes which conversation the user resumes."""

    def __init__(self, directory: Path | str, conversation_id: str) -> None:
        super().__init__(directory)
        self.conversation_id = conversation_id

    def last_used(self) -> str:
        return self.conversation_id

    def set_last_used(self, conversation_id: str) -> None:
        self.get(conversation_id)  # still refuses an unknown id


class RunContext:
    """Everything one run's work function may use (see the module docstring)."""

    def __init__(self, *, run_id: str, kind: str, worktree: Worktree, repo: MemoryRepo, session: Session,
                 progress: Progress, title: str) -> None:
        self.run_id = run_id
        self.kind = kind
        self.worktree = worktree
        self.repo = repo
        self.main: MemoryRepo = session.repo
        self.session: Session = WorktreeSession(session, repo)
        self.agent = session.agent
        self.title = title
        self._progress = progress
        self._conversation_id: str | None = None
        self._conversation_lock = threading.Lock()
        self.cancel_requested = threading.Event()  # set when the run is cancelled; threads may poll it

    # ------------------------------------------------------------------ memory
    def operations(self, actor: Actor = "agent", author: Author | None = None) -> MemoryOperations:
        """The memory tool on the worktree, for the agent (strict guard) or as the user."""
        who = author or (self.agent.author if actor == "agent" else user_author(self.main.path))
        return MemoryOperations(self.repo, who, actor=actor, guard=memory_change_guard(self.session.settings.memory))

    def commits(self) -> list[str]:
        """The run's commits so far (on its branch, not on main), oldest first."""
        base = self.worktree.base
        if not base:
            return []
        out = self.repo.run_git("rev-list", "--reverse", f"{base}..HEAD")
        return out.decode().split()

    # ------------------------------------------------------------------ conversation and model
    @property
    def conversation_id(self) -> str:
        """The run's own conversation, created on first use."""
        with self._conversation_lock:
            if self._conversation_id is None:
                store = ConversationStore(self.agent.conversations_dir)
                self._conversation_id = store.create(self.title, subagent=self.kind).conversation_id
            return self._conversation_id

    @property
    def has_conversation(self) -> bool:
        return self._conversation_id is not None

    def store(self) -> RunConversationStore:
        return RunConversationStore(self.agent.conversations_dir, self.conversation_id)

    def runtime(self, provider: Provider | None, **options: Any) -> AgentRuntime:
        """An ``AgentRuntime`` whose memory is the worktree and whose turns go to the run's conversation
        (``options`` as for ``AgentRuntime``: ``base_prompt``, ``step_limit``, ``workspace``...).

        Its commits are on the run's branch, not on main: do not hand it a hook that announces main's
        changes (``on_memory_commit``); the runner's ``merged`` observer announces what lands."""
        from letta_ls.agent.runtime import AgentRuntime

        return AgentRuntime(self.session, provider, store=self.store(), **options)

    # ------------------------------------------------------------------ reporting
    def progress(self, message: str, percentage: int | None = None) -> None:
        """Report progress (mapped to ``$/progress`` by the language server)."""
        if percentage is not None:
            percentage = max(0, min(100, int(percentage)))
        self._progress(message, percentage)

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested.is_set()


def run_title(kind: str, when: datetime | None = None) -> str:
    """``dream 2026-12-01 14:03`` (local time): how a run's conversation is listed."""
    moment = (when or datetime.now()).astimezone()
    return f"{kind} {moment.strftime('%Y-%m-%d %H:%M')}"
