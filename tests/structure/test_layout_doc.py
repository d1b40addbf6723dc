"""``docs/layout.md`` matches the tree: every package of ``letta_ls`` is named there, and every path and module
it names exists (a module named on a package's line is looked up in that package)."""

from __future__ import annotations

import re

from tests.structure.modules import PACKAGE, ROOT, packages

LAYOUT = ROOT / "docs" / "layout.md"


def _entries() -> list[str]:
    """The page's list items, each joined onto one line."""
    items: list[str] = []
    for line in LAYOUT.read_text(encoding="utf-8").splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
    return items


def _named_paths() -> set[str]:
    return {name.rstrip("/") for name in re.findall(r"`(letta_ls/[^`]*)`", LAYOUT.read_text(encoding="utf-8"))}


def test_every_package_of_letta_ls_is_named_in_the_layout_page():
    named = _named_paths()
    missing = [package for package in packages() if package not in named]
    assert missing == [], f"packages docs/layout.md does not name: {missing}"


def test_every_path_the_layout_page_names_exists():
    gone = sorted(path for path in _named_paths() if not (ROOT / path).exists())
    assert gone == [], f"docs/layout.md names paths that do not exist: {gone}"


def test_every_module_named_on_a_package_line_is_in_that_package():
    gone = []
    for item in _entries():
        first = re.match(r"`(letta_ls/[^`]*/)`", item)
        if first is None:
            continue
        folder = ROOT / first.group(1)
        for module in re.findall(r"`([a-z_]+\.py)`", item):
            if not (folder / module).exists():
                gone.append(f"{first.group(1)}{module}")
    assert gone == [], f"docs/layout.md names modules that do not exist: {gone}"


def test_the_layout_page_names_every_top_level_module():
    named = _named_paths()
    modules = sorted(f"letta_ls/{path.name}" for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
    assert [module for module in modules if module not in named] == []
