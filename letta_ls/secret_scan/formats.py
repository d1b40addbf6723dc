"""Provider key formats with a fixed prefix, and the labels a person reads for every kind of secret.

Each format is matched exactly (prefix and body alphabet and length); its random body must then look
like a random body: long enough, varied enough and not a placeholder by its *whole* shape (see
``shapes``). Bodies are random, so a body holding ``test`` or ``aaaa`` somewhere is still a key.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from letta_ls.secret_scan.shapes import char_classes, is_placeholder, looks_random, shannon_entropy

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

# Values published in vendor documentation as examples (jwt.io's signature).
KNOWN_EXAMPLES = frozenset({
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
})


def random_body(body: str, *, min_len: int, min_entropy: float = 3.0) -> bool:
    return len(body) >= min_len and shannon_entropy(body) >= min_entropy and not is_placeholder(body)


def _mixed(body: str) -> bool:
    return len(char_classes(body)) >= 2


def _openai_body(body: str) -> bool:
    core = body.replace("-", "").replace("_", "")
    if re.fullmatch(r"[0-9a-f]{32,}", core):  # DeepSeek-style hex keys
        return random_body(core, min_len=32, min_entropy=2.5)
    if not random_body(body, min_len=32, min_entropy=3.5):
        return False
    classes = char_classes(core)
    if {"l", "u", "d"} <= classes:
        return True
    # a legacy key's 48 base62 characters lack a digit about once in 5,000; a slug with dashes
    # (``sk-learn-compatible-...``) is not a key
    return body == core and {"l", "u"} <= classes and looks_random(core)


@dataclass(frozen=True, eq=False)
class Prefixed:
    kind: str
    triggers: tuple[str, ...]
    regex: re.Pattern[str]
    valid: Callable[[str], bool]


def _prefixed(kind: str, triggers: tuple[str, ...], prefix: str, body: str, valid: Callable[[str], bool]) -> Prefixed:
    # literal first (no look-behind), so the regex engine can skip ahead to the prefix; the character
    # before a match is checked in code (``TOKEN_CHARS``)
    pattern = rf"{prefix}(?P<body>{body})(?![A-Za-z0-9_\-])"
    return Prefixed(kind, triggers, re.compile(pattern), valid)


# a key glued to letters or digits is part of a longer word (``risk-...``, ``desk-...``); after ``-`` or ``_``
# it is a key in a file name or identifier (``notes/key-sk-proj-...md``) and counts
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _jwt_valid(body: str) -> bool:
    signature = body.rsplit(".", 1)[-1]
    return signature not in KNOWN_EXAMPLES and not is_placeholder(signature)


PREFIXED: tuple[Prefixed, ...] = (
    _prefixed("anthropic-key", ("sk-ant-",), r"sk-ant-(?:[a-z]+\d\d-)?", r"[A-Za-z0-9_\-]{20,}",
              lambda b: random_body(b, min_len=32, min_entropy=3.5) and _mixed(b)),
    _prefixed("openrouter-key", ("sk-or-",), r"sk-or-v\d-", r"[a-f0-9]{40,}",
              lambda b: random_body(b, min_len=40, min_entropy=3.2)),
    _prefixed("openai-key", ("sk-",), r"sk-(?!ant-|or-v\d-)(?:proj-|svcacct-|admin-|None-)?",
              r"[A-Za-z0-9_\-]{20,}", _openai_body),
    _prefixed("aws-access-key", ("AKIA", "ASIA", "ABIA", "ACCA"), r"A(?:KIA|SIA|BIA|CCA)", r"[A-Z0-9]{16}",
              lambda b: random_body(b, min_len=16, min_entropy=2.5)),
    _prefixed("github-token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_", r"[A-Za-z0-9]{30,255}",
              lambda b: random_body(b, min_len=30, min_entropy=3.5) and _mixed(b)),
    _prefixed("github-token", ("github_pat_",), r"github_pat_", r"[A-Za-z0-9_]{40,255}",
              lambda b: random_body(b, min_len=40, min_entropy=3.5) and _mixed(b)),
    _prefixed("gitlab-token", ("glpat-",), r"glpat-", r"[A-Za-z0-9_\-]{20,64}",
              lambda b: random_body(b, min_len=20, min_entropy=3.0) and _mixed(b)),
    _prefixed("slack-token", ("xox",), r"xox[abposre]-", r"(?:[A-Za-z0-9]+-){1,5}[A-Za-z0-9]{8,}",
              lambda b: any(c.isdigit() for c in b) and random_body(b, min_len=20, min_entropy=3.0)),
    _prefixed("stripe-key", ("_live_",), r"[sr]k_live_", r"[A-Za-z0-9]{20,255}",
              lambda b: random_body(b, min_len=20, min_entropy=3.3) and _mixed(b)),
    _prefixed("google-api-key", ("AIza",), r"AIza", r"[0-9A-Za-z_\-]{35}",
              lambda b: random_body(b, min_len=35, min_entropy=3.5)),
    _prefixed("google-oauth-secret", ("GOCSPX-",), r"GOCSPX-", r"[A-Za-z0-9_\-]{24,40}",
              lambda b: random_body(b, min_len=24, min_entropy=3.3)),
    _prefixed("huggingface-token", ("hf_",), r"hf_", r"[A-Za-z0-9]{30,40}",
              lambda b: random_body(b, min_len=30, min_entropy=3.5) and _mixed(b)),
    _prefixed("npm-token", ("npm_",), r"npm_", r"[A-Za-z0-9]{36}",
              lambda b: random_body(b, min_len=36, min_entropy=3.5) and _mixed(b)),
    _prefixed("pypi-token", ("pypi-AgE",), r"pypi-AgE", r"[A-Za-z0-9_\-]{50,}",
              lambda b: random_body(b, min_len=50, min_entropy=3.5)),
    _prefixed("groq-key", ("gsk_",), r"gsk_", r"[A-Za-z0-9]{40,60}",
              lambda b: random_body(b, min_len=40, min_entropy=3.5) and _mixed(b)),
    _prefixed("xai-key", ("xai-",), r"xai-", r"[A-Za-z0-9]{60,100}",
              lambda b: random_body(b, min_len=60, min_entropy=3.5) and _mixed(b)),
    _prefixed("sendgrid-key", ("SG.",), r"SG\.", r"[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{30,64}",
              lambda b: random_body(b, min_len=50, min_entropy=3.5)),
    _prefixed("digitalocean-token", ("_v1_",), r"do[por]_v1_", r"[a-f0-9]{64}",
              lambda b: random_body(b, min_len=64, min_entropy=3.2)),
    _prefixed("jwt", ("eyJ",), r"", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}", _jwt_valid),
)

# (substring, detector) pairs: a detector runs only on text that holds one of its substrings
TRIGGERS = tuple((trigger, det) for det in PREFIXED for trigger in det.triggers)
