"""The memory operations of SPEC section 10, and the editor's whole-file save, over a ``MemoryRepo``.

Each change is checked, then committed as exactly one commit whose message is the caller's reason.
Errors are ``MemoryToolError`` with a message the model (or user) can act on, raised before anything
is written: a failed call changes nothing.

Who is acting matters. The agent may not touch a ``read_only`` file nor its ``read_only`` key, and its
changes must not introduce an error-severity finding. The user's save from an editor is accepted with
its findings (they show as diagnostics) and is refused only for an unsafe path, a stale base version,
or a secret. Those content checks live in the doctor; they reach this module as a ``ChangeGuard`` so
that memfs stays independent of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from letta_ls.memfs.frontmatter import (
    FrontmatterEditError,
    parse_document,
    render_document,
    replace_body,
    set_field,
)
from letta_ls.memfs.frontmatter import one_line as one_line_description
from letta_ls.memfs.links import retarget_after_move
from letta_ls.memfs.paths import UnsafePathError, check_memory_path, normalize_memory_path
from letta_ls.memfs.repo import (
    Author,
    CommitResult,
    MemoryFileNotFoundError,
    MemoryRepo,
    StaleVersionError,
)
from letta_ls.memfs.repo_errors import SecretRefusedError
from letta_ls.memfs.snapshot import SKILLS_DIR, MemorySnapshot, decode_text

Actor = Literal["agent", "user"]

# guard(before, after, changed_paths, actor) -> problems; an empty list lets the change through
ChangeGuard = Callable[[MemorySnapshot, MemorySnapshot, list[str], Actor], list[str]]

MAX_FILE_BYTES = 1024 * 1024


def _is_skill_file(path: str) -> bool:
    """``skills/<name>/SKILL.md`` (or a nested skill, ``skills/a/b/SKILL.md``)."""
    return path.startswith(SKILLS_DIR) and path.count("/") >= 2 and path.rsplit("/", 1)[-1].lower() == "skill.md"


class MemoryToolError(ValueError):
    """A memory operation was refused; nothing was changed. The message says what to do instead.

    ``kind`` is the refusal as a stable word (``letta_ls.contract.errors.ErrorKind``'s values): ``refused``
    unless the path does not exist (``not-found``), the target exists (``conflict``) or is read only."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class EditResult:
    """What a change did: the text for the model, and the commit for events and the editor."""

    message: str
    commit: str | None
    paths: tuple[str, ...]
    versions: Mapping[str, str | None]  # path -> blob id after the change (None: deleted)


def _serialised(method: Callable[..., EditResult]) -> Callable[..., EditResult]:
    """Hold the repository's writer lock from the read to the commit: no lost update between writers."""

    @functools.wraps(method)
    def wrapper(self: MemoryOperations, *args: Any, **kwargs: Any) -> EditResult:
        with self.repo.locked():
            return method(self, *args, **kwargs)

    return wrapper


class MemoryOperations:
    """The memory tool for one actor on one repository."""

    def __init__(self, repo: MemoryRepo, author: Author, *, actor: Actor = "agent",
                 guard: ChangeGuard | None = None) -> None:
        self.repo = repo
        self.author = author
        self.actor = actor
        self.guard = guard

    # ------------------------------------------------------------------ helpers
    def _path(self, path: Any, *, add_md: bool = False) -> str:
        if not isinstance(path, str) or not path.strip():
            raise MemoryToolError("file_path is required: give a path inside memory such as 'system/project.md'")
        try:
            return normalize_memory_path(path, self.repo.path, add_md=add_md)
        except UnsafePathError as exc:
            raise MemoryToolError(str(exc)) from exc

    @staticmethod
    def _reason(reason: Any) -> str:
        if not isinstance(reason, str) or not reason.strip():
            raise MemoryToolError("reason is required for every change: say why, it becomes the commit message")
        return reason.strip()

    def _editable(self, file_path: Any) -> tuple[str, MemorySnapshot, str]:
        """The checked path, the snapshot and the current text of a file the caller may change (or the
        reason it may not, as a ``MemoryToolError``)."""
        path = self._path(file_path)
        snap = self.repo.snapshot()
        text = self._file_text(snap, path)
        self._check_writable(snap, path)
        return path, snap, text

    def _file_text(self, snap: MemorySnapshot, path: str) -> str:
        found = snap.get(path)
        if found is None:
            if path in snap.folders:
                raise MemoryToolError(f"{path} is a folder; give a file inside it")
            near = [p for p in snap.files if p.endswith("/" + path.rsplit("/", 1)[-1])][:3]
            hint = f" Did you mean {', '.join(near)}?" if near else " Use view on a folder to list files."
            raise MemoryToolError(f"{path} does not exist in memory.{hint}", "not-found")
        text = found.text
        if text is None:
            raise MemoryToolError(f"{path} is not UTF-8 text; it cannot be edited with the memory tool")
        return text

    def _check_writable(self, snap: MemorySnapshot, path: str) -> None:
        if self.actor != "agent":
            return
        found = snap.get(path)
        doc = found.document if found is not None else None
        if doc is not None and doc.read_only:
            raise MemoryToolError(f"{path} is read_only: only the user can change it. "
                                  "Leave it as it is, or ask the user.", "read-only")

    def _may_edit(self, snap: MemorySnapshot) -> Callable[[str], bool]:
        """Whether a file may be changed along with another (a link rewritten): read-only ones, by the
        agent, may not; they keep the old link, and the doctor shows it broken to the user."""

        def may(path: str) -> bool:
            try:
                self._check_writable(snap, path)
            except MemoryToolError:
                return False
            return True

        return may

    def _check_read_only_key(self, before: str | None, after: str, path: str) -> None:
        if self.actor != "agent":
            return
        old = parse_document(before).fields.get("read_only") if before is not None else None
        new = parse_document(after).fields.get("read_only")
        if old != new:
            raise MemoryToolError(f"{path}: the read_only key is set by the user only; do not add, change or remove it")

    def _commit(self, snap: MemorySnapshot, changes: dict[str, str | None], reason: str, *,
                expect: Mapping[str, str | None] | None = None, verb: str) -> EditResult:
        data: dict[str, bytes | None] = {}
        after = snap
        for path, text in changes.items():
            if text is None:
                data[path] = None
                for doomed in [p for p in after.files if p == path or p.startswith(path + "/")]:
                    after = after.with_text(doomed, None)
                continue
            encoded = text.encode("utf-8")
            if len(encoded) > MAX_FILE_BYTES:
                raise MemoryToolError(
                    f"{path} would be {len(encoded):,} bytes; memory files are capped at {MAX_FILE_BYTES:,}. "
                    "Split it into smaller linked files."
                )
            data[path] = encoded
            after = after.with_text(path, encoded)
        if self.guard is not None:
            problems = self.guard(snap, after, list(changes), self.actor)
            if problems:
                raise MemoryToolError("change refused: " + "; ".join(problems))
        try:
            result: CommitResult = self.repo.commit(data, reason, self.author, expect=expect)
        except StaleVersionError:
            raise
        except MemoryFileNotFoundError as exc:
            raise MemoryToolError(str(exc)) from exc
        except UnsafePathError as exc:
            raise MemoryToolError(str(exc)) from exc
        except SecretRefusedError as exc:
            raise MemoryToolError(f"change refused: {exc}") from exc
        if result.commit is None:
            return EditResult(f"Memory {verb}: nothing changed (the file already has this content)", None, (),
                              result.blobs)
        short = result.commit[:7]
        return EditResult(f"Memory {verb} committed ({short}): {', '.join(result.paths)}", result.commit,
                          result.paths, result.blobs)

    # ------------------------------------------------------------------ reads
    def view(self, file_path: Any = "") -> str:
        snap = self.repo.snapshot()
        raw = file_path.strip() if isinstance(file_path, str) else file_path
        if raw in ("", ".", "/", "memory", "memory/", None):
            return self._listing(snap, "")
        path = self._path(raw)
        if path in snap.folders:
            return self._listing(snap, path)
        if path not in snap and path + ".md" in snap:
            path += ".md"
        text = self._file_text(snap, path)
        numbered = "\n".join(f"{i + 1:>5}\t{line}" for i, line in enumerate(text.splitlines()))
        return f"{path}\n{numbered}"

    @staticmethod
    def _listing(snap: MemorySnapshot, folder: str) -> str:
        prefix = folder + "/" if folder else ""
        lines = [f"{folder or 'memory'}/ ({sum(1 for p in snap.files if p.startswith(prefix))} files)"]
        for path, found in snap.files.items():
            if not path.startswith(prefix):
                continue
            doc = found.document
            description = doc.description if doc is not None else None
            lines.append(f"- {path}" + (f": {one_line_description(description)}" if description else ""))
        return "\n".join(lines)

    # ------------------------------------------------------------------ changes
    @_serialised
    def create(self, file_path: Any, description: Any, file_text: Any = "", reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        path = self._path(file_path, add_md="." not in str(file_path).rsplit("/", 1)[-1])
        if not isinstance(description, str) or not description.strip():
            raise MemoryToolError("description is required: one line saying what the file is for")
        body = file_text if isinstance(file_text, str) else ""
        snap = self.repo.snapshot()
        if path in snap or snap.has_folder(path):
            raise MemoryToolError(f"{path} already exists; use str_replace or insert to change it", "conflict")
        if not body.endswith("\n") and body:
            body += "\n"
        fields = {"description": one_line_description(description)}
        if _is_skill_file(path):  # a skill needs a name too: its folder's, as the doctor would fix it
            fields = {"name": path.rsplit("/", 2)[-2], **fields}
        text = render_document(fields, body)
        return self._commit(snap, {path: text}, reason, expect={path: None}, verb="create")

    @_serialised
    def str_replace(self, file_path: Any, old_string: Any, new_string: Any, reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        if not isinstance(old_string, str) or old_string == "":
            raise MemoryToolError("old_string is required and must not be empty")
        if not isinstance(new_string, str):
            raise MemoryToolError("new_string is required (use an empty string to delete old_string)")
        path, snap, text = self._editable(file_path)
        doc = parse_document(text)
        body = doc.body if doc.error is None else text
        count = body.count(old_string)
        if count == 0:
            raise MemoryToolError(f"old_string was not found in the body of {path}; "
                                  "view the file and copy the text exactly")
        if count > 1:
            raise MemoryToolError(
                f"old_string occurs {count} times in {path}; it must occur exactly once. "
                "Include more surrounding text to make it unique."
            )
        new_body = body.replace(old_string, new_string, 1)
        new_text = replace_body(text, new_body) if doc.error is None else new_body
        return self._commit(snap, {path: new_text}, reason, verb="str_replace")

    @_serialised
    def insert(self, file_path: Any, insert_line: Any, insert_text: Any, reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        if isinstance(insert_line, bool) or not isinstance(insert_line, int) or insert_line < 0:
            raise MemoryToolError("insert_line must be a whole number ≥ 0 (0 inserts at the top of the body)")
        if not isinstance(insert_text, str) or insert_text == "":
            raise MemoryToolError("insert_text is required")
        path, snap, text = self._editable(file_path)
        doc = parse_document(text)
        if doc.error is not None:
            raise MemoryToolError(f"{path} has broken frontmatter ({doc.error.message}); fix it first")
        lines = doc.body.splitlines(keepends=True)
        at = min(insert_line, len(lines))
        if lines and at == len(lines) and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        block = insert_text if insert_text.endswith("\n") else insert_text + "\n"
        lines.insert(at, block)
        return self._commit(snap, {path: replace_body(text, "".join(lines))}, reason, verb="insert")

    @_serialised
    def delete(self, file_path: Any, reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        path = self._path(file_path)
        snap = self.repo.snapshot()
        if path not in snap and path not in snap.folders and path + ".md" in snap:
            path += ".md"
        doomed = [p for p in snap.files if p == path or p.startswith(path + "/")]
        if not doomed:
            raise MemoryToolError(f"{path} does not exist in memory", "not-found")
        for p in doomed:
            self._check_writable(snap, p)
        return self._commit(snap, {path: None}, reason, verb="delete")

    @_serialised
    def rename(self, old_path: Any, new_path: Any, reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        src = self._path(old_path)
        snap = self.repo.snapshot()
        if src not in snap and src not in snap.folders and src + ".md" in snap:
            src += ".md"
        dst = self._path(new_path, add_md=src.endswith(".md") and "." not in str(new_path).rsplit("/", 1)[-1])
        moving = [p for p in snap.files if p == src or p.startswith(src + "/")]
        if not moving:
            raise MemoryToolError(f"{src} does not exist in memory", "not-found")
        if dst in snap or dst in snap.folders:
            raise MemoryToolError(f"{dst} already exists; choose another name or delete it first", "conflict")
        if dst.startswith(src + "/"):
            raise MemoryToolError(f"cannot move {src} into itself")
        changes: dict[str, str | None] = {}
        for p in moving:
            self._check_writable(snap, p)
            target = dst + p[len(src):]
            check_memory_path(target)
            found = snap.files[p]
            changes[p] = None
            changes[target] = found.text if found.text is not None else None
            if found.text is None:
                raise MemoryToolError(f"{p} is not text; move it with git instead")
        changes.update(retarget_after_move(snap, src, dst, may_edit=self._may_edit(snap)))
        return self._commit(snap, changes, reason, verb="rename")

    @_serialised
    def update_description(self, file_path: Any, description: Any, reason: Any = None) -> EditResult:
        reason = self._reason(reason)
        if not isinstance(description, str) or not description.strip():
            raise MemoryToolError("description must be one non-empty line")
        path = self._path(file_path)
        snap = self.repo.snapshot()
        if path not in snap and path + ".md" in snap:
            path += ".md"
        text = self._file_text(snap, path)
        self._check_writable(snap, path)
        try:
            new_text = set_field(text, "description", one_line_description(description))
        except FrontmatterEditError as exc:
            raise MemoryToolError(f"{path}: {exc}") from exc
        return self._commit(snap, {path: new_text}, reason, verb="update_description")

    # ------------------------------------------------------------------ the editor's save
    @_serialised
    def write_file(self, path: str, text: str | bytes, *, base_version: str | None = None,
                   reason: str | None = None, must_exist: bool = False) -> EditResult:
        """Replace a whole file (an editor save). ``base_version`` is the blob id the editor loaded;
        a mismatch raises ``StaleVersionError`` and writes nothing."""
        try:
            path = check_memory_path(path)
        except UnsafePathError as exc:
            raise MemoryToolError(str(exc)) from exc
        if isinstance(text, bytes):
            decoded = decode_text(text)
            if decoded is None:
                raise MemoryToolError(f"{path}: the text is not UTF-8 (or holds a NUL byte); "
                                      "memory files are UTF-8 text")
            text = decoded
        elif "\x00" in text:
            raise MemoryToolError(f"{path}: the text holds a NUL byte; memory files are UTF-8 text")
        snap = self.repo.snapshot()
        existing = snap.get(path)
        if must_exist and existing is None:
            raise MemoryToolError(f"{path} does not exist in memory", "not-found")
        if self.actor == "agent":
            self._check_writable(snap, path)
            self._check_read_only_key(existing.text if existing else None, text, path)
        expect = {path: base_version} if base_version is not None else None
        verb = "save" if self.actor == "user" else "write"
        return self._commit(snap, {path: text}, (reason or f"edit {path}").strip() or f"edit {path}",
                            expect=expect, verb=verb)

    # ------------------------------------------------------------------ the model's tool
    def run_tool(self, arguments: Mapping[str, Any]) -> EditResult | str:
        """Dispatch one ``memory`` tool call; raises ``MemoryToolError`` with advice on bad input."""
        if not isinstance(arguments, Mapping):
            raise MemoryToolError("the memory tool takes a JSON object of arguments")
        command = arguments.get("command")
        reason = arguments.get("reason")
        match command:
            case "view":
                return self.view(arguments.get("file_path", ""))
            case "create":
                return self.create(arguments.get("file_path"), arguments.get("description"),
                                   arguments.get("file_text", ""), reason)
            case "str_replace":
                return self.str_replace(arguments.get("file_path"), arguments.get("old_string"),
                                        arguments.get("new_string"), reason)
            case "insert":
                return self.insert(arguments.get("file_path"), arguments.get("insert_line"),
                                   arguments.get("insert_text"), reason)
            case "delete":
                return self.delete(arguments.get("file_path"), reason)
            case "rename":
                return self.rename(arguments.get("old_path"), arguments.get("new_path"), reason)
            case "update_description":
                return self.update_description(arguments.get("file_path"), arguments.get("description"), reason)
            case _:
                raise MemoryToolError(
                    f"unknown memory command {command!r}; use one of view, create, str_replace, insert, delete, "
                    "rename, update_description"
                )
