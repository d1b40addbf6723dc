"""Frontmatter of memory files: ``frontmatter-missing``, ``frontmatter-invalid``, ``description-missing``,
``description-multiline``.

Every markdown file outside ``skills/`` is a memory file (SPEC section 4): it starts with a YAML block
whose ``description`` is one non-empty line, ``read_only`` is a boolean and ``limit`` a positive number
of tokens. The description is what the agent sees of an external file in its prompt, so a missing or
multi-line one is a real defect, not style. ``SKILL.md`` files follow the skill schema instead (checked
as ``skill-invalid``), and the other files of a skill folder are assets without frontmatter.
"""

from __future__ import annotations

from letta_ls.doctor.checks.common import (
    CheckContext,
    derive_description,
    doc_line,
    finding,
    is_memory_file,
    scan_file,
    split_lines,
)
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.frontmatter import one_line
from letta_ls.memfs.snapshot import MemoryFile


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    text = file.text
    if not is_memory_file(path) or text is None:
        return []
    doc = file.document
    assert doc is not None
    error = doc.error
    if error is not None:
        if error.kind == "missing":
            if not ctx.enabled("frontmatter-missing"):
                return []
            description = derive_description(scan_file(file))
            fix = None
            if description:
                fix = Fix("add-description", "Add a frontmatter block with a description from the first heading",
                          {"description": description, "create_block": True})
            return [finding(
                "frontmatter-missing", path, 0,
                "This memory file has no frontmatter. Start it with a `---` block holding a one-line "
                "`description:` of what the file is for, closed by another `---` line.",
                fix=fix,
            )]
        if not ctx.enabled("frontmatter-invalid"):
            return []
        line = doc_line(text, error.line)
        if error.kind == "unclosed":
            message = "The frontmatter block is never closed: add a `---` line after its last key."
        else:
            problem = error.message.removeprefix("frontmatter is not valid YAML: ")
            message = (
                f"The frontmatter cannot be read: {problem}. Fix the YAML between the two `---` lines "
                "(quote values that contain `: ` or start with a symbol)."
            )
        return [finding("frontmatter-invalid", path, line, message)]

    out: list[Finding] = []
    if ctx.enabled("frontmatter-invalid"):
        lines = split_lines(text) if any(err.kind == "type" for err in doc.errors) else []
        for err in doc.errors:
            if err.kind == "type":
                line = doc_line(text, err.line)
                out.append(finding(
                    "frontmatter-invalid", path, line,
                    f"{err.message} (found `{_shown(doc.fields.get(err.key or ''))}`); correct or remove the key.",
                    end_line=line, end_column=len(lines[line]) if line < len(lines) else None,
                ))
    value = doc.fields.get("description")
    if value is not None and not isinstance(value, str):
        return out  # a wrong type is reported above as frontmatter-invalid
    if value is None or not value.strip():
        if ctx.enabled("description-missing"):
            key_line = doc.key_line("description")
            description = derive_description(scan_file(file))
            fix = None
            if description:
                fix = Fix("add-description", "Add a description from the first heading or line",
                          {"description": description})
            out.append(finding(
                "description-missing", path, doc_line(text, key_line) if key_line is not None else 0,
                ("The `description` is empty" if key_line is not None else "There is no `description`")
                + ": add one line saying what this file is for, so the agent knows when to read it.",
                fix=fix,
            ))
        return out
    span = doc.key_spans.get("description")
    multiline = "\n" in value or (span is not None and span[1] - span[0] > 1)
    if multiline and ctx.enabled("description-multiline"):
        start = doc_line(text, span[0]) if span else 0
        end = doc_line(text, span[1] - 1) if span else start
        out.append(finding(
            "description-multiline", path, start,
            "The `description` spans several lines; the memory tree shows one line per file. "
            "Write it as a single line.",
            end_line=end,
            fix=Fix("join-description", "Join the description into one line", {"description": one_line(value)}),
        ))
    return out


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."
