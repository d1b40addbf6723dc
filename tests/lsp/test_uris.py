"""``server/uris.py``: the three letta URI schemes, built and parsed, and the unsafe ones refused by name."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from letta_ls.memfs.paths import UnsafePathError, check_memory_path
from letta_ls.server.uris import (
    CONVERSATION,
    MEMORY,
    MEMORY_REV,
    BadUriError,
    conversation_uri,
    memory_uri,
    parse_uri,
    revision_uri,
)

AGENT = "agent-0123456789abcdef"
SEGMENT = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="/\\\x00"), min_size=1, max_size=12)


def valid_path(segments: list[str]) -> str:
    path = "/".join(segments)
    try:
        check_memory_path(path)
    except UnsafePathError:
        assume(False)
    return path


@given(segments=st.lists(SEGMENT, min_size=1, max_size=4))
def test_any_memory_path_survives_a_memory_uri_and_a_revision_uri(segments):
    path = valid_path(segments)
    parsed = parse_uri(memory_uri(AGENT, path))
    assert (parsed.scheme, parsed.agent_id, parsed.path, parsed.commit) == (MEMORY, AGENT, path, None)
    revision = parse_uri(revision_uri(AGENT, "abc123", path))
    assert (revision.scheme, revision.path, revision.commit) == (MEMORY_REV, path, "abc123")
    assert str(revision) == revision_uri(AGENT, "abc123", path)


def test_spaces_and_reserved_characters_are_escaped_and_a_query_or_fragment_is_ignored():
    uri = memory_uri(AGENT, "notes/a b?#%.md")
    assert uri == f"{MEMORY}://{AGENT}/notes/a%20b%3F%23%25.md"
    assert parse_uri(uri).path == "notes/a b?#%.md"
    assert parse_uri(f"{MEMORY}://{AGENT}/system/human.md?x=1#top").path == "system/human.md"


def test_a_conversation_uri_names_its_conversation():
    parsed = parse_uri(conversation_uri(AGENT, "conv-42"))
    assert (parsed.scheme, parsed.conversation_id) == (CONVERSATION, "conv-42")


@pytest.mark.parametrize(("uri", "says"), [
    ("file:///etc/passwd", "unknown URI scheme 'file'"),
    ("system/human.md", "is not a letta URI"),
    (f"{MEMORY}:///system/human.md", "names no valid agent id"),
    (f"{MEMORY}://agent x/human.md", "names no valid agent id"),
    (f"{MEMORY}://{AGENT}/../escape.md", "'..'"),
    (f"{MEMORY}://{AGENT}/%2E%2E/escape.md", "'..'"),
    (f"{MEMORY}://{AGENT}/.git/config", ".git"),
    (f"{MEMORY}://{AGENT}/", "empty"),
    (f"{MEMORY_REV}://{AGENT}/not-a-commit/x.md", "expected a commit id"),
    (f"{CONVERSATION}://{AGENT}/a/b.md", "expected letta-conversation://"),
    (f"{CONVERSATION}://{AGENT}/default.txt", "expected letta-conversation://"),
])
def test_a_bad_uri_is_refused_saying_what_is_wrong(uri, says):
    with pytest.raises(BadUriError) as caught:
        parse_uri(uri)
    assert says in str(caught.value)
