"""The doctor's findings as a markdown report, for the ``letta.doctor`` command and ``letta-ls doctor``.

The report leads with the verdict (counts by severity and ``system/`` against its budget), then lists
findings grouped by severity with 1-based lines, each with what to do and the fix on offer, and ends
with the largest files, which is where token savings are.
"""

from __future__ import annotations

from letta_ls.doctor.audit import AuditResult
from letta_ls.doctor.findings import SEVERITY_ORDER

_HEADINGS = {"error": "Errors", "warning": "Warnings", "info": "Notes", "hint": "Hints"}
TOP_FILES = 10


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def render_report(result: AuditResult, *, title: str = "Memory doctor") -> str:
    tokens = result.tokens
    out = [f"# {title}", ""]
    counts = {sev: result.count(sev) for sev in SEVERITY_ORDER}
    summary = ", ".join(_plural(n, sev) for sev, n in counts.items() if n) or "No problems found"
    share = f" ({round(100 * tokens.system / tokens.budget)}%)" if tokens.budget else ""
    estimate = "" if tokens.exact else " (estimated)"
    out.append(
        f"**{summary}.** `system/` uses {tokens.system:,} of {tokens.budget:,} tokens{share}{estimate}; "
        f"{_plural(len(tokens.files), 'markdown file')}, {tokens.total:,} tokens in all."
    )
    for severity in sorted(counts, key=SEVERITY_ORDER.__getitem__):
        group = [f for f in result.findings if f.severity == severity]
        if not group:
            continue
        out += ["", f"## {_HEADINGS.get(severity, severity.title())}", ""]
        for f in group:
            out.append(f"- `{f.path}:{f.line + 1}` **{f.code}**: {f.message}")
            if f.fix is not None:
                out.append(f"  - Fix available: {f.fix.title}")
    unknown = [f for f in result.findings if f.severity not in SEVERITY_ORDER]
    for f in unknown:
        out.append(f"- `{f.path}:{f.line + 1}` **{f.code}** ({f.severity}): {f.message}")
    if tokens.files:
        out += ["", "## Largest files", "", "| file | tokens |", "| --- | ---: |"]
        for path, count in tokens.files[:TOP_FILES]:
            out.append(f"| `{path}` | {count:,} |")
    return "\n".join(out) + "\n"
