"""The shape of the memory tree: ``persona-missing``, ``name-clash``, ``skill-flat-file``, ``skill-invalid``,
``not-text``.

Only one of them is a rule Letta Code's pre-commit hook enforces, and so an error (SPEC section 8):
skills are folders (``skills/x.md``, and ``memory/skills/x.md`` of the old layout, are refused). The
others are letta-ls opinions Letta Code accepts, so warnings: ``system/persona.md`` should exist (the
agent's identity; not in MemFS v2, which has no ``system/``); ``x.md`` beside ``x/`` loads both, nested
in the prompt, which is easy to misread; a skill folder without ``SKILL.md`` or a ``SKILL.md`` without a
description is hard for the agent to use (Letta Code names a skill after its folder when ``name`` is
missing); and a file that is not UTF-8 reaches the agent garbled, except the few binary assets Letta
Code itself writes (an avatar ``profile.png``).
"""

from __future__ import annotations

from letta_ls.doctor.checks.common import (
    BINARY_ASSET_EXTENSIONS,
    CheckContext,
    basename,
    derive_description,
    doc_line,
    extension,
    finding,
    is_flat_skill,
    is_markdown,
    is_skill_file,
    scan_file,
    stem,
)
from letta_ls.doctor.findings import Finding, Fix
from letta_ls.memfs.letta_code_rules import flat_skill_refused
from letta_ls.memfs.snapshot import PERSONA_PATH, SKILLS_DIR, MemoryFile


def skill_folder_name(path: str) -> str:
    """The folder name of a skill (``skills/web/scraper/SKILL.md`` -> ``scraper``)."""
    return path.rsplit("/", 2)[-2]


def flat_skill_target(path: str) -> str:
    return f"{SKILLS_DIR}{stem(path)}/SKILL.md"


def check_file(ctx: CheckContext, file: MemoryFile) -> list[Finding]:
    path = file.path
    out: list[Finding] = []
    if file.text is None and ctx.enabled("not-text") and extension(path) not in BINARY_ASSET_EXTENSIONS:
        reason = "contains NUL bytes" if b"\x00" in file.data else "is not valid UTF-8"
        out.append(finding(
            "not-text", path, 0,
            f"`{path}` {reason}, so it is not text the agent can read. Re-save it as UTF-8 text, "
            "or remove it if it is a stray binary file.",
        ))
    if is_markdown(path) and ctx.enabled("name-clash") and path[:-3] in ctx.folders:
        out.append(finding(
            "name-clash", path, 0,
            f"`{path}` sits beside a folder `{path[:-3]}/` with the same name; both load, and the prompt shows "
            f"the folder's files nested inside this one. If they are not about the same thing, rename one of them.",
        ))
    if (is_flat_skill(path) or flat_skill_refused(path, ctx.v2)) and ctx.enabled("skill-flat-file"):
        out.append(_flat_skill(ctx, file))
    if is_skill_file(path) and file.text is not None and ctx.enabled("skill-invalid"):
        out.extend(_skill_invalid(file))
    return out


def _flat_skill(ctx: CheckContext, file: MemoryFile) -> Finding:
    path = file.path
    fix = None
    if path.startswith("memory/"):
        message = (
            f"Letta Code will refuse to commit this: `{path}` is a flat skill file of the old `memory/` layout. "
            f"Move it to `skills/{stem(path)}/SKILL.md` (skills are folders)."
        )
    elif is_markdown(path):
        target = flat_skill_target(path)
        if not ctx.exists(target) and file.text is not None:
            fix = Fix("skill-to-folder", f"Move to `{target}`", {"target": target, "name": stem(path)})
        message = (
            f"Letta Code will refuse to commit this: `{path}` is a file directly under `skills/`, but skills "
            f"are folders. Move it to `{target}` (with `name` and `description` in its frontmatter)."
        )
    else:
        message = (
            f"`{path}` is a file directly under `skills/`, but skills are folders: put it inside the "
            "folder of the skill that uses it (`skills/<name>/`)."
        )
    return finding("skill-flat-file", path, 0, message, fix=fix)


def _skill_invalid(file: MemoryFile) -> list[Finding]:
    path = file.path
    doc = file.document
    text = file.text
    assert doc is not None and text is not None  # only called for text files
    error = doc.error
    if error is not None and error.kind != "missing":
        return [finding(
            "skill-invalid", path, doc_line(text, error.line),
            f"The skill's frontmatter cannot be read ({error.message}); fix it so the skill has "
            "`name` and `description`.",
        )]
    wrong = [k for k in ("name", "description") if doc.fields.get(k) is not None and not isinstance(doc.fields[k], str)]
    if wrong:
        key = wrong[0]
        return [finding(
            "skill-invalid", path, doc_line(text, doc.key_line(key) or 0),
            f"`{key}` in this SKILL.md must be one line of text, not a {type(doc.fields[key]).__name__}.",
        )]
    # Letta Code names a skill after its folder, so only a missing description is worth a warning
    missing = [k for k in ("name", "description") if not _text_value(doc.fields.get(k))]
    if "description" not in missing:
        return []
    if not missing:
        return []
    name = skill_folder_name(path)
    data: dict[str, str] = {}
    if "name" in missing:
        data["name"] = name
    if "description" in missing:
        description = derive_description(scan_file(file))
        if description:
            data["description"] = description
    fix = None
    if len(data) == len(missing):
        if "name" in data:
            title = f"Add `name: {name}`" + (" and a description" if "description" in data else "")
            fix = Fix("add-skill-name", title, data)
        else:
            fix = Fix("add-description", "Add a description from the skill's first heading or line", data)
    what = "has no frontmatter block" if error is not None else "has no " + " and no ".join(f"`{k}`" for k in missing)
    return [finding(
        "skill-invalid", path, 0,
        f"This SKILL.md {what}; a skill needs `name` and a one-line `description` in its frontmatter "
        "so the agent can find and load it.",
        fix=fix,
    )]


def _text_value(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def check_snapshot(ctx: CheckContext) -> list[Finding]:
    out: list[Finding] = []
    snapshot = ctx.snapshot
    if ctx.enabled("persona-missing") and PERSONA_PATH not in snapshot.files and not ctx.v2:
        out.append(finding(
            "persona-missing", PERSONA_PATH, 0,
            "There is no `system/persona.md`, so the agent has no identity in its system prompt. "
            "Create it with a description and a few lines on who the agent is and how it works.",
        ))
    if ctx.enabled("skill-invalid"):
        out.extend(_skill_folders_without_skill_md(ctx))
    return out


def _skill_folders_without_skill_md(ctx: CheckContext) -> list[Finding]:
    first_file: dict[str, str] = {}
    has_skill: set[str] = set()
    for path in ctx.snapshot.files:
        if not path.startswith(SKILLS_DIR) or path.count("/") < 2:
            continue
        folder = path.split("/", 2)[1]
        first_file.setdefault(folder, path)
        if basename(path).lower() == "skill.md":
            has_skill.add(folder)
    return [
        finding(
            "skill-invalid", path, 0,
            f"The folder `skills/{folder}/` has no SKILL.md, so it is not a skill the agent can load. "
            f"Add `skills/{folder}/SKILL.md` with `name` and `description`, or move these files elsewhere.",
        )
        for folder, path in sorted(first_file.items())
        if folder not in has_skill
    ]
