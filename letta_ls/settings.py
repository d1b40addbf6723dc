"""Typed settings (SPEC section 9): attrs classes, structured by cattrs, merged from their sources.

Sources, weakest first: built-in defaults, ``settings.json`` in the home, the editor's
``initializationOptions`` / ``workspace/configuration``, then environment variables for what none of
them set. A bad value raises ``SettingsError`` with the dotted name of the setting, so the server can
show it and keep the previous value. API keys are never settings: only the *name* of the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import attrs
import cattrs

SEVERITIES = ("error", "warning", "info", "hint")
Severity = Literal["error", "warning", "info", "hint"]


class SettingsError(ValueError):
    """A setting has a value of the wrong kind; the message names it."""


def _positive(_inst: Any, attribute: attrs.Attribute, value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be a positive number, not {value}")


def _diagnostics(_inst: Any, _attribute: attrs.Attribute, value: dict[str, str]) -> None:
    for code, level in value.items():
        if level not in (*SEVERITIES, "off"):
            raise ValueError(f"memory.diagnostics.{code} must be one of off, error, warning, info, hint, not {level!r}")


@attrs.define
class ModelSettings:
    provider: Literal["openai", "anthropic", "local"] | None = None
    name: str | None = None
    baseUrl: str | None = None
    apiKeyEnv: str | None = None
    contextWindow: int = attrs.field(default=128_000, validator=_positive)
    maxOutputTokens: int = attrs.field(default=4096, validator=_positive)


@attrs.define
class SleeptimeSettings:
    trigger: Literal["off", "step-count", "compaction-event"] = "step-count"
    stepCount: int = attrs.field(default=25, validator=_positive)
    idleSeconds: float = attrs.field(default=30, validator=_positive)
    merge: Literal["auto", "explicit", "review"] = "auto"


@attrs.define
class MemorySettings:
    systemTokenBudget: int = attrs.field(default=20_000, validator=_positive)
    fileTokenLimit: int = attrs.field(default=4_000, validator=_positive)
    diagnostics: dict[str, str] = attrs.field(factory=dict, validator=_diagnostics)


@attrs.define
class SyncSettings:
    remote: str | None = None


@attrs.define
class Settings:
    home: str | None = None
    agent: str | None = None
    model: ModelSettings = attrs.field(factory=ModelSettings)
    sleeptime: SleeptimeSettings = attrs.field(factory=SleeptimeSettings)
    memory: MemorySettings = attrs.field(factory=MemorySettings)
    sync: SyncSettings = attrs.field(factory=SyncSettings)


_converter = cattrs.Converter(forbid_extra_keys=False)


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if value is None and key in out and not isinstance(out[key], dict):
            continue  # null in a later source means "not set here"
        if isinstance(value, Mapping) and isinstance(out.get(key), dict) and key != "diagnostics":
            out[key] = _deep_merge(out[key], value)
        elif isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def merge_sources(*sources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Raw settings merged the way ``structure_settings`` merges them (later wins)."""
    merged: dict[str, Any] = {}
    for source in sources:
        if source:
            merged = _deep_merge(merged, source)
    return merged


def _describe(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        def explain(err: BaseException, type_: Any) -> str:
            if isinstance(err, ValueError) and not isinstance(err, cattrs.BaseValidationError) and str(err):
                return str(err).replace(" not in literal typing.Literal", " is not one of ")
            return cattrs.v.format_exception(err, type_)

        messages = cattrs.transform_error(exc, path="letta", format_exception=explain)
        return "; ".join(messages)
    return str(exc)


def structure_settings(*sources: Mapping[str, Any] | None) -> Settings:
    """Merge raw JSON-like sources (later wins) over the defaults and validate them."""
    merged: dict[str, Any] = _converter.unstructure(Settings())
    for source in sources:
        if source:
            if not isinstance(source, Mapping):
                raise SettingsError("settings must be a JSON object")
            merged = _deep_merge(merged, source)
    try:
        return _converter.structure(merged, Settings)
    except (cattrs.BaseValidationError, ValueError, TypeError) as exc:
        raise SettingsError(f"invalid setting: {_describe(exc)}") from exc


def unstructure_settings(settings: Settings) -> dict[str, Any]:
    return _converter.unstructure(settings)


def home_from_environment(settings: Settings | None = None) -> str:
    """The home directory: the setting, else ``LETTA_LS_HOME``, else ``~/.letta-ls``."""
    if settings is not None and settings.home:
        return os.path.expanduser(settings.home)
    return os.environ.get("LETTA_LS_HOME") or os.path.expanduser("~/.letta-ls")
