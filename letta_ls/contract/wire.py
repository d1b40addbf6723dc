"""One cattrs converter for the whole contract: snake_case in Python, camelCase on the wire (SPEC's names).

Structuring is strict where cattrs is lenient (it would turn ``{"uri": 42}`` into ``"42"``): a string is a
JSON string the core can store (no NUL, no lone surrogate), an integer is not a boolean. A failure becomes one
``ParamsError`` whose message names the wire field, so the server answers InvalidParams (-32602) saying what
to send instead. Unstructuring writes every field (``null`` included, as the editors expect) except those
marked ``omit_if_none`` (SPEC's optional keys such as a finding's ``fix``).

Modelled on letta-ls' ``settings.py`` and jedi-language-server's ``initialization_options.py``.
"""

from __future__ import annotations

import json
import typing
from typing import Any, Literal, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from letta_ls.contract.errors import ContractError, ErrorKind

T = TypeVar("T")
OMIT_IF_NONE = "omit_if_none"


OMITTED_WHEN_NONE = {OMIT_IF_NONE: True}
"""Field metadata: the key is left off the wire when the value is None (SPEC's optional keys)."""


def at_most(chars: int) -> dict[str, int]:
    """Field metadata: a text longer than ``chars`` is refused (a reason becomes a commit message)."""
    return {"max_chars": chars}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class ParamsError(ContractError):
    """Parameters that do not fit the method's params class; the message names the field."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorKind.INVALID, message)


class _FieldProblem(ValueError):
    """Raised by the strict hooks; the message reads after the field name ("must be str, not int")."""


def _describe_value(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


def _storable(value: str) -> str:
    if "\x00" in value:
        raise _FieldProblem(f"contains a NUL character (position {value.index(chr(0))}); memory holds text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _FieldProblem(f"holds a lone surrogate U+{ord(value[exc.start]):04X} at position {exc.start}: "
                            "it is not valid Unicode") from None
    return value


def _strict_str(value: Any, _type: Any) -> str:
    if not isinstance(value, str):
        raise _FieldProblem(f"must be str (text), not {_describe_value(value)} (wrong type)")
    return _storable(value)


def _strict_int(value: Any, _type: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FieldProblem(f"must be an integer, not {_describe_value(value)} (wrong type)")
    return value


def _strict_float(value: Any, _type: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _FieldProblem(f"must be a number, not {_describe_value(value)} (wrong type)")
    return float(value)


def _strict_bool(value: Any, _type: Any) -> bool:
    if not isinstance(value, bool):
        raise _FieldProblem(f"is true or false, not {_shown(value)} (wrong type)")
    return value


def _shown(value: Any) -> str:
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _literal_hook(type_: Any) -> Any:
    allowed = typing.get_args(type_)

    def structure(value: Any, _type: Any) -> Any:
        if value not in allowed or isinstance(value, bool):
            choices = " or ".join(json.dumps(a) for a in allowed)
            raise _FieldProblem(f"is {choices}, not {_shown(value)}")
        return value

    return structure


converter = cattrs.Converter(detailed_validation=True)
converter.register_structure_hook(str, _strict_str)
converter.register_structure_hook(int, _strict_int)
converter.register_structure_hook(float, _strict_float)
converter.register_structure_hook(bool, _strict_bool)
converter.register_structure_hook_func(lambda t: typing.get_origin(t) is Literal,
                                       lambda value, t: _literal_hook(t)(value, t))
converter.register_structure_hook(Any, lambda value, _t: value)


def _strict_list(value: Any, type_: Any) -> list[Any]:
    """A list must be a JSON array: cattrs would take a string as the list of its characters."""
    if not isinstance(value, list):
        raise _FieldProblem(f"must be a list, not {_describe_value(value)} (wrong type)")
    (item,) = typing.get_args(type_) or (Any,)
    return [converter.structure(element, item) for element in value]


converter.register_structure_hook_func(lambda t: typing.get_origin(t) is list, _strict_list)


def _structure_factory(cls: type) -> Any:
    overrides = {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}
    return make_dict_structure_fn(cls, converter, _cattrs_detailed_validation=True, **overrides)


def _unstructure_factory(cls: type) -> Any:
    fields = [(a.name, camel(a.name), bool(a.metadata.get(OMIT_IF_NONE))) for a in attrs.fields(cls)]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, wire, omit in fields:
            value = getattr(obj, name)
            if value is None and omit:
                continue
            out[wire] = converter.unstructure(value)
        return out

    return unstructure


converter.register_structure_hook_factory(attrs.has, _structure_factory)
converter.register_unstructure_hook_factory(attrs.has, _unstructure_factory)


def _problems(exc: BaseException, path: str) -> list[str]:
    """Each leaf failure as "'field' must be …", the field in wire names (``entries[2].path``)."""
    if isinstance(exc, cattrs.ClassValidationError):
        noted, plain = exc.group_exceptions()
        found: list[str] = []
        for sub, note in noted:
            name = camel(note.name) if isinstance(note.name, str) else str(note.name)
            found += _problems(sub, f"{path}.{name}" if path else name)
        return found + [p for sub in plain for p in _problems(sub, path)]
    if isinstance(exc, cattrs.IterableValidationError):
        noted_items, plain_items = exc.group_exceptions()
        found = []
        for sub, item in noted_items:
            found += _problems(sub, f"{path}[{item.index}]")
        return found + [p for sub in plain_items for p in _problems(sub, path)]
    if isinstance(exc, KeyError):
        return [f"missing parameter {path!r}"]
    if isinstance(exc, _FieldProblem):  # "depth is "standard" or "deep"", "'line' must be an integer"
        return [f"{path} {exc}" if str(exc).startswith("is ") else f"{path!r} {exc}"]
    if isinstance(exc, cattrs.BaseValidationError):  # e.g. a union: say the first reason
        return [f"{path!r} " + "; ".join(str(e) for e in exc.exceptions)]
    return [f"{path!r}: {exc}"]


def structure(data: Any, cls: type[T], method: str, usage: str | None = None) -> T:
    """``data`` (the JSON params) as ``cls``; ``ParamsError`` naming the field and the method otherwise."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ParamsError(f"{method} takes a JSON object argument, not {_describe_value(data)}")
    try:
        value = converter.structure(data, cls)
    except (cattrs.BaseValidationError, _FieldProblem, KeyError) as exc:
        problems = _problems(exc, "")
        detail = "; ".join(problems) or str(exc)
        raise ParamsError(f"{method}: {detail}" + (f". {usage}" if usage else "")) from None
    for field in attrs.fields(cls):
        limit = field.metadata.get("max_chars")
        text = getattr(value, field.name)
        if limit is not None and isinstance(text, str) and len(text) > limit:
            raise ParamsError(f"{method}: parameter {camel(field.name)!r} is {len(text):,} characters long; "
                              f"at most {limit:,}")
    return value


def unstructure(value: Any) -> Any:
    """A result or notification as the JSON the editors read."""
    return converter.unstructure(value)
