import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from letta_ls.memfs.compile import (
    CompiledMemory,
    available_skills_block,
    clear_compile_cache,
    compile_memory,
    compile_system_prompt,
    format_recompiled_at,
    xml_element_name,
)
from letta_ls.memfs.skills import Skill, discover_skills
from letta_ls.memfs.snapshot import MemorySnapshot

WHEN = datetime(2026, 5, 4, tzinfo=UTC)
EST = timezone(timedelta(hours=-5))
PERSONA_PROJECTION = "<projection>$MEMORY_DIR/system/persona.md</projection>"


def fm(description: str, body: str) -> str:
    return f"---\ndescription: {description}\n---\n{body}\n"


SMALL = {
    "system/persona.md": fm("Who the agent is", "I am a local agent."),
    "system/human.md": fm("What I know about the user", "The user likes tea.\nAnd short answers."),
    "system/project/gotchas.md": fm("Project gotchas", "Use Bun for tests."),
    "system/project/tooling/make.md": fm("Build commands", "Run `make check`."),
    "reference/details.md": fm("Detailed reference", "Only projected as an external file."),
    "ARCHIVE.md": fm("Retired context", "Old things."),
    "profile.png": b"\x89PNG\r\n\x00\x00",
    "skills/pdf/SKILL.md": "---\nname: pdf\ndescription: Read and write PDFs\n---\nSkill body.\n",
    "skills/pdf/scripts/extract.py": "print('x')\n",
}


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    for var in ("LINES", "CHARS", "CHILDREN_PER_DIR"):
        monkeypatch.delenv(f"LETTA_MEMFS_TREE_MAX_{var}", raising=False)
    clear_compile_cache()
    yield
    clear_compile_cache()


def prompt_for(files, base="You are a coding agent.\n\n{CORE_MEMORY}", skills=(), head="c0ffee", **kw):
    memory = compile_memory(MemorySnapshot.from_mapping(files, head=head))
    args = {"agent_id": "agent-1234", "conversation_id": "conv-42", "message_count": 7, "recompiled_at": WHEN}
    args.update(kw)
    return compile_system_prompt(base, memory, skills=list(skills), **args)


def memory_element(prompt: str) -> str:
    return prompt[prompt.index("<memory>") : prompt.index("</memory>") + len("</memory>")]


def test_a_small_memory_renders_exactly_like_letta_code_plus_descriptions(tmp_path):
    global_dir = tmp_path / "home" / "skills"
    (global_dir / "linear-cli").mkdir(parents=True)
    (global_dir / "linear-cli" / "SKILL.md").write_text(
        "---\nname: linear-cli\ndescription: Manage Linear issues\n  from the terminal\n"
        "when_to_use: the user mentions a ticket\n---\nBody.\n"
    )
    snapshot = MemorySnapshot.from_mapping(SMALL, head="c0ffee")
    skills = discover_skills(snapshot, project_dirs=[], global_dir=global_dir)
    prompt = compile_system_prompt(
        "You are a coding agent.\n\n{CORE_MEMORY}", compile_memory(snapshot),
        agent_id="agent-1234", conversation_id="conv-42", message_count=7, skills=skills, recompiled_at=WHEN,
    )
    assert prompt == f"""You are a coding agent.

Reminder: <projection> contains the local path of the memory file projection.

<self>
<projection>$MEMORY_DIR/system/persona.md</projection>
I am a local agent.
</self>

<memory>
<human>
  <projection>$MEMORY_DIR/system/human.md</projection>
  <description>What I know about the user</description>
  The user likes tea.
And short answers.
</human>
<project>
  <gotchas>
    <projection>$MEMORY_DIR/system/project/gotchas.md</projection>
    <description>Project gotchas</description>
    Use Bun for tests.
  </gotchas>
  <tooling>
    <make>
      <projection>$MEMORY_DIR/system/project/tooling/make.md</projection>
      <description>Build commands</description>
      Run `make check`.
    </make>
  </tooling>
</project>
<external_projection>
${{MEMORY_DIR}}/
├── reference/
│   └── details.md (Detailed reference)
├── ARCHIVE.md (Retired context)
└── profile.png
</external_projection>
</memory>

<memory_metadata>
- AGENT_ID: agent-1234
- CONVERSATION_ID: conv-42
- System prompt last recompiled: 2026-05-04 12:00:00 AM UTC+0000
- 7 previous messages between you and the user are stored in recall memory
</memory_metadata>

<available_skills>
${{MEMORY_DIR}}/skills
└── pdf/
    └── SKILL.md (Read and write PDFs)

{global_dir}
└── linear-cli/
    └── SKILL.md (Manage Linear issues When to use: the user mentions a ticket)
</available_skills>"""


