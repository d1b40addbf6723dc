"""Counting a long text by blocks cut at line starts where no BPE merge can cross (issue 14): the sum of
the blocks' counts is the count of the whole, and a text that differs in one place is recounted only there."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from letta_ls.memfs import tokens
from letta_ls.memfs.tokens import ENCODING, TokenCounter, get_token_counter

# the characters around which o200k's pre-tokeniser decides where a token may end
_PIECES = ["a", "Z", "é", "日本", "7", "42", " ", "  ", "\t", "\n", "\r\n", "\r", "/", "<", ">", "</x>", ".", "'s",
           "├── ", "│   ", "└── ", "…", "\u2028", "\x85", "\x0b", "\u3000", "${MEMORY_DIR}/", "<projection>"]
_LINE = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)
_TEXT = st.lists(_LINE, min_size=1, max_size=40).map("\n".join)


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_the_count_by_blocks_is_the_count_of_the_whole(text: str) -> None:
    counter = get_token_counter()
    assert counter.count_by_blocks(text, min_chars=0, every=1) == counter.count(text)
    assert counter.count_by_blocks(text, min_chars=0, every=3) == counter.count(text)


class RecordingBackend:
    """The real tokenizer, remembering each text it is given."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def count(self, text: str) -> int:
        self.texts.append(text)
        return self.inner.count(text)  # type: ignore[attr-defined]


def test_a_text_changed_in_one_place_is_recounted_only_around_the_change() -> None:
    tokens.clear_block_counts()
    backend = RecordingBackend(get_token_counter()._backend)
    counter = TokenCounter(ENCODING, True, backend)
    lines = [f"<note-{i}>\n  <projection>$MEMORY_DIR/reference/note-{i}.md</projection>\n  Fact {i} about the build."
             f"\n</note-{i}>" for i in range(2000)]
    text = "\n".join(lines)
    whole = get_token_counter().count(text)
    assert counter.count_by_blocks(text) == whole
    backend.texts.clear()
    lines[1000] = lines[1000].replace("Fact 1000", "Fact one thousand, changed")
    changed = "\n".join(lines)
    assert counter.count_by_blocks(changed) == get_token_counter().count(changed)
    counted = sum(len(t) for t in backend.texts)
    assert counted < len(changed) // 20, f"recounted {counted:,} of {len(changed):,} characters"


def test_the_estimate_is_counted_whole() -> None:
    counter = get_token_counter(exact=False)
    text = "a\n" * 50_000
    assert counter.count_by_blocks(text) == counter.count(text)
