"""The embedded models' eval: does a chat message end in the right memory, scored by what lands in git.

Not a timed test: ``python bench/local_eval.py [--model NAME ...] [--limit N] [--kinds remember,...]`` runs
each case through the real agent runtime (``AgentRuntime`` with ``LocalProvider``) against a fresh memory
repository seeded for the case, then reads the result back from git: which files changed, in how many
commits, with what content. A case passes when the fact it asks for is in memory (or, for do-not-call,
when nothing was committed) and no seeded line outside the edit was lost ("wrong file overwritten").
It prints one JSON document: the score per kind and model, every failure with what memory held, the
prompt-reading and generation speeds (llama.cpp's own counters) and the first- and second-turn latency
of one conversation (the second turn reuses the evaluated system prompt).

``--half tune`` runs the 1st, 3rd, 5th … case of the list, the ones the prompting was tuned on; ``--half
held-out`` the others, never looked at while tuning; the report gives both halves' scores.

Kinds (44 cases): remember (a new durable fact), correct (a seeded fact is wrong), update (a seeded fact
changed), do-not-call (a question: nothing must be committed), view-then-edit (the fact is in a file
outside the system prompt, which must be read before it is edited).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from letta_ls.agent.providers.local import ENGINES, LocalProvider
from letta_ls.agent.runtime import AgentRuntime
from letta_ls.session import Session

HUMAN = "system/human.md"
PROJECT = "system/project.md"
NOTES = "reference/deploy.md"


@dataclass(frozen=True)
class Case:
    kind: str
    prompt: str
    expect: tuple[str, ...] = ()  # all must be in memory afterwards (case-insensitive)
    gone: tuple[str, ...] = ()  # none may be left in memory afterwards
    seed: dict[str, str] = field(default_factory=dict)  # extra lines: path -> body line


def _remember(prompt: str, *expect: str) -> Case:
    return Case("remember", prompt, expect)


CASES: list[Case] = [
    _remember("Remember that I always use pnpm in this repo.", "pnpm"),
    _remember("Hi! My name is Sam and I always use pnpm in this repo. Please remember that.", "pnpm"),
    _remember("Please remember: my name is Priya.", "Priya"),
    _remember("Remember that I prefer tabs over spaces.", "tabs"),
    _remember("Note for the future: our CI runs on GitHub Actions.", "GitHub Actions"),
    _remember("Remember that this project targets Python 3.12.", "3.12"),
    _remember("Keep in mind that the database is PostgreSQL 16.", "PostgreSQL"),
    _remember("Remember: never push directly to main, always open a pull request.", "pull request"),
    _remember("Please remember that I like commit messages in the imperative mood.", "imperative"),
    _remember("Remember that the API server listens on port 8080.", "8080"),
    _remember("Save this: the staging URL is https://staging.example.com.", "staging.example.com"),
    _remember("Remember that we format code with black, line length 100.", "black"),
]
_WRONG = {HUMAN: "- Uses npm for packages."}
CASES += [
    Case("correct", "Actually I use pnpm, not npm. Please fix your memory.", ("pnpm",), ("uses npm",), _WRONG),
    Case("correct", "You have it wrong: I don't use npm, I use yarn.", ("yarn",), ("uses npm",), _WRONG),
    Case("correct", "Correction: my name is Alex, not Alec.", ("Alex",), ("name is Alec",),
         {HUMAN: "- The user's name is Alec."}),
    Case("correct", "That's wrong, the project uses Go, not Rust. Correct it.", ("Go",), ("written in Rust",),
         {PROJECT: "- The project is written in Rust."}),
    Case("correct", "Fix your notes: the default branch is main, not master.", ("main",), ("branch is master",),
         {PROJECT: "- The default branch is master."}),
    Case("correct", "No, I prefer spaces, not tabs. Please correct that.", ("spaces",), ("prefers tabs",),
         {HUMAN: "- Prefers tabs."}),
    Case("correct", "Correct your memory: tests run with pytest, not unittest.", ("pytest",), ("with unittest",),
         {PROJECT: "- Tests run with unittest."}),
    Case("correct", "You noted the wrong port: the server uses 9000, not 8000.", ("9000",), ("port 8000",),
         {PROJECT: "- The server listens on port 8000."}),
]
CASES += [
    Case("update", "We moved from Python 3.11 to Python 3.13; update your notes.", ("3.13",), ("python 3.11.",),
         {PROJECT: "- Targets Python 3.11."}),
    Case("update", "Update: tests now run with `make test` instead of `pytest -q`.", ("make test",), ("`pytest -q`",),
         {PROJECT: "- Tests run with `pytest -q`."}),
    Case("update", "We switched CI from Travis to GitHub Actions, please update memory.", ("GitHub Actions",),
         ("ci runs on travis",), {PROJECT: "- CI runs on Travis."}),
    Case("update", "The database was upgraded to PostgreSQL 17, update that.", ("17",), ("postgresql 15",),
         {PROJECT: "- The database is PostgreSQL 15."}),
    Case("update", "My editor is now Neovim instead of VS Code; update what you know.", ("Neovim",), ("uses vs code",),
         {HUMAN: "- Uses VS Code."}),
    Case("update", "The line length limit changed from 88 to 120, update it.", ("120",), ("limit is 88",),
         {PROJECT: "- The line length limit is 88."}),
    Case("update", "We renamed the app from Foo to Bar; update your project notes.", ("Bar",), ("called foo",),
         {PROJECT: "- The app is called Foo."}),
    Case("update", "The staging server moved to staging2.example.com, update memory.", ("staging2",),
         ("is staging.example.com",),
         {PROJECT: "- Staging is staging.example.com."}),
]
_QUESTIONS = ["What does git rebase do?", "How do I reverse a list in Python?", "What is a mutex?",
              "Explain what a closure is in one sentence.", "What's the difference between a tuple and a list?",
              "How do I undo the last git commit?", "What does HTTP status 404 mean?",
              "Write a one-line bash command that counts lines in a file."]
CASES += [Case("do-not-call", question) for question in _QUESTIONS]
_DEPLOY = {NOTES: "- Deploy target: staging."}
CASES += [
    Case("view-then-edit", f"Look at {NOTES} in your memory and change the deploy target to production.",
         ("production",), ("target: staging",), _DEPLOY),
    Case("view-then-edit", f"Open {NOTES} and replace staging with production as the deploy target.",
         ("production",), ("target: staging",), _DEPLOY),
    Case("view-then-edit", "Check your deploy notes and set the deploy target to production.",
         ("production",), ("target: staging",), _DEPLOY),
    Case("view-then-edit", f"Read {NOTES}, then update it: we deploy to canary now.", ("canary",),
         ("target: staging",), _DEPLOY),
    Case("view-then-edit", f"In {NOTES}, add a line saying deploys happen on Fridays.", ("Fridays", "staging"),
         (), _DEPLOY),
    Case("view-then-edit", f"View {NOTES} and change the target from staging to qa.", ("qa",),
         ("target: staging",), _DEPLOY),
    Case("view-then-edit", "What does your deploy note say the target is? Change it to production.",
         ("production",), ("target: staging",), _DEPLOY),
    Case("view-then-edit", f"Edit {NOTES}: the deploy target is now prod-eu.", ("prod-eu",),
         ("target: staging",), _DEPLOY),
]


def _seed(session: Session, case: Case) -> None:
    ops = session.operations("user")
    snapshot = session.repo.snapshot()
    for path, line in case.seed.items():
        if path in snapshot:
            ops.insert(path, 1_000_000, line, reason="eval seed")
        else:
            ops.create(path, "Deployment notes" if path == NOTES else "Facts about this project", line,
                       reason="eval seed")


def _memory_text(session: Session) -> dict[str, str]:
    return {item.path: item.text or "" for item in session.repo.snapshot() if item.path.endswith(".md")}


def _score(case: Case, before: dict[str, str], after: dict[str, str], commits: int) -> tuple[bool, str]:
    everything = "\n".join(after.values()).lower()
    gone = [g.lower() for g in case.gone]  # the text is compared lowered: "name is Alec" must match it too
    kept = [line for text in before.values() for line in text.splitlines()
            if line.strip() and not line.startswith(("---", "description:"))
            and not any(g in line.lower() for g in gone)]
    lost = [line for line in kept if line not in everything.splitlines() and line.lower() not in everything]
    if lost:
        return False, f"wrong overwrite: lost {lost[:2]}"
    if case.kind == "do-not-call":
        return commits == 0, f"{commits} commits"
    if commits == 0:
        return False, "nothing committed"
    missing = [e for e in case.expect if e.lower() not in everything]
    stale = [g for g in gone if g in everything]
    if missing or stale:
        return False, f"missing {missing}, still there {stale}"
    return True, ""


async def _run_case(model: str, case: Case, root: Path) -> dict[str, object]:
    os.environ["LETTA_LS_HOME"] = str(root)
    session = Session()
    _seed(session, case)
    before, head = _memory_text(session), session.repo.head()
    runtime = AgentRuntime(session, LocalProvider(model=model), step_limit=4)
    started = time.perf_counter()
    result = await runtime.run_turn(case.prompt)
    elapsed = time.perf_counter() - started
    commits = int(session.repo.run_git("rev-list", "--count", f"{head}..HEAD").decode().strip() or 0)
    after = _memory_text(session)
    ok, why = _score(case, before, after, commits)
    changed = {p: t for p, t in after.items() if before.get(p) != t}
    return {"kind": case.kind, "prompt": case.prompt, "ok": ok, "why": why, "seconds": round(elapsed, 1),
            "reply": result.reply[:200], "changed": changed if not ok else sorted(changed)}


async def _latency(model: str, root: Path) -> dict[str, float]:
    """First- and second-turn time to the first streamed text, in one conversation."""
    os.environ["LETTA_LS_HOME"] = str(root)
    runtime = AgentRuntime(Session(), LocalProvider(model=model), step_limit=2)
    figures = {}
    for label, prompt in (("first_turn_s", "What is a mutex?"), ("second_turn_s", "And a semaphore?")):
        started, first = time.perf_counter(), asyncio.get_running_loop().create_future()

        def emit(event, _started=started, _first=first) -> None:
            if not _first.done() and event.kind in ("text", "tool_call"):
                _first.set_result(time.perf_counter() - _started)

        turn = asyncio.ensure_future(runtime.run_turn(prompt, emit=emit))
        await asyncio.wait([turn, first], return_when=asyncio.FIRST_COMPLETED)
        turn.cancel()  # the latency is the time to the first delta: the rest of the reply is not needed
        await asyncio.gather(turn, return_exceptions=True)
        figures[label] = round(first.result() if first.done() else time.perf_counter() - started, 2)
    return figures


def _speeds(model: str) -> dict[str, float]:
    import llama_cpp

    for (path, _, _), engine in ENGINES.items():
        if model.split("-")[0] in path.lower() or model == "":
            perf = llama_cpp.llama_perf_context(engine.llama._ctx.ctx)
            return {"prompt_tokens_per_s": round(perf.n_p_eval / max(perf.t_p_eval_ms / 1000, 1e-9), 1),
                    "generation_tokens_per_s": round(perf.n_eval / max(perf.t_eval_ms / 1000, 1e-9), 1)}
    return {}


async def evaluate(model: str, cases: list[Case]) -> dict[str, object]:
    results = []
    with tempfile.TemporaryDirectory(prefix="letta-eval-") as tmp:
        latency = await _latency(model, Path(tmp) / "latency")
        for number, case in enumerate(cases):
            results.append(await _run_case(model, case, Path(tmp) / f"case{number}"))
            print(f"{model} {number + 1}/{len(cases)} {case.kind}: {'ok' if results[-1]['ok'] else 'FAIL'} "
                  f"{results[-1]['why']} {results[-1]['seconds']}s {case.prompt[:50]!r} -> {results[-1]['changed']} "
                  f"{results[-1]['reply'][:120]!r}", file=sys.stderr, flush=True)
    for result, case in zip(results, cases, strict=True):
        result["half"] = "tune" if CASES.index(case) % 2 == 0 else "held-out"
    kinds = sorted({r["kind"] for r in results})
    by_kind = {k: f"{sum(r['ok'] for r in results if r['kind'] == k)}/{sum(r['kind'] == k for r in results)}"
               for k in kinds}
    passed = sum(bool(r["ok"]) for r in results)
    return {"model": model, "score": f"{passed}/{len(results)}", "percent": round(100 * passed / len(results), 1),
            "by_kind": by_kind, "by_half": {half: f"{sum(r['ok'] for r in results if r['half'] == half)}/"
                                                 f"{sum(r['half'] == half for r in results)}"
                                           for half in ("tune", "held-out")},
            "wrong_overwrites": sum("wrong overwrite" in str(r["why"]) for r in results),
            "median_turn_s": statistics.median(r["seconds"] for r in results) if results else None,
            **latency, **_speeds(model), "failures": [r for r in results if not r["ok"]]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", action="append", help="model.name (repeatable; default: the three embedded)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many cases per kind")
    parser.add_argument("--skip", type=int, default=0,
                        help="leave out the first this many cases per kind (to finish a run that --limit cut short)")
    parser.add_argument("--kinds", default="", help="comma-separated kinds to run")
    parser.add_argument("--half", choices=("tune", "held-out", "all"), default="all",
                        help="tune: the 1st, 3rd, 5th … cases (prompting was tuned on these); held-out: the others")
    args = parser.parse_args()
    cases = [c for c in CASES if not args.kinds or c.kind in args.kinds.split(",")]
    if args.half != "all":
        cases = [c for c in cases if (CASES.index(c) % 2 == 0) == (args.half == "tune")]
    if args.limit or args.skip:
        kinds = dict.fromkeys(case.kind for case in cases)
        end = args.skip + args.limit if args.limit else None
        cases = [case for kind in kinds for case in [c for c in cases if c.kind == kind][args.skip:end]]
    models = args.model or ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "smollm2-135m-instruct"]
    report = [asyncio.run(evaluate(model, cases)) for model in models]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
