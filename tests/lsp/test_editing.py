"""Editing features end to end: quick fixes that commit, ``[[links]]``, hover and completion.

Every test runs with VS Code's (UTF-16) and Neovim's (UTF-8) capabilities, and the link tests put
non-ASCII text before the link so that a position computed in the wrong encoding fails.
"""

import asyncio
from typing import Any, Union

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from letta_ls.doctor.checks.secrets import REDACTED
from letta_ls.memfs.authors import user_author
from letta_ls.memfs.repo import Author
from letta_ls.server.editing import link_context
from letta_ls.server.textpos import from_client_units, to_client_units
from letta_ls.server.uris import memory_uri

PREFIX = "Café ☕ 日本 😀 "  # 12 code points; 13 UTF-16 units; 22 UTF-8 bytes
KEY = "sk-proj-" + "Zq8vT2mXr4Lp9sWb6Kd3Nf7Hc1Jg5Ye0Ua8Qi2Ot4Rw6Ex9Vz"


def uri_of(client, path: str) -> str:
    return memory_uri(client.agent.id, path)


def units(client, text: str) -> int:
    """Length of ``text`` in the client's position encoding."""
    if client.client_name == "neovim":
        return len(text.encode("utf-8"))
    return len(text.encode("utf-16-le")) // 2


async def save(client, path: str, text: str) -> str:
    """Commit a file the way the editor saves it (``letta/memoryWrite``); returns the commit."""
    result = await client.protocol.send_request_async(
        "letta/memoryWrite", {"uri": uri_of(client, path), "text": text, "reason": f"seed {path}"})
    return result.commit


def open_doc(client, path: str, text: str) -> str:
    uri = uri_of(client, path)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="markdown", version=1, text=text)))
    return uri


