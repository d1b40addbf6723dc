"""Agent presets: the memory a new agent starts with.

A preset seeds ``system/persona.md`` and ``system/human.md`` (and, for some, more ``system/`` files).
The texts ship as package data in ``letta_ls/presets/``, one file per memory file, named
``<preset>.<label>.md`` for ``system/<label>.md``; this module owns the list of presets, their titles
and descriptions, and loading those files. It never writes memory: ``home.py`` commits ``Preset.files``
into a new agent's repository.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from letta_ls.memfs.snapshot import SYSTEM_DIR

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "default"

# name → (title, description); the order is the order shown to users
_CATALOGUE: dict[str, tuple[str, str]] = {
    "default": (
        "Coding agent",
        "A stateful coding assistant that remembers, learns and grows, ready to be shaped by you.",
    ),
    "tutor": (
        "Tutor",
        "A patient coding tutor that helps you learn as you work, with an onboarding checklist.",
    ),
    "terse": (
        "Senior engineer",
        "A senior engineer who answers briefly and precisely.",
    ),
    "blank": (
        "Blank",
        "A nearly empty persona, to write together from scratch.",
    ),
}


class UnknownPresetError(ValueError):
    """No preset has that name; the message lists the valid ones."""

    def __init__(self, name: str, valid: list[str]) -> None:
        self.name = name
        self.valid = valid
        super().__init__(f"unknown preset {name!r}; choose one of: {', '.join(valid)}")


class PresetDataError(RuntimeError):
    """The package data of a preset is missing (a broken installation)."""


@dataclass(frozen=True)
class Preset:
    """A preset: its name, title, one-line description, and memory path → file text."""

    name: str
    title: str
    description: str
    files: dict[str, str]


def _load(name: str, title: str, description: str) -> Preset:
    files: dict[str, str] = {}
    for source in sorted(PRESETS_DIR.glob(f"{name}.*.md")):
        label = source.name[len(name) + 1 : -len(".md")]
        files[f"{SYSTEM_DIR}{label}.md"] = source.read_text(encoding="utf-8")
    if f"{SYSTEM_DIR}persona.md" not in files:
        missing = PRESETS_DIR / f"{name}.persona.md"
        raise PresetDataError(f"the {name!r} preset has no persona ({missing} is missing)")
    return Preset(name, title, description, files)


@functools.cache
def _presets() -> tuple[Preset, ...]:
    return tuple(_load(name, title, description) for name, (title, description) in _CATALOGUE.items())


def list_presets() -> list[Preset]:
    """Every preset, the default first (each call gets its own copies of the files)."""
    return [Preset(p.name, p.title, p.description, dict(p.files)) for p in _presets()]


def preset_names() -> list[str]:
    return list(_CATALOGUE)


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (case and surrounding spaces ignored)."""
    key = str(name).strip().lower()
    for preset in list_presets():
        if preset.name == key:
            return preset
    raise UnknownPresetError(str(name), preset_names())
