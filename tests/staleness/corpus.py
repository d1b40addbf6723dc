"""A workspace with a history, and memory notes about it: stale claims of every kind, and look-alikes.

Each corpus line is written into a note as it is; ``STALE`` lines carry the values that must be flagged
(counted by hand from the workspace below), ``LOOKALIKES`` lines must not fire. ``ROOT`` in a line is the
workspace's absolute path.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

FIRST = {
    "src/config/settings.py": "DEBUG = False\n",
    "src/app/main.py": "print('hi')\n",
    "src/app/util.py": "",
    "lib/old_helper.js": "module.exports = {}\n",
    "docs/guide.md": "# Guide\n",
    "docs/old.md": "# Old\n",
    "scripts/deploy.sh": "echo deploy\n",
    "tests/unit/test_api.py": "def test_a(): pass\n",
    "tests/unit/test_db.py": "def test_b(): pass\n",
    "internal/store/store.go": "package store\n",
    "internal/api/api.go": "package api\n",
    "internal/api/routes.go": "package api\n",
    "Makefile": ".PHONY: build test\nbuild:\n\tgo build ./...\ntest: build\n\tgo test ./...\nlint fmt:\n\ttrue\n",
    "package.json": json.dumps({"name": "w", "scripts": {"build": "vite build", "test": "vitest", "dev": "vite"}}),
    "package-lock.json": "{}\n",
    "justfile": "serve port='8000':\n    python -m http.server {{port}}\nrelease: serve\n    echo\n",
    "Taskfile.yml": "version: '3'\ntasks:\n  gen:\n    cmds: [echo]\n  check:\n    cmds: [echo]\n",
    "Cargo.toml": '[package]\nname = "letta-core"\nversion = "0.1.0"\n[dependencies]\nserde = "1"\n',
    "crates/cli/Cargo.toml": '[package]\nname = "letta-cli"\n',
    "pyproject.toml": "[project]\nname = 'w'\n",
    "uv.lock": "version = 1\n",
    ".github/workflows/ci.yml": "on: push\n",
    "README.md": "# w\n",
}

# (old, new) renames in a second commit, deletions, then a chained rename in a third
RENAMES = [("src/config/settings.py", "src/settings/base.py"), ("docs/guide.md", "docs/handbook.md"),
           ("scripts/deploy.sh", "tools/deploy.sh"), ("tests/unit/test_db.py", "tests/integration/test_db.py"),
           ("internal/api/api.go", "internal/http/api.go"), ("internal/api/routes.go", "internal/http/routes.go")]
DELETIONS = ["lib/old_helper.js", "docs/old.md"]
CHAINED = ("src/settings/base.py", "src/settings/defaults.py")


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def make_workspace(root: Path) -> dict[str, str]:
    """The workspace, and the short commit ids of its renames (for messages)."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "T")
    git(root, "remote", "add", "origin", "git@github.com:example/workspace.git")
    for path, text in FIRST.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "first")
    for old, new in RENAMES:
        (root / new).parent.mkdir(parents=True, exist_ok=True)
        git(root, "mv", old, new)
    for path in DELETIONS:
        git(root, "rm", "-q", path)
    git(root, "commit", "-qm", "move things")
    second = git(root, "rev-parse", "--short", "HEAD").strip()
    git(root, "mv", *CHAINED)
    git(root, "commit", "-qm", "rename settings again")
    third = git(root, "rev-parse", "--short", "HEAD").strip()
    return {"second": second, "third": third}


# line → the values that must be flagged on it (in order of appearance)
STALE: list[tuple[str, list[str]]] = [
    # paths renamed or deleted in git history (backticks, links, plain text, ./ and workspace-absolute)
    ("Config lives in `src/config/settings.py`.", ["src/config/settings.py"]),
    ("The settings module is src/config/settings.py now.", ["src/config/settings.py"]),
    ("The user guide is [here](docs/guide.md).", ["docs/guide.md"]),
    ("Read `docs/guide.md` first.", ["docs/guide.md"]),
    ("Deploy with `./scripts/deploy.sh`.", ["./scripts/deploy.sh"]),
    ("Deployment script: `scripts/deploy.sh`.", ["scripts/deploy.sh"]),
    ("DB tests are in `tests/unit/test_db.py`.", ["tests/unit/test_db.py"]),
    ("Handlers: `internal/api/api.go` and `internal/api/routes.go`.",
     ["internal/api/api.go", "internal/api/routes.go"]),
    ("The API package is `internal/api/`.", ["internal/api"]),
    ("Old helpers in `lib/old_helper.js`.", ["lib/old_helper.js"]),
    ("History notes: `docs/old.md`.", ["docs/old.md"]),
    ("Absolute: `ROOT/docs/guide.md`.", ["ROOT/docs/guide.md"]),
    ("Also ROOT/src/config/settings.py in plain text.", ["ROOT/src/config/settings.py"]),
    # paths that never existed, under folders the workspace has
    ("The router is `src/app/router.py`.", ["src/app/router.py"]),
    ("Missing module `src/app/missing.py`.", ["src/app/missing.py"]),
    ("Setup steps in `docs/setup.md`.", ["docs/setup.md"]),
    ("Cache layer: internal/store/cache.go.", ["internal/store/cache.go"]),
    ("Fixtures in `tests/fixtures/data.json`.", ["tests/fixtures/data.json"]),
    # make targets
    ("Before pushing run `make deploy`.", ["deploy"]),
    ("`make release` cuts a version.", ["release"]),
    ("Coverage: `make coverage`.", ["coverage"]),
    # package scripts
    ("Components: `pnpm run storybook`.", ["storybook"]),
    ("End to end: `npm run e2e`.", ["e2e"]),
    ("Hooks: `yarn run lint-staged`.", ["lint-staged"]),
    ("Benchmarks: `bun run bench`.", ["bench"]),
    # just and task
    ("Ship it with `just deploy`.", ["deploy"]),
    ("Docs: `just docs`.", ["docs"]),
    ("Generate everything: `task build-all`.", ["build-all"]),
    ("Migrations: `task migrate`.", ["migrate"]),
    # pytest, cargo, go
    ("Run `pytest tests/unit/test_db.py` for the DB.", ["tests/unit/test_db.py"]),
    ("E2E: `pytest tests/e2e/test_flow.py -x`.", ["tests/e2e/test_flow.py"]),
    ("One test: `python -m pytest tests/unit/test_gone.py::test_x`.", ["tests/unit/test_gone.py"]),
    ("Server crate: `cargo test -p letta-server`.", ["letta-server"]),
    ("Web crate: `cargo build --package letta-web`.", ["letta-web"]),
    ("API tests: `go test ./internal/api/...`.", ["internal/api"]),
    ("Cache tests: `go test ./internal/cache`.", ["internal/cache"]),
    # tools the lockfiles contradict (package-lock.json and uv.lock are the lockfiles)
    ("This repo uses pnpm.", ["pnpm"]),
    ("Always use yarn for installs.", ["yarn"]),
    ("We use bun here.", ["bun"]),
    ("Dependencies are managed with poetry.", ["poetry"]),
    ("The project uses pipenv.", ["pipenv"]),
    ("Use `pdm` for Python deps.", ["pdm"]),
]

