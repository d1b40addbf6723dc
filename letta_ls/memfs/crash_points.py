"""Crash injection for the crash-recovery tests: die by SIGKILL at the n-th step of a multi-step operation.

A "step" is each git process a ``MemoryRepo`` runs (once before it starts, once after it ended) and each file
written into or deleted from a work tree. A test arms the counter (``arm(n)``, or the environment variable
``LETTA_LS_TEST_CRASH_AT_STEP=n`` for a process it starts, such as the CLI) and then runs one operation; the
process kills itself at step ``n``, exactly as ``kill -9`` would, so every point between two steps of
every operation can be tried deterministically. Nothing sets the variable outside the tests; unset, a step
costs one comparison.
"""

from __future__ import annotations

import os
import signal

ENV = "LETTA_LS_TEST_CRASH_AT_STEP"

_armed_at: int | None = None
_steps = 0


def arm(at_step: int | None) -> None:
    """Kill this process at the ``at_step``-th step from now (None: never)."""
    global _armed_at, _steps
    _armed_at, _steps = at_step, 0


def steps_taken() -> int:
    """How many steps ran since ``arm`` (tests use it to learn how many crash points an operation has)."""
    return _steps


def step() -> None:
    """One step of an operation: the process dies here when this is the armed step."""
    global _steps
    if _armed_at is None:
        return
    _steps += 1
    if _steps == _armed_at:
        os.kill(os.getpid(), signal.SIGKILL)


_from_env = os.environ.get(ENV, "").strip()
if _from_env.isdigit():
    arm(int(_from_env))