def test_compiled_memory_is_the_memory_section_without_base_prompt_or_metadata():
    memory = compile_memory(MemorySnapshot.from_mapping(SMALL, head="c0ffee"))
    assert isinstance(memory, CompiledMemory)
    assert memory.head == "c0ffee"
    assert memory.text.startswith("Reminder: <projection>")
    assert memory.text.endswith("</memory>")
    assert "<memory_metadata>" not in memory.text
    assert memory.system_paths == (
        "system/persona.md", "system/human.md", "system/project/gotchas.md", "system/project/tooling/make.md",
    )
    assert memory.skipped == ()


def test_every_core_memory_placeholder_is_replaced():
    prompt = prompt_for(SMALL, base="hello {CORE_MEMORY} and again {CORE_MEMORY}")
    assert prompt.startswith("hello Reminder: <projection>")
    assert prompt.count("<self>") == 2
    assert "{CORE_MEMORY}" not in prompt


def test_without_placeholder_memory_is_appended_after_a_blank_line():
    prompt = prompt_for(SMALL, base="plain base prompt\n\n\n")
    assert prompt.startswith("plain base prompt\n\nReminder: <projection>")


def test_empty_memory_leaves_only_the_metadata():
    prompt = prompt_for({}, base="plain {CORE_MEMORY}")
    assert prompt == (
        "plain <memory_metadata>\n"
        "- AGENT_ID: agent-1234\n"
        "- CONVERSATION_ID: conv-42\n"
        "- System prompt last recompiled: 2026-05-04 12:00:00 AM UTC+0000\n"
        "- 7 previous messages between you and the user are stored in recall memory\n"
        "</memory_metadata>"
    )
    assert compile_memory(MemorySnapshot.from_mapping({}, head=None)).text == ""


def test_skills_only_memory_has_no_memory_section_but_lists_the_skill():
    files = {"skills/pdf/SKILL.md": SMALL["skills/pdf/SKILL.md"]}
    snapshot = MemorySnapshot.from_mapping(files)
    assert compile_memory(snapshot).text == ""
    prompt = prompt_for(files, base="", skills=discover_skills(snapshot, project_dirs=[], global_dir=None))
    assert prompt.startswith("<memory_metadata>")
    assert prompt.endswith("</memory_metadata>\n\n<available_skills>\n${MEMORY_DIR}/skills\n└── pdf/\n"
                           "    └── SKILL.md (Read and write PDFs)\n</available_skills>")


def test_persona_alone_gives_self_without_a_memory_element():
    prompt = prompt_for({"system/persona.md": SMALL["system/persona.md"]})
    assert f"<self>\n{PERSONA_PROJECTION}\nI am a local agent.\n</self>" in prompt
    assert "<memory>" not in prompt


