"""Memories whose every finding is recorded in ``golden_findings.json``: the doctor's speed-ups (issue 14) must
not change a single one.

The corpora are the bench's (``bench.scale``: distinct bodies, a shared header, identical bodies), the richer
memory of ``bench_doctor`` (tables, code, links, skills, shared paragraphs), the healthy test memory with
broken variants, and generated secrets and look-alikes (``tests.secret_corpus``). Each is written to disk and
audited as ``letta-ls doctor DIR`` does (``audit_directory``); a finding is recorded with its position, code,
severity, fix and a hash of its message, the token report whole.

Regenerate (only when a finding is *meant* to change, with the reason in the commit):
``python -m tests.doctor.findings_corpus > tests/doctor/golden_findings.json``
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import tempfile
from pathlib import Path

from bench.scale import memory_of
from letta_ls.session import audit_directory
from letta_ls.settings import structure_settings
from tests.doctor import bench_doctor
from tests.doctor.memory_fixtures import HEALTHY
from tests.secret_corpus import KEY_FORMATS, LOOK_ALIKES, PASSWORD_CONTEXTS, key_in_text

GOLDEN = Path(__file__).with_name("golden_findings.json")


def _secrets_memory() -> dict[str, str | bytes]:
    rng = random.Random(14)
    files: dict[str, str | bytes] = dict(HEALTHY)
    for i, kind in enumerate(sorted(KEY_FORMATS)):
        text, _key = key_in_text(kind, rng)
        files[f"reference/keys/{i}.md"] = f"---\ndescription: Key {i}.\n---\nNotes.\n\n{text}\n"
    for i, kind in enumerate(sorted(PASSWORD_CONTEXTS)):
        for j in range(3):
            text, _password = PASSWORD_CONTEXTS[kind](rng)
            files[f"reference/passwords/{i}-{j}.md"] = f"---\ndescription: Password {i}.\n---\n{text}\n"
    for i, kind in enumerate(sorted(LOOK_ALIKES)):
        files[f"reference/look-alikes/{i}.md"] = (f"---\ndescription: Not a secret {i}.\n---\n"
                                                 f"{LOOK_ALIKES[kind](rng)}\n{LOOK_ALIKES[kind](rng)}\n")
    return files


def _broken_memory() -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = dict(HEALTHY)
    files["reference/no-frontmatter.md"] = "# Title\n\nNo frontmatter here, and a link to [[reference/nowhere]].\n"
    files["reference/unclosed.md"] = "---\ndescription: never closed\n"
    files["skills/flat.md"] = "---\nname: flat\ndescription: A flat skill.\n---\nBody.\n"
    files["reference/guide.md"] = "---\ndescription: A file.\n---\nBody.\n"
    files["reference/guide/part.md"] = "---\ndescription: A clash.\n---\nBody.\n"
    files["system/project/crlf.md"] = "---\r\ndescription: Windows.\r\n---\r\nBody.\r\n"
    files["notes/binary.bin"] = b"\x00\x01\x02"
    files["reference/multi.md"] = "---\ndescription: >\n  one\n  two\n---\nBody.\n"
    return files


def corpora() -> dict[str, dict[str, str | bytes]]:
    out: dict[str, dict[str, str | bytes]] = {f"bench-{kind}": dict(memory_of(400, kind))
                                              for kind in ("distinct", "header", "identical")}
    out["bench_doctor"] = dict(bench_doctor.build(400))
    out["healthy-broken"] = _broken_memory()
    out["secrets"] = _secrets_memory()
    return out


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for path, content in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return root


def findings_of(files: dict[str, str | bytes], where: Path) -> dict:
    _snapshot, result = audit_directory(_write(where, files), structure_settings())
    rows = [[f.path, f.code, f.severity, f.line, f.column, f.end_line, f.end_column,
             hashlib.sha1(f.message.encode(), usedforsecurity=False).hexdigest()[:12],
             None if f.fix is None else [f.fix.kind, f.fix.title, json.dumps(f.fix.data, sort_keys=True)]]
            for f in result.findings]
    return {"findings": rows, "tokens": result.tokens.to_json()}


def all_findings() -> dict[str, dict]:
    with tempfile.TemporaryDirectory(prefix="letta-golden-") as tmp:
        return {name: findings_of(files, Path(tmp) / name) for name, files in corpora().items()}


if __name__ == "__main__":
    json.dump(all_findings(), sys.stdout, indent=None, separators=(",", ":"))
    sys.stdout.write("\n")
