"""The doctor finds exactly what it found before its per-file work was made faster (issue 14): every finding
(position, code, severity, fix, message) and the token report on the corpora of ``findings_corpus``, against
``golden_findings.json``, recorded with the doctor of commit e39c1f9 (before the speed-ups)."""

from __future__ import annotations

import json

import pytest

from tests.doctor.bench_doctor import clear_caches
from tests.doctor.findings_corpus import GOLDEN, corpora, findings_of

EXPECTED = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_findings_are_the_recorded_ones(name, tmp_path):
    clear_caches()  # a cold audit, as `letta-ls doctor DIR` runs it
    found = findings_of(corpora()[name], tmp_path / name)
    expected = EXPECTED[name]
    assert found["tokens"] == expected["tokens"]
    assert found["findings"] == expected["findings"]


def test_the_corpora_make_the_doctor_speak():
    """Every code the audit can give on a memory at rest is in the record (else equality proves little)."""
    codes = {row[1] for corpus in EXPECTED.values() for row in corpus["findings"]}
    assert {"duplicate-content", "secret", "link-broken", "frontmatter-missing", "frontmatter-invalid",
            "name-clash", "skill-flat-file", "not-text", "description-multiline"} <= codes
    assert sum(len(corpus["findings"]) for corpus in EXPECTED.values()) > 500
