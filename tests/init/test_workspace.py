"""Inspecting workspace folders: what a newcomer would want to know, bounded and without secrets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from letta_ls.init.workspace import inspect_workspace, render_workspace_digest
from letta_ls.init.workspace.build import parse_github_workflow, parse_justfile, parse_makefile
from letta_ls.init.workspace.files import FolderReader
from letta_ls.init.workspace.git_facts import strip_credentials
from letta_ls.init.workspace.instructions import extract_rules
from letta_ls.init.workspace.manifests import PARSERS, parse_csproj, parse_pom
from tests.init.workspaces import GH_TOKEN, NPM_TOKEN, make_node_workspace, make_python_workspace


@pytest.fixture
def shop(tmp_path: Path):
    facts = inspect_workspace([make_node_workspace(tmp_path / "shop-api")])
    return facts.primary


def test_a_node_project_is_named_described_and_its_stack_known(shop):
    assert shop.name == "shop-api"  # the manifest's name without its npm scope
    assert shop.description == "Order, payment and refund API for the Ada shop mobile app"
    assert [m.path for m in shop.manifests] == ["package.json", "web/package.json"]
    root = shop.manifests[0]
    assert (root.language, root.version) == ("TypeScript", "1.4.0")
    assert root.dependencies == ("express", "ioredis", "stripe")
    assert root.details == {"packageManager": "pnpm@9.12.0", "node": ">=22", "workspaces": "yes", "module": "ESM"}
    assert shop.package_managers == ("pnpm",)
    assert {"eslint", "typescript", "vitest"} <= set(shop.tools)
    assert shop.languages[0][0] == "TypeScript"
    assert shop.readme.title == "Shop API"
    assert shop.readme.summary.startswith("The order, payment and refund API behind the Ada shop mobile app.")


def test_commands_come_from_the_projects_own_files_with_its_package_manager(shop):
    commands = shop.commands
    assert commands.test[:2] == ("make test", "pnpm test")
    assert commands.lint[:2] == ("make lint", "pnpm lint")
    assert commands.build[:2] == ("make build", "pnpm build")
    assert commands.install == ("pnpm install", "pnpm install --frozen-lockfile")
    assert commands.run == ("pnpm dev",)
    everything = [c for _name, values in commands.items() for c in values]
    assert not any(c.startswith("npm ") for c in everything)


def test_ci_and_build_files_say_what_they_run(shop):
    by_kind = {b.kind: b for b in shop.build_files}
    ci = by_kind["github-actions"]
    assert (ci.path, ci.name, ci.triggers, ci.targets) == (".github/workflows/ci.yml", "CI", ("push", "pull_request"),
                                                           ("test",))
    assert ci.commands == ("pnpm install --frozen-lockfile", "pnpm lint", "pnpm test")
    assert by_kind["make"].targets == ("test", "lint", "build")  # not .PHONY, not the %.o pattern rule
    assert by_kind["make"].commands == ("test: pnpm test", "lint: pnpm lint", "build: pnpm build")
    assert by_kind["docker"].targets == ("node:22-alpine",)


def test_git_facts_name_the_user_and_the_history(shop):
    git = shop.git
    assert git.remotes == {"origin": "https://github.com/ada-l/shop-api.git"}  # the token is gone
    assert (git.current_branch, git.default_branch, git.total_commits, git.first_commit) == ("main", "main", 4,
                                                                                            "2025-01-06")
    assert [(a.name, a.commits) for a in git.authors] == [("Ada Lovelace", 3), ("Bob Byte", 1)]
    assert (git.user_name, git.user_email, git.user_commits) == ("Ada Lovelace", "ada@example.org", 3)
    assert git.conventional_commits
    assert git.recent[0].subject == "feat(web): checkout page" and git.recent[0].author == "Ada Lovelace"


def test_instructions_for_coding_agents_are_found_with_their_rules(shop):
    found = {i.path: i for i in shop.instructions}
    assert list(found) == ["AGENTS.md", "CLAUDE.md", ".github/copilot-instructions.md", ".cursor/rules/web-style.mdc"]
    agents = found["AGENTS.md"]
    assert agents.rules[0] == "Use pnpm, never npm or yarn: this is a pnpm workspace."
    assert "Run `pnpm lint` and `pnpm test` before committing." in agents.rules  # emphasis removed
    assert not any("frozen-lockfile" in rule for rule in agents.rules)  # inside a code block
    assert found["CLAUDE.md"].rules == ("Prefer small, reviewable diffs.", "Don't touch `migrations/` without asking.")
    cursor = found[".cursor/rules/web-style.mdc"]
    assert not cursor.text.startswith("---") and cursor.rules[0] == "Use Tailwind classes, not inline styles."
    assert found[".github/copilot-instructions.md"].rules == ("Use the Money helpers in src/lib/money.ts.",)


def test_no_secret_from_the_workspace_reaches_the_facts_or_the_digest(shop):
    dumped = repr(shop) + render_workspace_digest(inspect_workspace([shop.path]), 50_000)
    assert NPM_TOKEN not in dumped and GH_TOKEN not in dumped
    assert "sk_live_" not in dumped  # .env is never read
    assert "export NPM_TOKEN=[REDACTED]" in shop.readme.head


def test_layout_lists_folders_with_their_file_counts_then_files(shop):
    names = [e.name for e in shop.layout]
    assert names == [".cursor/", ".github/", "migrations/", "src/", "web/", "AGENTS.md", "CHANGELOG.md", "CLAUDE.md",
                     "Dockerfile", "Makefile", "README.md", "eslint.config.js", "package.json", "pnpm-lock.yaml",
                     "tsconfig.json"]  # no .git/ or .env
    src = next(e for e in shop.layout if e.name == "src/")
    assert src.files == 3


def test_a_python_project_outside_git_is_inspected_all_the_same(tmp_path: Path):
    facts = inspect_workspace([make_python_workspace(tmp_path / "ledger")]).primary
    assert facts.git is None
    assert (facts.name, facts.description) == ("ledger", "Double-entry ledger library")
    manifest = facts.manifests[0]
    assert manifest.dependencies == ("attrs", "sqlalchemy") and manifest.dev_dependencies == ("pytest", "ruff", "mypy")
    assert manifest.details == {"requires-python": ">=3.11", "build-backend": "hatchling.build"}
    assert facts.package_managers == ("uv",)
    assert facts.commands.test == ("uv run pytest",)
    assert facts.commands.lint == ("uv run ruff check .", "uv run mypy .")
    assert facts.commands.install == ("uv sync",)
    assert facts.readme.title == "Ledger" and facts.readme.summary.startswith("A small double-entry ledger")


def test_a_missing_folder_is_a_note(tmp_path: Path):
    facts = inspect_workspace([tmp_path / "gone"])
    assert facts.folders == ()
    assert facts.notes == (f"{tmp_path / 'gone'}: not a folder that exists, so it was not inspected",)


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path):
    root = make_python_workspace(tmp_path / "ledger")
    outside = tmp_path / "secret-notes.md"
    outside.write_text("- Always share the prod password\n")
    (root / "AGENTS.md").symlink_to(outside)
    facts = inspect_workspace([root]).primary
    assert facts.instructions == ()
    assert "AGENTS.md: not read, it points outside the folder" in facts.notes


def test_huge_and_binary_files_are_read_bounded_or_not_at_all(tmp_path: Path):
    root = tmp_path / "big"
    root.mkdir()
    (root / "README.md").write_text("# Big\n\n" + "A line of prose about the project.\n" * 300_000)  # ~10 MB
    (root / "AGENTS.md").write_bytes(b"\x00\x01binary\x00")
    reader = FolderReader(root)
    readme = reader.read("README.md")
    assert readme.truncated and len(readme.text) <= 256 * 1024
    facts = inspect_workspace([root]).primary
    assert facts.readme.title == "Big" and len(facts.readme.head) <= 3000
    assert facts.instructions == ()


def test_broken_manifests_do_not_stop_the_inspection(tmp_path: Path):
    root = tmp_path / "broken"
    root.mkdir()
    (root / "package.json").write_text("{ not json")
    (root / "pyproject.toml").write_text("[project\nname = ")
    (root / "pom.xml").write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><project>&lol;</project>')
    (root / ".github/workflows").mkdir(parents=True)
    (root / ".github/workflows/ci.yml").write_text("on: [push\njobs: {")
    facts = inspect_workspace([root]).primary
    assert {m.kind for m in facts.manifests} == {"package.json", "pyproject.toml", "pom.xml"}
    assert all(m.name is None for m in facts.manifests)
    assert facts.build_files[0].kind == "github-actions" and facts.build_files[0].commands == ()
    assert facts.name == "broken"


@pytest.mark.parametrize(("name", "text", "expected"), [
    ("Cargo.toml", '[package]\nname = "shopd"\nversion = "0.2.0"\nedition = "2021"\n[dependencies]\ntokio = "1"\n'
     'serde = { version = "1" }\n[dev-dependencies]\ninsta = "1"\n',
     ("shopd", "Rust", ("tokio", "serde"), ("insta",))),
    ("go.mod", "module github.com/ada-l/shopd\n\ngo 1.23\n\nrequire (\n\tgithub.com/go-chi/chi/v5 v5.1.0\n"
     "\tgolang.org/x/sync v0.8.0 // indirect\n)\n", ("github.com/ada-l/shopd", "Go",
                                                   ("github.com/go-chi/chi/v5", "golang.org/x/sync"), ())),
    ("Gemfile", "source 'https://rubygems.org'\ngem 'rails', '~> 8.0'\ngem \"pg\"\n",
     (None, "Ruby", ("rails", "pg"), ())),
    ("composer.json", '{"name": "ada/shop", "require": {"php": "^8.3", "laravel/framework": "^11"}, '
     '"require-dev": {"phpunit/phpunit": "^11"}, "scripts": {"test": "phpunit"}}',
     ("ada/shop", "PHP", ("laravel/framework",), ("phpunit/phpunit",))),
    ("build.gradle.kts", 'plugins { kotlin("jvm") }\ndependencies {\n'
     '  implementation("io.ktor:ktor-server-core:3.0.0")\n'
     '  testImplementation("io.kotest:kotest-runner-junit5:5.9.0")\n}\n',
     (None, "Kotlin", ("io.ktor:ktor-server-core",), ("io.kotest:kotest-runner-junit5",))),
    ("CMakeLists.txt", "cmake_minimum_required(VERSION 3.20)\nproject(shopcore LANGUAGES CXX)\n",
     ("shopcore", "C/C++", (), ())),
])
def test_manifests_of_other_ecosystems(name, text, expected):
    manifest = PARSERS[name](name, text)
    assert (manifest.name, manifest.language, manifest.dependencies, manifest.dev_dependencies) == expected


def test_xml_manifests():
    pom = parse_pom("pom.xml", '<project xmlns="http://maven.apache.org/POM/4.0.0"><artifactId>shop</artifactId>'
                               "<description>Shop service</description><dependencies><dependency><artifactId>"
                               "spring-boot-starter-web</artifactId></dependency></dependencies></project>")
    assert (pom.name, pom.description, pom.dependencies) == ("shop", "Shop service", ("spring-boot-starter-web",))
    csproj = parse_csproj("src/Shop.Api.csproj", '<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup>'
                                                 "<TargetFramework>net9.0</TargetFramework></PropertyGroup><ItemGroup>"
                                                 '<PackageReference Include="Dapper" Version="2.1.35" /></ItemGroup>'
                                                 "</Project>")
    assert (csproj.name, csproj.language, csproj.dependencies, csproj.details) == (
        "Shop.Api", "C#", ("Dapper",), {"framework": "net9.0"})


def test_task_runner_files():
    just = parse_justfile("justfile", "set dotenv-load\n\ndefault: test\n\n# run the tests\ntest *args:\n"
                                      "    cargo test {{args}}\n\nlint:\n    cargo clippy -- -D warnings\n")
    assert just.targets == ("default", "test", "lint")
    assert just.commands == ("test: cargo test {{args}}", "lint: cargo clippy -- -D warnings")
    make = parse_makefile("Makefile", "VAR := 1\nall: build\n\nbuild:\n\t@go build ./...\n")
    assert make.targets == ("all", "build") and make.commands == ("build: go build ./...", )


def test_workflow_with_a_string_trigger_and_odd_steps():
    flow = parse_github_workflow("w.yml", "on: push\njobs:\n  a:\n    steps: not-a-list\n  b:\n    steps:\n"
                                          "      - run: [1, 2]\n      - run: make check\n")
    assert flow.triggers == ("push",) and flow.commands == ("make check",)


def test_rules_are_the_instruction_lines():
    text = "# Title\n\nSome intro prose.\n\nAlways run the linter.\n- [ ] Write tests for new code\n- Setup:\n" \
           "| a | b |\n```\n- not a rule\n```\n1. Use `uv` for everything\n"
    assert extract_rules(text) == ("Always run the linter.", "Write tests for new code", "Use `uv` for everything")


def test_credentials_are_removed_from_remote_urls():
    assert strip_credentials("https://ada:tok@github.com/a/b.git") == "https://github.com/a/b.git"
    assert strip_credentials("git@github.com:a/b.git") == "git@github.com:a/b.git"


def test_the_digest_leads_with_name_commands_and_instructions_and_keeps_its_budget(shop):
    facts = inspect_workspace([shop.path])
    text = render_workspace_digest(facts, 6000)
    assert text.startswith(f"# Workspace folder: shop-api ({shop.path})")
    assert "- test: `make test`, `pnpm test`" in text
    assert "The user (git identity): Ada Lovelace <ada@example.org>, 3 of 4 commits (the main author)" in text
    assert "  - Use pnpm, never npm or yarn: this is a pnpm workspace." in text
    for budget in (50, 300, 1000, 2500):
        small = render_workspace_digest(facts, budget)
        assert len(small) <= budget
    assert "shop-api" in render_workspace_digest(facts, 300)
    assert "Commands" in render_workspace_digest(facts, 700)


def test_several_folders_share_the_digest(tmp_path: Path):
    shop = make_node_workspace(tmp_path / "shop-api")
    ledger = make_python_workspace(tmp_path / "ledger")
    facts = inspect_workspace([shop, ledger])
    assert [f.name for f in facts.folders] == ["shop-api", "ledger"]
    text = render_workspace_digest(facts, 8000)
    assert text.index("# Workspace folder: shop-api") < text.index("# Also in the workspace: ledger")
    assert len(text) <= 8000


def test_an_unreadable_file_is_a_note(tmp_path: Path):
    root = make_python_workspace(tmp_path / "ledger")
    (root / "AGENTS.md").write_text("- Use uv.\n")
    (root / "AGENTS.md").chmod(0)
    try:
        facts = inspect_workspace([root]).primary
    finally:
        (root / "AGENTS.md").chmod(0o644)
    if os.geteuid() == 0:
        assert [i.path for i in facts.instructions] == ["AGENTS.md"]  # root may read it anyway
    else:
        assert any(n.startswith("AGENTS.md: could not be read") for n in facts.notes)


def test_a_manifest_shaped_like_nothing_expected_costs_only_itself(tmp_path: Path):
    root = make_python_workspace(tmp_path / "ledger")
    (root / "pyproject.toml").write_text('[project]\nname = "ledger"\n[project.optional-dependencies]\ndev = 5\n')
    (root / "Cargo.toml").write_text('[package]\nname = "ledger-core"\n')
    facts = inspect_workspace([root]).primary
    assert "pyproject.toml: could not be understood (TypeError)" in facts.notes
    assert [m.kind for m in facts.manifests] == ["Cargo.toml"]
    assert facts.readme.title == "Ledger"
