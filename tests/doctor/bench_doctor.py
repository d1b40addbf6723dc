"""Timing of the doctor on a large memory (not a test): ``python tests/doctor/bench_doctor.py [N]``.

Builds N (default 2,000) realistic ~1 KB memory files (system notes, reference docs with tables and
code, skills, project notes with links, a few shared paragraphs) and times a cold ``audit`` (empty
caches), a warm re-audit, a re-audit after one file changed, and ``check_document`` on an editor
buffer. Wall times include the load of other processes; the CPU time of the cold audit does not.
"""

from __future__ import annotations

import random
import sys
import time

from letta_ls.doctor import audit, check_document
from letta_ls.doctor.checks import common, duplicates, links, passages, placement, secrets
from letta_ls.memfs import snapshot as snapshot_module
from letta_ls.memfs.snapshot import MemorySnapshot
from letta_ls.memfs.tokens import get_token_counter

TEXT = (
    "the service retries failed requests with exponential backoff and logs each attempt to the audit "
    "table while the worker keeps a cursor in redis so a restart resumes from the last processed event "
    "user prefers small pull requests reviewed before lunch and wants migrations tested against a copy "
    "of production data before they ship to the cluster the cache key includes the tenant id"
)
WORDS = TEXT.split()


def sentence(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(8, 16))
    return " ".join(words).capitalize() + "."


def make_file(rng: random.Random, i: int, paths: list[str]) -> str:
    parts = [f"---\ndescription: Notes on topic {i} about {' '.join(rng.sample(WORDS, 5))}.\n---\n",
             f"# Topic {i}\n\n"]
    while sum(map(len, parts)) < 900:
        kind = rng.random()
        if kind < 0.45:
            parts.append(" ".join(sentence(rng) for _ in range(rng.randint(2, 4))) + "\n\n")
        elif kind < 0.65:
            parts.append("".join(f"- {sentence(rng)}\n" for _ in range(rng.randint(2, 5))) + "\n")
        elif kind < 0.75:
            parts.append("```bash\nmake test\ngo test -race ./...\n```\n\n")
        elif kind < 0.85:
            parts.append("| key | value |\n| --- | --- |\n| retries | 3 |\n| timeout | 30s |\n\n")
        else:
            parts.append(f"See [[{rng.choice(paths)}]] for details; `OPENAI_API_KEY` stays in the env.\n\n")
    return "".join(parts)


def build(n: int, seed: int = 1) -> dict[str, str]:
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        if i < 25:
            paths.append(f"system/project/area-{i}.md")
        elif i < 75:
            paths.append(f"skills/skill-{i}/SKILL.md" if i % 2 else f"skills/skill-{i - 1}/references/ref-{i}.md")
        else:
            paths.append(f"reference/group-{i % 40}/doc-{i}.md")
    files = {}
    shared = " ".join(sentence(rng) for _ in range(4))
    for i, path in enumerate(paths):
        text = make_file(rng, i, paths)
        if path.endswith("SKILL.md"):
            text = text.replace("---\ndescription", f"---\nname: skill-{i}\ndescription", 1)
        if i % 97 == 0:
            text += shared + "\n"
        files[path] = text
    files["system/persona.md"] = "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n"
    files["system/human.md"] = "---\ndescription: The user.\n---\nThe user is Zoë.\n"
    return files


def clear_caches() -> None:
    """Empties every cache the doctor keeps between audits, so the next audit is cold (as the first one of a
    `letta-ls doctor DIR` process); the golden-findings test uses it too."""
    for cache in (common.SCANS, common.TOKENS, secrets._MATCHES, passages._PASSAGES, links._LINKS, placement._STATS):
        cache.clear()
    snapshot_module.DOCUMENTS._items.clear()
    passages._ANCHORS.clear()
    duplicates.clear_indexes()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    files = build(n)
    counter = get_token_counter()
    print(f"{len(files)} files, {sum(map(len, files.values())) / 1024:.0f} KiB, tokens: {counter.label}")
    clear_caches()
    snap = MemorySnapshot.from_mapping(files, head="a" * 40)
    start, cpu = time.perf_counter(), time.process_time()
    result = audit(snap, counter=counter)
    cold, cold_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    audit(MemorySnapshot.from_mapping(files, head="a" * 40), counter=counter)
    warm = time.perf_counter() - start
    changed = dict(files)
    changed["reference/group-1/doc-81.md"] += "\nOne more line.\n"
    snap2 = MemorySnapshot.from_mapping(changed, head="b" * 40)
    start = time.perf_counter()
    audit(snap2, counter=counter)
    one_changed = time.perf_counter() - start
    buffer = files["system/project/area-3.md"] + "\nTyping a new line in the editor.\n"
    start = time.perf_counter()
    rounds = 20
    for k in range(rounds):
        check_document(snap.with_text("system/project/area-3.md", buffer + str(k)), "system/project/area-3.md",
                       counter=counter)
    per_doc = (time.perf_counter() - start) / rounds
    codes: dict[str, int] = {}
    for f in result.findings:
        codes[f.code] = codes.get(f.code, 0) + 1
    print(f"cold audit {cold * 1000:.0f} ms (CPU {cold_cpu * 1000:.0f} ms), warm {warm * 1000:.0f} ms, "
          f"one file changed {one_changed * 1000:.0f} ms, check_document {per_doc * 1000:.1f} ms")
    print("findings:", dict(sorted(codes.items())))


if __name__ == "__main__":
    main()
