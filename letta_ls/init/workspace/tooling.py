"""Which package managers and developer tools a folder uses, from lockfiles and config files.

Only evidence on disk counts: a lockfile names the package manager (``pnpm-lock.yaml`` means pnpm, even
if the README says ``npm install``), a config file or a configured section names a tool. This is what
keeps the agent from running ``npm test`` in a pnpm workspace.
"""

from __future__ import annotations

from collections.abc import Sequence

from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.model import Manifest

LOCKFILES = (
    ("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"), ("bun.lock", "bun"),
    ("package-lock.json", "npm"), ("uv.lock", "uv"), ("poetry.lock", "poetry"), ("pdm.lock", "pdm"),
    ("Pipfile.lock", "pipenv"), ("Cargo.lock", "cargo"), ("go.sum", "go"), ("Gemfile.lock", "bundler"),
    ("composer.lock", "composer"), ("gradlew", "gradle wrapper"), ("mvnw", "maven wrapper"),
)
_CONFIG_FILES = (
    (("ruff.toml", ".ruff.toml"), "ruff"), ((".flake8",), "flake8"), (("mypy.ini", ".mypy.ini"), "mypy"),
    (("pyrightconfig.json",), "pyright"), (("pytest.ini", "conftest.py", "tests/conftest.py"), "pytest"),
    (("tox.ini",), "tox"), (("noxfile.py",), "nox"), ((".pylintrc", "pylintrc"), "pylint"),
    ((".eslintrc", ".eslintrc.js", ".eslintrc.cjs", ".eslintrc.json", ".eslintrc.yml", "eslint.config.js",
      "eslint.config.mjs", "eslint.config.cjs", "eslint.config.ts"), "eslint"),
    ((".prettierrc", ".prettierrc.json", ".prettierrc.js", ".prettierrc.yml", "prettier.config.js",
      "prettier.config.mjs"), "prettier"),
    (("biome.json", "biome.jsonc"), "biome"), (("tsconfig.json",), "typescript"),
    (("vitest.config.ts", "vitest.config.js", "vitest.config.mts"), "vitest"),
    (("jest.config.js", "jest.config.ts", "jest.config.cjs"), "jest"),
    (("playwright.config.ts", "playwright.config.js"), "playwright"),
    (("rustfmt.toml", ".rustfmt.toml"), "rustfmt"), (("clippy.toml",), "clippy"),
    ((".golangci.yml", ".golangci.yaml"), "golangci-lint"), ((".rubocop.yml",), "rubocop"),
    ((".pre-commit-config.yaml",), "pre-commit"), ((".editorconfig",), "editorconfig"),
    ((".clang-format",), "clang-format"), (("phpunit.xml", "phpunit.xml.dist"), "phpunit"),
)
_PYPROJECT_TOOLS = ("ruff", "black", "isort", "mypy", "pyright", "pylint", "coverage")
_DEPENDENCY_TOOLS = frozenset({
    "ruff", "black", "isort", "mypy", "pyright", "pylint", "pytest", "flake8", "eslint", "prettier", "vitest",
    "jest", "mocha", "typescript", "@biomejs/biome", "playwright", "@playwright/test", "rspec", "rubocop",
    "phpunit/phpunit", "hypothesis", "tox", "nox",
})


def package_managers(reader: FolderReader, manifests: Sequence[Manifest]) -> tuple[str, ...]:
    found = [name for lockfile, name in LOCKFILES if reader.exists(lockfile)]
    for manifest in manifests:
        declared = manifest.details.get("packageManager", "").split("@", 1)[0]
        if declared and declared not in found:
            found.insert(0, declared)
    return tuple(dict.fromkeys(found))


def configured_tools(reader: FolderReader, manifests: Sequence[Manifest]) -> tuple[str, ...]:
    found: list[str] = []
    for names, tool in _CONFIG_FILES:
        if any(reader.exists(name) for name in names):
            found.append(tool)
    pyproject = reader.read("pyproject.toml", quiet=True)
    if pyproject is not None:
        for tool in _PYPROJECT_TOOLS:
            if f"[tool.{tool}" in pyproject.text:
                found.append(tool)
        if "[tool.pytest" in pyproject.text:
            found.append("pytest")
    for manifest in manifests:
        for dependency in (*manifest.dev_dependencies, *manifest.dependencies):
            if dependency.lower() in _DEPENDENCY_TOOLS:
                found.append(dependency.lower().split("/")[-1].removeprefix("@"))
    return tuple(dict.fromkeys(found))