async def diagnostic(client, uri: str, code: str, timeout: float = 10.0) -> types.Diagnostic:
    """The first pushed diagnostic with ``code`` (diagnostics are debounced, so poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for found in client.diagnostics.get(uri, []):
            if found.code == code:
                return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {code} diagnostic for {uri}; got {client.diagnostics.get(uri)}")


def parse_code_actions_like_editors(client) -> None:
    """Structure code actions the way VS Code and Neovim tell them apart.

    A ``Command`` has a *string* ``command``; a ``CodeAction`` may carry a ``command`` object. lsprotocol's
    own hook takes any object with a ``command`` key for a ``Command``, which mangles valid code actions
    that carry a command (ours) on the Python client, so the test client gets the editors' rule.
    """
    converter = client.protocol._converter

    def structure(obj: Any, _type: Any) -> types.Command | types.CodeAction:
        kind = types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        return converter.structure(obj, kind)

    # the key must be the typing.Union lsprotocol registered its hook under
    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007


async def code_actions(client, uri: str, diagnostics: list, rng: types.Range | None = None) -> list:
    parse_code_actions_like_editors(client)
    rng = rng or (diagnostics[0].range if diagnostics else types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=0, character=0)))
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=rng,
        context=types.CodeActionContext(diagnostics=diagnostics)))


async def apply(client, action: types.CodeAction):
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=action.command.command, arguments=action.command.arguments))


async def fix_through_editor(client, path: str, code: str, *, preferred: bool):
    """Open ``path`` as committed, take the quick fix of its ``code`` diagnostic and apply it.

    Returns the command's result and the commits before it, so callers can check that exactly one
    commit was added and that ``letta/memoryChanged`` announced it.
    """
    repo = client.home.memory_repo(client.agent)
    uri = open_doc(client, path, repo.read(path).text)
    found = await diagnostic(client, uri, code)
    actions = await code_actions(client, uri, [found])
    assert len(actions) == 1
    action = actions[0]
    assert action.kind == types.CodeActionKind.QuickFix
    assert action.title == found.data["title"] and action.is_preferred is preferred
    assert action.diagnostics[0].code == code
    assert action.command.command == "letta.applyFix"
    assert list(action.command.arguments) == [{"uri": uri, "code": code, "line": found.data["line"],
                                         "fix": found.data["fix"]}]
    before = [h.commit for h in repo.history(limit=100)]
    client.recorder.clear("letta/memoryChanged")
    result = await apply(client, action)
    after = [h.commit for h in repo.history(limit=100)]
    assert after[1:] == before and after[0] == result["commit"] == repo.head()
    event = await client.recorder.wait_for("letta/memoryChanged", lambda p: p.head == result["commit"])
    assert sorted(event.uris) == sorted(result["paths"])
    return result, repo


async def shown(client, uri: str, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if any(d.uri == uri for d in client.shown_documents):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{uri} was not shown; shown: {client.shown_documents}")


# --- position conversion (pure) ---------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "link_at"), [("utf-16", 13), ("utf-8", 22), ("utf-32", 12)])
def test_columns_round_trip_in_every_encoding(encoding, link_at):
    line = PREFIX + "[[system/human]]"
    offsets = [to_client_units(line, column, encoding) for column in range(len(line) + 1)]
    assert offsets[len(PREFIX)] == link_at
    assert [from_client_units(line, offset, encoding) for offset in offsets] == list(range(len(line) + 1))
    emoji = PREFIX.index("😀")
    inside = to_client_units(line, emoji, encoding) + 1  # half a surrogate pair, or a byte inside the emoji
    assert from_client_units(line, inside, encoding) == (emoji + 1 if encoding == "utf-32" else emoji)
    assert from_client_units(line, 10_000, encoding) == len(line)
    assert to_client_units(line, 10_000, encoding) == offsets[-1]


# --- capabilities --------------------------------------------------------------------------------------


async def test_capabilities_advertise_editing_features(client):
    caps = client.init_result.capabilities
    assert list(caps.code_action_provider.code_action_kinds) == [types.CodeActionKind.QuickFix]
    assert caps.document_link_provider is not None and caps.hover_provider
    assert list(caps.completion_provider.trigger_characters) == ["["]
    assert "letta.applyFix" in caps.execute_command_provider.commands


# --- quick fixes ---------------------------------------------------------------------------------------


async def test_add_description_quick_fix_commits_once(client):
    path = "reference/tea.md"
    await save(client, path, "---\nlimit: 500\n---\n# Café ☕ notes\n\nThe user likes tea.\n")
    result, repo = await fix_through_editor(client, path, "description-missing", preferred=True)
    assert result["paths"] == [uri_of(client, path)]
    text = repo.read(path).text
    assert "description: Café ☕ notes" in text and "limit: 500" in text
    assert text.endswith("# Café ☕ notes\n\nThe user likes tea.\n")
    fixed = repo.history(limit=1)[0]
    assert fixed.message == result["message"]
    assert (fixed.author, fixed.email) == (user_author(repo.path).name, user_author(repo.path).email)


async def test_flat_skill_moves_into_its_folder_and_is_shown(client):
    body = "---\ndescription: Deploy the app\n---\n# Deploy\n\n1. run make deploy\n"
    await save(client, "skills/deploy.md", body)
    result, repo = await fix_through_editor(client, "skills/deploy.md", "skill-flat-file", preferred=True)
    snap = repo.snapshot()
    assert "skills/deploy.md" not in snap and "name: deploy" in snap.get("skills/deploy/SKILL.md").text
    assert sorted(result["paths"]) == [uri_of(client, "skills/deploy.md"), uri_of(client, "skills/deploy/SKILL.md")]
    await shown(client, uri_of(client, "skills/deploy/SKILL.md"))


async def test_secret_is_redacted_by_its_quick_fix(client):
    repo = client.home.memory_repo(client.agent)
    path = "reference/keys.md"
    # the editor's save refuses secrets, so they only arrive from outside (here: a direct commit; the fix
    # reads HEAD itself, so it does not matter whether the server's git watcher has noticed it yet)
    repo.commit({path: f"---\ndescription: keys\n---\nok\nOPENAI key: {KEY} (rotate)\n".encode()},
                "seed", Author("test", "test@example.com"))
    _result, repo = await fix_through_editor(client, path, "secret", preferred=True)
    text = repo.read(path).text
    assert KEY not in text and f"OPENAI key: {REDACTED} (rotate)" in text


async def test_reference_material_moves_out_of_system_and_is_shown(client):
    code = "\n".join(f"    result_{i} = compute_something(argument_{i}, other={i})" for i in range(60))
    text = f"---\ndescription: Build notes\n---\n# Build\n\n```python\n{code}\n```\n"
    await save(client, "system/build-notes.md", text)
    result, repo = await fix_through_editor(client, "system/build-notes.md", "misplaced-in-system",
                                            preferred=False)
    snap = repo.snapshot()
    assert "system/build-notes.md" not in snap and snap.get("reference/build-notes.md").text == text
    assert uri_of(client, "reference/build-notes.md") in result["paths"]
    await shown(client, uri_of(client, "reference/build-notes.md"))


async def test_quick_fixes_without_client_diagnostics_come_from_the_buffer(client):
    path = "reference/coffee.md"
    text = "---\nlimit: 300\n---\n# Coffee\n\nEspresso, no sugar.\n"
    await save(client, path, text)
    uri = open_doc(client, path, text)
    rng = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=3))
    actions = await code_actions(client, uri, [], rng)
    assert [a.diagnostics[0].code for a in actions] == ["description-missing"]
    assert actions[0].diagnostics[0].source == "letta"
    elsewhere = types.Range(start=types.Position(line=5, character=0), end=types.Position(line=5, character=1))
    assert list(await code_actions(client, uri, [], elsewhere)) == []
    await apply(client, actions[0])
    assert "description: Coffee" in client.home.memory_repo(client.agent).read(path).text


async def test_unsaved_buffer_is_refused_and_nothing_is_committed(client):
    path = "reference/milk.md"
    text = "---\nlimit: 300\n---\n# Milk\n\nOat milk.\n"
    await save(client, path, text)
    uri = open_doc(client, path, text + "An edit not saved yet.\n")
    found = await diagnostic(client, uri, "description-missing")
    [action] = await code_actions(client, uri, [found])
    repo = client.home.memory_repo(client.agent)
    head = repo.head()
    with pytest.raises(JsonRpcException) as err:
        await apply(client, action)
    assert "save the file first" in err.value.message
    assert repo.head() == head and repo.read(path).text == text


async def test_apply_fix_from_the_palette_explains_itself(client):
    for arguments in ([], None):
        with pytest.raises(JsonRpcException) as err:
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="letta.applyFix", arguments=arguments))
        assert err.value.code == -32602
        assert "needs one argument {uri, code, line, fix}" in err.value.message
        assert "quick fix" in err.value.message


@pytest.mark.parametrize(
    ("argument", "message"),
    [
        ({"uri": "file:///etc/passwd", "code": "secret", "line": 0}, "unknown URI scheme"),
        ({"uri": "letta-memory://{agent}/system/human.md", "code": "secret", "line": "0"}, "'line' must be an integer"),
        ({"uri": "letta-memory://{agent}/system/human.md", "code": "secret", "line": 3}, "no `secret` problem"),
        ({"uri": "letta-memory://{agent}/nowhere.md", "code": "secret", "line": 0}, "save the file first"),
    ],
)
async def test_apply_fix_with_a_bad_argument_is_refused_clearly(client, argument, message):
    argument = {k: v.format(agent=client.agent.id) if isinstance(v, str) else v for k, v in argument.items()}
    with pytest.raises(JsonRpcException) as err:
        await client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="letta.applyFix", arguments=[argument]))
    assert message in err.value.message


# --- links, hover, completion --------------------------------------------------------------------------


def link_doc(client) -> tuple[str, str]:
    text = f"---\ndescription: links\n---\n{PREFIX}[[system/human]] and [[missing/file]]\n"
    return open_doc(client, "reference/liens café.md", text), text  # a path that is percent-encoded in URIs


async def test_document_links_have_exact_ranges_in_the_client_encoding(client):
    uri, _text = link_doc(client)
    links = await client.text_document_document_link_async(
        types.DocumentLinkParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert len(links) == 1  # the broken link is left to its link-broken diagnostic
    start = units(client, PREFIX)
    assert start == (22 if client.client_name == "neovim" else 13)
    assert links[0].range == types.Range(start=types.Position(line=3, character=start),
                                         end=types.Position(line=3, character=start + len("[[system/human]]")))
    assert links[0].target == uri_of(client, "system/human.md")


async def test_hover_shows_target_description_and_tokens(client):
    uri, _text = link_doc(client)
    start = units(client, PREFIX)
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=start + 4)))
    human = client.home.memory_repo(client.agent).read("system/human.md").document
    assert hover.contents.kind == types.MarkupKind.Markdown
    assert "system/human.md" in hover.contents.value and human.description in hover.contents.value
    assert "tokens" in hover.contents.value
    assert hover.range.start == types.Position(line=3, character=start)

    broken_at = start + len("[[system/human]] and ") + 3
    broken = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=3, character=broken_at)))
    assert "no such memory file" in broken.contents.value and "missing/file" in broken.contents.value

    for position in (types.Position(line=3, character=2), types.Position(line=1, character=0)):
        assert await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position)) is None


async def complete(client, uri: str, line: int, character: int):
    return await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=character),
        context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.TriggerCharacter,
                                        trigger_character="[")))


async def test_completion_offers_memory_paths_after_double_bracket(client):
    text = f"---\ndescription: completion\n---\n{PREFIX}[[sys]]\n{PREFIX}[[\n"
    uri = open_doc(client, "reference/completion.md", text)
    start = units(client, PREFIX) + 2
    result = await complete(client, uri, 3, start + 3)
    items = {item.label: item for item in result.items}
    assert "system/human" in items and "system/persona" in items and "reference/completion" not in items
    human = items["system/human"]
    description = client.home.memory_repo(client.agent).read("system/human.md").document.description
    assert human.detail == description
    assert human.text_edit.new_text == "system/human"  # already closed by ]]
    assert human.text_edit.range == types.Range(start=types.Position(line=3, character=start),
                                                end=types.Position(line=3, character=start + 3))

    unclosed = await complete(client, uri, 4, start)
    item = next(i for i in unclosed.items if i.label == "system/human")
    assert item.text_edit.new_text == "system/human]]"
    assert item.text_edit.range.start == item.text_edit.range.end == types.Position(line=4, character=start)

    outside = await complete(client, uri, 3, 1)
    assert list(outside.items) == []


@pytest.mark.parametrize("uri", ["file:///tmp/notes.md", "letta-memory://agent-someone-else/system/human.md",
                                 "letta-memory-rev://{agent}/abcdef12/system/human.md"])
async def test_other_documents_get_empty_results_not_errors(client, uri):
    uri = uri.format(agent=client.agent.id)
    doc = types.TextDocumentIdentifier(uri=uri)
    origin = types.Position(line=0, character=0)
    assert list(await client.text_document_document_link_async(types.DocumentLinkParams(text_document=doc))) == []
    assert await client.text_document_hover_async(types.HoverParams(text_document=doc, position=origin)) is None
    completion = await client.text_document_completion_async(types.CompletionParams(text_document=doc,
                                                                                    position=origin))
    assert list(completion.items) == []
    parse_code_actions_like_editors(client)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=doc, range=types.Range(start=origin, end=origin), context=types.CodeActionContext(
            diagnostics=[types.Diagnostic(range=types.Range(start=origin, end=origin), message="x", source="letta",
                                          code="secret", data={"fix": "redact-secret", "title": "t", "line": 0})])))
    assert list(actions) == []


# --- link_context, the pure part of completion: what a completion replaces and which brackets it adds ------
@pytest.mark.parametrize(("line", "expected"), [  # ¦ is the cursor
    ("see [[ref¦", (6, 9, "]]")),                   # typing a target: complete it and close the link
    ("see [[ref¦]] after", (6, 9, "")),             # the brackets are there: replace the target only
    ("see [[ref¦ere]] after", (6, 12, "")),         # the rest of the target word is replaced too
    ("see [[ref¦ere] after", (6, 12, "]")),         # one bracket missing: add the other
    ("see [[ref¦#heading]]", (6, 9, "")),           # before a heading part
    ("see [[ref¦|label]]", (6, 9, "")),             # before a label
    ("Café [[日本¦", (7, 9, "]]")),                  # columns are code points (textpos converts them)
    ("no link here¦", None),
    ("[[done]] and then¦", None),                   # after a finished link
    ("[[target|label¦", None),                      # in the label part, not the target
    ("[[target#head¦", None),                       # in the heading part
])
def test_link_context_finds_the_target_being_typed(line, expected):
    column = line.index("¦")
    assert link_context(line.replace("¦", ""), column) == expected