def test_missing_conversation_is_the_default_one_and_times_are_shown_in_utc():
    later = datetime(2026, 5, 4, 14, 5, 9, tzinfo=timezone(timedelta(hours=2)))
    prompt = prompt_for({}, conversation_id=None, recompiled_at=later, message_count=0)
    assert "- CONVERSATION_ID: default\n" in prompt
    assert "- System prompt last recompiled: 2026-05-04 12:05:09 PM UTC+0000\n" in prompt
    assert "- 0 previous messages between you and the user" in prompt


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 5, 4, 0, 0, 0, tzinfo=UTC), "2026-05-04 12:00:00 AM UTC+0000"),
        (datetime(2026, 5, 4, 11, 59, 59, tzinfo=UTC), "2026-05-04 11:59:59 AM UTC+0000"),
        (datetime(2026, 5, 4, 12, 0, 1, tzinfo=UTC), "2026-05-04 12:00:01 PM UTC+0000"),
        (datetime(2026, 12, 31, 23, 1, 2), "2026-12-31 11:01:02 PM UTC+0000"),  # naive means UTC
        (datetime(2026, 1, 1, 0, 30, tzinfo=EST), "2026-01-01 05:30:00 AM UTC+0000"),
    ],
)
def test_recompiled_at_uses_letta_codes_timestamp_format(moment, text):
    assert format_recompiled_at(moment) == text


def test_files_with_broken_frontmatter_appear_whole_without_description():
    files = {
        "system/persona.md": "I forgot the frontmatter.\n",
        "system/unclosed.md": "---\ndescription: never closed\nbody?\n",
        "system/badyaml.md": "---\ndescription: [oops\n---\nBody of bad yaml.\n",  # Letta Code reads `[oops`
        "system/wrongtype.md": "---\ndescription: Fine\nlimit: lots\n---\nTyped body.\n",
        "notes/bad.md": "---\ndescription: [oops\n---\n",
    }
    memory = compile_memory(MemorySnapshot.from_mapping(files))
    text = memory.text
    assert f"<self>\n{PERSONA_PROJECTION}\nI forgot the frontmatter.\n</self>" in text
    assert (
        "<unclosed>\n  <projection>$MEMORY_DIR/system/unclosed.md</projection>\n"
        "  ---\ndescription: never closed\nbody?\n</unclosed>"
    ) in text
    assert "<description>[oops</description>\n  Body of bad yaml.\n</badyaml>" in text  # no frontmatter in the body
    assert "<description>Fine</description>\n  Typed body.\n</wrongtype>" in text
    assert "└── bad.md ([oops)\n" in text
    assert len(memory.system_paths) == 4


def test_non_utf8_files_are_named_with_a_note_and_never_crash():
    files = {
        "system/persona.md": SMALL["system/persona.md"],
        "system/latin1.md": "---\ndescription: café\n---\n".encode("latin-1"),
        "reference/blob.md": b"\x00\x01\x02",
    }
    memory = compile_memory(MemorySnapshot.from_mapping(files))
    assert (
        "<latin1>\n  <projection>$MEMORY_DIR/system/latin1.md</projection>\n"
        "  (not shown: this file is not UTF-8 text)\n</latin1>"
    ) in memory.text
    assert "│   └── blob.md\n" in memory.text or "└── blob.md\n" in memory.text
    assert memory.skipped == ("system/latin1.md",)
    assert memory.system_paths == ("system/persona.md",)


def test_bodies_lose_leading_blank_lines_trailing_space_and_carriage_returns():
    text = "---\r\ndescription: Style\r\n---\r\n\r\n  \r\nIndented? no.\r\nSecond.\r\n\r\n"
    files = {"system/style.md": text}
    text = compile_memory(MemorySnapshot.from_mapping(files)).text
    assert "<description>Style</description>\n  Indented? no.\nSecond.\n</style>" in text
    assert "\r" not in text


def test_a_file_beside_a_folder_of_the_same_name_becomes_one_element():
    files = {
        "system/project.md": fm("Project overview", "Overview."),
        "system/project/gotchas.md": fm("Gotchas", "Careful."),
    }
    text = compile_memory(MemorySnapshot.from_mapping(files)).text
    assert (
        "<project>\n"
        "  <projection>$MEMORY_DIR/system/project.md</projection>\n"
        "  <description>Project overview</description>\n"
        "  Overview.\n"
        "  <gotchas>\n"
        "    <projection>$MEMORY_DIR/system/project/gotchas.md</projection>\n"
        "    <description>Gotchas</description>\n"
        "    Careful.\n"
        "  </gotchas>\n"
        "</project>"
    ) in text


