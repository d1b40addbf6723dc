"""What Letta Code's memory pre-commit hook refuses, as pure functions over paths and text.

Every commit Letta Code makes to an agent's memory goes through a hook its bundle generates
(``validateMemoryFileFrontmatter`` for each memory file, ``validateMemoryTreeConstraints`` with the
limits of ``.memfs.config.json`` for the tree). A memory that hook refuses cannot be carried back to
Letta Code, so the doctor reports these refusals as errors and the write guard refuses an agent change
that introduces one. This module is a port of those functions (Letta Code 0.32.18, checked against the
real hook by ``tests/lettacode``); it knows nothing of the doctor or of LSP.

Two layouts: the legacy one (``system/`` in the prompt, ``reference/``, anything else unchecked) and
MemFS v2, which a root ``MEMORY.md`` index switches on (fresh Letta Code agents get the ``root-marker``
layout policy): every projected ``.md`` file then has exactly ``name`` and ``description``, folders
need their own ``MEMORY.md``, and the default limits apply. The hook's ``read_only`` rules compare a
change with ``HEAD`` (the agent may not set, change or remove it); letta-ls enforces them on the
agent's writes itself, so they are not rules about a memory at rest and are not here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONFIG_PATH = ".memfs.config.json"
INDEX_NAME = "MEMORY.md"
V2_DEFAULTS: dict[str, Any] = {"version": 1, "maxDepth": 2, "maxFileCharacters": 20000,
                               "maxCoreMemoryCharacters": 65536}
LEGACY_KEYS = ("description", "read_only", "limit")
V2_KEYS = ("name", "description")
_CONFIG_KEYS = {"version", "maxDepth", "maxFileCharacters", "maxCoreMemoryCharacters", "fileCharacterLimits"}
_LEGACY_CHECKED = re.compile(r"^(?:memory/)?(?:system|reference)/.*\.md$")
_LEGACY_FLAT_SKILL = re.compile(r"^(?:memory/)?skills/[^/]+\.md$")
_V2_FLAT_SKILL = re.compile(r"^skills/[^/]+\.md$")
_MAX_SAFE_INT = 2**53 - 1


@dataclass(frozen=True)
class Refusal:
    """One reason Letta Code's hook refuses a commit. ``line`` is 0-based (0 when about the whole file);
    ``kind`` is a stable word the doctor maps to its codes; ``message`` is the hook's own text."""

    path: str
    kind: str
    message: str
    line: int = 0
    key: str | None = None


def is_v2(paths: Mapping[str, Any] | set[str] | frozenset[str]) -> bool:
    """MemFS v2: a root ``MEMORY.md`` index (with the layout policy fresh Letta Code agents get)."""
    return INDEX_NAME in paths


def flat_skill_refused(path: str, v2: bool) -> bool:
    """``skills/x.md`` (and, in the legacy layout, the old ``memory/skills/x.md``): skills are folders."""
    return bool((_V2_FLAT_SKILL if v2 else _LEGACY_FLAT_SKILL).match(path))


def frontmatter_checked(path: str, paths: Mapping[str, Any] | set[str] | frozenset[str], v2: bool) -> bool:
    """Whether the hook validates this file's frontmatter: ``system/`` and ``reference/`` (also under the
    old ``memory/`` prefix) in the legacy layout; in v2 every ``.md`` outside ``skills/`` whose folders
    all have a ``MEMORY.md``."""
    if not v2:
        return bool(_LEGACY_CHECKED.match(path))
    if not path.endswith(".md") or path.startswith("skills/"):
        return False
    parts = path.split("/")[:-1]
    return all("/".join(parts[: i + 1]) + "/" + INDEX_NAME in paths for i in range(len(parts)))


def file_refusals(path: str, content: str, v2: bool) -> list[Refusal]:
    """``validateMemoryFileFrontmatter`` for a file at rest (no ``HEAD`` to compare ``read_only`` with)."""
    lines = content.split("\n")
    if v2 and path.split("/")[-1] == INDEX_NAME:
        if lines[0] == "---":
            return [Refusal(path, "index-frontmatter", f"{path}: MEMORY.md must not have frontmatter")]
        return []
    if lines[0] != "---":
        return [Refusal(path, "missing", f"{path}: missing frontmatter (must start with ---)")]
    try:
        closing = lines.index("---", 1)
    except ValueError:
        return [Refusal(path, "unclosed", f"{path}: frontmatter opened but never closed (missing closing ---)")]
    out: list[Refusal] = []
    seen: set[str] = set()
    allowed = V2_KEYS if v2 else LEGACY_KEYS
    for index in range(1, closing):
        line = lines[index]
        if not line or (not v2 and line[0] in " \t"):
            continue
        separator = line.find(":")
        raw_key = line if separator < 0 else line[:separator]
        key = raw_key.strip(" ") if v2 else raw_key.replace(" ", "")
        value = (line if separator < 0 else line[separator + 1 :]).strip(" ")
        if key not in allowed:
            out.append(Refusal(path, "unknown-key",
                               f"{path}: unknown frontmatter key '{key}' (allowed: {' '.join(allowed)})", index, key))
            continue
        if v2 and key in seen:
            out.append(Refusal(path, "duplicate-key", f"{path}: duplicate frontmatter key '{key}'", index, key))
        seen.add(key)
        if key == "read_only" and not v2:
            out.append(Refusal(path, "read-only-set",
                               f"{path}: 'read_only' is a protected field and cannot be set by the agent", index, key))
        if (v2 or key == "description") and (not value or (v2 and value in ('""', "''"))):
            out.append(Refusal(path, "empty", f"{path}: '{key}' must not be empty", index, key))
    for key in V2_KEYS if v2 else ("description",):
        if key not in seen:
            out.append(Refusal(path, "missing-key", f"{path}: missing required field '{key}'", 0, key))
    return out


