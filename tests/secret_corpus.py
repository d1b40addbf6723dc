"""Generated secrets and look-alikes, shared by the property tests and the entry-point tests.

Every generator takes a ``random.Random`` so that hypothesis picks the seed and a
body is really random, as a key is: hypothesis's own text strategies would shrink to degenerate bodies
(``AAAA…``) that no provider issues. Nothing secret-shaped is written literally in the source.

* ``KEY_FORMATS``: every real key format the checker knows, random body from the format's alphabet;
* ``PASSWORD_CONTEXTS``: a strong generated password (symbols included) in an assignment, a URL or a
  connection string;
* ``LOOK_ALIKES``: hashes, UUIDs, git SHAs, base64 of short text, documentation examples, placeholders
  and prose about tokens and passwords: none of them is a secret.
"""

from __future__ import annotations

import base64
import json
import random
import string
import uuid
from collections.abc import Callable
from urllib.parse import quote

B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
UPPER36 = string.ascii_uppercase + string.digits
SYMBOLS = "!#$%&()*+,-./:;<=>?@[]^_{|}~"


def body(rng: random.Random, n: int, alphabet: str = B62) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"}).encode())
    payload = {"sub": str(rng.randrange(10**9)), "iat": rng.randrange(1_600_000_000, 1_800_000_000),
               "scope": body(rng, rng.randrange(4, 12), string.ascii_lowercase)}
    return f"{header}.{_b64url(json.dumps(payload).encode())}.{body(rng, 43, B64URL)}"


def _private_key(rng: random.Random) -> str:
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", "DSA ", "ENCRYPTED ", ""])
    lines = [body(rng, 64, B62 + "+/") for _ in range(rng.randrange(3, 12))]
    return f"-----BEGIN {kind}PRIVATE KEY-----\n" + "\n".join(lines) + f"\n-----END {kind}PRIVATE KEY-----"


def _slack(rng: random.Random) -> str:
    digits = string.digits
    return (f"xox{rng.choice('bpaesr')}-{body(rng, rng.randrange(10, 14), digits)}-"
            f"{body(rng, rng.randrange(10, 14), digits)}-{body(rng, 24)}")


# kind the checker reports -> generator of one key
KEY_FORMATS: dict[str, Callable[[random.Random], str]] = {
    "openai-legacy": lambda r: "sk-" + body(r, 20) + "T3BlbkFJ" + body(r, 20),
    "openai-48": lambda r: "sk-" + body(r, 48),
    "openai-proj": lambda r: "sk-proj-" + body(r, r.randrange(100, 160), B64URL),
    "openai-svcacct": lambda r: "sk-svcacct-" + body(r, r.randrange(80, 140), B64URL),
    "deepseek": lambda r: "sk-" + body(r, 32, HEX),
    "anthropic": lambda r: "sk-ant-api03-" + body(r, 93, B64URL) + "AA",
    "openrouter": lambda r: "sk-or-v1-" + body(r, 64, HEX),
    "aws-access-key": lambda r: r.choice(["AKIA", "ASIA"]) + body(r, 16, UPPER36),
    "aws-secret-key": lambda r: body(r, 40, B62 + "/+"),  # found by its name: see KEY_TEMPLATES
    "github-classic": lambda r: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + body(r, 36),
    "github-pat": lambda r: "github_pat_" + body(r, 22) + "_" + body(r, 59),
    "gitlab": lambda r: "glpat-" + body(r, 20, B64URL),
    "slack-token": _slack,
    "slack-webhook": lambda r: (f"https://hooks.slack.com/services/T{body(r, 8, UPPER36)}/B{body(r, 10, UPPER36)}/"
                                f"{body(r, 24)}"),
    "stripe": lambda r: r.choice(["sk_live_", "rk_live_"]) + body(r, r.randrange(24, 100)),
    "google-api-key": lambda r: "AIza" + body(r, 35, B64URL),
    "google-oauth-secret": lambda r: "GOCSPX-" + body(r, 28, B64URL),
    "huggingface": lambda r: "hf_" + body(r, 34),
    "npm": lambda r: "npm_" + body(r, 36),
    "pypi": lambda r: "pypi-AgEIcHlwaS5vcmc" + body(r, r.randrange(70, 160), B64URL),
    "groq": lambda r: "gsk_" + body(r, 52),
    "xai": lambda r: "xai-" + body(r, 80),
    "sendgrid": lambda r: "SG." + body(r, 22, B64URL) + "." + body(r, 43, B64URL),
    "digitalocean": lambda r: r.choice(["dop_v1_", "doo_v1_", "dor_v1_"]) + body(r, 64, HEX),
    "jwt": _jwt,
    "private-key": _private_key,
    "bearer": lambda r: body(r, r.randrange(32, 64), B62 + "._-"),  # found after "Bearer ": see KEY_TEMPLATES
}

