"""A realistic, healthy Letta-Code-style memory that the doctor must audit clean.

Tests build a bad case by changing one or two files of ``HEALTHY`` and assert that exactly the expected
code appears. The memory mentions key *names* (``OPENAI_API_KEY``) and placeholders (``sk-...``), has a
short code block in ``system/``, a reference doc that says "always" once, a skill with references, an
``ARCHIVE.md``, an avatar ``profile.png`` and non-ASCII text, all of which must stay quiet.
"""

from __future__ import annotations

from letta_ls.memfs.snapshot import MemorySnapshot

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"

HEALTHY: dict[str, str | bytes] = {
    "system/persona.md": """---
description: Who I am, what I value and how I work with this user.
read_only: false
---
I am Letta Code, a stateful coding agent. I keep my memory current: when I learn something
durable about the user or the project, I write it down in the right file and link related files.

I value correctness over speed, small reviewable diffs, and saying so when I am unsure.
""",
    "system/human.md": """---
description: What I have learned about the user (name, role, preferences, working style).
---
- Name: Zoë Lefèvre; works from Lyon (Café — 日本語 is her team's chat channel name).
- Senior backend engineer on the payments team; reviews most PRs in the morning.
- Prefers concise answers with the command first, then the explanation.
- Uses Neovim with a dark theme and runs tests with `make test`.
""",
    "system/project/overview.md": """---
description: What the ledger-service project is, its layout, and where the details live.
---
# ledger-service

A Go service that records double-entry transactions for the payments platform.

- `cmd/ledger/` is the entry point; `internal/` holds the domain packages.
- Build and test notes: [[system/project/tooling.md]]
- API endpoints and error codes: [[reference/ledger-api.md]]
- Deployment runbook: [[reference/deploy-runbook]]
""",
    "system/project/tooling.md": """---
description: How to build, test and lint ledger-service, and the gotchas of its toolchain.
limit: 3000
---
Run the unit tests with race detection before pushing:

```bash
go test -race ./...
golangci-lint run
```

The integration tests need Postgres 16 on port 5433; `make db-up` starts it in Docker.
Configuration reads `OPENAI_API_KEY` only for the changelog summariser; set it in your shell
(e.g. `export OPENAI_API_KEY=sk-...`), never in a config file.
""",
    "system/style.md": """---
description: Coding conventions the user asked me to follow in this repository.
---
- Wrap errors with `fmt.Errorf("context: %w", err)`.
- Table-driven tests for anything with more than two cases.
- Keep functions under about 60 lines; split helpers out instead.
""",
    "reference/ledger-api.md": """---
description: The ledger HTTP API (endpoints, payloads, error codes); read when touching handlers.
---
# Ledger API

All requests need a bearer token from the auth service: `Authorization: Bearer <token>`.
Requests are idempotent when they carry an `Idempotency-Key` header, and the server always
returns the original response for a repeated key within 24 hours.

| Endpoint | Purpose |
| --- | --- |
| `POST /v1/transactions` | record a balanced transaction |
| `GET /v1/accounts/{id}/balance` | current balance of an account |

Errors use RFC 7807 problem documents with a stable `type` URI per failure.
""",
    "reference/deploy-runbook.md": """---
description: Step-by-step deployment of ledger-service to staging and production.
---
1. Merge to `main`; CI builds the image and pushes it to the registry.
2. Run `make deploy ENV=staging` and watch the canary dashboard for ten minutes.
3. Promote with `make deploy ENV=production` once the error rate stays flat.

The deploy script reads `DEPLOY_TOKEN` from the environment (`$DEPLOY_TOKEN` in CI secrets).
Placeholder values in examples look like `sk-xxxx` or `<your-key>`; real keys never go here.
""",
    "reference/postgres-notes.md": """---
description: Postgres schema notes for the ledger tables and how migrations are applied.
---
Migrations live in `migrations/` and run with `goose up`; each one must be reversible.
The `entries` table is append-only; corrections are new reversing entries, not updates.
Local connection string: `postgres://ledger:${PGPASSWORD}@localhost:5433/ledger`.
""",
    "skills/release-notes/SKILL.md": """---
name: release-notes
description: Draft release notes from merged PRs since the last tag.
---
# Release notes

1. List merged PRs since the last tag with `gh pr list --state merged`.
2. Group them by area using the labels, then summarise each group in one line.
3. See [[references/format.md]] for the house format.
""",
    "skills/release-notes/references/format.md": """# Release note format

Each entry is one line: area, change, PR number. Breaking changes go first.
""",
    "ARCHIVE.md": """---
description: Retired context kept for history (superseded decisions, old setups).
---
- 2024-03: moved from Jenkins to GitHub Actions; the old Jenkinsfile notes were removed.
""",
    "profile.png": PNG,
}


def make_snapshot(files: dict[str, str | bytes], head: str | None = None) -> MemorySnapshot:
    return MemorySnapshot.from_mapping(files, head=head)


def with_change(files: dict[str, str | bytes], change: dict[str, int],
                texts: list[str | None]) -> dict[str, str | bytes]:
    """``files`` after one commit of a generated history: each path of ``change`` gets the text of ``texts`` it
    names, or is deleted where that text is None (the property tests' pools end with a None for deletions)."""
    after = dict(files)
    for path, choice in change.items():
        text = texts[choice]
        if text is None:
            after.pop(path, None)
        else:
            after[path] = text
    return after
