"""Secrets in memory: API keys, tokens, passwords and private keys (code ``secret``).

Memory is plain text in git history, copied into prompts and transcripts, so a credential must never
land in it. ``find_secrets`` is also the gate of the memory write path, which refuses a write that
adds a secret, so it has to be precise as well as fast:

* provider formats with a fixed prefix (OpenAI, Anthropic, AWS, GitHub, GitLab, Slack, Stripe, Google,
  Hugging Face, npm, PyPI, ...) are matched exactly, and their random part must not look like a
  placeholder (``sk-...``, ``sk-xxxx``, ``AKIAIOSFODNN7EXAMPLE``);
* PEM/OpenSSH/PGP private key blocks count only when key material follows the ``BEGIN`` line;
* credentials inside URLs (``scheme://user:pass@host``) and ``Authorization`` headers;
* ``password|secret|token|api_key = value`` assignments count only when the value looks random
  (length, Shannon entropy, mixed character classes that alternate), so a key's *name*
  (``OPENAI_API_KEY``), an environment reference (``$TOKEN``, ``${TOKEN}``, ``os.environ[...]``),
  an identifier, a number or an English word never does.

Each regex runs only when a cheap substring test says it could match. Positions are 0-based editor
lines and code-point columns; ``[column, end_column)`` covers the secret value (what a redaction
replaces).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from letta_ls.doctor.checks.common import BlobCache, CheckContext, finding, line_starts
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.snapshot import MemoryFile

REDACTED = "[REDACTED]"


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


KIND_LABELS = {
    "private-key": "a private key",
    "openai-key": "an OpenAI API key",
    "anthropic-key": "an Anthropic API key",
    "openrouter-key": "an OpenRouter API key",
    "aws-access-key": "an AWS access key id",
    "aws-secret-key": "an AWS secret access key",
    "github-token": "a GitHub token",
    "gitlab-token": "a GitLab token",
    "slack-token": "a Slack token",
    "slack-webhook": "a Slack webhook URL",
    "stripe-key": "a Stripe live key",
    "google-api-key": "a Google API key",
    "google-oauth-secret": "a Google OAuth client secret",
    "huggingface-token": "a Hugging Face token",
    "npm-token": "an npm token",
    "pypi-token": "a PyPI token",
    "groq-key": "a Groq API key",
    "xai-key": "an xAI API key",
    "sendgrid-key": "a SendGrid API key",
    "digitalocean-token": "a DigitalOcean token",
    "jwt": "a JSON Web Token",
    "url-credentials": "a password inside a URL",
    "bearer-token": "a bearer token",
    "basic-auth": "HTTP basic-auth credentials",
    "credential": "a password or secret value",
}

# --- value tests -----------------------------------------------------------------------------------

_PLACEHOLDER_PARTS = (
    "xxx", "***", "...", "…", "<", ">", "{", "}", "$", "%", "your", "example", "placeholder", "redacted",
    "changeme", "change_me", "change-me", "dummy", "fake", "sample", "insert", "replace", "todo", "tbd",
    "foobar", "secret", "password", "passw0rd", "p@ssw0rd", "token", "apikey", "api_key", "api-key",
    "mykey", "test", "demo", "abcdef", "abc123", "123456", "qwerty", "letmein", "hidden", "masked",
    "environ", "getenv", "process.env", "here", "null", "none", "undefined",
)
_REPEAT = re.compile(r"(.)\1{3,}")
_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "9876543210")


def is_placeholder(value: str) -> bool:
    """A documentation placeholder rather than a real credential."""
    lowered = value.lower()
    if any(part in lowered for part in _PLACEHOLDER_PARTS):
        return True
    if _REPEAT.search(lowered):
        return True
    return any(lowered[i : i + 6] in seq for seq in _SEQUENCES for i in range(0, max(1, len(lowered) - 5), 3))


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _char_class(char: str) -> str | None:
    if char in "_-.":
        return None  # word separators of identifiers: neutral
    if char.isdigit():
        return "d"
    if char.islower():
        return "l"
    if char.isupper():
        return "u"
    return "s"


def looks_random(value: str) -> bool:
    """Long enough, varied enough and alternating enough between character classes to be a key.

    Random base62/hex strings change class (lower, upper, digit, symbol) at about half their
    characters; identifiers, words, versions and numbers rarely do.
    """
    n = len(value)
    if n < 8:
        return False
    classes: set[str] = set()
    transitions = 0
    previous = None
    for char in value:
        kind = _char_class(char)
        if kind is None:
            continue
        classes.add(kind)
        if previous is not None and kind != previous:
            transitions += 1
        previous = kind
    entropy = shannon_entropy(value)
    if n >= 16 and len(classes) >= 2 and entropy >= 3.3 and transitions >= n / 6:
        return True
    return len(classes) >= 3 and entropy >= 2.8 and transitions >= 5


def _classes(value: str) -> set[str]:
    return {k for k in map(_char_class, value) if k is not None}


def _random_body(body: str, *, min_len: int, min_entropy: float = 3.0) -> bool:
    return len(body) >= min_len and shannon_entropy(body) >= min_entropy and not is_placeholder(body)


def _openai_body(body: str) -> bool:
    core = body.replace("-", "").replace("_", "")
    if not _random_body(body, min_len=32, min_entropy=3.5):
        return False
    if {"l", "u", "d"} <= _classes(core):
        return True
    return bool(re.fullmatch(r"[0-9a-f]{32,}", core))  # DeepSeek-style hex keys


def _mixed(body: str) -> bool:
    return len(_classes(body)) >= 2


# --- detectors ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Prefixed:
    kind: str
    triggers: tuple[str, ...]
    regex: re.Pattern[str]
    valid: Callable[[str], bool]


def _prefixed(kind: str, triggers: tuple[str, ...], prefix: str, body: str, valid: Callable[[str], bool]) -> _Prefixed:
    # literal first (no look-behind), so the regex engine can skip ahead to the prefix; the character
    # before a match is checked in code (``_TOKEN_CHARS``)
    pattern = rf"{prefix}(?P<body>{body})(?![A-Za-z0-9_\-])"
    return _Prefixed(kind, triggers, re.compile(pattern), valid)


_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


_PREFIXED: tuple[_Prefixed, ...] = (
    _prefixed("anthropic-key", ("sk-ant-",), r"sk-ant-(?:[a-z]+\d\d-)?", r"[A-Za-z0-9_\-]{20,}",
              lambda b: _random_body(b, min_len=32, min_entropy=3.5) and _mixed(b)),
    _prefixed("openrouter-key", ("sk-or-",), r"sk-or-v\d-", r"[a-f0-9]{40,}",
              lambda b: _random_body(b, min_len=40, min_entropy=3.3)),
    _prefixed("openai-key", ("sk-",), r"sk-(?!ant-|or-v\d-)(?:proj-|svcacct-|admin-|None-)?",
              r"[A-Za-z0-9_\-]{20,}", _openai_body),
    _prefixed("aws-access-key", ("AKIA", "ASIA", "ABIA", "ACCA"), r"A(?:KIA|SIA|BIA|CCA)", r"[A-Z0-9]{16}",
              lambda b: _random_body(b, min_len=16, min_entropy=3.0)),
    _prefixed("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_", r"[A-Za-z0-9]{30,255}",
              lambda b: _random_body(b, min_len=30, min_entropy=3.5) and _mixed(b)),
    _prefixed("github-token", ("github_pat_",), r"github_pat_", r"[A-Za-z0-9_]{40,255}",
              lambda b: _random_body(b, min_len=40, min_entropy=3.5) and _mixed(b)),
    _prefixed("gitlab-token", ("glpat-",), r"glpat-", r"[A-Za-z0-9_\-]{20,64}",
              lambda b: _random_body(b, min_len=20, min_entropy=3.3) and _mixed(b)),
    _prefixed("slack-token", ("xox",), r"xox[abposr]-", r"(?:[A-Za-z0-9]+-){1,5}[A-Za-z0-9]{8,}",
              lambda b: any(c.isdigit() for c in b) and _random_body(b, min_len=20, min_entropy=3.0)),
    _prefixed("stripe-key", ("_live_",), r"[sr]k_live_", r"[A-Za-z0-9]{20,255}",
              lambda b: _random_body(b, min_len=20, min_entropy=3.5) and _mixed(b)),
    _prefixed("google-api-key", ("AIza",), r"AIza", r"[0-9A-Za-z_\-]{35}",
              lambda b: _random_body(b, min_len=35, min_entropy=3.5)),
    _prefixed("google-oauth-secret", ("GOCSPX-",), r"GOCSPX-", r"[A-Za-z0-9_\-]{24,40}",
              lambda b: _random_body(b, min_len=24, min_entropy=3.5)),
    _prefixed("huggingface-token", ("hf_",), r"hf_", r"[A-Za-z0-9]{30,40}",
              lambda b: _random_body(b, min_len=30, min_entropy=3.5) and _mixed(b)),
    _prefixed("npm-token", ("npm_",), r"npm_", r"[A-Za-z0-9]{36}",
              lambda b: _random_body(b, min_len=36, min_entropy=3.5) and _mixed(b)),
    _prefixed("pypi-token", ("pypi-AgE",), r"pypi-AgE", r"[A-Za-z0-9_\-]{50,}",
              lambda b: _random_body(b, min_len=50, min_entropy=3.5)),
    _prefixed("groq-key", ("gsk_",), r"gsk_", r"[A-Za-z0-9]{40,60}",
              lambda b: _random_body(b, min_len=40, min_entropy=3.5) and _mixed(b)),
    _prefixed("xai-key", ("xai-",), r"xai-", r"[A-Za-z0-9]{60,100}",
              lambda b: _random_body(b, min_len=60, min_entropy=3.5) and _mixed(b)),
    _prefixed("sendgrid-key", ("SG.",), r"SG\.", r"[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,64}",
              lambda b: _random_body(b, min_len=50, min_entropy=3.5)),
    _prefixed("digitalocean-token", ("_v1_",), r"do[por]_v1_", r"[a-f0-9]{64}",
              lambda b: _random_body(b, min_len=64, min_entropy=3.3)),
    _prefixed("jwt", ("eyJ",), r"", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}",
              lambda b: not is_placeholder(b.rsplit(".", 1)[-1]) and b.rsplit(".", 1)[-1] not in _KNOWN_EXAMPLES),
)

# (substring, detector) pairs: a detector runs only on text that holds one of its substrings
_TRIGGERS = tuple((trigger, det) for det in _PREFIXED for trigger in det.triggers)

# Values published in vendor documentation as examples (AWS's, jwt.io's).
_KNOWN_EXAMPLES = frozenset({
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
})

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
# ``client-secret``, ``GITHUB_TOKEN``; not ``keyword``, ``monkey`` or ``max_tokens``.
_ASSIGNMENT = re.compile(
    r"(?P<word>word|wd|phrase|secret|token|credentials?|key)[\"']?[ \t]*(?::=|=>|=|:)[ \t]*"
    r"(?P<quote>[\"'`]?)(?P<value>[^\s\"'`,;<>(){}\[\]|]{8,512})"
)
_ASSIGNMENT_TRIGGERS = ("word", "wd", "phrase", "secret", "token", "credential", "key")
_SECRET_NAMES = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "credential", "credentials", "apikey",
    "accesskey", "secretkey", "privatekey", "authkey", "signingkey", "encryptionkey", "masterkey",
    "licensekey", "clientkey",
)
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")
_WEAK_URL_PASSWORDS = frozenset({
    "pass", "password", "passwd", "pwd", "secret", "root", "admin", "guest", "test", "user", "postgres",
    "mysql", "redis", "changeme", "example", "default", "demo", "dev", "local", "x", "token",
})
_ENV_REFERENCE = re.compile(r"^(?:\$|%|\{\{|os\.|env\.|process\.|ENV\[|secrets\.|vault:|op://|keyring)", re.I)


def _private_keys(text: str, out: list[tuple[int, int, str]]) -> None:
    for match in _PRIVATE_KEY.finditer(text):
        following = text[match.end() : match.end() + 800].replace("\\n", "\n")
        if not _KEY_MATERIAL.search(following):
            continue  # a mention of the format, not a key
        end = _PRIVATE_KEY_END.search(text, match.end(), match.end() + 65_536)
        out.append((match.start(), end.end() if end else match.end(), "private-key"))


def _url_password_ok(user: str, value: str) -> bool:
    lowered = value.lower()
    unescaped = re.sub(r"%[0-9A-Fa-f]{2}", "", value)  # percent-encoding is not a placeholder
    if lowered in _WEAK_URL_PASSWORDS or lowered == user.lower() or len(value) < 4:
        return False
    if value.isdigit() and len(value) <= 5:
        return False  # host:port@... in an odd URL
    return not is_placeholder(unescaped) and not _ENV_REFERENCE.match(value)


def _basic_ok(value: str) -> bool:
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    user, sep, password = decoded.partition(":")
    return bool(sep and user and password.isprintable() and user.isprintable()) and _url_password_ok(user, password)


def _assignment_value(text: str, lowered: str, match: re.Match[str]) -> tuple[int, int] | None:
    key_end = match.end("word")
    key_start = match.start("word")
    while key_start > 0 and lowered[key_start - 1] in _NAME_CHARS and key_end - key_start < 80:
        key_start -= 1
    name = lowered[key_start:key_end].replace("_", "").replace("-", "").replace(".", "")
    if not name.endswith(_SECRET_NAMES):
        return None
    start, end = match.span("value")
    value = text[start:end]
    quote = match.group("quote")
    if quote:
        if not text.startswith(quote, end):
            return None  # the quoted value goes on with a character we stop at: not one token
    else:
        if end < len(text) and text[end] in "([":
            return None  # a call or subscript, not a literal
        while value and value[-1] in ".:!?":
            value, end = value[:-1], end - 1
    if "://" in value or value.startswith(("/", "./", "~/")) or _ENV_REFERENCE.match(value):
        return None
    if is_placeholder(value) or not looks_random(value):
        return None
    return start, end


def _find_spans(text: str) -> list[tuple[int, int, str]]:
    specific: list[tuple[int, int, str]] = []
    active = {det for trigger, det in _TRIGGERS if trigger in text}
    for det in (d for d in _PREFIXED if d in active):
        for match in det.regex.finditer(text):
            if match.start() > 0 and text[match.start() - 1] in _TOKEN_CHARS:
                continue
            if det.valid(match.group("body")):
                specific.append((match.start(), match.end(), det.kind))
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
    if "bearer" in lowered:
        for match in _BEARER.finditer(lowered):
            value = text[match.start("value") : match.end("value")]
            if not is_placeholder(value) and looks_random(value):
                specific.append((*match.span("value"), "bearer-token"))
    if "basic " in lowered:
        for match in _BASIC.finditer(lowered):
            if _basic_ok(text[match.start("value") : match.end("value")]):
                specific.append((*match.span("value"), "basic-auth"))
    if "aws" in lowered:
        for match in _AWS_SECRET.finditer(lowered):
            value = text[match.start("value") : match.end("value")]
            if shannon_entropy(value) >= 4.0 and len(_classes(value)) >= 3 and not is_placeholder(value):
                specific.append((*match.span("value"), "aws-secret-key"))
    kept = _without_overlaps(specific)
    if any(t in lowered for t in _ASSIGNMENT_TRIGGERS):
        generic = []
        for match in _ASSIGNMENT.finditer(lowered):
            span = _assignment_value(text, lowered, match)
            if span is not None:
                generic.append((*span, "credential"))
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


def find_secrets(text: str) -> list[SecretMatch]:
    """Every secret in ``text``, in order; empty for text without any."""
    if not text:
        return []
    spans = _find_spans(text)
    if not spans:
        return []
    starts = line_starts(text)
    out = []
    for start, end, kind in spans:
        line = bisect_right(starts, start) - 1
        last = bisect_right(starts, end) - 1
        out.append(SecretMatch(line, start - starts[line], end - starts[last], kind, last if last != line else None))
    return out


# --- the doctor check --------------------------------------------------------------------------------

_MATCHES: BlobCache[list[SecretMatch]] = BlobCache()


def secrets_in(file: MemoryFile) -> list[SecretMatch]:
    text = file.text
    if text is None:
        return []
    return _MATCHES.get(file.blob, lambda: find_secrets(text))


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    if not ctx.enabled("secret"):
        return []
    out = []
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
