"""Make a piece of transcript text safe to hand on: bounded in size and with secrets redacted.

Transcripts hold whatever passed through a terminal: ``export OPENAI_API_KEY=sk-...``, a ``.env`` file
the agent read, a database URL with its password. Every text a reader returns goes through ``clean``,
which clips it first (so a 2 MB tool result is never scanned whole) and then replaces every secret the
doctor's detector finds (``letta_ls.doctor.find_secrets``, the same gate that keeps secrets out of
memory) with ``[REDACTED]``. A private key whose ``END`` line was cut off by the clip is redacted to the
end of the text, since the detector alone would only cover its ``BEGIN`` line.
"""

from __future__ import annotations

import re

from letta_ls.doctor import find_secrets
from letta_ls.doctor.checks.common import line_starts
from letta_ls.doctor.checks.secrets import REDACTED

# Text this far past the clip point is still scanned, so a secret straddling the cut is found whole (every
# key format is shorter; of a longer JWT, only the unsigned head could be left before the cut).
_SCAN_MARGIN = 256
_KEY_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def redact(text: str) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``."""
    if not text:
        return text
    matches = find_secrets(text)
    spans: list[tuple[int, int]] = []
    if matches:
        starts = line_starts(text)
        spans = [(starts[m.line] + m.column, starts[m.last_line] + m.end_column) for m in matches]
    if "PRIVATE KEY" in text:
        for begin in _KEY_BEGIN.finditer(text):
            end = _KEY_END.search(text, begin.end())
            spans.append((begin.start(), end.end() if end else len(text)))
    if not spans:
        return text
    out: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        start = max(start, position)
        out += [text[position:start], REDACTED]
        position = end
    out.append(text[position:])
    return "".join(out)


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters, and an ellipsis when something was cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def clean(text: str, limit: int) -> str:
    """Clip to ``limit`` characters and redact secrets. Terminal escape codes and control characters
    other than newlines and tabs (NUL from binary output) are dropped."""
    if not text:
        return ""
    head = text[: limit + _SCAN_MARGIN]
    if not head.replace("\n", "").replace("\t", "").replace("\r", "").isprintable():  # fast path: usually printable
        head = _CONTROL.sub("", head)
    head = redact(head)
    if len(text) <= limit:
        return head
    # cut inside a [REDACTED] marker at worst, never inside a secret: those are gone already
    return head[:limit].rstrip() + f" … [clipped: {len(text):,} characters in all]"


def one_line(text: str, limit: int) -> str:
    """The text on one line (whitespace collapsed), clipped: for lists in digests."""
    return clip(" ".join(text.split()), limit)
