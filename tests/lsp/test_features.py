"""Server features are objects found by type, told what happens through declared events only."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import letta_ls.server.app as app_module
from letta_ls.server.app import build_server
from letta_ls.server.chat import ChatService
from letta_ls.server.diagnostics import DiagnosticsPublisher
from letta_ls.server.dreams import DreamsService
from letta_ls.server.features import Event, Feature, RecentCommits
from letta_ls.server.health import ConfigHealth
from letta_ls.server.init_command import InitService
from letta_ls.server.runs import RunBoard
from letta_ls.server.status import StatusFeature
from letta_ls.server.sync import SyncService
from letta_ls.server.watcher import GitWatcher

SERVER_SOURCES = sorted(Path(app_module.__file__).parent.glob("*.py"))


def test_every_feature_is_registered_once_and_found_by_its_type():
    server = build_server()
    kinds = (ConfigHealth, RunBoard, DiagnosticsPublisher, ChatService, SyncService, DreamsService, InitService,
             StatusFeature, GitWatcher)
    found = [server.get_feature(kind) for kind in kinds]
    assert [type(f) for f in found] == list(kinds) and all(isinstance(f, Feature) for f in found)
    for feature in found:  # no attribute of a feature hides the method an event calls
        assert all(callable(getattr(feature, event.value)) for event in Event), type(feature).__name__
    # dependencies come in through the constructor: the very objects the server holds
    status, dreams, init = server.get_feature(StatusFeature), server.get_feature(DreamsService), server.get_feature(
        InitService)
    assert status.dreams is dreams and status.runs is server.get_feature(RunBoard)
    assert status.sync is server.get_feature(SyncService)
    assert dreams.runs is init.runs is server.get_feature(RunBoard) and dreams.chat is server.get_feature(ChatService)


def test_a_missing_feature_is_named_not_none():
    class Unregistered(Feature):
        pass

    server = build_server()
    try:
        server.get_feature(Unregistered)
    except LookupError as exc:
        assert "Unregistered" in str(exc)
    else:
        raise AssertionError("an unregistered feature was found")


def test_events_and_feature_methods_name_each_other_exactly():
    hooks = {name for name, member in vars(Feature).items() if inspect.isfunction(member) and name != "stop"}
    assert {event.value for event in Event} == hooks


def test_every_event_fired_by_the_server_is_declared():
    fired = set()
    for source in SERVER_SOURCES:
        text = source.read_text()
        assert not re.search(r"\.fire\(\s*[\"']", text), f"{source.name} fires an event by name"
        fired |= set(re.findall(r"Event\.([A-Z_]+)", text))
    assert fired <= {event.name for event in Event}
    assert fired == {event.name for event in Event}, "an event nobody fires should be deleted"


def test_no_attribute_is_attached_to_the_server_at_runtime():
    for source in SERVER_SOURCES:
        text = source.read_text()
        assert "type: ignore[attr-defined]" not in text, source.name
        assert not re.search(r"getattr\((ls|server|self\.ls),", text), source.name
        assert not re.search(r"^\s*server\.\w+ = ", text, re.M), source.name


def test_a_failing_feature_does_not_stop_the_others():
    server = build_server()
    heard = []

    class Broken(Feature):
        def settings_changed(self) -> None:
            raise RuntimeError("boom")

    class Listener(Feature):
        def settings_changed(self) -> None:
            heard.append("settings")

    server._features.clear()
    server.add_feature(Broken())
    server.add_feature(Listener())
    server.fire(Event.SETTINGS_CHANGED)
    assert heard == ["settings"]


@given(st.lists(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40), max_size=600))
def test_own_commits_stay_bounded_and_keep_the_newest(commits):
    recent = RecentCommits(limit=64)
    for commit in commits:
        recent.add(commit)
    assert len(recent) <= 64
    newest = list(dict.fromkeys(reversed(commits)))[:64]
    assert all(commit in recent for commit in newest)
    assert len(recent) == len(newest)


def test_the_servers_own_commits_are_bounded():
    server = build_server()
    for n in range(10_000):
        server.own_commits.add(f"{n:040x}")
    assert len(server.own_commits) <= 256 and f"{9_999:040x}" in server.own_commits
