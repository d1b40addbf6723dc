from hypothesis import given
from hypothesis import strategies as st

from letta_ls.memfs.frontmatter import (
    parse_document,
    remove_field,
    render_document,
    render_scalar,
    replace_body,
    set_field,
)

RICH = (
    "---\n"
    "description: What I know about the build\n"
    "tags: [ci, make]   # kept as written\n"
    "owner: 'Zoë'\n"
    "nested:\n"
    "  a: 1\n"
    "  b: [x, y]\n"
    "---\n"
    "\n"
    "Body with ünïcode — and a trailing line\n"
)


def test_fields_and_body_are_split_with_line_numbers():
    doc = parse_document(RICH)
    assert doc.valid
    assert doc.description == "What I know about the build"
    assert doc.fields["nested"] == ""  # Letta Code's reader skips indented lines that are not `- item`
    assert doc.body == "\nBody with ünïcode — and a trailing line\n"
    assert doc.body_start_line == 8
    assert doc.key_line("owner") == 3
    assert doc.key_spans["nested"] == (4, 7)


def test_changing_one_field_preserves_every_other_byte():
    changed = set_field(RICH, "description", "Build and CI facts")
    assert changed == RICH.replace("What I know about the build", "Build and CI facts")
    assert parse_document(changed).fields["tags"] == "[ci, make]   # kept as written"  # text, as Letta Code reads it


def test_new_key_is_appended_before_the_closing_fence_keeping_crlf_and_bom():
    text = "\ufeff---\r\ndescription: x\r\nzeta: 1\r\n---\r\nbody\r\n"
    changed = set_field(text, "read_only", True)
    assert changed == "\ufeff---\r\ndescription: x\r\nzeta: 1\r\nread_only: true\r\n---\r\nbody\r\n"
    assert parse_document(changed).read_only is True


def test_multiline_value_is_replaced_whole_and_removal_takes_continuations():
    text = "---\ndescription: |\n  line one\n  line two\nkeep: yes\n---\nb\n"
    assert set_field(text, "description", "one line") == "---\ndescription: one line\nkeep: yes\n---\nb\n"
    assert remove_field(text, "description") == "---\nkeep: yes\n---\nb\n"


def test_values_that_yaml_would_misread_are_quoted_and_round_trip():
    for value in ["yes", "no", "2024-01-01", "a: b", "x # y", "  padded", "null", "123", "[not a list]", "Zoë"]:
        text = set_field("---\ndescription: a\n---\n", "description", value)
        assert parse_document(text).description == value, (value, text)


def test_replace_body_keeps_frontmatter_bytes():
    assert replace_body(RICH, "new\n") == RICH[: RICH.index("---\n\nBody") + 4] + "new\n"


def test_render_document_round_trips():
    text = render_document({"description": "A: tricky # value", "read_only": True}, "hello\n")
    doc = parse_document(text)
    assert doc.fields == {"description": "A: tricky # value", "read_only": "true"}
    assert text.startswith("---\ndescription: A: tricky # value\n")  # unquoted, as Letta Code writes it
    assert doc.body == "hello\n"


def test_broken_blocks_are_reported_with_kind_and_line():
    assert parse_document("no block\n").error.kind == "missing"
    assert parse_document("---\ndescription: x\n").error.kind == "unclosed"
    listed = parse_document("---\ndescription:\n  - a\n---\n")
    assert [(e.kind, e.key, e.line) for e in listed.errors] == [("type", "description", 1)]
    assert parse_document("---\ndescription: 12\nread_only: maybe\nlimit: 0\n---\n").errors == ()


def test_values_are_read_as_letta_code_reads_them():
    """Cases from Letta Code's own memory: every one of these is accepted by its hook and read as text."""
    cases = {
        "description: Tooling: package manager and build prefs": "Tooling: package manager and build prefs",
        "description: `pnpm` workspace notes": "`pnpm` workspace notes",
        'description: "pnpm" is the package manager': '"pnpm" is the package manager',
        'description: "Quoted: as YAML would"': "Quoted: as YAML would",
        "description: 'it''s quoted'": "it's quoted",
        "description: Notes # not a comment": "Notes # not a comment",
        "description: Wraps onto\n  a second line": "Wraps onto",
        "description: [not, a, list]": "[not, a, list]",
        'description: ""': "",
        "description : spaced key": "spaced key",
        "description: First\ndescription: Second": "Second",
        "description: |\n  Line one\n  line two": "Line one\nline two",
        "description: >\n  Folded\n  text": "Folded text",
    }
    for block, description in cases.items():
        doc = parse_document(f"---\n{block}\n---\nBody.\n")
        assert doc.valid and doc.description == description, block
        assert doc.body == "Body.\n", block  # never frontmatter in the body
    for raw, limit in {"legacy": None, "0": None, "-5": None, "20000": 20000, "": None}.items():
        assert parse_document(f"---\ndescription: x\nlimit: {raw}\n---\n").limit == limit
    assert parse_document("---\ndescription: x\nread_only: true\n---\n").read_only is True
    assert parse_document("---\ndescription: x\nread_only: yes\n---\n").read_only is False


@given(st.text(max_size=400))
def test_parse_never_raises(text):
    doc = parse_document(text)
    assert isinstance(doc.fields, dict)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_any_description_round_trips_through_set_field(value):
    one = " ".join(value.split())
    text = set_field("---\ndescription: a\nother: 1\n---\nbody\n", "description", one)
    doc = parse_document(text)
    assert doc.description == one
    assert doc.fields["other"] == "1" and doc.body == "body\n"


def test_render_scalar_plain_when_safe():
    assert render_scalar("plain words") == "plain words"
    assert render_scalar(True) == "true"
