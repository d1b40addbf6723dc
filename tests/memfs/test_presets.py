import pytest

from letta_ls.memfs.compile import compile_memory
from letta_ls.memfs.frontmatter import parse_document
from letta_ls.memfs.presets import DEFAULT_PRESET, Preset, UnknownPresetError, get_preset, list_presets
from letta_ls.memfs.snapshot import MemorySnapshot

ALL = list_presets()


def test_the_default_preset_comes_first_and_others_are_offered():
    names = [p.name for p in ALL]
    assert names[0] == DEFAULT_PRESET == "default"
    assert {"tutor", "terse"} <= set(names)
    assert len(names) == len(set(names))
    for preset in ALL:
        assert isinstance(preset, Preset)
        assert preset.title.strip()
        assert preset.description.strip() and "\n" not in preset.description


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_every_preset_seeds_persona_and_human(preset):
    assert {"system/persona.md", "system/human.md"} <= set(preset.files)
    assert all(path.startswith("system/") and path.endswith(".md") for path in preset.files)


@pytest.mark.parametrize(
    ("path", "text"), [(path, text) for p in ALL for path, text in p.files.items()],
    ids=[f"{p.name}:{path}" for p in ALL for path in p.files],
)
def test_every_seeded_file_parses_with_a_one_line_description(path, text):
    doc = parse_document(text)
    assert doc.valid, doc.errors
    assert doc.description and doc.description.strip()
    assert "\n" not in doc.description
    assert doc.body.strip()
    assert set(doc.fields) == {"description"}


def test_the_default_persona_is_a_coding_agent_ready_to_be_shaped_and_has_not_met_the_user():
    preset = get_preset("default")
    assert "ready to be shaped" in preset.files["system/persona.md"]
    assert "haven't met the user yet" in preset.files["system/human.md"]


def test_the_tutor_adds_an_onboarding_checklist():
    onboarding = parse_document(get_preset("tutor").files["system/onboarding.md"])
    assert "delete" in onboarding.description
    assert onboarding.body.count("- [ ]") >= 4


def test_names_are_matched_ignoring_case_and_spaces():
    assert get_preset("  Tutor ").name == "tutor"


def test_an_unknown_preset_names_the_valid_ones():
    with pytest.raises(UnknownPresetError) as info:
        get_preset("pirate")
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "'pirate'" in message
    for preset in ALL:
        assert preset.name in message


def test_changing_a_returned_preset_does_not_change_the_next_one():
    first = get_preset("default")
    first.files["system/persona.md"] = "tampered"
    first.files["system/extra.md"] = "x"
    again = get_preset("default")
    assert again.files["system/persona.md"] != "tampered"
    assert "system/extra.md" not in again.files


@pytest.mark.parametrize("preset", ALL, ids=lambda p: p.name)
def test_a_preset_memory_compiles_with_the_persona_in_self(preset):
    memory = compile_memory(MemorySnapshot.from_mapping(preset.files))
    persona_body = parse_document(preset.files["system/persona.md"]).body.strip()
    projection = "<projection>$MEMORY_DIR/system/persona.md</projection>"
    assert f"<self>\n{projection}\n{persona_body}\n</self>" in memory.text
    assert "<human>" in memory.text
    assert memory.skipped == ()
    assert set(memory.system_paths) == set(preset.files)
