"""The memory doctor: audits a MemFS memory against SPEC section 8 and offers safe fixes.

Pure Python over a ``MemorySnapshot``: no git, no LSP, no printing. ``audit`` checks a whole memory,
``check_document`` one file (an editor buffer) against the rest, ``plan_fix`` turns a finding's fix
into new file texts, ``safe_fixes`` picks the ones ``doctor --fix`` may apply unattended, and
``render_report`` writes the markdown report. ``find_secrets`` is the gate the write path uses.
"""

from __future__ import annotations

from letta_ls.doctor.audit import (
    AuditResult,
    TokenReport,
    audit,
    check_document,
    measure_system_tokens,
    measure_tokens,
)
from letta_ls.doctor.checks.duplicates import DuplicateGroup, duplicate_groups
from letta_ls.doctor.checks.secrets import SecretMatch, find_secrets
from letta_ls.doctor.findings import CODES, Finding, Fix
from letta_ls.doctor.fixes import FixPlan, apply_plan, plan_fix, plan_fixes, safe_fixes
from letta_ls.doctor.report import render_report

__all__ = [
    "CODES",
    "AuditResult",
    "DuplicateGroup",
    "Finding",
    "Fix",
    "FixPlan",
    "SecretMatch",
    "TokenReport",
    "apply_plan",
    "audit",
    "check_document",
    "duplicate_groups",
    "find_secrets",
    "measure_system_tokens",
    "measure_tokens",
    "plan_fix",
    "plan_fixes",
    "render_report",
    "safe_fixes",
]