# how a key sits in text: most anywhere, a few only after their name
KEY_TEMPLATES: dict[str, str] = {
    "aws-secret-key": "aws_secret_access_key = {}",
    "bearer": "curl -H 'Authorization: Bearer {}' https://api.example.com",
}
DEFAULT_KEY_TEMPLATE = "the key is {} (rotated monthly)"


def key_in_text(kind: str, rng: random.Random) -> tuple[str, str]:
    """(text, key) for one random key of ``kind``."""
    key = KEY_FORMATS[kind](rng)
    return KEY_TEMPLATES.get(kind, DEFAULT_KEY_TEMPLATE).format(key), key


def strong_password(rng: random.Random, symbols: str = SYMBOLS) -> str:
    """What a password manager makes: 12-32 characters, at least one lower, upper, digit and symbol."""
    n = rng.randrange(12, 33)
    alphabet = string.ascii_letters + string.digits + symbols
    chars = [rng.choice(string.ascii_lowercase), rng.choice(string.ascii_uppercase), rng.choice(string.digits),
             rng.choice(symbols)] + [rng.choice(alphabet) for _ in range(n - 4)]
    rng.shuffle(chars)
    return "".join(chars)


_ASSIGNMENTS = (
    "password = {}", "PASSWORD: {}", 'db_password: "{}"', '{{"password": "{}"}}', "export PGPASSWORD='{}'",
    "DB_PASS={}", "admin_pwd = {}", "- passphrase: {}", "SMTP_PASSWORD={}  # prod mail", "root password: `{}`",
    "client_secret = '{}'", "Password := {}",
)
_URLS = (
    "DATABASE_URL=postgres://app:{}@db.internal:5432/app", "mongodb+srv://admin:{}@cluster0.example.net/test",
    "redis://:{}@cache:6379/0", "amqp://deploy:{}@rabbit/vhost", "see https://bob:{}@git.example.org/repo.git",
)
_CONNECTION_STRINGS = (
    "Server=tcp:db.example.net,1433;Database=app;User ID=app;Password={};Encrypt=True;",
    "Host=db;Username=app;Password={}",
    "Driver={{ODBC Driver 18}};Server=db;UID=sa;PWD={};",
    "Data Source=prod;User Id=svc;Password={};Pooling=true",
)


def _in_assignment(rng: random.Random) -> tuple[str, str]:
    template = rng.choice(_ASSIGNMENTS)
    quote_char = next((q for q in "\"'`" if "{}" + q in template), None)
    password = strong_password(rng, SYMBOLS.replace(quote_char, "") if quote_char else SYMBOLS)
    return template.format(password), password


def _in_url(rng: random.Random) -> tuple[str, str]:
    template = rng.choice(_URLS)
    if rng.random() < 0.5:  # percent-encoded, as RFC 3986 wants
        password = quote(strong_password(rng), safe="!$&'()*+,;=-._~")
    else:  # raw, without the characters that end the userinfo
        password = strong_password(rng, "".join(c for c in SYMBOLS if c not in "/?#@:[]"))
    return template.format(password), password


def _in_connection_string(rng: random.Random) -> tuple[str, str]:
    password = strong_password(rng, SYMBOLS.replace(";", ""))
    return rng.choice(_CONNECTION_STRINGS).format(password), password


PASSWORD_CONTEXTS: dict[str, Callable[[random.Random], tuple[str, str]]] = {
    "assignment": _in_assignment,
    "url": _in_url,
    "connection-string": _in_connection_string,
}

# --- look-alikes ---------------------------------------------------------------------------------------

_WORDS = ("memory", "release", "deploy", "token", "tokens", "password", "secret", "key", "api", "user", "the",
          "rotate", "vault", "budget", "cache", "session", "review", "weekly", "build", "docs")
_IDENT_WORDS = ("db", "pg", "mysql", "smtp", "admin", "api", "app", "github", "prod", "root", "openai", "stripe")
_SECRET_NAMES = ("password", "PASSWORD", "db_password", "DB_PASS", "api_key", "API_TOKEN", "client_secret",
                 "pwd", "token", "passphrase")
