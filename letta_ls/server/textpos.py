"""Columns between the doctor's code points and the client's position encoding, for one line of text.

The doctor and the link scanner count columns in Python characters (code points); LSP clients count
UTF-16 code units (the default, VS Code) or UTF-8 bytes (Neovim 0.11 negotiates it). Converting from
the exact line text is the only way to get both right for text such as ``Café ☕ 日本 😀``. Pure
functions, so every feature module converts the same way.
"""

from __future__ import annotations

from typing import Any


def _kind(encoding: Any) -> str:
    """``utf-8``, ``utf-16`` or ``utf-32``; anything unknown (or None) is LSP's default, UTF-16."""
    value = getattr(encoding, "value", encoding)
    return value if value in ("utf-8", "utf-32") else "utf-16"


def _char_units(char: str, kind: str) -> int:
    if kind == "utf-32":
        return 1
    point = ord(char)
    if kind == "utf-8":
        return 1 if point < 0x80 else 2 if point < 0x800 else 3 if point < 0x10000 else 4
    return 2 if point >= 0x10000 else 1


def to_client_units(line_text: str, column: int, encoding: Any) -> int:
    """The client's character offset of code-point ``column`` in ``line_text`` (clamped to the line)."""
    column = max(0, min(column, len(line_text)))
    kind = _kind(encoding)
    if kind == "utf-32":
        return column
    return sum(_char_units(char, kind) for char in line_text[:column])


def from_client_units(line_text: str, character: int, encoding: Any) -> int:
    """The code-point column of the client's ``character`` offset in ``line_text``.

    An offset that falls inside a character (half a surrogate pair, a byte inside a UTF-8 sequence)
    maps to that character's start; one past the end of the line maps to the line's end.
    """
    kind = _kind(encoding)
    if character <= 0:
        return 0
    if kind == "utf-32":
        return min(character, len(line_text))
    units = 0
    for index, char in enumerate(line_text):
        units += _char_units(char, kind)
        if units > character:
            return index
        if units == character:
            return index + 1
    return len(line_text)
