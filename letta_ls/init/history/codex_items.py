"""Codex's response items, read the same way in both rollout formats: tool calls, their outputs, user text.

A shell tool call is kept as the command it ran, unless it runs ``apply_patch`` / ``applypatch`` (through the
shell, as old models did): then it is an edit of the files the patch names. A user message that is the
harness's context (``<environment_context>``, AGENTS.md instructions...) is not the user's words.
"""

from __future__ import annotations

import re
from typing import Any

from letta_ls.init.history.common import SessionBuilder, as_json, load_json_object, patch_paths, shell_command

_INJECTED = ("<environment_context>", "<user_instructions>", "<permissions instructions>", "<collaboration_mode>",
             "<multi_agent_mode>", "<apps_instructions>", "# AGENTS.md", "<turn_aborted>", "<skill>", "<INSTRUCTIONS>")
_REQUEST_MARKER = "## My request for Codex:"
_EXIT_CODE = re.compile(r"^(?:Exit code:|Process exited with code)\s*(-?\d+)", re.M)
# ``apply_patch <<'EOF'``, the old ``applypatch`` spelling, and either after a ``cd dir &&``: a patch, not a command
_PATCH_COMMAND = re.compile(r"^\s*(?:cd\s+\S+\s*&&\s*)?(?:apply_patch|applypatch)\b")
_SHELL_NAMES = frozenset({"shell", "shell_command", "exec_command", "container.exec", "local_shell", "bash"})


def call(builder: SessionBuilder, payload: dict[str, Any]) -> Any:
    """Record a tool call item (function, custom tool, local shell, web search) and return the ``ToolCall``."""
    kind = payload.get("type")
    call_id = nonblank(payload.get("call_id")) or nonblank(payload.get("id"))
    if kind == "local_shell_call":
        action = payload.get("action") if isinstance(payload.get("action"), dict) else {}
        command, paths = command_or_patch(action.get("command"))
        return builder.call("local_shell", action, call_id, command=command, paths=paths, edits=bool(paths))
    if kind == "web_search_call":
        action = payload.get("action")
        return builder.call("web_search", action if action is not None else {}, call_id)
    name = nonblank(payload.get("name")) or "tool"
    if kind == "custom_tool_call":
        body = payload.get("input")
        text = body if isinstance(body, str) else as_json(body)
        paths = patch_paths(text) if name == "apply_patch" else ()
        return builder.call(name, text, call_id, paths=paths, edits=bool(paths))
    raw = payload.get("arguments")
    args = load_json_object(raw) or {}
    command = None
    paths: tuple[str, ...] = ()
    if name in _SHELL_NAMES:
        command, paths = command_or_patch(args.get("command") if "command" in args else args.get("cmd"))
    elif name == "apply_patch":
        paths = patch_paths(str(args.get("input", raw)))
    return builder.call(name, raw if raw is not None else {}, call_id, command=command, paths=paths,
                        edits=bool(paths))


def command_or_patch(value: Any) -> tuple[str | None, tuple[str, ...]]:
    """(the shell command a call ran, None) or, for a patch run through the shell, (None, the files it edits)."""
    if isinstance(value, list) and value[:1] in (["apply_patch"], ["applypatch"]):
        return None, patch_paths(as_json(value[-1]))
    command = shell_command(value)
    if command and _PATCH_COMMAND.match(command):
        return None, patch_paths(command)
    return command, ()


def output_of(output: Any) -> tuple[str, bool]:
    """A tool output's text, and whether it failed (non-zero exit code, ``success: false``)."""
    if isinstance(output, str):
        parsed = load_json_object(output)
        if parsed is not None and "output" in parsed:
            metadata = parsed.get("metadata") if isinstance(parsed.get("metadata"), dict) else {}
            code = metadata.get("exit_code")
            return as_json(parsed["output"]), isinstance(code, int) and code != 0
        found = _EXIT_CODE.search(output[:4000])
        return output, bool(found and int(found.group(1)) != 0)
    if isinstance(output, list):
        return blocks_text(output), False
    if isinstance(output, dict):
        text = output.get("content") if isinstance(output.get("content"), str) else as_json(output)
        return text, output.get("success") is False
    return ("" if output is None else str(output)), False


def user_text(text: str) -> str | None:
    """The user's own words in a user message, or None for harness-injected context."""
    stripped = text.strip()
    if _REQUEST_MARKER in stripped:
        return stripped.split(_REQUEST_MARKER, 1)[1].strip() or None
    if not stripped or stripped.startswith(_INJECTED):
        return None
    return stripped


def blocks_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif block.get("type") in ("input_image", "image"):
                parts.append("[image]")
    return "\n".join(parts)


def nonblank(value: Any) -> str | None:
    """``value`` if it is a string with text in it, so an empty field never reads as an id or a folder."""
    return value if isinstance(value, str) and value.strip() else None