@pytest.mark.parametrize(
    ("segment", "name"),
    [
        ("human", "human"),
        ("2024", "_2024"),
        ("my notes", "my_notes"),
        ("c++", "c__"),
        ("a:b", "a_b"),
        ("-draft", "_-draft"),
        ("v1.2", "v1.2"),
        ("über", "über"),
        ("日本語", "日本語"),
        ("what?!", "what__"),
        ("", "_"),
    ],
)
def test_path_segments_become_valid_xml_names_deterministically(segment, name):
    assert xml_element_name(segment) == name
    ET.fromstring(f"<{xml_element_name(segment)}/>")


def test_odd_and_non_ascii_paths_give_a_well_formed_memory_element():
    files = {
        "system/2024 goals.md": fm("Goals", "Ship it."),
        "system/c++/templates.md": fm("C++ notes", "SFINAE."),
        "system/notizen/über.md": fm("Über", "Grüße."),
        "system/日本語.md": fm("日本語のメモ", "こんにちは"),
        "system/a:b.md": fm("Colon", "x"),
        "Größen/Maße.md": fm("Maße und Größen", "m"),
    }
    prompt = prompt_for(files)
    element = memory_element(prompt)
    parsed = ET.fromstring(element)
    tags = [child.tag for child in parsed]
    assert tags == ["_2024_goals", "a_b", "c__", "notizen", "日本語", "external_projection"]
    assert "<projection>$MEMORY_DIR/system/2024 goals.md</projection>" in element
    assert "<projection>$MEMORY_DIR/system/notizen/über.md</projection>" in element
    assert "${MEMORY_DIR}/\n└── Größen/\n    └── Maße.md (Maße und Größen)\n</external_projection>" in element


def test_skills_system_hidden_and_non_markdown_system_files_stay_out_of_the_external_tree():
    files = {
        "system/persona.md": SMALL["system/persona.md"],
        "system/diagram.png": b"\x89PNG",
        "system/.draft.md": fm("Draft", "secret draft"),
        ".gitignore": "*.tmp\n",
        "skills/pdf/SKILL.md": SMALL["skills/pdf/SKILL.md"],
        "ARCHIVE.md": SMALL["ARCHIVE.md"],
    }
    text = compile_memory(MemorySnapshot.from_mapping(files)).text
    assert "diagram.png" not in text
    assert "draft" not in text
    assert ".gitignore" not in text
    assert "SKILL.md" not in text
    assert "\n${MEMORY_DIR}/\n└── ARCHIVE.md (Retired context)\n</external_projection>" in text


def test_external_tree_obeys_the_tree_limits_from_the_environment(monkeypatch):
    files = {f"reference/note{i:03}.md": fm(f"Note {i}", "x") for i in range(120)}
    files["system/persona.md"] = SMALL["system/persona.md"]
    snapshot = MemorySnapshot.from_mapping(files, head="beef")
    full = compile_memory(snapshot)
    assert "    ├── note049.md (Note 49)\n    └── … (70 more entries)\n</external_projection>" in full.text
    monkeypatch.setenv("LETTA_MEMFS_TREE_MAX_LINES", "10")
    limited = compile_memory(snapshot)
    assert limited is not full
    assert "[Tree truncated: showing 8 of 121 entries. 113 omitted.]\n</external_projection>" in limited.text


def test_compile_reads_only_the_snapshot_it_is_given(tmp_path: Path):
    (tmp_path / "system").mkdir()
    persona = tmp_path / "system" / "persona.md"
    persona.write_text(fm("Who", "Committed persona."))
    snapshot = MemorySnapshot.from_directory(tmp_path)
    persona.write_text(fm("Who", "Dirty persona should not compile yet."))
    (tmp_path / "new.md").write_text(fm("New", "new"))
    text = compile_memory(snapshot).text
    assert "Committed persona." in text
    assert "Dirty" not in text
    assert "new.md" not in text


def test_compile_follows_committed_head_not_the_working_tree(repo):
    (repo.path / "system" / "persona.md").write_text(fm("Who", "Uncommitted edit."))
    text = compile_memory(repo.snapshot()).text
    assert "I am a careful coding agent." in text
    assert "Uncommitted edit." not in text


