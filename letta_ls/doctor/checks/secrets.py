"""Secrets in memory: API keys, tokens, passwords and private keys (code ``secret``).

The detector lives in ``letta_ls.secret_scan`` (shared with the commit gate of memfs and the prompt
compiler); this check reports what it finds in a file's text, with a redaction fix, and in a file's
*name*: a name is in git history and, outside ``system/``, in the prompt of every turn. letta-ls
refuses such a name at write time; a file made by hand with git is flagged here so that it is renamed.
"""

from __future__ import annotations

from letta_ls.doctor.checks.common import BlobCache, CheckContext, finding
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.snapshot import MemoryFile
from letta_ls.secret_scan import (
    KIND_LABELS,
    REDACTED,
    SecretMatch,
    find_secrets,
    is_placeholder,
    looks_random,
    redact,
    shannon_entropy,
)

__all__ = ["KIND_LABELS", "REDACTED", "SecretMatch", "check_file", "find_secrets", "is_placeholder",
           "looks_random", "secrets_in", "shannon_entropy"]

_MATCHES: BlobCache[list[SecretMatch]] = BlobCache()


def secrets_in(file: MemoryFile) -> list[SecretMatch]:
    text = file.text
    if text is None:
        return []
    return _MATCHES.get(file.blob, lambda: find_secrets(text))


def _name_finding(file: MemoryFile) -> Finding | None:
    found = find_secrets(file.path)
    if not found:
        return None
    return finding(
        "secret", file.path, 0,
        f"This file name looks like {found[0].label} ({redact(file.path)}). File names are kept in git "
        "history and shown to the model: rename the file to a name without the value, and rotate it.",
    )


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    if not ctx.enabled("secret"):
        return []
    named = _name_finding(file)
    out = [named] if named is not None else []
    for match in secrets_in(file):
        fix = Fix(
            "redact-secret",
            f"Replace {match.label} with {REDACTED}",
            {"line": match.line, "column": match.column, "end_line": match.last_line,
             "end_column": match.end_column, "kind": match.kind},
        )
        out.append(finding(
            "secret", file.path, match.line,
            f"This looks like {match.label}. Memory is plain text kept in git history and sent to the model: "
            "remove it (keep credentials in environment variables or a secrets manager) and rotate it, "
            "since it is already in this file's history.",
            column=match.column, end_line=match.last_line, end_column=match.end_column, fix=fix,
        ))
    return out
