"""The write guard: which memory changes are refused before they are committed.

SPEC section 4: the agent's writes are validated strictly (a change that introduces an error-severity
finding is refused, with a message the model can act on); the user's saves are accepted with their
findings, except that nobody may add a secret. Only what a change *introduces* counts, anywhere in the
memory (a change can break another file), so an old problem never blocks an unrelated fix. Memfs calls this through its
``ChangeGuard`` hook, which keeps memfs independent of the doctor.
"""

from __future__ import annotations

from letta_ls.doctor.checks.secrets import SecretMatch, find_secrets
from letta_ls.memfs.snapshot import PERSONA_PATH, MemorySnapshot
from letta_ls.settings import MemorySettings


def _secret_text(text: str, match: SecretMatch) -> str:
    lines = text.split("\n")
    last = match.end_line if match.end_line is not None else match.line
    if last == match.line:
        return lines[match.line][match.column:match.end_column]
    return "\n".join([lines[match.line][match.column:], *lines[match.line + 1:last], lines[last][:match.end_column]])


def new_secrets(before: str | None, after: str) -> list[SecretMatch]:
    """Secrets in ``after`` that ``before`` did not already hold."""
    found = find_secrets(after)
    if not found:
        return []
    old = {_secret_text(before, m) for m in find_secrets(before)} if before else set()
    return [m for m in found if _secret_text(after, m) not in old]


def memory_change_guard(settings: MemorySettings):
    """A ``ChangeGuard`` for memfs operations, using these memory settings."""
    def guard(before: MemorySnapshot, after: MemorySnapshot, paths: list[str], actor: str) -> list[str]:
        problems: list[str] = []
        if actor == "agent" and PERSONA_PATH in before and PERSONA_PATH not in after:
            problems.append(f"{PERSONA_PATH} is your identity and must exist: edit it instead of removing it")
        for path in paths:
            new = after.get(path)
            if new is None or new.text is None:
                continue
            old = before.get(path)
            old_text = old.text if old is not None else None
            for match in new_secrets(old_text, new.text):
                label = getattr(match, "label", match.kind)
                problems.append(
                    f"{path} line {match.line + 1}: this looks like {label}. Memory must never hold secrets: "
                    "keep the value in an environment variable and store only the variable's name"
                )
        if actor == "agent":
            problems += new_errors(before, after, settings)
        return problems

    return guard


def new_errors(before: MemorySnapshot, after: MemorySnapshot, settings: MemorySettings) -> list[str]:
    """Error findings anywhere in ``after`` that ``before`` did not have (by file and code).

    The whole memory is compared, not only the written paths: creating a root ``MEMORY.md`` turns
    every legacy file into an error for Letta Code, and deleting a folder's index breaks its files.
    A problem a file already had does not block an unrelated change. Secrets are judged above, on the
    written text, so they are left out here.
    """
    from letta_ls.doctor import audit

    def errors(snapshot: MemorySnapshot) -> list:
        return [f for f in audit(snapshot, settings).findings if f.severity == "error" and f.code != "secret"]

    existing = {(f.path, f.code) for f in errors(before)}
    return [f"{f.path} line {f.line + 1}: {f.message} [{f.code}]" for f in errors(after)
            if (f.path, f.code) not in existing]