LOOKALIKES: list[str] = [
    # paths that exist (after the renames)
    "Entry point: `src/app/main.py`.", "Helpers in src/app/util.py.", "The handbook: `docs/handbook.md`.",
    "Store: `internal/store/store.go`.", "DB tests: `tests/integration/test_db.py`.", "CI: `.github/workflows/ci.yml`.",
    "Deploy: `tools/deploy.sh`.", "Settings: `src/settings/defaults.py`.", "HTTP: `internal/http/`.",
    "Read [the handbook](docs/handbook.md).", "Absolute: `ROOT/src/app/main.py`.", "`./tools/deploy.sh` deploys.",
    "Tests live in `tests/`.", "The `src/app` package.", "Top level: `README.md`.",
    # URLs
    "Upstream: https://github.com/example/workspace/blob/main/src/config/settings.py",
    "API docs at http://localhost:3000/api/v1/users.json", "See <https://example.com/docs/guide.md>.",
    "[Issue](https://github.com/x/y/issues/12) and https://x.io/docs/guide.md",
    "Mail: mailto:dev@example.com", "`https://example.com/src/app/router.py`",
    # globs
    "All modules: `src/**/*.py`.", "Tests: `tests/*/test_*.py`.", "Docs: `docs/*.md`.", "Go: `internal/...`.",
    "Config files `src/config/*.toml`.", "`{src,lib}/index.js`",
    # placeholders
    "Put files at `path/to/file.py`.", "Each project has `<project>/src/main.py`.", "`src/${NAME}/x.py` is generated.",
    "`$HOME/.config/app.toml` holds settings.", "`your-project/src/app.py`", "`foo/bar.py` is a made-up name.",
    "`src/app/...`", "Use `[name]/index.ts` style.",
    # home and system paths
    "Claude settings: `~/.claude/settings.json`.", "`/usr/local/bin/tool.py`", "Nginx: `/etc/nginx/nginx.conf`.",
    "`/tmp/build/out.log`", "Logs in ~/logs/app.log.",
    # examples
    "e.g. `src/legacy/old.py` would be a bad name.", "For example `make deploy` would be wrong here.",
    "Such as `scripts/x.sh`.", "A typical layout, for example src/models/user.py.", "i.e. `docs/old.md` style.",
    "Name tests like `tests/unit/test_thing.py`, e.g.",
    # other repositories (first folder unknown here)
    "The frontend repo has `frontend/src/App.tsx`.", "Cluster config: `kubernetes/deploy.yaml`.",
    "Vendored: vendor/github.com/pkg/errors/errors.go.", "In letta-code, `packages/core/index.ts`.",
    "`website/pages/index.mdx`",
    # memory paths
    "See `reference/api.md`.", "Persona: `system/human.md`.", "Linked: [[reference/db]].",
    "[notes](reference/api.md)",
    # commands that hold
    "Build: `make build`.", "`make test` runs go test.", "Lint: `make lint`, format: `make fmt`.",
    "`npm run build`", "`pnpm run dev`", "Serve: `just serve`.", "`just release`", "`task gen`", "`task check`",
    "`pytest tests/integration/test_db.py`", "`pytest tests/unit/test_api.py::test_a -q`", "`cargo test -p letta-core`",
    "`cargo build -p letta-cli`", "`go test ./internal/store/...`", "`go test ./...`", "`npm test`",
    "`make -C other/dir install`", "`make PREFIX=/usr install`",
    # tools said in the negative or matching the lockfiles
    "We do not use yarn.", "Never use poetry here.", "This repo uses npm.", "Python deps use uv.",
    "Do not use pnpm in this repo.", "Switched from yarn long ago; use npm.",
    # prose with slashes and dots
    "Reads and/or writes.", "A client/server design.", "Supports TCP/IP.", "Runs 24/7.", "Half is 1/2.",
    "Python 3.11/3.12 are supported.", "I/O bound.", "The input/output format.",
]
