"""Realistic workspaces on disk for the /init tests: real files and a real git history."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

NPM_TOKEN = "npm_Q7vX2mLk9RtB4wYz8NpC3dFh6JsA1eGu5KoP"
GH_TOKEN = "ghp_KlDTlyUXAO0IQleNJaZJpsaujaLHSLMhXRty"

AGENTS_MD = """# AGENTS.md

Guidance for coding agents working on shop-api.

## Setup
- Use pnpm, never npm or yarn: this is a pnpm workspace.
- Node 22 is required (see `engines` in package.json).

## Conventions
- Money is always an integer number of cents (`amountCents`), never a float.
- Keep route handlers thin; business logic lives in `src/services/`.
- **Run `pnpm lint` and `pnpm test` before committing.**
- Commit messages follow Conventional Commits: `feat(orders): ...`.

```sh
pnpm install --frozen-lockfile
```
"""

CLAUDE_MD = """# CLAUDE.md

@AGENTS.md

- Prefer small, reviewable diffs.
- Don't touch `migrations/` without asking.
"""

CURSOR_RULE = """---
description: Styling rules for the web app
globs: web/src/**/*.tsx
alwaysApply: false
---
- Use Tailwind classes, not inline styles.
- Components are function components with named exports.
"""


def git(cwd: Path, *args: str, author: tuple[str, str] | None = None, date: str | None = None) -> str:
    env = dict(os.environ)
    if author:
        env.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1], GIT_COMMITTER_NAME=author[0],
                   GIT_COMMITTER_EMAIL=author[1])
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


ADA = ("Ada Lovelace", "ada@example.org")
BOB = ("Bob Byte", "bob@example.org")


def make_node_workspace(root: Path) -> Path:
    """shop-api: a pnpm TypeScript service with a web package, CI, agent instructions and git history."""
    root.mkdir(parents=True)
    write(root, {
        "package.json": json.dumps({
            "name": "@ada-l/shop-api", "version": "1.4.0", "private": True,
            "description": "Order, payment and refund API for the Ada shop mobile app",
            "packageManager": "pnpm@9.12.0", "engines": {"node": ">=22"}, "type": "module",
            "scripts": {"dev": "tsx watch src/index.ts", "build": "tsc -p .", "test": "vitest run",
                        "lint": "eslint . --max-warnings 0", "db:migrate": "node scripts/migrate.js"},
            "dependencies": {"express": "^5.0.1", "ioredis": "^5.4.1", "stripe": "^17.0.0"},
            "devDependencies": {"typescript": "^5.6.0", "vitest": "^2.1.0", "eslint": "^9.12.0", "tsx": "^4.19.0"},
            "workspaces": ["web"],
        }, indent=2),
        "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
        "tsconfig.json": '{"compilerOptions": {"strict": true}}\n',
        "eslint.config.js": "export default [];\n",
        "web/package.json": json.dumps({"name": "@ada-l/shop-web", "scripts": {"test": "vitest run"},
                                        "dependencies": {"react": "^19.0.0"}}),
        "README.md": (
            "[![CI](https://github.com/ada-l/shop-api/actions/workflows/ci.yml/badge.svg)](https://github.com)\n\n"
            "# Shop API\n\n"
            "The order, payment and refund API behind the Ada shop mobile app.\n"
            "It talks to Stripe and keeps idempotency keys in Redis.\n\n"
            "## Development\n\n"
            f"```sh\nexport NPM_TOKEN={NPM_TOKEN}\npnpm install\npnpm dev\n```\n"
        ),
        "Makefile": (".PHONY: test lint build\n\ntest:\n\tpnpm test\n\nlint:\n\tpnpm lint\n\n"
                     "build:\n\tpnpm build\n\n%.o: %.c\n\tcc -c $<\n"),
        ".github/workflows/ci.yml": (
            "name: CI\non:\n  push:\n    branches: [main]\n  pull_request:\njobs:\n  test:\n"
            "    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
            "      - uses: pnpm/action-setup@v4\n      - run: pnpm install --frozen-lockfile\n"
            "      - run: |\n          pnpm lint\n          pnpm test\n"
        ),
        "Dockerfile": ("FROM node:22-alpine AS build\nWORKDIR /app\nFROM node:22-alpine\n"
                       "CMD [\"node\", \"dist/index.js\"]\n"),
        "AGENTS.md": AGENTS_MD,
        "CLAUDE.md": CLAUDE_MD,
        ".cursor/rules/web-style.mdc": CURSOR_RULE,
        ".github/copilot-instructions.md": "Answer in English. Use the Money helpers in src/lib/money.ts.\n",
        "src/index.ts": "import express from 'express';\n",
        "src/routes/orders.ts": "export const orders = 1;\n",
        "src/services/refunds.ts": "export const refund = 1;\n",
        "web/src/App.tsx": "export function App() { return null; }\n",
        "migrations/0001_init.sql": "create table orders ();\n",
        ".env": f"STRIPE_SECRET_KEY=sk_live_9GUHS6P1rkgBY4ATSWlyvbkOd9RxBkFZ\nNPM_TOKEN={NPM_TOKEN}\n",
    })
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", ADA[0])
    git(root, "config", "user.email", ADA[1])
    git(root, "remote", "add", "origin", f"https://ada-l:{GH_TOKEN}@github.com/ada-l/shop-api.git")
    history = [
        (ADA, "2025-01-06T10:00:00", "chore: initial commit"),
        (ADA, "2025-02-10T10:00:00", "feat(orders): idempotency keys for POST /orders"),
        (BOB, "2025-03-03T10:00:00", "fix(refunds): amounts in cents"),
        (ADA, "2025-04-01T10:00:00", "feat(web): checkout page"),
    ]
    for index, (who, when, subject) in enumerate(history):
        (root / "CHANGELOG.md").write_text(f"{index}\n")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", subject, author=who, date=when)
    return root


def make_python_workspace(root: Path) -> Path:
    """ledger: a uv-managed Python package with ruff, mypy and pytest, not a git repository."""
    root.mkdir(parents=True)
    write(root, {
        "pyproject.toml": (
            '[project]\nname = "ledger"\nversion = "0.3.0"\ndescription = "Double-entry ledger library"\n'
            'requires-python = ">=3.11"\ndependencies = ["attrs>=24", "sqlalchemy[asyncio]>=2.0"]\n\n'
            '[project.optional-dependencies]\ndev = ["pytest>=8", "ruff==0.6.9", "mypy"]\n\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n\n'
            '[tool.ruff]\nline-length = 100\n\n[tool.mypy]\nstrict = true\n\n[tool.pytest.ini_options]\n'
            'testpaths = ["tests"]\n'
        ),
        "uv.lock": "version = 1\n",
        "src/ledger/__init__.py": "",
        "src/ledger/entries.py": "",
        "tests/test_entries.py": "",
        "README.rst": "Ledger\n======\n\nA small double-entry ledger library with async SQLAlchemy storage.\n",
    })
    return root
