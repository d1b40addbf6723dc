"""Frontmatter of memory files: ``frontmatter-missing``, ``frontmatter-invalid``, ``description-missing``,
``description-multiline``.

Severity follows SPEC section 8. Where Letta Code's pre-commit hook validates a file (``system/`` and
``reference/``; every projected file of a MemFS v2 memory) its refusals are errors, each saying in words
that Letta Code will refuse to commit it; the hook's own rules come from
``letta_ls.memfs.letta_code_rules``. Everywhere else Letta Code accepts the file, so the same defects
are warnings: the agent still sees a file without a description only by its path. ``SKILL.md`` files
follow the skill schema instead (``skill-invalid``); the other files of a skill folder are assets.
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
from letta_ls.memfs.frontmatter import BOM, one_line
from letta_ls.memfs.letta_code_rules import INDEX_NAME, Refusal, file_refusals, frontmatter_checked
from letta_ls.memfs.snapshot import MemoryFile

REFUSED = "Letta Code will refuse to commit this: "
_KIND_CODES = {
    "missing": "frontmatter-missing", "unclosed": "frontmatter-invalid", "unknown-key": "frontmatter-invalid",
    "duplicate-key": "frontmatter-invalid", "index-frontmatter": "frontmatter-invalid",
}


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    if not is_memory_file(path) or file.data is None:
        return []
    v2 = ctx.v2
    if v2 and path.rsplit("/", 1)[-1] == INDEX_NAME:
        # a MemFS v2 index: no frontmatter by design (Letta Code refuses one)
        refusals = file_refusals(path, file.text or file.data.decode("utf-8", "replace"), v2)
        return [f for r in refusals if (f := _refusal_finding(ctx, file, file.text or "", r)) is not None]
    if frontmatter_checked(path, ctx.snapshot.files, v2):
        text = file.text if file.text is not None else file.data.decode("utf-8", "replace")
        refusals = [r for r in file_refusals(path, text, v2) if r.kind != "read-only-set"]
        out = [f for r in refusals if (f := _refusal_finding(ctx, file, text, r)) is not None]
        if file.text is not None and not any(r.kind in ("missing", "unclosed") for r in refusals):
            out += _opinions(ctx, file, refused_description=any(r.key == "description" for r in refusals))
        return out
    if file.text is None:
        return []
    return _lenient(ctx, file)


def _refusal_finding(ctx: CheckContext, file: MemoryFile, text: str, refusal: Refusal) -> Finding | None:
    path = file.path
    code = _KIND_CODES.get(refusal.kind)
    if code is None:
        code = "description-missing" if refusal.key == "description" else "frontmatter-invalid"
    if not ctx.enabled(code):
        return None
    reason = refusal.message.removeprefix(f"{path}: ")
    fix = None
    line = refusal.line  # the hook counts `\n` lines, as the editor does in a file it accepts
    advice = ""
    doc = file.document
    if refusal.kind == "missing":
        lenient_block = doc is not None and doc.has_frontmatter
        if lenient_block:
            why = _fence_trouble(text)
            advice = f" The first line must be exactly `---`: this file has {why}."
            fix = Fix("normalize-frontmatter", "Rewrite the frontmatter fences and line endings as Letta Code "
                      "expects", {})
            code = "frontmatter-invalid" if ctx.enabled("frontmatter-invalid") else code
        else:
            advice = (" Start the file with a `---` block holding a one-line `description:` of what the file is "
                      "for, closed by another `---` line.")
            description = derive_description(scan_file(file))
            if description and file.text is not None:
                fix = Fix("add-description", "Add a frontmatter block with a description from the first heading",
                          {"description": description, "create_block": True})
    elif refusal.kind == "unclosed":
        if doc is not None and doc.error is None:
            advice = " The closing line must be exactly `---`, without trailing spaces."
            fix = Fix("normalize-frontmatter", "Remove the spaces after the closing `---`", {})
        else:
            advice = " Add a `---` line after the last key."
    elif refusal.kind == "unknown-key":
        advice = (" Remove the key or move what it says into the body."
                  if refusal.key != "name" or ctx.v2 else
                  " A memory file has no `name` (only skills do): remove the line.")
    elif refusal.key == "description":
        advice = " Write one line saying what this file is for, so the agent knows when to read it."
        description = derive_description(scan_file(file))
        if description and file.text is not None:
            fix = Fix("add-description", "Add a description from the first heading or line",
                      {"description": description})
    return finding(code, path, line, REFUSED + reason + "." + advice, fix=fix)


def _fence_trouble(text: str) -> str:
    first = text.split("\n", 1)[0]
    troubles = []
    if text.startswith(BOM):
        troubles.append("a UTF-8 byte order mark (BOM)")
    if first.endswith("\r") or "\r\n" in text:
        troubles.append("Windows (CRLF) line endings")
    if first.removeprefix(BOM).rstrip("\r") != "---":
        troubles.append("spaces after the opening `---`")
    return " and ".join(troubles) or "an unusual first line"


def _opinions(ctx: CheckContext, file: MemoryFile, refused_description: bool) -> list[Finding]:
    """What Letta Code accepts but the agent would be poorly served by: warnings."""
    out: list[Finding] = []
    doc = file.document
    text = file.text
    assert doc is not None and text is not None
    if not refused_description:
        out += _description_findings(ctx, file, "warning")
    return out


def _lenient(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    """A memory file Letta Code does not validate: every defect is a warning."""
    path, text, doc = file.path, file.text, file.document
    assert doc is not None and text is not None
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
                "This memory file has no frontmatter, so the agent sees only its path. Start it with a `---` "
                "block holding a one-line `description:` of what the file is for, closed by another `---` line.",
                fix=fix, severity="warning",
            )]
        if not ctx.enabled("frontmatter-invalid"):
            return []
        return [finding("frontmatter-invalid", path, doc_line(text, error.line),
                        "The frontmatter block is never closed: add a `---` line after its last key.",
                        severity="warning")]
    return _description_findings(ctx, file, "warning")


def _description_findings(ctx: CheckContext, file: MemoryFile, severity: str) -> list[Finding]:
    path, text, doc = file.path, file.text, file.document
    assert doc is not None and text is not None
    out: list[Finding] = []
    if ctx.enabled("frontmatter-invalid"):
        lines = split_lines(text) if doc.errors else []
        for err in doc.errors:
            if err.kind == "type":
                line = doc_line(text, err.line)
                out.append(finding(
                    "frontmatter-invalid", path, line, f"{err.message}; write it as `description: one line`.",
                    end_line=line, end_column=len(lines[line]) if line < len(lines) else None, severity=severity,
                ))
    if isinstance(doc.fields.get("description"), list):
        return out
    value = doc.description
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
                fix=fix, severity=severity,
            ))
        return out
    span = doc.key_spans.get("description")
    multiline = "\n" in value.strip() or (span is not None and span[1] - span[0] > 1)
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
