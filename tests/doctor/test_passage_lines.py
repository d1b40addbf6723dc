"""The duplicate check's line normalisation takes a short cut for plain ASCII text with single spaces; it gives
what collapsing every line's whitespace gives, for any text (issue 14)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from letta_ls.doctor.checks.passages import normalised_lines

PIECES = [" ", "  ", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\u00a0", "\u2003", "\n", "a", "word", "-", "é"]


@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=20))
def test_normalised_lines_collapse_whitespace_as_split_and_join(pieces):
    body = "".join(pieces)
    assert normalised_lines(body) == [" ".join(line.split()) for line in body.split("\n")]


def test_plain_text_with_a_space_at_an_end():
    assert normalised_lines(" lead\ntrail \n \nmid dle") == ["lead", "trail", "", "mid dle"]
