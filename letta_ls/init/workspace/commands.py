"""How to install, build, test, lint, format and run a project, derived from its own files.

Order is evidence strength: the project's own entry points first (Makefile targets, justfile recipes,
package scripts run with the package manager its lockfile names), then the usual commands of the tools
it has configured (``uv run pytest`` when ``uv.lock`` and pytest are there), then what its CI runs.
Nothing is invented: a category with no evidence stays empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from letta_ls.init.workspace.model import BuildFile, Commands, Manifest

MAX_PER_CATEGORY = 4
_TARGET_CATEGORY = {
    "install": "install", "setup": "install", "bootstrap": "install", "deps": "install", "venv": "install",
    "build": "build", "compile": "build", "dist": "build", "package": "build",
    "test": "test", "tests": "test", "unit": "test", "e2e": "test", "integration": "test", "check": "test",
    "lint": "lint", "typecheck": "lint", "type-check": "lint", "vet": "lint", "clippy": "lint",
    "fmt": "format", "format": "format",
    "run": "run", "serve": "run", "dev": "run", "start": "run", "try": "run",
}
_CI_PATTERNS = (
    ("install", re.compile(r"\b(?:npm ci|(?:npm|pnpm|yarn|bun) install|pip install|uv sync|poetry install|"
                           r"bundle install|composer install)\b")),
    ("test", re.compile(r"\b(?:pytest|tox|nox|jest|vitest|mocha|rspec|phpunit|(?:cargo|go|dotnet|mix|swift) test|"
                        r"(?:npm|pnpm|yarn|bun)(?: run)? test|make test|just test|mvn\S* (?:-\S+ )*(?:test|verify)|"
                        r"gradlew? test)\b")),
    ("lint", re.compile(r"\b(?:ruff check|ruff\b(?! format)|flake8|pylint|mypy|pyright|eslint|biome (?:check|lint)|"
                        r"clippy|golangci-lint|go vet|rubocop|(?:npm|pnpm|yarn|bun)(?: run)? lint|make lint)\b")),
    ("format", re.compile(r"\b(?:ruff format|black|prettier|cargo fmt|gofmt|(?:npm|pnpm|yarn) (?:run )?format)\b")),
    ("build", re.compile(r"\b(?:(?:npm|pnpm|yarn|bun)(?: run)? build|cargo build|go build|make build|"
                         r"python -m build|uv build|docker build)\b")),
)

# The usual commands of each Python tool, in order; {prefix} is how the project's manager runs a tool.
_PYTHON_TOOL_COMMANDS = (
    ("pytest", (("test", "{prefix}pytest"),)),
    ("tox", (("test", "tox"),)),
    ("nox", (("test", "nox"),)),
    ("ruff", (("lint", "{prefix}ruff check ."), ("format", "{prefix}ruff format ."))),
    ("mypy", (("lint", "{prefix}mypy ."),)),
    ("black", (("format", "{prefix}black ."),)),
)


class _Collected:
    def __init__(self) -> None:
        self.items: dict[str, list[str]] = {k: [] for k in ("install", "build", "test", "lint", "format", "run")}

    def add(self, category: str, command: str) -> None:
        bucket = self.items[category]
        if command not in bucket and len(bucket) < MAX_PER_CATEGORY:
            bucket.append(command)

    def commands(self) -> Commands:
        return Commands(**{k: tuple(v) for k, v in self.items.items()})


def _script_category(name: str) -> str | None:
    base = name.split(":", 1)[0].lower()
    if base in ("test", "tests", "e2e"):
        return "test"
    if base in ("lint", "typecheck", "type-check", "check"):
        return "lint"
    if base in ("format", "fmt", "prettier"):
        return "format"
    if base in ("build", "compile"):
        return "build"
    if base in ("dev", "start", "serve"):
        return "run"
    return None


def _node_runner(managers: Sequence[str]) -> str:
    return next((m for m in managers if m in ("pnpm", "yarn", "bun", "npm")), "npm")


def _node_script(runner: str, name: str) -> str:
    if runner == "npm" and name not in ("test", "start"):
        return f"npm run {name}"
    return f"{runner} {name}"


def derive_commands(
    manifests: Sequence[Manifest], build_files: Sequence[BuildFile], managers: Sequence[str], tools: Sequence[str],
    *, files: frozenset[str] = frozenset(),
) -> Commands:
    """The commands to work on the project; ``files`` names the top-level files present (for wrappers)."""
    out = _Collected()
    for build in build_files:
        runner = {"make": "make", "just": "just", "task": "task"}.get(build.kind)
        if runner:
            for target in build.targets:
                category = _TARGET_CATEGORY.get(target.lower())
                if category:
                    out.add(category, f"{runner} {target}")
    top = [m for m in manifests if "/" not in m.path]
    ecosystems = {m.ecosystem for m in top}
    runner = _node_runner(managers)
    for manifest in top:
        for name in manifest.scripts:
            category = _script_category(name)
            if category is None:
                continue
            if manifest.ecosystem == "node":
                out.add(category, _node_script(runner, name))
            elif manifest.ecosystem == "deno":
                out.add(category, f"deno task {name}")
            elif manifest.ecosystem == "php":
                out.add(category, f"composer run {name}")
    if "node" in ecosystems:
        out.add("install", f"{runner} install")
    _python(out, ecosystems, managers, tools)
    if "rust" in ecosystems:
        for category, command in (("build", "cargo build"), ("test", "cargo test"), ("lint", "cargo clippy"),
                                  ("format", "cargo fmt")):
            out.add(category, command)
    if "go" in ecosystems:
        for category, command in (("build", "go build ./..."), ("test", "go test ./..."), ("lint", "go vet ./..."),
                                  ("format", "gofmt -w .")):
            out.add(category, command)
        if "golangci-lint" in tools:
            out.add("lint", "golangci-lint run")
    _jvm_and_others(out, top, managers, tools, files)
    for build in build_files:
        if build.kind in ("make", "just", "task", "procfile"):
            continue
        for command in build.commands:
            for category, pattern in _CI_PATTERNS:
                if pattern.search(command) and len(command) <= 120:
                    out.add(category, command)
                    break
    return out.commands()


def _python(out: _Collected, ecosystems: set[str], managers: Sequence[str], tools: Sequence[str]) -> None:
    if "python" not in ecosystems:
        return
    prefix = "uv run " if "uv" in managers else "poetry run " if "poetry" in managers else ""
    if "uv" in managers:
        out.add("install", "uv sync")
    elif "poetry" in managers:
        out.add("install", "poetry install")
    for tool, commands in _PYTHON_TOOL_COMMANDS:
        if tool in tools:
            for category, command in commands:
                out.add(category, command.format(prefix=prefix))


def _jvm_and_others(
    out: _Collected, top: Sequence[Manifest], managers: Sequence[str], tools: Sequence[str], files: frozenset[str]
) -> None:
    kinds = {m.kind for m in top}
    if "pom.xml" in kinds:
        maven = "./mvnw" if "mvnw" in files else "mvn"
        out.add("build", f"{maven} package")
        out.add("test", f"{maven} test")
    if kinds & {"build.gradle", "build.gradle.kts"}:
        gradle = "./gradlew" if "gradlew" in files else "gradle"
        out.add("build", f"{gradle} build")
        out.add("test", f"{gradle} test")
    if "Gemfile" in kinds:
        out.add("install", "bundle install")
        gems = {d for m in top if m.kind == "Gemfile" for d in m.dependencies}
        out.add("test", "bundle exec rspec" if "rspec" in gems or "rspec-rails" in gems else "bundle exec rake test")
        if "rubocop" in tools or "rubocop" in gems:
            out.add("lint", "bundle exec rubocop")
    if "*.csproj" in kinds:
        out.add("build", "dotnet build")
        out.add("test", "dotnet test")
    if "composer.json" in kinds:
        out.add("install", "composer install")
    if "CMakeLists.txt" in kinds:
        out.add("build", "cmake -B build && cmake --build build")
