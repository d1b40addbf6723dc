"""``find_secrets`` and the ``secret`` check: real formats are caught with exact columns; key names,
placeholders, environment references and ordinary prose never are.

Every secret-shaped value here is generated from a seeded RNG at run time, so no credential-looking
literal sits in the source.
"""

from __future__ import annotations

import base64
import random
import re
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.doctor import find_secrets
from letta_ls.doctor.checks.secrets import looks_random, shannon_entropy
from tests.doctor.memory_fixtures import HEALTHY

RNG = random.Random(20240611)
B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def rand(n: int, alphabet: str = B62) -> str:
    return "".join(RNG.choice(alphabet) for _ in range(n))


def rand_mixed(n: int, alphabet: str = B62) -> str:
    """Random, but with at least one digit, upper and lower letter (as every real key of that length has)."""
    while True:
        value = rand(n, alphabet)
        if any(c.isdigit() for c in value) and any(c.isupper() for c in value) and any(c.islower() for c in value):
            return value


# (kind, text, the exact secret inside the text)
def _cases() -> list[tuple[str, str, str]]:
    cases = []

    def add(kind: str, template: str, secret: str) -> None:
        cases.append((kind, template.format(secret), secret))

    add("openai-key", "Old key: {} (revoked?)", "sk-" + rand_mixed(20) + "T3BlbkFJ" + rand_mixed(20))
    add("openai-key", "OPENAI_API_KEY={}", "sk-proj-" + rand_mixed(120, B62 + "_-"))
    add("openai-key", "deepseek key {}", "sk-" + rand(32, HEX))
    add("anthropic-key", "export ANTHROPIC_API_KEY={}", "sk-ant-api03-" + rand_mixed(93, B62 + "_-") + "AA")
    add("aws-access-key", "aws_access_key_id = {}", "AKIA" + rand(16, string.ascii_uppercase + string.digits))
    add("aws-secret-key", "aws_secret_access_key = {}", rand_mixed(40, B62 + "/+"))
    add("github-token", "git clone with {}", "ghp_" + rand_mixed(36))
    add("github-token", "token: {}", "github_pat_" + rand_mixed(22) + "_" + rand_mixed(59))
    add("gitlab-token", "GITLAB={}", "glpat-" + rand_mixed(20))
    slack = "xoxb-" + rand(12, string.digits) + "-" + rand(13, string.digits) + "-" + rand_mixed(24)
    add("slack-token", "bot: {}", slack)
    add("stripe-key", "stripe {}", "sk_live_" + rand_mixed(24))
    add("google-api-key", "maps key {}", "AIza" + rand_mixed(35, B62 + "_-"))
    add("huggingface-token", "HF_TOKEN={}", "hf_" + rand_mixed(34))
    add("jwt", "cookie session={}", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0." + rand_mixed(43, B62 + "_-"))
    add("url-credentials", "DATABASE_URL=postgres://app:{}@db.internal:5432/app", rand_mixed(18))
    add("url-credentials", "redis://:{}@cache:6379/0", rand_mixed(16))
    add("credential", 'db_password = "{}"', rand_mixed(20, B62 + "!@#^&*"))
    add("credential", '{{"api_key": "{}"}}', rand(32, HEX))
    add("credential", "client_secret: {}", rand_mixed(28, B62 + "_-"))
    add("credential", "PGPASSWORD={} psql", rand_mixed(12, B62 + "!#&"))
    add("bearer-token", "curl -H 'Authorization: Bearer {}'", rand_mixed(40, B62 + "._-"))
    basic = base64.b64encode(b"deploy:" + rand_mixed(14).encode()).decode()
    add("basic-auth", "Authorization: Basic {}", basic)
    return cases


CASES = _cases()


@pytest.mark.parametrize(("kind", "text", "secret"), CASES, ids=[f"{k}-{i}" for i, (k, _t, _s) in enumerate(CASES)])
def test_real_formats_are_found_with_exact_span(kind, text, secret):
    (match,) = find_secrets(text)
    assert match.kind == kind
    assert match.line == 0 and match.end_line is None
    assert text[match.column : match.end_column] == secret


def test_private_key_block_spans_begin_to_end():
    body = "\n".join(rand(64, B62 + "+/") for _ in range(6))
    text = f"deploy key:\n-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\nafter\n"
    (match,) = find_secrets(text)
    assert match.kind == "private-key"
    assert (match.line, match.column) == (1, 0)
    assert match.end_line == 8 and match.last_line == 8
    assert match.end_column == len("-----END OPENSSH PRIVATE KEY-----")


def test_private_key_in_json_with_escaped_newlines():
    key = rand(64, B62 + "+/")
    text = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + key + '\\n-----END PRIVATE KEY-----\\n"}'
    assert [m.kind for m in find_secrets(text)] == ["private-key"]


def test_columns_count_code_points_after_non_ascii_text():
    secret = "ghp_" + rand_mixed(36)
    text = f"Café — 日本語 notes\r\nClé 🔑 : {secret} ici\n"
    (match,) = find_secrets(text)
    assert match.line == 1
    assert match.column == len("Clé 🔑 : ")
    assert text.splitlines()[1][match.column : match.end_column] == secret


def test_several_secrets_in_order():
    a, b = "ghp_" + rand_mixed(36), "AKIA" + rand(16, string.ascii_uppercase + string.digits)
    text = f"first {a}\n\nsecond {b} and again {a}\n"
    assert [(m.line, m.kind) for m in find_secrets(text)] == [(0, "github-token"), (2, "aws-access-key"),
                                                             (2, "github-token")]


NOT_SECRETS = [
    "Set OPENAI_API_KEY in your shell before running the summariser.",
    "export OPENAI_API_KEY=sk-...",
    "export OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "export ANTHROPIC_API_KEY=sk-ant-...",
    "api_key = os.environ['OPENAI_API_KEY']",
    'client = OpenAI(api_key=os.environ["OPENAI_API_KEY"])',
    "OPENAI_API_KEY=$OPENAI_API_KEY",
    "token=${GITHUB_TOKEN}",
    "client_secret: ${{ secrets.CLIENT_SECRET }}",
    "secret_key_base: <%= ENV['SECRET_KEY_BASE'] %>",
    "api_key: YOUR_API_KEY",
    "token: <your-key>",
    "password: changeme",
    "password: hunter2",
    "password: P@ssw0rd!",
    "password = get_password()",
    "api_key=settings.OPENAI_API_KEY",
    "token = request.headers['X-Token']",
    "Example AWS key id from the docs: AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "Fixed in commit 3f9a2c1d4e5b6a7980f1e2d3c4b5a6978e0d1f2a last week.",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "max_tokens: 4096",
    "tokenizer: o200k_base",
    "token_budget = 20000",
    "secret_sauce: caching",
    "postgres://postgres:postgres@localhost/dev",
    "postgres://ledger:${PGPASSWORD}@localhost:5433/ledger",
    "https://user:pass@example.com/path",
    "git@github.com:letta-ai/letta-code.git",
    "http://localhost:8080/@scope/pkg",
    "sk-learn-compatible-estimators-for-pipelines",
    "The risk-assessment-framework-for-payments doc",
    "the token: a one-time value from the settings page",
    "-----BEGIN PRIVATE KEY----- (paste the key here)",
    "Authorization: Bearer $TOKEN",
    "Authorization: Bearer <token>",
    "model: gpt-4o-2024-08-06",
    "Use `xoxb-your-token-here` for the Slack bot.",
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "keyword: memory",
    "monkey: 0123456789abcdefABCDEF",
    "The password: see 1Password, vault 'Payments'.",
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_names_placeholders_and_references_are_not_secrets(text):
    assert find_secrets(text) == []


def test_the_healthy_memory_has_no_secrets():
    for path, content in HEALTHY.items():
        if isinstance(content, str):
            assert find_secrets(content) == [], path


def test_entropy_and_randomness_helpers():
    assert shannon_entropy("") == 0.0
    assert shannon_entropy("aaaa") == 0.0
    assert shannon_entropy("abcd") == pytest.approx(2.0)
    assert looks_random(rand_mixed(24))
    assert not looks_random("o200k_base")
    assert not looks_random("correcthorsebatterystaple")
    assert not looks_random("Ubuntu22.04LTS")


WORDS = st.sampled_from([
    "the", "user", "prefers", "token", "password", "secret", "key", "api_key", "OPENAI_API_KEY", "=", ":", "sk-...",
    "sk-xxxx", "$TOKEN", "${TOKEN}", "<your-key>", "Bearer", "Basic", "https://example.com", "AKIA", "ghp_",
    "eyJ", "4096", "o200k_base", "-----BEGIN", "PRIVATE", "KEY-----", "Café", "日本語", "\n", "`", "\"", "'",
    "always", "run", "make", "test", "postgres://", "@", "localhost", "README.md", "[[reference/api.md]]",
])


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=60).map(" ".join))
def test_no_false_alarm_on_prose_made_of_tricky_words(text):
    assert find_secrets(text) == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_never_raises_and_spans_are_inside_the_text(text):
    lines = re.split(r"\r\n|\r|\n", text)
    for match in find_secrets(text):
        assert 0 <= match.line <= match.last_line < len(lines)
        assert match.column >= 0
        assert match.end_column <= len(lines[match.last_line])


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200), st.sampled_from(CASES))
def test_a_secret_is_found_whatever_surrounds_it(prefix, case):
    _kind, text, secret = case
    full = prefix + "\n" + text + "\n"
    lines = re.split(r"\r\n|\r|\n", full)
    assert any(lines[m.line][m.column : m.end_column] == secret for m in find_secrets(full) if m.end_line is None)


def test_the_secret_check_reports_and_offers_redaction(run_audit):
    secret = "sk-proj-" + rand_mixed(60, B62 + "_-")
    files = {**HEALTHY, "reference/ops.md": f"---\ndescription: Ops notes.\n---\nCafé — key: {secret}\n"}
    (finding,) = run_audit(files).findings
    assert (finding.code, finding.severity, finding.line) == ("secret", "error", 3)
    assert (finding.column, finding.end_column) == (len("Café — key: "), len("Café — key: ") + len(secret))
    assert finding.fix is not None and finding.fix.kind == "redact-secret"
    assert secret not in str(finding.to_json())  # the value itself is never echoed
    assert "OpenAI" in finding.message


def test_secrets_in_non_markdown_files_are_found_too(codes):
    files = {**HEALTHY, "skills/release-notes/scripts/publish.sh": f"TOKEN=ghp_{rand_mixed(36)}\n"}
    assert codes(files) == [("secret", "skills/release-notes/scripts/publish.sh")]
