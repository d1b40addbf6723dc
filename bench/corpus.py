"""A realistic synthetic memory of N files, the same for every benchmark and every floor."""

from __future__ import annotations

import random

TOPICS = ["build", "testing", "deploy", "api", "style", "database", "frontend", "auth", "cache", "queue"]
WORDS = [
    "the", "agent", "keeps", "notes", "about", "builds", "tests", "releases", "reviewers", "style", "naming",
    "errors", "fixtures", "queues", "caches", "migrations", "schemas", "endpoints", "retries", "timeouts",
    "flags", "logs", "metrics", "owners", "docs",
]


def paragraph(rng: random.Random, sentences: int = 4) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 16))]
        out.append(" ".join(words).capitalize() + ".")
    return " ".join(out)


def memory_corpus(n_files: int = 2000, seed: int = 7) -> dict[str, str]:
    """``n_files`` markdown files of about 1 KB: a few in system/, most external, some skills."""
    rng = random.Random(seed)
    files = {
        "system/persona.md": "---\ndescription: Who I am.\n---\nI am a careful coding agent.\n",
        "system/human.md": "---\ndescription: What I know about the user.\n---\nPrefers short answers.\n",
    }
    i = 0
    while len(files) < n_files:
        topic = TOPICS[i % len(TOPICS)]
        if i % 100 == 0 and len(files) < n_files:
            path = f"system/project/{topic}-{i}.md"
        elif i % 37 == 0:
            path = f"skills/{topic}-{i}/SKILL.md"
        else:
            path = f"reference/{topic}/note-{i}.md"
        body = f"# {topic.title()} note {i}\n\n" + "\n\n".join(paragraph(rng) for _ in range(3)) + "\n"
        head = f"---\nname: {topic}-{i}\n" if path.endswith("SKILL.md") else "---\n"
        files[path] = f"{head}description: Notes on {topic}, part {i}.\n---\n{body}"
        i += 1
    return files
