"""The secret scan's screens (a substring each trigger of a group holds) pick exactly the detectors that testing
every trigger picks (issue 14: the doctor's cold run scans 10,000 files)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from letta_ls.secret_scan.formats import TRIGGERS
from letta_ls.secret_scan.scan import _SCREENS, _active_detectors

PIECES = sorted({t for t, _ in TRIGGERS} | set(_SCREENS) | {t[:-1] for t, _ in TRIGGERS} | {" ", "\n", "a", "-", "_"})


@given(st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=12))
def test_the_screens_pick_what_every_trigger_picks(pieces):
    text = "".join(pieces)
    assert _active_detectors(text) == {det for trigger, det in TRIGGERS if trigger in text}


def test_every_trigger_alone_is_found():
    for trigger, det in TRIGGERS:
        assert det in _active_detectors(f"see {trigger} here")