_PLACEHOLDER_VALUES = (
    lambda r: "$" + _ident(r).upper(),
    lambda r: "${" + _ident(r).upper() + "}",
    lambda r: "${{ secrets." + _ident(r).upper() + " }}",
    lambda r: "%(" + _ident(r) + ")s",
    lambda r: "%" + _ident(r).upper() + "%",
    lambda r: "<your-" + r.choice(["password", "api-key", "token", "secret"]) + ">",
    lambda r: "<" + _ident(r).upper() + ">",
    lambda r: "{{" + _ident(r) + "}}",
    lambda r: "{" + _ident(r) + "}",
    lambda r: r.choice(["changeme", "change_me", "CHANGEME", "hunter2", "P@ssw0rd!", "secret123", "password1"]),
    lambda r: r.choice("xX*•") * r.randrange(4, 40),
    lambda r: r.choice(["YOUR_API_KEY", "your-api-key-here", "REPLACE_WITH_YOUR_TOKEN", "insert_token_here",
                        "my-secret-password", "example-password", "dummy_token_for_tests", "[REDACTED]"]),
    lambda r: "os.environ['" + _ident(r).upper() + "']",
    lambda r: "process.env." + _ident(r).upper(),
    lambda r: "settings." + _ident(r).upper(),
    lambda r: "get_" + _ident(r) + "()",
)
_DOC_EXAMPLES = (
    "export OPENAI_API_KEY=sk-...", "export ANTHROPIC_API_KEY=sk-ant-...", "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "ghp_" + "x" * 36,
    "sk-proj-your-key-here", "Use `xoxb-your-token-here` for the Slack bot.",
    "postgres://user:password@localhost:5432/db", "https://user:pass@example.com/path",
    "mysql://root:${MYSQL_ROOT_PASSWORD}@db/app", "redis://:$REDIS_PASSWORD@cache:6379",
    "Server=db;User Id=sa;Password=<your-password>;", "Server=db;Password=%DB_PASSWORD%;",
    "Authorization: Bearer $TOKEN", "Authorization: Bearer <token>", "-----BEGIN PRIVATE KEY----- (paste it here)",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
)
_PROSE = (
    "Rotate the {} token every {} days; the new one goes into the vault, never into memory.",
    "The password must be at least {} characters and contain a symbol such as $ or % ({} tries allowed).",
    "password: see the {} entry in 1Password ({} fields)",
    "Tokens expire after {} seconds; refresh {} minutes before.",
    "max_tokens: {} and token_budget = {}",
    "The secret sauce is caching {} of {} requests.",
    "A password like $5-for-{} was rejected by {} policy.",
    "api_key is read from the {} environment variable at start, {} times a day.",
)


def _ident(rng: random.Random) -> str:
    return "_".join(rng.sample(_IDENT_WORDS, rng.randrange(1, 3))) + rng.choice(["", "_password", "_token", "_key"])


def _placeholder(rng: random.Random) -> str:
    name = rng.choice(_SECRET_NAMES)
    value = rng.choice(_PLACEHOLDER_VALUES)(rng)
    return rng.choice(["{} = {}", "{}: {}", "{}={}", '"{}": "{}"']).format(name, value)


LOOK_ALIKES: dict[str, Callable[[random.Random], str]] = {
    "sha1": lambda r: f"Fixed in commit {body(r, 40, HEX)} last week.",
    "sha256": lambda r: r.choice(["sha256: {}", "checksum = {}", "digest {}"]).format(body(r, 64, HEX)),
    "git-short-sha": lambda r: f"see {body(r, r.randrange(7, 13), HEX)} and {body(r, 7, HEX)} for the fix",
    "uuid": lambda r: r.choice(["request id {}", "id: {}", "conversation {}"]).format(
        uuid.UUID(int=r.getrandbits(128))),
    "base64-text": lambda r: r.choice(["data: {}", "payload = {}", "{}"]).format(
        base64.b64encode(" ".join(r.choices(_WORDS, k=r.randrange(2, 8))).encode()).decode()),
    "doc-example": lambda r: r.choice(_DOC_EXAMPLES),
    "placeholder": _placeholder,
    "prose": lambda r: r.choice(_PROSE).format(r.choice(_WORDS), r.randrange(2, 5000)),
}
