"""The typed contract (``letta_ls.contract``), SPEC.md and the two editors agree on every method and error kind.

SPEC.md is the project's contract; it lives in the project's shared folder beside the repository (or in the
repository once it is moved there). A method added to SPEC.md without a contract class, a contract class
SPEC.md does not know, or a method name an editor spells twice fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from letta_ls.contract import BEYOND_SPEC, METHODS, ErrorKind, ParamsError, structure, unstructure
from letta_ls.contract.memory import MemoryWriteParams

ROOT = Path(__file__).resolve().parents[2]
SPEC_CANDIDATES = (ROOT / "SPEC.md", ROOT / "docs" / "SPEC.md", ROOT.parent.parent / "shared" / "SPEC.md",
                   Path("/work/shared/SPEC.md"))
TS_SOURCES = ROOT / "editors" / "vscode" / "src"
LUA_SOURCES = ROOT / "editors" / "nvim" / "lua"
NAME = re.compile(r"`(letta[./][A-Za-z.]+)`")


def spec_text() -> str:
    found = next((p for p in SPEC_CANDIDATES if p.is_file()), None)
    assert found is not None, f"SPEC.md not found in any of {[str(p) for p in SPEC_CANDIDATES]}"
    return found.read_text(encoding="utf-8")


def spec_methods() -> set[str]:
    """Every ``letta/…`` and ``letta.…`` name in the first cell of a table row of SPEC sections 6 and 7."""
    text = spec_text()
    start, end = text.index("## 6. LSP surface"), text.index("## 8. Diagnostic codes")
    names: set[str] = set()
    for line in text[start:end].splitlines():
        if line.startswith("| `"):
            names.update(NAME.findall(line.split("|")[1]))
    return names


def test_every_spec_method_has_a_contract_entry_and_every_entry_is_in_spec():
    spec = spec_methods()
    assert {"letta/memoryWrite", "letta/status", "letta.memory.restore", "letta.unpin"} <= spec, spec  # tables read
    assert spec - set(METHODS) == set(), "methods in SPEC.md without a contract class"
    assert set(METHODS) - spec - BEYOND_SPEC == set(), "contract methods SPEC.md does not name"
    assert BEYOND_SPEC.isdisjoint(spec), "a method SPEC.md now names is still listed as beyond SPEC"


def test_every_method_has_attrs_params_and_every_request_a_result():
    for name, method in METHODS.items():
        assert attrs.has(method.params), name
        assert (method.result is None) == (method.role == "notification"), name
        if method.role == "notification":
            assert name.startswith("letta/"), name
        else:
            assert name.startswith("letta/" if method.role == "request" else "letta."), name


def quoted_uses(folder: Path, suffix: str, name: str) -> int:
    """How often ``name`` is spelled as a string literal in the sources (a Lua ``require`` of a module is not)."""
    count = 0
    for path in folder.rglob(f"*{suffix}"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(rf"""(['"]){re.escape(name)}\1""", text):
            if not text[max(0, match.start() - 8):match.start()].endswith(("require(", "require")):  # f'x' too
                count += 1
    return count


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"letta.applyFix"}))
def test_each_method_name_is_spelled_once_per_editor(name):
    assert quoted_uses(TS_SOURCES, ".ts", name) == 1, f"{name} in editors/vscode/src (protocol.ts only)"
    assert quoted_uses(LUA_SOURCES, ".lua", name) == 1, f"{name} in editors/nvim/lua (api.lua only)"


def test_the_editors_know_exactly_the_contracts_error_kinds():
    kinds = {k.value for k in ErrorKind}
    protocol = (TS_SOURCES / "protocol.ts").read_text(encoding="utf-8")
    ts_list = protocol[protocol.index("export const ERROR_KINDS"):]
    ts_kinds = set(re.findall(r"'([a-z-]+)'", ts_list[:ts_list.index("] as const")]))
    assert ts_kinds == kinds
    api = (LUA_SOURCES / "letta" / "api.lua").read_text(encoding="utf-8")
    lua_block = api[api.index("M.kinds = {"):]
    lua_kinds = set(re.findall(r"= '([a-z-]+)'", lua_block[:lua_block.index("}")]))
    assert lua_kinds == kinds


storable = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@given(uri=storable, text=storable, base=st.none() | storable, reason=st.none() | storable)
def test_params_survive_the_wire_in_camel_case(uri, text, base, reason):
    params = MemoryWriteParams(uri, text, base, reason)
    wire = unstructure(params)
    assert set(wire) == {"uri", "text", "baseVersion", "reason"}
    assert structure(wire, MemoryWriteParams, "letta/memoryWrite") == params


@given(value=st.integers() | st.booleans() | st.lists(st.integers()) | st.floats(allow_nan=False))
def test_a_field_of_the_wrong_type_is_refused_naming_it(value):
    with pytest.raises(ParamsError) as err:
        structure({"uri": "letta-memory://a/b.md", "text": value}, MemoryWriteParams, "letta/memoryWrite")
    assert err.value.kind is ErrorKind.INVALID
    assert "'text' must be str" in err.value.message and "letta/memoryWrite" in err.value.message
