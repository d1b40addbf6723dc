"""The modules of ``letta_ls`` read as syntax trees, for the tests that check the package's shape: no import
cycle, no POSIX-only import outside a platform guard, a layout page that names every package. Nothing is
imported: the checks hold for code that would fail to import on another platform."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "letta_ls"


@dataclass(frozen=True)
class Module:
    name: str  # dotted: letta_ls.init.history.codex
    path: Path
    is_package: bool

    @property
    def package(self) -> list[str]:
        """The package a relative import in this module starts from."""
        parts = self.name.split(".")
        return parts if self.is_package else parts[:-1]

    def tree(self) -> ast.Module:
        return ast.parse(self.path.read_text(encoding="utf-8"), str(self.path))


def modules() -> dict[str, Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found[".".join(parts)] = Module(".".join(parts), path, is_package)
    return found


def packages() -> list[str]:
    """Every package under ``letta_ls`` (a folder with an ``__init__.py``), as a path: ``letta_ls/init/history``."""
    return sorted(str(path.parent.relative_to(ROOT)) for path in PACKAGE.rglob("__init__.py"))


def import_targets(module: Module, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """The dotted names an import statement loads. ``from P import x`` runs ``P`` (its ``__init__``) and, when
    ``x`` is a submodule, ``P.x`` too: both count, as Python runs both."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
        return
    if node.level:
        base_parts = module.package[: len(module.package) - node.level + 1]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    yield base
    for alias in node.names:
        yield f"{base}.{alias.name}"


def is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def is_platform_guard(test: ast.expr) -> bool:
    """``if sys.platform ...`` / ``if os.name ...`` (or a negation or combination of them)."""
    text = ast.unparse(test)
    return "sys.platform" in text or "os.name" in text


def imports_at_load(module: Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports that run when the module is loaded: module level, inside ``if``/``try`` blocks, but not
    under ``if TYPE_CHECKING`` nor inside functions or classes' methods."""

    def walk(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
        for node in body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node
            elif isinstance(node, ast.If):
                if not is_type_checking(node.test):
                    yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
                for handler in node.handlers:
                    yield from walk(handler.body)
                yield from walk(node.orelse)
                yield from walk(node.finalbody)
            elif isinstance(node, (ast.With, ast.ClassDef)):
                yield from walk(node.body)

    yield from walk(module.tree().body)


def unguarded_imports(module: Module) -> Iterator[tuple[int, str]]:
    """Every import anywhere in the module (functions included) that is not inside an ``if`` testing
    ``sys.platform`` or ``os.name``: (line, dotted name)."""

    def walk(node: ast.AST, guarded: bool) -> Iterator[tuple[int, str]]:
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not guarded:
            for target in import_targets(module, node):
                yield node.lineno, target
        if isinstance(node, ast.If) and is_platform_guard(node.test):
            for child in [*node.body, *node.orelse]:
                yield from walk(child, True)
            return
        for child in ast.iter_child_nodes(node):
            yield from walk(child, guarded)

    yield from walk(module.tree(), False)
