"""A note's claims are read line by line, and a line already read is not read again: typing in a long note
costs the lines that changed, and the claims (with their line numbers) are those a fresh read gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.staleness import claims as claims_module
from letta_ls.staleness.claims import claims_in

LINES = [
    "Config lives in `src/config/settings.py`.", "Run `make test` before pushing.", "```sh", "```",
    "pnpm run build", "pytest tests/unit/test_api.py", "For example `src/made/up.py`.", "We use pnpm here.",
    "See [the router](src/app/router.py).", "Plain text: docs/setup.md explains it.", "~~~", "just recipe",
    "cargo test -p core", "go test ./internal/...", "Nothing to see.", "", "# Heading", "`a` and `b/c.py`",
]


class CountingPattern:
    """Stands in for a compiled pattern and counts the lines it is asked about."""

    def __init__(self, pattern) -> None:
        self.pattern, self.calls = pattern, 0

    def search(self, text: str):
        self.calls += 1
        return self.pattern.search(text)


def fresh_claims(text: str):
    claims_module._LINES.clear()
    return claims_in(text)


def test_an_edit_to_one_line_of_a_long_note_reads_that_line_only(monkeypatch):
    body = "\n".join(f"Step {i}: the build keeps logs in `logs/step{i}.txt` for {i} days." for i in range(1000))
    text = f"---\ndescription: Long notes\n---\n{body}\n"
    before = claims_in(text)
    counting = CountingPattern(claims_module._EXAMPLE)
    monkeypatch.setattr(claims_module, "_EXAMPLE", counting)
    edited = text.replace("Step 500:", "Step 500 (edited):")
    after = claims_in(edited)
    assert counting.calls <= 2
    assert len(after) == len(before) == 1000
    assert [(c.line, c.value) for c in after] == [(c.line, c.value) for c in fresh_claims(edited)]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=30), st.lists(st.sampled_from(LINES), max_size=30))
def test_claims_read_with_lines_seen_before_are_those_of_a_fresh_read(first, second):
    first_text = "---\ndescription: x\n---\n" + "\n".join(first) + "\n"
    second_text = "---\ndescription: x\n---\n" + "\n".join(second + first) + "\n"
    claims_in(first_text)  # lines seen before, at other line numbers and inside or outside a fence
    warm = claims_in(second_text)
    assert warm == fresh_claims(second_text)
