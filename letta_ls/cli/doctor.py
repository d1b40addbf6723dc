"""``letta-ls doctor [DIRECTORY] [--fix] [--workspace PATH]``: audit the current agent's memory or any MemFS
directory (Letta Code's included), optionally applying the safe fixes, each as a commit by the user, and with
``--workspace`` checking the notes about that workspace against it (``memory-stale``). Exit 1 when an
error-severity finding remains."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from letta_ls.cli.common import EXIT_FINDINGS, EXIT_OK, CliError, open_session, out, print_json
from letta_ls.doctor import AuditResult, render_report
from letta_ls.home import Home
from letta_ls.memfs.repo import MemoryRepo
from letta_ls.session import apply_safe_fixes, audit_directory
from letta_ls.settings import Settings, home_from_environment, structure_settings
from letta_ls.staleness.check import audit_with_workspace


def add_parser(sub: argparse._SubParsersAction) -> None:
    doctor = sub.add_parser("doctor", help="audit a memory directory (default: the current agent's)")
    doctor.add_argument("directory", nargs="?", help="any MemFS directory, Letta Code's included")
    doctor.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    doctor.add_argument("--fix", action="store_true", help="apply the safe fixes, each as a commit")
    doctor.add_argument("--agent", help="audit this agent instead of the current one")
    doctor.add_argument("--workspace", metavar="PATH",
                        help="also check the notes about this workspace against it (memory-stale)")
    # nothing is left to close once the report is out: the process ends without freeing a large memory's
    # objects one by one (letta_ls.cli.main)
    doctor.set_defaults(func=cmd_doctor, exit_without_teardown=True)


def _doctor_text(result: AuditResult, where: str) -> str:
    lines = []
    for f in result.findings:
        lines.append(f"{f.path}:{f.line + 1}: {f.severity} [{f.code}] {f.message}"
                     + (f" (fix: {f.fix.title})" if f.fix else ""))
    counts: dict[str, int] = {}
    for f in result.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items()) or "no findings"
    tokens = result.tokens
    lines.append(f"{where}: {summary}; system prompt memory {tokens.system:,} of {tokens.budget:,} tokens, "
                 f"{tokens.total:,} in all")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    if args.directory:
        directory = Path(args.directory)
        if not directory.is_dir():
            raise CliError(f"{directory} is not a directory: give a memory directory (the one holding system/)")
        settings = _settings_without_creating_home(args)
        # a one-shot process: a large audit may share its per-file work with a forked child on another CPU
        snapshot, result = audit_directory(directory, settings, use_a_fork=True)
        if args.fix:
            if not (directory / ".git").exists():
                raise CliError(f"{directory} is not a git repository: fixes are applied as commits, so --fix needs git")
            repo = MemoryRepo(directory)
            if repo.head() is None:
                raise CliError(f"{directory} has no commit yet; commit it once before using --fix")
            applied = apply_safe_fixes(repo, settings)  # by the user, who asked (letta_ls.memory_fixes)
            _report_fixes(applied, args.format)
            snapshot, result = audit_directory(directory, settings, use_a_fork=True)
        where = str(directory)
    else:
        session = open_session(args)
        result = session.audit(use_a_fork=True)
        if args.fix:
            applied = session.apply_fixes()
            _report_fixes(applied, args.format)
            result = session.audit(use_a_fork=True)
        where = f"{session.agent.name} ({session.agent.id})"
        settings = session.settings
        snapshot = session.repo.snapshot() if args.workspace else None
    if args.workspace and snapshot is not None:
        try:
            result = audit_with_workspace(result, snapshot, args.workspace, settings.memory.diagnostics)
        except NotADirectoryError as exc:
            raise CliError(str(exc)) from exc
    if args.format == "json":
        print_json(result.to_json())
    elif args.format == "markdown":
        out(render_report(result))
    else:
        out(_doctor_text(result, where))
    return EXIT_FINDINGS if any(f.severity == "error" for f in result.findings) else EXIT_OK


def _report_fixes(applied: list, fmt: str) -> None:
    stream = sys.stderr if fmt == "json" else sys.stdout
    for finding, commit in applied:
        stream.write(f"fixed {finding.path} [{finding.code}] in commit {commit.commit[:7]}\n")


def _settings_without_creating_home(args: argparse.Namespace) -> Settings:
    """Settings for auditing a foreign directory: the home's if it exists, else the defaults."""
    root = Path(args.home) if args.home else Path(home_from_environment())
    if (root / "settings.json").exists():
        return Home(root).settings()
    return structure_settings()
