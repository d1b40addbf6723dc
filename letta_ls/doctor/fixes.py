"""Safe fixes: turn a finding's ``Fix`` into the full new texts of the files it changes.

A ``FixPlan`` is a pure text transformation over a snapshot (``path -> new text``, ``None`` deletes):
the caller commits it as one change, and the editor can show it as a workspace edit. Every plan is
re-derived from the snapshot it is given rather than trusted from the finding, and ``plan_fix``
returns None when the fix no longer applies or would be unsafe (the target of a move exists, the
frontmatter cannot be edited, the secret is no longer where it was). Moves also rewrite the
``[[links]]`` that pointed at the old path, so a fix never leaves a broken link behind.

``safe_fixes`` picks the fixes ``doctor --fix`` may apply unattended (mechanical, no judgment:
redacting a secret, adding or joining a description, adding a skill's name, moving a flat skill into
its folder) and orders them so that applying them one after another with ``plan_fixes`` works: within
a file, same-line edits come before edits that shift lines, and moves come last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from letta_ls.doctor.audit import AuditResult
from letta_ls.doctor.checks.common import derive_description, line_starts, newline_of, plain_line, scan_file
from letta_ls.doctor.checks.secrets import REDACTED, find_secrets
from letta_ls.doctor.checks.size import part_path, split_sections
from letta_ls.doctor.findings import Finding
from letta_ls.memfs.frontmatter import (
    BOM,
    FrontmatterEditError,
    one_line,
    parse_document,
    render_document,
    replace_body,
    set_field,
)
from letta_ls.memfs.links import retarget_after_move
from letta_ls.memfs.snapshot import MemorySnapshot


@dataclass(frozen=True)
class FixPlan:
    """What a fix does: a message for the commit and the user, and each changed file's new text."""

    message: str
    changes: dict[str, str | None]


SAFE_KINDS = ("redact-secret", "normalize-frontmatter", "join-description", "add-skill-name", "add-description",
              "skill-to-folder")


def safe_fixes(result: AuditResult) -> list[Finding]:
    """The findings whose fix ``doctor --fix`` may apply unattended, in the order to apply them."""
    chosen = [f for f in result.findings if f.fix is not None and f.fix.kind in SAFE_KINDS]
    return sorted(chosen, key=lambda f: (f.path, SAFE_KINDS.index(f.fix.kind), -f.line, -f.column))  # type: ignore[union-attr]


def plan_fix(snapshot: MemorySnapshot, finding: Finding) -> FixPlan | None:
    """The changes that repair ``finding`` in ``snapshot``, or None when there is no safe fix."""
    fix = finding.fix
    if fix is None:
        return None
    handler = _HANDLERS.get(fix.kind)
    if handler is None:
        return None
    file = snapshot.get(finding.path)
    if file is None or file.text is None:
        return None
    try:
        return handler(snapshot, finding.path, file.text, fix.data)
    except (FrontmatterEditError, KeyError, TypeError, ValueError):
        return None


def plan_fixes(snapshot: MemorySnapshot, findings: list[Finding]) -> FixPlan | None:
    """Apply several fixes one after another (each planned on the result of the previous ones)."""
    current = snapshot
    changes: dict[str, str | None] = {}
    messages = []
    for finding in findings:
        plan = plan_fix(current, finding)
        if plan is None:
            continue
        current = apply_plan(current, plan)
        changes.update(plan.changes)
        messages.append(plan.message)
    changes = {
        path: text for path, text in changes.items()
        if not (text is None and path not in snapshot.files)
        and not (text is not None and path in snapshot.files and snapshot.files[path].text == text)
    }
    if not changes:
        return None
    message = messages[0] if len(messages) == 1 else f"doctor: {len(messages)} fixes\n\n" + "\n".join(
        f"- {m}" for m in messages
    )
    return FixPlan(message, changes)


