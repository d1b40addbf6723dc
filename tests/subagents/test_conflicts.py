"""The texts a conflict leaves: both versions marked under valid frontmatter, and names for a second file."""

from letta_ls.memfs.frontmatter import parse_document
from letta_ls.subagents.conflicts import check_resolution, keep_both_markdown, side_file_name


def test_side_file_names_keep_the_extension_and_never_collide():
    taken = {"notes.letta-dream-x.txt"}
    assert side_file_name("a/b/logo.png", "letta/dream/x", taken.__contains__) == "a/b/logo.letta-dream-x.png"
    assert side_file_name("notes.txt", "letta/dream/x", taken.__contains__) == "notes.letta-dream-x-2.txt"
    assert side_file_name("Makefile", "origin/main", taken.__contains__) == "Makefile.origin-main"
    assert side_file_name(".hidden", "x", taken.__contains__) == ".hidden.x"
    long = "d/" + "n" * 250 + ".md"
    assert len(side_file_name(long, "letta/dream/x", taken.__contains__).encode()) <= 255


def test_broken_frontmatter_on_main_takes_the_other_sides_frontmatter():
    ours = "---\ndescription: never closed\nmain body\n"
    theirs = "---\ndescription: Fine\n---\ndream body\n"
    text = keep_both_markdown(None, ours, theirs, ours_label="main", theirs_label="letta/dream/x")
    parsed = parse_document(text)
    assert parsed.valid and parsed.description == "Fine"
    assert "description: never closed" in parsed.body and "main body" in parsed.body and "dream body" in parsed.body


def test_a_resolution_must_be_valid_memory():
    ours = "---\ndescription: d\n---\na\n"
    assert check_resolution(ours, ours, ours) is None
    assert "over" in check_resolution("---\ndescription: d\n---\n" + "x" * 1_100_000, ours, ours)
    assert "NUL" in check_resolution("---\ndescription: d\n---\n\x00", ours, ours)
