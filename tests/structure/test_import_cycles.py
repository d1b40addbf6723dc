"""No import cycle in ``letta_ls``: a module never needs, while it loads, a module that needs it back (its own
package's ``__init__`` included). Such a cycle works only as long as the imports keep their order, and makes
a module impossible to move or test alone."""

from __future__ import annotations

from tests.structure.modules import import_targets, imports_at_load, modules


def _graph() -> dict[str, set[str]]:
    found = modules()
    graph: dict[str, set[str]] = {}
    for name, module in found.items():
        targets = {target for node in imports_at_load(module) for target in import_targets(module, node)}
        graph[name] = {target for target in targets if target in found and target != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target):], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def test_no_module_of_letta_ls_is_part_of_an_import_cycle():
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_the_cycle_finder_finds_a_cycle_through_a_package_init():
    graph = {"p": {"p.a"}, "p.a": {"p"}, "q": set()}
    assert _cycles(graph) == [["p", "p.a", "p"]]
