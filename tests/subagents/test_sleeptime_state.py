"""The dreams' persisted state: step counts and cursors survive, are shared, only move forward, never break."""

from __future__ import annotations

import json
import multiprocessing
import threading
from pathlib import Path

from letta_ls.subagents.sleeptime_state import Cursor, SleeptimeStore


def test_state_round_trips_and_starts_empty(tmp_path: Path):
    store = SleeptimeStore(tmp_path)
    assert store.read().steps == 0 and store.read().cursors == {} and store.read().due is None
    store.add_steps(3)
    store.set_due("step-count")
    store.advance({"default": Cursor("msg-a", 4)}, 0, "merged")
    again = SleeptimeStore(tmp_path).read()  # another process reading the same file
    assert again.steps == 3 and again.cursors == {"default": Cursor("msg-a", 4)} and again.due is None
    assert again.last["status"] == "merged"


def test_cursors_only_move_forward_and_steps_reviewed_are_taken_off(tmp_path: Path):
    store = SleeptimeStore(tmp_path)
    store.add_steps(30)
    store.advance({"default": Cursor("msg-b", 10)}, 25, "merged")
    state = store.advance({"default": Cursor("msg-a", 4), "conv-1": Cursor("msg-c", 2)}, 3, "no_changes")
    assert state.cursors == {"default": Cursor("msg-b", 10), "conv-1": Cursor("msg-c", 2)}
    assert state.steps == 2  # 30 - 25 - 3: steps made while a dream ran still count


def test_a_failure_keeps_the_cursors_and_records_why(tmp_path: Path):
    store = SleeptimeStore(tmp_path)
    store.advance({"default": Cursor("msg-a", 4)}, 0, "merged")
    store.add_steps(7)
    state = store.record_failure("the model returned HTTP 500")
    assert state.cursors == {"default": Cursor("msg-a", 4)} and state.steps == 7
    assert state.last["status"] == "failed" and state.last["error"] == "the model returned HTTP 500"


def test_an_unreadable_or_odd_file_is_treated_as_empty(tmp_path: Path):
    store = SleeptimeStore(tmp_path)
    store.path.write_text("{not json")
    assert store.read().steps == 0
    cursors = {"x": {"index": -1}, "y": {"messageId": "m", "index": 2}}
    store.path.write_text(json.dumps({"steps": "many", "due": "hourly", "cursors": cursors}))
    state = store.read()
    assert state.steps == 0 and state.due is None and state.cursors == {"y": Cursor("m", 2)}
    store.add_steps(1)  # and it is repaired by the next write
    assert json.loads(store.path.read_text())["steps"] == 1


def test_concurrent_step_counts_from_threads_lose_nothing(tmp_path: Path):
    store = SleeptimeStore(tmp_path)
    threads = [threading.Thread(target=lambda: [store.add_steps(1) for _ in range(20)]) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.read().steps == 80


def _count_in_process(directory: str) -> None:
    store = SleeptimeStore(directory)
    for _ in range(25):
        store.add_steps(1)


def test_two_processes_share_one_count(tmp_path: Path):
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_count_in_process, args=(str(tmp_path),)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert SleeptimeStore(tmp_path).read().steps == 50
