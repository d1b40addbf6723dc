"""The user messages /init's subagents get: a history worker's slice, and the /init agent's brief.

The system prompts (``agent/prompts/init.md``, ``init_history.md``) say how to work; these messages carry the
facts of this run: the project and where its files go, the workspace digest, the user's answers, the
history workers' findings, the budget. Pure functions of records (``InitLayout`` names the files after the
real project, the way the no-model draft names them, so a model and the draft agree on where things live).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from letta_ls.init.draft import HUMAN_PATH, MAX_PROJECTS, MemoryDraft, slugify
from letta_ls.init.history import HistorySlice
from letta_ls.init.history_workers import DIGEST_CHARS, WorkerResult
from letta_ls.init.questions import InitAnswers
from letta_ls.init.workspace import WorkspaceFacts, render_workspace_digest
from letta_ls.settings import MemorySettings
from letta_ls.subagents.text import clip

WORKSPACE_DIGEST_CHARS = {"standard": 8_000, "deep": 14_000}
FINDINGS_CHARS = 2_500  # of each worker's reply, in the /init agent's brief


@dataclass(frozen=True)
class InitLayout:
    """Where /init puts a project's memory: its overview in ``system/`` and its reference folder."""

    project: str  # the project's real name
    overview: str  # e.g. system/project/shop-api.md
    reference: str  # e.g. reference/shop-api
    folder: str

    @classmethod
    def from_draft(cls, draft: MemoryDraft, facts: WorkspaceFacts) -> list[InitLayout]:
        """The draft's names for each workspace folder's project (the draft picks names free of clashes)."""
        layouts = []
        for folder in facts.folders[:MAX_PROJECTS]:
            slug = slugify(folder.name)
            overview = next((p for p in draft.projects if p.removesuffix(".md").endswith(slug)),
                            f"system/project/{slug}.md")
            layout = next((p for p in draft.files if p in (f"reference/{slug}/layout.md",
                                                           f"reference/{slug}-project/layout.md")), None)
            reference = layout.rsplit("/", 1)[0] if layout else f"reference/{slug}"
            layouts.append(cls(folder.name, overview, reference, folder.path))
        return layouts

    def sessions_file(self, item: HistorySlice) -> str:
        """The file a history worker keeps its detailed findings in (one per stretch of time)."""
        first = item.start.date().isoformat() if item.start else "undated"
        last = item.end.date().isoformat() if item.end else first
        # slices follow each other in time, so only two slices of one single day could share a name
        same_day = f"-{item.index}" if first == last and item.count > 1 else ""
        return f"{self.reference}/sessions/{first}_{last}{same_day}.md"


def worker_message(item: HistorySlice, branch: str, layouts: Sequence[InitLayout], depth: str,
                   roots: Sequence[str]) -> str:
    """A history worker's task: its slice of the sessions and where to write what it finds."""
    main = layouts[0] if layouts else None
    sources = ", ".join(sorted({s.label for s in item.sessions}))
    span = f"from {item.start.date().isoformat()} to {item.end.date().isoformat()}" if item.start and item.end \
        else "(undated)"
    lines = [f"Slice {item.index} of {item.count}: {len(item.sessions)} transcripts ({sources}) {span}.", ""]
    if main is not None:
        lines += [f"Project: {main.project} (folder `{main.folder}`).",
                  f"- the user's preferences and rules: `{HUMAN_PATH}`",
                  f"- the project's overview: `{main.overview}`",
                  f"- your own file for the detail: `{main.sessions_file(item)}` (link it to "
                  f"[[{main.overview.removesuffix('.md')}]])"]
    lines += [f"Depth: {depth}. You work on branch `{branch}`.", "", "<sessions>",
              item.digest(DIGEST_CHARS.get(depth, DIGEST_CHARS["standard"]), roots), "</sessions>"]
    return "\n".join(lines)


def init_message(facts: WorkspaceFacts, answers: InitAnswers, layouts: Sequence[InitLayout], *,
                 settings: MemorySettings, system_tokens: int, history_note: str,
                 workers: Sequence[WorkerResult] = (), conflicts: Sequence[str] = (), asked: bool = True) -> str:
    """The /init agent's brief: what it needs to write memory for this project and this user."""
    parts = [f"Depth: {answers.depth}. Build your memory of this project and this user now."]
    if layouts:
        parts += ["", "Name the files after the real project, for example:"]
        for layout in layouts:
            parts.append(f"- {layout.project} (`{layout.folder}`): overview `{layout.overview}`, detail under "
                         f"`{layout.reference}/`")
    parts += ["", "Budget: `system/` holds " f"{system_tokens:,} of its {settings.systemTokenBudget:,} tokens now; "
              f"keep every file under {settings.fileTokenLimit:,} tokens."]
    style = answers.style.lines()
    parts += ["", "How the user likes to work (their answers, already in `system/human.md`):"]
    parts += [f"- {line}" for line in style] if style else [
        "- they did not say" + ("" if asked else " (no one could be asked)") + "; infer it from the evidence, "
        "and do not make it up"]
    parts += ["", "Earlier sessions: " + history_note]
    for worker in workers:
        head = f"### {worker.label} ({worker.sessions} transcripts, {worker.span})"
        if worker.error:
            head += f": failed ({worker.error}); what it wrote is kept"
        parts += ["", head]
        if worker.changed:
            parts.append("Wrote: " + ", ".join(f"`{p}`" for p in worker.changed))
        if worker.reply:
            parts.append(clip(worker.reply, FINDINGS_CHARS))
    if conflicts:
        parts += ["", "These files hold two versions between conflict markers (two workers wrote the same lines); "
                  "combine each into one text that keeps everything: " + ", ".join(f"`{p}`" for p in conflicts)]
    digest_chars = WORKSPACE_DIGEST_CHARS.get(answers.depth, WORKSPACE_DIGEST_CHARS["standard"])
    parts += ["", "<workspace>", render_workspace_digest(facts, digest_chars), "</workspace>"]
    return "\n".join(parts)
