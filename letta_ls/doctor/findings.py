"""What the doctor reports: findings with stable codes (SPEC section 8), severities and safe fixes.

Positions are 0-based lines and columns counted in Python characters (code points); the LSP adapter
converts them to UTF-16 or UTF-8 for the editor, and the JSON/CLI output shows 1-based lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

CODES: dict[str, str] = {
    "frontmatter-missing": "error",
    "frontmatter-invalid": "error",
    "description-missing": "error",
    "description-multiline": "warning",
    "persona-missing": "warning",
    "name-clash": "warning",
    "skill-flat-file": "error",
    "skill-invalid": "warning",
    "file-oversized": "warning",
    "system-over-budget": "warning",
    "misplaced-in-system": "warning",
    "misplaced-outside-system": "warning",
    "duplicate-content": "warning",
    "link-broken": "warning",
    "secret": "error",
    "not-text": "warning",
    "memfs-constraint": "error",
    "memory-stale": "warning",
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2, "hint": 3}


@dataclass(frozen=True)
class Fix:
    """A safe, mechanical repair. ``kind`` names the operation; ``data`` holds what it needs."""

    kind: str  # add-description | move | split | skill-to-folder | redact-secret | add-skill-name | ...
    title: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    path: str
    code: str
    severity: str
    line: int
    message: str
    column: int = 0
    end_line: int | None = None
    end_column: int | None = None
    fix: Fix | None = None

    def with_severity(self, severity: str) -> Finding:
        return replace(self, severity=severity)

    def to_json(self) -> dict[str, Any]:
        """SPEC section 7's shape; ``line`` is 1-based here, as linters print it."""
        out: dict[str, Any] = {
            "path": self.path,
            "code": self.code,
            "severity": self.severity,
            "line": self.line + 1,
            "message": self.message,
        }
        if self.fix is not None:
            out["fix"] = {"kind": self.fix.kind, "title": self.fix.title}
            if self.fix.data:
                out["fix"]["data"] = self.fix.data
        return out


def regrade(findings: list[Finding], overrides: dict[str, str]) -> list[Finding]:
    """Apply ``memory.diagnostics``: drop codes set to ``off``, re-grade the others."""
    out = []
    for finding in findings:
        level = overrides.get(finding.code)
        if level == "off":
            continue
        out.append(finding.with_severity(level) if level else finding)
    return out


def sort_findings(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (f.path, f.line, f.column, SEVERITY_ORDER.get(f.severity, 9), f.code))
