"""The write guard: which memory changes are refused before they are committed.

SPEC section 4: the agent's writes are validated strictly (a change that introduces an error-severity
finding is refused, with a message the model can act on); the user's saves are accepted with their
findings, except that nobody may add a secret. Only what a change *introduces* counts, anywhere in the
memory (a change can break another file), so an old problem never blocks an unrelated fix. Memfs calls this through its
``ChangeGuard`` hook, which keeps memfs independent of the doctor.
"""

from __future__ import annotations

import attrs

from letta_ls.doctor.checks import CROSS_FILE_CODES
from letta_ls.doctor.checks.secrets import SecretMatch, find_secrets
from letta_ls.doctor.findings import CODES
from letta_ls.memfs.letta_code_rules import CONFIG_PATH, INDEX_NAME
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
            problems += new_errors(before, after, settings, paths)
        return problems

    return guard


def new_errors(before: MemorySnapshot, after: MemorySnapshot, settings: MemorySettings,
               paths: list[str] | None = None) -> list[str]:
    """Error findings anywhere in ``after`` that ``before`` did not have (by file and code).

    The whole memory counts, not only the written paths: creating a root ``MEMORY.md`` turns every
    legacy file into an error for Letta Code, and deleting a folder's index breaks its files. A problem
    a file already had does not block an unrelated change. Secrets are judged above, on the written text,
    so they are left out here.

    The work grows with what the change touches (issue 14: an agent's write on a 2,000-file memory must
    cost about what it costs on a small one): a file's findings of every code outside ``CROSS_FILE_CODES``
    depend only on itself, the settings and the layout, so unless the change touches the layout (an index,
    the config) or a cross-file code is graded as an error, only the touched files and the tree-wide
    checks are judged. ``paths`` are the paths the change writes or deletes (None: found by comparison).
    """
    touched = _touched(before, after, paths)
    error_codes = _error_codes(settings)
    if error_codes & CROSS_FILE_CODES or any(_layout_path(path) for path in touched):
        return _new_errors_whole_memory(before, after, settings)
    # every code that cannot be an error is switched off, so no check computes what cannot refuse the change
    grading = {code: "off" for code in CODES if code not in error_codes}
    grading.update({code: level for code, level in settings.diagnostics.items() if code in error_codes})
    only_errors = attrs.evolve(settings, diagnostics=grading)
    existing = {(f.path, f.code) for f in _errors_of(before, touched, only_errors)}
    return [f"{f.path} line {f.line + 1}: {f.message} [{f.code}]" for f in _errors_of(after, touched, only_errors)
            if (f.path, f.code) not in existing]


def _error_codes(settings: MemorySettings) -> frozenset[str]:
    """The codes that can give an error finding under these settings (``secret`` is judged apart)."""
    return frozenset(code for code, default in CODES.items()
                     if settings.diagnostics.get(code, default) == "error" and code != "secret")


def _layout_path(path: str) -> bool:
    """A file that decides how Letta Code reads the others (MemFS v2 and its folder indexes, the limits)."""
    return path == CONFIG_PATH or path.rsplit("/", 1)[-1] == INDEX_NAME


def _touched(before: MemorySnapshot, after: MemorySnapshot, paths: list[str] | None) -> list[str]:
    """The paths whose content differs: the written ones, with the files under a deleted folder."""
    if paths is None:
        changed = [p for p, f in after.files.items() if (old := before.get(p)) is None or old.blob != f.blob]
        return changed + [p for p in before.files if p not in after.files]
    out = []
    for path in paths:
        old, new = before.get(path), after.get(path)
        if old is None and new is None:  # a folder: every file that was under it
            out += [p for p in before.files if p.startswith(path + "/") and p not in after.files]
        elif old is None or new is None or old.blob != new.blob:
            out.append(path)
    return out


def _errors_of(snapshot: MemorySnapshot, paths: list[str], settings: MemorySettings) -> list:
    """The error findings of the per-file checks on ``paths`` and of the tree-wide checks."""
    from letta_ls.doctor.audit import check_paths

    return [f for f in check_paths(snapshot, paths, settings) if f.severity == "error" and f.code != "secret"]


def _new_errors_whole_memory(before: MemorySnapshot, after: MemorySnapshot, settings: MemorySettings) -> list[str]:
    from letta_ls.doctor import audit

    def errors(snapshot: MemorySnapshot) -> list:
        return [f for f in audit(snapshot, settings).findings if f.severity == "error" and f.code != "secret"]

    existing = {(f.path, f.code) for f in errors(before)}
    return [f"{f.path} line {f.line + 1}: {f.message} [{f.code}]" for f in errors(after)
            if (f.path, f.code) not in existing]
