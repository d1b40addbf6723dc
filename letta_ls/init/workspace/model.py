"""The facts /init collects about a workspace folder, as typed records (data only, no I/O).

Every text in these records is bounded and has had secrets redacted by the inspector that made it, so
they can go into a prompt or into memory as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Readme:
    path: str
    title: str | None
    summary: str | None  # the first paragraph of prose
    head: str  # the first lines, bounded


@dataclass(frozen=True)
class Manifest:
    """A package manifest: what the project is called, what it is written in, its scripts and dependencies."""

    path: str  # relative to the folder
    kind: str  # the file name: ``pyproject.toml``, ``package.json``, ``Cargo.toml``...
    ecosystem: str  # ``python``, ``node``, ``rust``, ``go``, ``java``, ``ruby``, ``php``, ``dotnet``, ``c/c++``
    name: str | None = None
    description: str | None = None
    version: str | None = None
    language: str | None = None
    scripts: dict[str, str] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()
    dev_dependencies: tuple[str, ...] = ()
    details: dict[str, str] = field(default_factory=dict)  # e.g. requires-python, go version, target framework


@dataclass(frozen=True)
class BuildFile:
    """A build, task-runner or CI file and what it runs."""

    path: str
    kind: str  # ``make``, ``just``, ``task``, ``github-actions``, ``gitlab-ci``, ``circleci``, ``docker``...
    name: str | None = None  # a workflow's name
    targets: tuple[str, ...] = ()  # make targets, recipes, jobs, environments, sessions, base images
    commands: tuple[str, ...] = ()  # the shell commands it runs (CI ``run:`` steps, ``script:`` lines)
    triggers: tuple[str, ...] = ()  # CI events (push, pull_request...)


@dataclass(frozen=True)
class Commands:
    """How to work on the project, best guess first: taken from its own files, never invented."""

    install: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    test: tuple[str, ...] = ()
    lint: tuple[str, ...] = ()
    format: tuple[str, ...] = ()
    run: tuple[str, ...] = ()

    def items(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(name, value) for name, value in (
            ("install", self.install), ("build", self.build), ("test", self.test), ("lint", self.lint),
            ("format", self.format), ("run", self.run)) if value]


@dataclass(frozen=True)
class Commit:
    sha: str
    date: str
    author: str
    subject: str


@dataclass(frozen=True)
class AuthorCount:
    name: str
    email: str
    commits: int


@dataclass(frozen=True)
class GitFacts:
    root: str
    remotes: dict[str, str] = field(default_factory=dict)  # name → URL without credentials
    current_branch: str | None = None
    default_branch: str | None = None
    total_commits: int = 0
    first_commit: str | None = None  # a date
    recent: tuple[Commit, ...] = ()
    authors: tuple[AuthorCount, ...] = ()  # by commit count, most first
    user_name: str | None = None
    user_email: str | None = None
    user_commits: int = 0
    conventional_commits: bool = False  # most recent subjects look like ``feat(scope): ...``

    @property
    def remote_url(self) -> str | None:
        return self.remotes.get("origin") or next(iter(self.remotes.values()), None)


@dataclass(frozen=True)
class InstructionFile:
    """Instructions written for coding agents (AGENTS.md, CLAUDE.md, Cursor rules...)."""

    path: str
    kind: str  # ``AGENTS.md``, ``CLAUDE.md``, ``Cursor rules``, ``Copilot instructions``...
    text: str  # the beginning of the file, bounded
    rules: tuple[str, ...] = ()  # the lines that read as instructions (bullets, imperatives)
    size: int = 0  # bytes
    truncated: bool = False


@dataclass(frozen=True)
class LayoutEntry:
    name: str  # ``src/`` for a folder
    files: int | None = None  # files inside a folder (bounded count), None for a file


@dataclass(frozen=True)
class FolderFacts:
    """Everything /init learned about one workspace folder."""

    path: str
    name: str  # the project's real name: its manifest's, else its repository's, else the folder's
    readme: Readme | None = None
    manifests: tuple[Manifest, ...] = ()
    build_files: tuple[BuildFile, ...] = ()
    git: GitFacts | None = None
    instructions: tuple[InstructionFile, ...] = ()
    layout: tuple[LayoutEntry, ...] = ()
    languages: tuple[tuple[str, int], ...] = ()  # (language, files), most first
    package_managers: tuple[str, ...] = ()  # from lockfiles: pnpm, yarn, npm, uv, poetry, cargo...
    tools: tuple[str, ...] = ()  # linters, formatters, type checkers and test runners configured
    commands: Commands = field(default_factory=Commands)
    notes: tuple[str, ...] = ()

    @property
    def description(self) -> str | None:
        for manifest in self.manifests:
            if manifest.description:
                return manifest.description
        return self.readme.summary if self.readme else None


@dataclass(frozen=True)
class WorkspaceFacts:
    folders: tuple[FolderFacts, ...]
    notes: tuple[str, ...] = ()

    @property
    def primary(self) -> FolderFacts | None:
        return self.folders[0] if self.folders else None
