"""What /init tells the user: a markdown report read from what really landed, and the command's result.

``InitSummary`` collects what a run saw and did; ``render_report`` turns it into markdown with four parts:
the files created or updated (path, tier, description, tokens, then ``system/``'s total against its budget
and the doctor's verdict), what was learned from earlier sessions (each history worker's findings and files,
or, without a model, the corrections and preferences the draft kept), the user's answers, and everything
skipped or failed with the reason. ``files_changed`` reads the file list from git, not from any model's
claim. Core code: no LSP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from letta_ls.doctor import AuditResult
from letta_ls.init.history import HistoryInsights, SessionHistory
from letta_ls.init.history.insights import distinct
from letta_ls.init.history_workers import WorkerResult
from letta_ls.memfs.repo import MemoryRepo, MemoryRepoError
from letta_ls.memfs.snapshot import MemorySnapshot, is_memory_markdown, tier_of
from letta_ls.memfs.tokens import TokenCounter, count_blob
from letta_ls.subagents.outcome import MergeOutcome
from letta_ls.subagents.text import clip, one_line

InitStatus = Literal["merged", "no_changes", "failed", "cancelled", "merge_failed"]
Action = Literal["created", "updated", "deleted"]
MAX_SKIPPED_LINES = 15
WORKER_REPLY_CHARS = 1_500
QUESTION_LABELS = {"depth": "Depth", "history": "Read earlier sessions", "replies": "Replies",
                   "autonomy": "When a task is ambiguous", "commits": "Commits"}


@dataclass(frozen=True)
class FileEntry:
    path: str
    action: Action
    tier: str
    description: str | None = None
    tokens: int = 0


@dataclass(frozen=True)
class AskedQuestion:
    key: str
    message: str
    answer: str | None  # the chosen button's title; None when dismissed or not asked
    status: Literal["answered", "dismissed", "not asked"]


@dataclass
class InitSummary:
    """Everything the report says, gathered while /init runs."""

    projects: list[str] = field(default_factory=list)
    depth: str = "standard"
    model: str | None = None  # "openai gpt-4.1-mini"; None: the deterministic draft
    model_note: str | None = None  # why no model was used, when one was configured
    asked: list[AskedQuestion] = field(default_factory=list)
    history_note: str = ""
    sessions_read: int = 0
    workers: list[WorkerResult] = field(default_factory=list)
    learned: list[str] = field(default_factory=list)  # without workers: what the draft kept from the sessions
    draft_reason: str | None = None  # why the deterministic draft was committed
    init_reply: str = ""  # the /init agent's own report
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    files: list[FileEntry] = field(default_factory=list)
    system_tokens: int = 0
    system_budget: int = 0
    audit: AuditResult | None = None
    outcome: MergeOutcome | None = None
    status: InitStatus = "merged"


@dataclass(frozen=True)
class InitResult:
    status: InitStatus
    report: str
    commits: tuple[str, ...]  # what /init added to main: its commits, then the merge commit if one was made
    head: str | None
    changed: tuple[str, ...]  # memory paths the merge changed on main
    files: tuple[FileEntry, ...]
    workers: tuple[WorkerResult, ...]
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("merged", "no_changes")

    def to_json(self) -> dict[str, Any]:
        """SPEC section 7: ``{report, commits}``."""
        return {"report": self.report, "commits": list(self.commits)}


def files_changed(repo: MemoryRepo, base: str | None, head: str | None, snapshot: MemorySnapshot,
                  counter: TokenCounter) -> list[FileEntry]:
    """The files ``base..head`` changed, described from ``snapshot`` (memory after the merge)."""
    if not head or head == base:
        return []
    try:
        if base:
            out = repo.run_git("diff", "--name-status", "--no-renames", "-z", base, head)
            fields = out.decode("utf-8", "surrogateescape").split("\x00")
            pairs = list(zip(fields[0::2], fields[1::2], strict=False))
        else:
            out = repo.run_git("ls-tree", "-r", "--name-only", "-z", head)
            pairs = [("A", p) for p in out.decode("utf-8", "surrogateescape").split("\x00")]
    except MemoryRepoError:
        return []
    entries = []
    for status, path in pairs:
        if not path or path.startswith("."):
            continue
        action: Action = "created" if status == "A" else "deleted" if status == "D" else "updated"
        found = snapshot.get(path)
        if found is None or found.text is None:
            entries.append(FileEntry(path, "deleted" if found is None else action, tier_of(path)))
            continue
        doc = found.document if is_memory_markdown(path) else None
        entries.append(FileEntry(path, action, tier_of(path), doc.description if doc else None,
                                 count_blob(counter, found.blob, found.text)))
    order = {"system": 0, "skill": 1, "external": 2}
    return sorted(entries, key=lambda e: (order.get(e.tier, 3), e.path))


def render_report(summary: InitSummary) -> str:
    title = ", ".join(summary.projects) or "this workspace"
    lines = [f"# /init: memory for {title}", ""]
    lines.append(" · ".join(_headline(summary)) + ".")
    if summary.model_note:
        lines += ["", summary.model_note]
    if summary.draft_reason:
        lines += ["", summary.draft_reason]
    if summary.failures:
        lines += ["", "**What failed** (everything committed before it is kept):"]
        lines += [f"- {failure}" for failure in summary.failures]
    lines += ["", "## Files", ""]
    lines += _files(summary)
    lines += ["", "## Learned from earlier sessions", ""]
    lines += _learned(summary)
    if summary.asked:
        lines += ["", "## Your answers", ""]
        if all(item.status == "not asked" for item in summary.asked):
            keys = {item.key for item in summary.asked}
            defaults = [f"depth {summary.depth}"] if "depth" in keys else []
            defaults += ["earlier sessions read"] if "history" in keys else []
            defaults.append("nothing recorded about how you like to work")
            lines.append("Nobody could be asked here (no editor or terminal to answer), so every question took its "
                         f"default: {', '.join(defaults)}.")
        for item in summary.asked if any(i.status != "not asked" for i in summary.asked) else ():
            shown = item.answer if item.status == "answered" else f"{item.status}: the default was taken"
            lines.append(f"- {QUESTION_LABELS.get(item.key, item.key)}: {shown}")
    if summary.skipped:
        lines += ["", "## Skipped", ""]
        shown = summary.skipped[:MAX_SKIPPED_LINES]
        lines += [f"- {item}" for item in shown]
        if len(summary.skipped) > len(shown):
            lines.append(f"- … and {len(summary.skipped) - len(shown)} more")
    if summary.outcome is not None and summary.outcome.kind != "up_to_date":
        lines += ["", "## Merge", "", summary.outcome.describe()]
    return "\n".join(lines).rstrip() + "\n"


def _headline(summary: InitSummary) -> list[str]:
    parts = [f"Depth {summary.depth}", f"model {summary.model}" if summary.model else "no model (deterministic draft)"]
    if summary.workers:
        ok = sum(1 for w in summary.workers if not w.error and not w.cancelled)
        parts.append(f"{summary.sessions_read} earlier sessions read by {len(summary.workers)} parallel history "
                     f"workers" + (f" ({len(summary.workers) - ok} failed)" if ok < len(summary.workers) else ""))
    elif summary.sessions_read:
        parts.append(f"{summary.sessions_read} earlier sessions read")
    else:
        parts.append("no earlier sessions read")
    return parts


def _files(summary: InitSummary) -> list[str]:
    if not summary.files:
        return ["No memory file changed."]
    lines = []
    for entry in summary.files:
        if entry.action == "deleted":
            lines.append(f"- deleted `{entry.path}`")
            continue
        about = f": {entry.description}" if entry.description else ""
        lines.append(f"- {entry.action} `{entry.path}` ({entry.tier}, {entry.tokens:,} tokens){about}")
    lines += ["", f"`system/` now holds {summary.system_tokens:,} of its {summary.system_budget:,} tokens."]
    audit = summary.audit
    if audit is not None:
        errors, warnings = audit.count("error"), audit.count("warning")
        touched = {e.path for e in summary.files}
        mine = [f for f in audit.findings if f.path in touched and f.severity in ("error", "warning")]
        verdict = "The doctor finds no error" if not errors else f"The doctor finds {errors} error(s)"
        verdict += f" and {warnings} warning(s)" if warnings else ""
        lines.append(verdict + ("; in the files /init wrote:" if mine else "."))
        lines += [f"- `{f.path}` line {f.line + 1}: {f.message} [{f.code}]" for f in mine[:8]]
    return lines


def _learned(summary: InitSummary) -> list[str]:
    lines = [summary.history_note] if summary.history_note else []
    for worker in summary.workers:
        head = f"### {worker.label.capitalize()} ({worker.sessions} transcripts, {worker.span})"
        lines += ["", head, ""]
        if worker.cancelled:
            lines.append("Cancelled before it finished; what it wrote is kept.")
        elif worker.error:
            lines.append(f"Failed: {worker.error}. What it wrote before is kept.")
        if worker.reply:
            lines.append(clip(worker.reply, WORKER_REPLY_CHARS))
        if worker.changed:
            lines.append("Wrote " + ", ".join(f"`{p}`" for p in worker.changed) + ".")
        elif not worker.error and not worker.cancelled:
            lines.append("Wrote nothing.")
        if worker.merge_error:
            lines.append(f"Its work could not be combined yet: {worker.merge_error}.")
    if summary.learned:
        lines += [""] + [f"- {item}" for item in summary.learned]
    return lines or ["Nothing."]


def history_note(history: SessionHistory, with_model: bool) -> str:
    """One sentence on the earlier sessions read: how many, from which agents, over what time."""
    main = history.main_sessions()
    if not main:
        return ("No earlier Claude Code or Codex session of this project was found (in ~/.claude/projects and "
                "~/.codex/sessions; CLAUDE_CONFIG_DIR and CODEX_HOME move them).")
    counts: dict[str, int] = {}
    for session in main:
        counts[session.label] = counts.get(session.label, 0) + 1
    sources = ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))
    times = [s.started_at for s in main if s.started_at]
    span = f" from {min(times).date().isoformat()} to {max(times).date().isoformat()}" if times else ""
    how = "shared between parallel history workers" if with_model else "read without a model"
    return f"{len(main)} earlier sessions ({sources}){span}, {how}."


def learned_from_sessions(insights: HistoryInsights | None) -> list[str]:
    """Without a model, what the draft kept from earlier sessions: the user's corrections and preferences, and
    the commands the agents kept running."""
    if insights is None or not insights.sessions:
        return []
    lines = [f"“{one_line(said.text, 200)}” ({said.kind}, {said.source}"
             + (f", {said.when.date().isoformat()})" if said.when else ")")
             for said in distinct(insights.corrections + insights.preferences, 8)]
    commands = [f"`{command}` ×{n}" for command, n in insights.commands.most_common(6) if n > 1]
    if commands:
        lines.append("Commands the agents ran most: " + ", ".join(commands) + ".")
    return lines