def parse_config(text: str) -> tuple[dict[str, Any] | None, list[str]]:
    """``parseMemoryConstraintsConfig``: the config, or None and the hook's messages."""
    errors: list[str] = []
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, [f"{CONFIG_PATH}: invalid JSON ({exc})"]
    if not isinstance(value, dict):
        return None, [f"{CONFIG_PATH}: expected a JSON object"]
    errors += [f"{CONFIG_PATH}: unknown field '{key}'" for key in value if key not in _CONFIG_KEYS]
    if value.get("version") != 1 or isinstance(value.get("version"), bool):
        errors.append(f"{CONFIG_PATH}: version must be 1")
    if "maxDepth" in value and not _safe_int(value["maxDepth"], 0):
        errors.append(f"{CONFIG_PATH}: maxDepth must be a non-negative integer")
    for key in ("maxFileCharacters", "maxCoreMemoryCharacters"):
        if key in value and not _safe_int(value[key], 1):
            errors.append(f"{CONFIG_PATH}: {key} must be a positive integer")
    overrides = value.get("fileCharacterLimits")
    if overrides is not None and not isinstance(overrides, list):
        errors.append(f"{CONFIG_PATH}: fileCharacterLimits must be an array")
    for index, item in enumerate(overrides if isinstance(overrides, list) else []):
        label = f"{CONFIG_PATH}: fileCharacterLimits[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{label} must be an object")
            continue
        errors += [f"{label}: unknown field '{key}'" for key in item if key not in ("pattern", "maxCharacters")]
        pattern = item.get("pattern")
        if (not isinstance(pattern, str) or not pattern or pattern.startswith("/") or "\\" in pattern
                or ".." in pattern.split("/")):
            errors.append(f"{label}: pattern must be a non-empty repo-relative glob using '/'")
        elif any("**" in segment and segment != "**" for segment in pattern.split("/")):
            errors.append(f"{label}: '**' must be a complete path segment")
        limit = item.get("maxCharacters")
        if limit is not None and not _safe_int(limit, 1):
            errors.append(f"{label}: maxCharacters must be a positive integer or null")
    return (None if errors else value), errors


def _safe_int(value: Any, minimum: int) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return isinstance(value, int) and minimum <= value <= _MAX_SAFE_INT


def _glob_regex(pattern: str) -> re.Pattern[str]:
    source, index = "^", 0
    while index < len(pattern):
        char = pattern[index]
        if char == "*":
            if pattern[index + 1 : index + 2] == "*":
                if pattern[index + 2 : index + 3] == "/":
                    source += "(?:.*/)?"
                    index += 2
                else:
                    source += ".*"
                    index += 1
            else:
                source += "[^/]*"
        elif char == "?":
            source += "[^/]"
        else:
            source += re.escape(char)
        index += 1
    return re.compile(source + "$", re.DOTALL)


def tree_refusals(characters: Mapping[str, int], config_text: str | None, v2: bool) -> list[Refusal]:
    """``validateMemoryTreeConstraints``: ``characters`` maps every file path to its length in characters
    (only ``.md`` files matter). Applies when ``.memfs.config.json`` exists or the memory is v2."""
    if config_text is None and not v2:
        return []
    config: dict[str, Any] = dict(V2_DEFAULTS) if v2 else {}
    if config_text is not None:
        parsed, errors = parse_config(config_text)
        if parsed is None:
            return [Refusal(CONFIG_PATH, "config", message) for message in errors]
        config.update(parsed)
    paths = sorted(p for p in characters if p.endswith(".md"))
    out: list[Refusal] = []
    if v2 and INDEX_NAME not in characters:
        out.append(Refusal(INDEX_NAME, "index-missing", f"{INDEX_NAME}: root memory index is required for MemFS v2"))
    memory = [p for p in paths if not p.startswith("skills/") and (v2 or _LEGACY_CHECKED.match(p))]
    if v2:
        for path in memory:
            current = ""
            for directory in path.split("/")[:-1]:
                current = f"{current}/{directory}" if current else directory
                if f"{current}/{INDEX_NAME}" not in characters:
                    out.append(Refusal(path, "index-missing", f"{path}: missing required index {current}/{INDEX_NAME}"))
                    break
    overrides = [(_glob_regex(o["pattern"]), o) for o in config.get("fileCharacterLimits") or []]
    max_depth = config.get("maxDepth")
    core_limit = config.get("maxCoreMemoryCharacters") if v2 else None
    core = 0
    for path in memory:
        depth = path.count("/")
        if max_depth is not None and depth > max_depth:
            out.append(Refusal(path, "depth", f"{path}: depth {depth} exceeds maxDepth {max_depth}"))
        override = next((o for regex, o in overrides if regex.match(path)), None)
        limit = override["maxCharacters"] if override else config.get("maxFileCharacters")
        source = f"glob '{override['pattern']}'" if override else "maxFileCharacters"
        count = characters[path]
        if v2 and "/" not in path and core_limit is not None:
            core += count
        if limit is not None and count > limit:
            out.append(Refusal(path, "size", f"{path}: {count} characters exceeds {limit} from {source}"))
    if core_limit is not None and core > core_limit:
        out.append(Refusal(INDEX_NAME, "core-size",
                           f"core memory: {core} characters exceeds {core_limit} from maxCoreMemoryCharacters"))
    return out
