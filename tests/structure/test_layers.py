"""The layers of ARCHITECTURE.md, as the imports really are: a module imports only from its own layer or the
layers below it (imports inside functions included), and nothing outside the two adapters imports pygls or
lsprotocol. A feature that needs something from a layer above it is in the wrong place."""

from __future__ import annotations

from tests.structure.modules import modules, unguarded_imports

# lowest first; a name is a package or a top-level module of letta_ls
LAYERS: list[set[str]] = [
    {"settings", "secret_scan", "config_problems", "contract", "__init__"},  # foundations: import nothing above
    {"atomic_files", "file_locks", "memfs"},  # storage
    {"doctor"},  # checks
    {"staleness"},  # checks against the workspace (the doctor's findings and fixes)
    {"home", "memory_fixes", "session", "agent_import"},  # the session and its core services
    {"agent", "search"},  # features: the agent's turn, tools, conversations, and their search index
    {"subagents"},  # features: runs beside the agent, merged back
    {"init", "sync"},  # features built on the subagents
    {"server", "cli", "__main__"},  # adapters
]
ADAPTERS = {"server", "cli", "__main__"}


def _part(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _rank(part: str) -> int:
    return next(rank for rank, layer in enumerate(LAYERS) if part in layer)


def test_every_package_of_letta_ls_has_a_layer():
    parts = {_part(name) for name in modules()}
    assert [part for part in sorted(parts) if not any(part in layer for layer in LAYERS)] == []


def test_no_module_imports_from_a_layer_above_its_own():
    upward = []
    for name, module in modules().items():
        own = _rank(_part(name))
        for line, target in unguarded_imports(module):
            is_ours = target.startswith("letta_ls.") and target != "letta_ls.__version__"
            if is_ours and _rank(_part(target)) > own:
                upward.append(f"{module.path.name}:{line} ({name}) imports {target}")
    assert upward == []


def test_only_the_adapters_import_pygls_or_lsprotocol():
    found = [f"{name}: {target}" for name, module in modules().items() if _part(name) not in ADAPTERS
             for _, target in unguarded_imports(module) if target.split(".")[0] in {"pygls", "lsprotocol"}]
    assert found == []