def apply_plan(snapshot: MemorySnapshot, plan: FixPlan) -> MemorySnapshot:
    """The snapshot as it will be once ``plan`` is committed."""
    for path, text in plan.changes.items():
        snapshot = snapshot.with_text(path, text)
    return snapshot


# --- handlers ----------------------------------------------------------------------------------------


def _with_block(text: str, fields: dict[str, Any]) -> str:
    """Put a new frontmatter block in front of a file that has none."""
    bom = BOM if text.startswith(BOM) else ""
    return bom + render_document(fields, text.removeprefix(BOM), newline_of(text))


def _normalize_frontmatter(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    """What Letta Code's hook needs to read the block: no BOM, LF line endings, fences exactly ``---``.

    Only invisible bytes change (the BOM, carriage returns, spaces after a fence), so it is safe unattended.
    """
    lines = text.removeprefix(BOM).replace("\r\n", "\n").split("\n")
    if not lines or lines[0].rstrip(" \t\r") != "---":
        return None
    lines[0] = "---"
    for index in range(1, len(lines)):
        if lines[index].rstrip(" \t\r") == "---":
            lines[index] = "---"
            break
    new = "\n".join(lines)
    if new == text:
        return None
    return FixPlan(f"doctor: make the frontmatter of {path} readable to Letta Code", {path: new})


def _has_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _add_description(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    description = one_line(str(data.get("description") or ""))
    if not description:
        return None
    doc = parse_document(text)
    if doc.error is not None:
        if doc.error.kind != "missing":
            return None
        new = _with_block(text, {"description": description})
    else:
        current = doc.fields.get("description")
        if (current is not None and not isinstance(current, str)) or _has_text(current):
            return None
        new = set_field(text, "description", description)
    return FixPlan(f"doctor: add a description to {path}", {path: new})


def _add_skill_name(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    wanted = {key: one_line(str(data[key])) for key in ("name", "description") if data.get(key)}
    doc = parse_document(text)
    if doc.error is not None:
        if doc.error.kind != "missing" or not wanted:
            return None
        new = _with_block(text, wanted)
    else:
        new = text
        for key, value in wanted.items():
            current = doc.fields.get(key)
            if current is None or (isinstance(current, str) and not current.strip()):
                new = set_field(new, key, value)
    if new == text:
        return None
    return FixPlan(f"doctor: add the skill's name to {path}", {path: new})


def _join_description(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    doc = parse_document(text)
    current = doc.fields.get("description")
    if doc.error is not None or not isinstance(current, str):
        return None
    span = doc.key_spans.get("description", (0, 1))
    joined = one_line(current)
    if not joined or ("\n" not in current and span[1] - span[0] <= 1):
        return None
    return FixPlan(f"doctor: put the description of {path} on one line",
                   {path: set_field(text, "description", joined)})


def _move(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    target = str(data["target"])
    if target in snapshot.files or target == path:
        return None
    changes: dict[str, str | None] = {path: None, target: text}
    changes.update(retarget_after_move(snapshot, path, target))
    return FixPlan(f"doctor: move {path} to {target}", changes)


def _skill_to_folder(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    target = str(data["target"])
    if target in snapshot.files:
        return None
    name = str(data.get("name") or target.split("/")[-2])
    doc = parse_document(text)
    wanted = {"name": name}
    description = _derived(snapshot, path)
    if description:
        wanted["description"] = description
    new = text
    if doc.error is None:
        for key, value in wanted.items():
            current = doc.fields.get(key)
            if current is None or (isinstance(current, str) and not current.strip()):
                new = set_field(new, key, value)
    elif doc.error.kind == "missing":
        new = _with_block(text, wanted)
    changes: dict[str, str | None] = {path: None, target: new}
    # the skill's own text carries the new frontmatter; only the files linking to it are rewritten
    changes.update({p: t for p, t in retarget_after_move(snapshot, path, target).items() if p != target})
    return FixPlan(f"doctor: move the skill {path} into its folder {target}", changes)


def _derived(snapshot: MemorySnapshot, path: str) -> str | None:
    file = snapshot.get(path)
    return derive_description(scan_file(file)) if file is not None else None


def _redact_secret(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    line, column, kind = int(data["line"]), int(data["column"]), str(data["kind"])
    candidates = [m for m in find_secrets(text) if m.kind == kind]
    exact = [m for m in candidates if m.line == line and m.column == column]
    if exact:
        match = exact[0]
    else:
        # an earlier fix moved it (lines added above): take the same kind at the same column, nearest line
        near = sorted((m for m in candidates if m.column == column), key=lambda m: abs(m.line - line))
        if not near:
            return None
        match = near[0]
    starts = line_starts(text)
    start = starts[match.line] + match.column
    end = starts[match.last_line] + match.end_column
    return FixPlan(f"doctor: redact {match.label} in {path}", {path: text[:start] + REDACTED + text[end:]})


def _retarget_link(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    starts = line_starts(text)
    line = int(data["line"])
    if line >= len(starts):
        return None
    start, end = starts[line] + int(data["column"]), starts[line] + int(data["end_column"])
    if text[start:end] != data["old"]:
        return None
    target = str(data["target"])
    return FixPlan(f"doctor: point a link in {path} at {target}", {path: text[:start] + target + text[end:]})


def _replace_path(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    plan = _retarget_link(snapshot, path, text, data)
    return FixPlan(f"doctor: {data['old']} is now {data['target']} (in {path})", plan.changes) if plan else None


def _remove_line(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    starts = line_starts(text)
    line = int(data["line"])
    if line >= len(starts) or line < (parse_document(text).body_start_line or 0):
        return None
    end = starts[line + 1] if line + 1 < len(starts) else len(text)
    removed = text[starts[line]:end].strip()
    return FixPlan(f"doctor: remove a stale line from {path}: {removed[:80]}",
                   {path: text[:starts[line]] + text[end:]})


def _split(snapshot: MemorySnapshot, path: str, text: str, data: dict[str, Any]) -> FixPlan | None:
    file = snapshot.get(path)
    doc = parse_document(text)
    scan = scan_file(file) if file is not None else None
    if scan is None or doc.error is not None:
        return None
    split = split_sections(scan)
    if split is None:
        return None
    _level, sections = split
    newline = newline_of(text)
    taken = set(snapshot.files)
    changes: dict[str, str | None] = {}
    index_lines = []
    for i, section in enumerate(sections):
        heading = plain_line(section.heading) or f"Part {i + 1}"
        part = part_path(path, section.heading, i, taken)
        lines = scan.lines[section.start : section.end]
        while lines and not lines[-1].strip():
            lines.pop()
        description = f"{heading} (split out of {path})"
        changes[part] = render_document({"description": description}, newline.join(lines) + newline, newline)
        index_lines.append(f"- [[{part}]]: {heading}")
    in_section = [False] * len(scan.lines)
    for section in sections:
        for i in range(section.start, section.end):
            in_section[i] = True
    body: list[str] = []
    inserted = False
    for i in range(scan.body_start, len(scan.lines)):
        if in_section[i]:
            if not inserted:
                if body and body[-1].strip():
                    body.append("")
                body.extend(index_lines)
                body.append("")
                inserted = True
            continue
        body.append(scan.lines[i])
    while body and not body[-1].strip():
        body.pop()
    changes[path] = replace_body(text, newline.join(body) + newline)
    if any(p in snapshot.files for p in changes if p != path):
        return None
    return FixPlan(f"doctor: split {path} into {len(sections)} linked files", changes)


_HANDLERS = {
    "add-description": _add_description,
    "normalize-frontmatter": _normalize_frontmatter,
    "add-skill-name": _add_skill_name,
    "join-description": _join_description,
    "move": _move,
    "skill-to-folder": _skill_to_folder,
    "redact-secret": _redact_secret,
    "retarget-link": _retarget_link,
    "replace-path": _replace_path,
    "remove-line": _remove_line,
    "split": _split,
}

