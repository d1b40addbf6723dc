"""``find_secrets``: every secret in a text, with its exact span.

* provider formats with a fixed prefix (``formats``);
* PEM/OpenSSH/PGP private key blocks, only when key material follows the ``BEGIN`` line;
* credentials inside URLs (``scheme://user:pass@host``), ``Authorization`` headers, AWS secret keys;
* ``password|secret|token|api_key = value`` assignments (``PASSWORD: ...``, ``"password": "..."``,
  ``Password=...;`` in a connection string), when the value is not a reference, a call, a path or a
  placeholder (judged on its whole shape, so ``$``, ``%``, ``{`` inside a password do not hide it) and
  looks random or like a password.

Each regex runs only when a cheap substring test says it could match. Positions are 0-based lines and
code-point columns; ``[column, end_column)`` covers the secret value (what a redaction replaces).
"""

from __future__ import annotations

import base64
import binascii
import re
from bisect import bisect_right
from dataclasses import dataclass
from urllib.parse import unquote

from letta_ls.secret_scan.formats import KIND_LABELS, PREFIXED, TOKEN_CHARS, TRIGGERS, Prefixed
from letta_ls.secret_scan.shapes import (
    char_classes,
    is_placeholder,
    looks_like_password,
    looks_random,
    shannon_entropy,
)


@dataclass(frozen=True)
class SecretMatch:
    """One secret: ``kind`` names its format; ``end_line`` is set only for a multi-line private key."""

    line: int
    column: int
    end_column: int
    kind: str
    end_line: int | None = None

    @property
    def last_line(self) -> int:
        return self.line if self.end_line is None else self.end_line

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


