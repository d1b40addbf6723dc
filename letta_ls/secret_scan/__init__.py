"""Finding secrets (API keys, tokens, passwords, private keys) in text, file names and commit messages.

Memory is plain text in git history, copied into prompts and transcripts, so a credential must never
land in it. This package is the one detector every gate uses: the doctor's ``secret`` check and write
guard (file contents), ``MemoryRepo.commit`` (commit messages and new file names), the prompt compiler
(file names) and the transcript readers (redaction). It imports nothing else of letta-ls, so memfs can
use it without depending on the doctor.

``formats`` holds the provider key formats, ``shapes`` the whole-value placeholder and randomness
rules, ``scan`` the search itself.
"""

from letta_ls.secret_scan.formats import KIND_LABELS
from letta_ls.secret_scan.scan import SecretMatch, find_secrets, line_offsets
from letta_ls.secret_scan.shapes import is_placeholder, looks_like_password, looks_random, shannon_entropy

REDACTED = "[REDACTED]"


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``REDACTED`` (for error messages and file names)."""
    matches = find_secrets(text)
    if not matches:
        return text
    starts = line_offsets(text)
    for match in reversed(matches):
        text = text[:starts[match.line] + match.column] + REDACTED + text[starts[match.last_line] + match.end_column:]
    return text


__all__ = [
    "KIND_LABELS",
    "REDACTED",
    "SecretMatch",
    "find_secrets",
    "is_placeholder",
    "line_offsets",
    "looks_like_password",
    "looks_random",
    "redact",
    "shannon_entropy",
]