def test_unchanged_head_returns_the_identical_object_even_from_a_rebuilt_snapshot():
    snapshot = MemorySnapshot.from_mapping(SMALL, head="c0ffee")
    first = compile_memory(snapshot)
    assert compile_memory(snapshot) is first
    assert compile_memory(MemorySnapshot.from_mapping(SMALL, head="c0ffee")) is first


def test_an_overlay_on_the_same_head_is_never_served_from_the_cache():
    snapshot = MemorySnapshot.from_mapping(SMALL, head="c0ffee")
    first = compile_memory(snapshot)
    overlay = snapshot.with_text("system/human.md", fm("User", "Edited in the editor."))
    second = compile_memory(overlay)
    assert second is not first
    assert "Edited in the editor." in second.text
    assert compile_memory(snapshot) is first


def test_snapshots_without_a_head_are_compiled_every_time():
    snapshot = MemorySnapshot.from_mapping(SMALL, head=None)
    first = compile_memory(snapshot)
    second = compile_memory(snapshot)
    assert first == second
    assert first is not second


def test_a_new_head_gives_a_new_compile():
    first = compile_memory(MemorySnapshot.from_mapping(SMALL, head="aaa"))
    changed = dict(SMALL, **{"system/human.md": fm("User", "Now prefers coffee.")})
    second = compile_memory(MemorySnapshot.from_mapping(changed, head="bbb"))
    assert "Now prefers coffee." in second.text
    assert second.head == "bbb"
    assert compile_memory(MemorySnapshot.from_mapping(SMALL, head="aaa")) is first


def big_memory(salt: str) -> dict[str, str]:
    files = {}
    for i in range(2_000):
        if i < 60:
            path = f"system/area{i % 6}/topic{i}.md"
        elif i < 100:
            path = f"skills/s{i}/SKILL.md"
        else:
            path = f"reference/dir{i % 40}/sub{i % 7}/note{i}.md"
        body = "\n".join(f"- line {j} about {salt} {i}" for j in range(30))
        files[path] = fm(f"Notes about topic {i}", body)
    return files


def test_a_2000_file_memory_compiles_fast_and_recompiles_for_free():
    snapshot = MemorySnapshot.from_mapping(big_memory(str(time.time_ns())), head="f" * 40)
    start = time.perf_counter()
    memory = compile_memory(snapshot)
    cold = time.perf_counter() - start
    assert cold < 2.0  # ~60 ms on a laptop; generous for slow CI machines
    assert len(memory.system_paths) == 60
    assert "[Tree truncated:" in memory.text  # 1,900 external files exceed the 500-line tree

    rebuilt = MemorySnapshot(snapshot.head, dict(snapshot.files))
    warm = []
    for candidate in (snapshot, rebuilt) * 10:
        start = time.perf_counter()
        assert compile_memory(candidate) is memory
        warm.append(time.perf_counter() - start)
    assert min(warm) < 0.001


def test_available_skills_are_grouped_by_root_with_the_first_description_line():
    project, memory = "/ws/.agents/skills", "${MEMORY_DIR}/skills"
    skills = [
        Skill("web/scraper", "Scraper", "Scrape pages\nwith more detail", None, "project", root=project),
        Skill("pdf", "pdf", "Read PDFs", None, "agent", memory_path="skills/pdf/SKILL.md", root=memory),
        Skill("deploy", "Deploy", "Ship it", None, "project", root=project, when_to_use="releasing"),
    ]
    assert available_skills_block(skills) == (
        "<available_skills>\n"
        "${MEMORY_DIR}/skills\n"
        "└── pdf/\n"
        "    └── SKILL.md (Read PDFs)\n"
        "\n"
        "/ws/.agents/skills\n"
        "├── deploy/\n"
        "│   └── SKILL.md (Ship it When to use: releasing)\n"
        "└── web/\n"
        "    └── scraper/\n"
        "        └── SKILL.md (Scrape pages)\n"
        "</available_skills>"
    )
    assert available_skills_block([]) == ""
