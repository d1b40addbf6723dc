import os

import pytest

from letta_ls.memfs.paths import UnsafePathError, check_memory_path, normalize_memory_path, resolve_in


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        ("", "empty"),
        ("../etc/passwd", "'..'"),
        ("system/../../x.md", "'..'"),
        ("/etc/passwd", "absolute"),
        ("a\x00b.md", "NUL"),
        ("~/notes.md", "not expanded"),
        ("$HOME/x.md", "not expanded"),
        ("a//b.md", "empty segment"),
        ("a/./b.md", "'.' segments"),
        ("a\\b.md", "'/'"),
        ("x" * 256, "at most 255 bytes"),
        ("é" * 128, "at most 255 bytes"),
        (".git/config", ".git"),
        ("C:/x.md", "drive"),
    ],
)
def test_unsafe_paths_name_the_rule_they_break(path, rule):
    with pytest.raises(UnsafePathError) as err:
        check_memory_path(path)
    assert rule in str(err.value)


def test_safe_paths_pass_unchanged():
    for path in ["system/persona.md", "reference/api/ünï.md", "skills/x/SKILL.md", "a" * 255, ".hidden.md"]:
        assert check_memory_path(path) == path


def test_normalize_accepts_the_forms_agents_send(tmp_path):
    root = tmp_path / "memory"
    root.mkdir()
    assert normalize_memory_path("memory/system/x.md") == "system/x.md"
    assert normalize_memory_path("system/x", add_md=True) == "system/x.md"
    assert normalize_memory_path("$MEMORY_DIR/system/x.md") == "system/x.md"
    assert normalize_memory_path("${MEMORY_DIR}/reference/y.md") == "reference/y.md"
    assert normalize_memory_path(str(root.resolve() / "system/y.md"), root) == "system/y.md"
    with pytest.raises(UnsafePathError):
        normalize_memory_path("/tmp/elsewhere.md", root)


def test_symlink_escape_is_refused(tmp_path):
    root = tmp_path / "memory"
    (root / "system").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "system" / "link")
    with pytest.raises(UnsafePathError) as err:
        resolve_in(root, "system/link/secret.md")
    assert "symbolic link" in str(err.value)
    os.symlink(root / "system", root / "alias")
    assert resolve_in(root, "alias/x.md") == root / "alias" / "x.md"