_SLACK_WEBHOOK = re.compile(r"https://hooks\.slack\.com/services/(?P<value>T[A-Z0-9]{6,}/B[A-Z0-9]{6,}/[A-Za-z0-9]{20,})")
_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_PRIVATE_KEY_END = re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_KEY_MATERIAL = re.compile(r"[A-Za-z0-9+/]{40,}")
_URL_CREDENTIALS = re.compile(
    r"://(?P<user>[^\s:/?#@\[\]'\"`<>]{0,128}):(?P<value>[^\s/?#@'\"`]{1,256})@(?P<host>[A-Za-z0-9\[][^\s/?#'\"`]*)"
)
# The patterns below run on a lowercased copy of the text (much faster than IGNORECASE); the spans
# they give are read back from the original text.
_BEARER = re.compile(r"\bbearer[ \t]+(?P<value>[a-z0-9._~+/\-]{20,}=*)")
_BASIC = re.compile(r"\bbasic[ \t]+(?P<value>[a-z0-9+/]{12,}={0,2})(?![a-z0-9+/=])")
_AWS_SECRET = re.compile(
    r"aws[a-z0-9_ .\-]{0,24}?(?:secret|private)[a-z0-9_ .\-]{0,24}?[\"']?[ \t]*(?:=|:=|:|=>)[ \t]*"
    r"[\"']?(?P<value>[a-z0-9/+=]{40})(?![a-z0-9/+=])"
)
# ``<key><separator><value>``, found from the end of the key name; the whole name is read backwards
# and must end with one of ``_SECRET_NAMES`` (separators removed): ``DB_PASSWORD``, ``apiKey``,
# ``client-secret``, ``GITHUB_TOKEN``, ``DB_PASS``; not ``keyword``, ``monkey`` or ``max_tokens``.
# A quoted value runs to its closing quote (a password may hold ``;``, ``<``, ``{``, ``$`` or ``%``).
_ASSIGNMENT = re.compile(
    r"(?P<word>word|wd|phrase|secret|token|credentials?|key|pass)[\"']?[ \t]*(?::=|=>|=|:)[ \t]*"
    r"(?:(?P<quote>[\"'`])(?P<quoted>[^\n]{1,512}?)(?P=quote)|(?P<value>[^\s\"'`]{1,512}))"
)
_ASSIGNMENT_TRIGGERS = ("word", "wd", "phrase", "secret", "token", "credential", "key", "pass")
_SECRET_NAMES = (
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "token", "credential", "credentials", "apikey",
    "accesskey", "secretkey", "privatekey", "authkey", "signingkey", "encryptionkey", "masterkey",
    "licensekey", "clientkey",
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_WEAK_URL_PASSWORDS = frozenset({
    "pass", "password", "passwd", "pwd", "secret", "root", "admin", "guest", "test", "user", "postgres",
    "mysql", "redis", "changeme", "example", "default", "demo", "dev", "local", "x", "token",
})
# references to where the value really lives; ``$NAME`` and ``%NAME%`` are whole-value templates
# (``shapes``), not prefixes, since a password may start with ``$`` or ``%``
_ENV_REFERENCE = re.compile(
    r"(?:os|env|process|secrets|settings|config)\.[\w.\[\]'\"()-]*|ENV\[[^\]\s]+\][\w.]*"
    r"|vault:[\w/#.:-]+|op://[\w/ .-]+|keyring[\w:./-]*",
    re.I,
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_PATH = re.compile(r"(?:/|\./|\.\./|~/)[\w./-]*")
_CODE = re.compile(r"[A-Za-z_][\w.]*(?:\(\)|\([A-Za-z_][\w.]*\)|\[\w+\])(?:\.[A-Za-z_]\w*)*")
# where an unquoted value ends before the next ``key=value`` of a connection or query string
_NEXT_PAIR = re.compile(
    r"[;&](?=(?:server|host|port|database|initial catalog|data source|user ?id|uid|user(?:name)?|encrypt|pooling"
    r"|ssl ?mode|timeout|connect(?:ion)? timeout|trusted_connection|integrated security|persist security info"
    r"|application name|trustservercertificate|multipleactiveresultsets|driver|dsn|charset|schema)[ \t]*=)",
    re.I,
)


def _private_keys(text: str, out: list[tuple[int, int, str]]) -> None:
    for match in _PRIVATE_KEY.finditer(text):
        following = text[match.end() : match.end() + 800].replace("\\n", "\n")
        if not _KEY_MATERIAL.search(following):
            continue  # a mention of the format, not a key
        end = _PRIVATE_KEY_END.search(text, match.end(), match.end() + 65_536)
        out.append((match.start(), end.end() if end else match.end(), "private-key"))


def _url_password_ok(user: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in _WEAK_URL_PASSWORDS or lowered == user.lower() or len(value) < 4:
        return False
    if value.isdigit() and len(value) <= 5:
        return False  # host:port@... in an odd URL
    return not is_placeholder(unquote(value)) and not _ENV_REFERENCE.fullmatch(value)


def _basic_ok(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password.isprintable() and user.isprintable()) and _url_password_ok(user, password)


def _is_reference(value: str) -> bool:
    """A value that names where the secret lives, or code that computes it, rather than the secret."""
    if _PATH.fullmatch(value):
        return not looks_random(value.replace("/", ""))  # ``/run/secrets/db``, not ``/ozCMq9/sZM2hE``
    return bool(_URL.match(value) or _ENV_REFERENCE.fullmatch(value) or _CODE.fullmatch(value))


def _stopped_at_a_call(value: str, text: str, end: int) -> bool:
    """``os.environ["X"]``, ``get("X")``: an unquoted value that stopped at the quote of a call or subscript."""
    return value[-1] in "([" and end < len(text) and text[end] in "\"'`" and bool(re.match(r"[A-Za-z_]", value))


def _assignment_value(text: str, lowered: str, match: re.Match[str]) -> tuple[int, int] | None:
    key_end = match.end("word")
    key_start = match.start("word")
    while key_start > 0 and lowered[key_start - 1] in _NAME_CHARS and key_end - key_start < 80:
        key_start -= 1
    name = lowered[key_start:key_end].replace("_", "").replace("-", "").replace(".", "")
    if not name.endswith(_SECRET_NAMES):
        return None
    if match.group("quote"):
        start, end = match.span("quoted")
        value = text[start:end]
        if any(c.isspace() for c in value):
            return None  # prose in quotes, not one token
    else:
        start, end = match.span("value")
        if _stopped_at_a_call(text[start:end], text, end):
            return None
        cut = _NEXT_PAIR.search(text, start + 1, end)
        if cut:
            end = cut.start()
        while end > start and text[end - 1] in ".:!?,;":
            end -= 1
        value = text[start:end]
    if len(value) < 8 or _is_reference(value) or is_placeholder(value):
        return None
    if looks_random(value) or looks_like_password(value):
        return start, end
    return None


def _screened_triggers() -> tuple[tuple[str, tuple[tuple[str, Prefixed], ...]], ...]:
    """The triggers grouped under a substring each of them holds (``_`` for eleven of them): a text without
    the screen holds none of its group, so most texts are searched a dozen times instead of once per trigger."""
    groups: dict[str, list[tuple[str, Prefixed]]] = {}
    for trigger, det in TRIGGERS:
        screen = next((s for s in _SCREENS if s in trigger), trigger)
        groups.setdefault(screen, []).append((trigger, det))
    return tuple((screen, tuple(group)) for screen, group in groups.items())


_SCREENS = ("_", "k-", "A")
_SCREENED = _screened_triggers()


def _active_detectors(text: str) -> set[Prefixed]:
    """The detectors one of whose triggers ``text`` holds (the same set as testing every trigger)."""
    active = set()
    for screen, group in _SCREENED:
        if screen in text:
            for trigger, det in group:
                if trigger is screen or trigger in text:
                    active.add(det)
    return active


def _prefixed_spans(text: str, out: list[tuple[int, int, str]]) -> None:
    active = _active_detectors(text)
    for det in (d for d in PREFIXED if d in active):
        for match in det.regex.finditer(text):
            if match.start() > 0 and text[match.start() - 1] in TOKEN_CHARS:
                continue
            if det.valid(match.group("body")):
                out.append((match.start(), match.end(), det.kind))


def _lowered_spans(text: str, lowered: str, out: list[tuple[int, int, str]]) -> None:
    if "bearer" in lowered:
        for match in _BEARER.finditer(lowered):
            value = text[match.start("value") : match.end("value")]
            if not is_placeholder(value) and looks_random(value):
                out.append((*match.span("value"), "bearer-token"))
    if "basic " in lowered:
        for match in _BASIC.finditer(lowered):
            if _basic_ok(text[match.start("value") : match.end("value")]):
                out.append((*match.span("value"), "basic-auth"))
    if "aws" in lowered:
        for match in _AWS_SECRET.finditer(lowered):
            value = text[match.start("value") : match.end("value")]
            if shannon_entropy(value) >= 4.0 and len(char_classes(value)) >= 3 and not is_placeholder(value):
                out.append((*match.span("value"), "aws-secret-key"))


def _find_spans(text: str) -> list[tuple[int, int, str]]:
    specific: list[tuple[int, int, str]] = []
    _prefixed_spans(text, specific)
    if "PRIVATE KEY" in text:
        _private_keys(text, specific)
    if "hooks.slack.com" in text:
        specific.extend((m.start("value"), m.end("value"), "slack-webhook") for m in _SLACK_WEBHOOK.finditer(text))
    if "://" in text:
        for match in _URL_CREDENTIALS.finditer(text):
            if _url_password_ok(match.group("user"), match.group("value")):
                specific.append((*match.span("value"), "url-credentials"))
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lowercase is longer: keep offsets aligned
        lowered = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    _lowered_spans(text, lowered, specific)
    kept = _without_overlaps(specific)
    if any(t in lowered for t in _ASSIGNMENT_TRIGGERS):
        generic = []
        position = 0
        while (match := _ASSIGNMENT.search(lowered, position)) is not None:
            span = _assignment_value(text, lowered, match)
            if span is not None:
                generic.append((*span, "credential"))
            # a value that was not a secret may hold the next pair (``credentials: Host=db;Password=...``)
            position = span[1] if span is not None else match.end("word")
        if generic:
            kept = _without_overlaps(kept + [g for g in generic if not _overlaps(g, kept)])
    return kept


def _overlaps(span: tuple[int, int, str], others: list[tuple[int, int, str]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end, _kind in others)


def _without_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0]), s[2]))
    out: list[tuple[int, int, str]] = []
    for span in spans:
        if out and span[0] < out[-1][1]:
            continue
        out.append(span)
    return out


def line_offsets(text: str) -> list[int]:
    """Offsets where each line starts; a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r`` (as in LSP)."""
    starts = [0]
    for match in re.finditer(r"\r\n|\r|\n", text):
        starts.append(match.end())
    return starts


def find_secrets(text: str) -> list[SecretMatch]:
    """Every secret in ``text``, in order; empty for text without any."""
    if not text:
        return []
    spans = _find_spans(text)
    if not spans:
        return []
    starts = line_offsets(text)
    out = []
    for start, end, kind in spans:
        line = bisect_right(starts, start) - 1
        last = bisect_right(starts, end) - 1
        out.append(SecretMatch(line, start - starts[line], end - starts[last], kind, last if last != line else None))
    return out
