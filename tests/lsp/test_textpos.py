"""``server/textpos.py``: columns between code points and the client's encoding (UTF-16, UTF-8, UTF-32)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lsprotocol import types

from letta_ls.server.textpos import from_client_units, to_client_units

LINE = "Café ☕ 日本 😀 x"  # é: 2 UTF-8 bytes, ☕ and 日本: 3 each, 😀: 4 bytes and 2 UTF-16 units
ENCODINGS = [types.PositionEncodingKind.Utf8, types.PositionEncodingKind.Utf16, types.PositionEncodingKind.Utf32]
CODEC = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def client_length(text: str, encoding) -> int:
    codec, unit = CODEC[encoding.value]
    return len(text.encode(codec)) // unit


@pytest.mark.parametrize(("encoding", "expected"), [
    (types.PositionEncodingKind.Utf8, 22), (types.PositionEncodingKind.Utf16, 13),
    (types.PositionEncodingKind.Utf32, 12), ("utf-8", 22), (None, 13), ("utf-7", 13),
])
def test_the_column_of_the_x_in_each_encoding(encoding, expected):
    column = LINE.index("x")
    assert to_client_units(LINE, column, encoding) == expected
    assert from_client_units(LINE, expected, encoding) == column


def test_an_offset_inside_a_character_maps_to_its_start():
    emoji = LINE.index("😀")
    utf16_start = to_client_units(LINE, emoji, "utf-16")
    assert from_client_units(LINE, utf16_start + 1, "utf-16") == emoji  # between the two surrogates
    utf8_start = to_client_units(LINE, emoji, "utf-8")
    assert [from_client_units(LINE, utf8_start + k, "utf-8") for k in range(4)] == [emoji] * 4


def test_columns_are_clamped_to_the_line():
    assert to_client_units("abc", -5, "utf-16") == 0 and to_client_units("abc", 99, "utf-8") == 3
    assert from_client_units("abc", -1, "utf-16") == 0 and from_client_units("abc", 99, "utf-32") == 3
    assert from_client_units("😀", 99, "utf-16") == 1


@given(text=st.text(max_size=40), data=st.data())
def test_every_column_survives_the_round_trip_and_counts_what_the_codec_counts(text, data):
    column = data.draw(st.integers(0, len(text)))
    for encoding in ENCODINGS:
        units = to_client_units(text, column, encoding)
        assert units == client_length(text[:column], encoding)
        assert from_client_units(text, units, encoding) == column
