"""Memory folders for the oracle test: every case of Letta Code's pre-commit tests
(``src/agent/memory-git.precommit.test.ts``), every branch of its hook and of
``letta-memory-constraints.cjs``, descriptions and limits of every shape, MemFS v2 folders, and memory
as Letta Code's own memory tool writes it. Each case is ``Case(id, files, head=None, deliberate=None)``;
``deliberate`` names a difference letta-ls makes on purpose (listed in the README's agreement table).
"""

from __future__ import annotations

from dataclasses import dataclass, field

PERSONA = "---\ndescription: Who I am and how I work.\n---\nI am a careful coding agent.\n"
HUMAN = "---\ndescription: What I know about the user.\n---\nThe user likes short answers.\n"
BASE = {"system/persona.md": PERSONA, "system/human.md": HUMAN}
VALID_FM = "---\ndescription: Test block\n---\n\n"
READ_ONLY_IS_A_CHANGE_RULE = (
    "Letta Code's read_only rules judge a change against HEAD (the agent may not set, change or remove "
    "it); letta-ls enforces them on the agent's writes, not on memory at rest, where the user sets read_only"
)


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    head: dict[str, str | bytes] | None = None
    deliberate: str | None = None
    base: bool = field(default=True)

    def folder(self) -> dict[str, str | bytes]:
        return {**(BASE if self.base else {}), **self.files}


def _sys(text: str | bytes, path: str = "system/notes.md") -> dict[str, str | bytes]:
    return {path: text}


def _config(body: str) -> dict[str, str]:
    return {".memfs.config.json": body}


def _v2(files: dict[str, str | bytes]) -> dict[str, str | bytes]:
    return {"MEMORY.md": "# Memory\n\n- notes.md: what I keep\n", **files}


V2_NOTE = '---\nname: "Notes"\ndescription: "What I keep: a list"\n---\nBody.\n'

CASES: list[Case] = [
    # --- Letta Code's own pre-commit tests -----------------------------------------------------
    Case("precommit-valid", {"memory/system/human/prefs.md": f"{VALID_FM}Block content here.\n"}),
    Case("precommit-no-frontmatter", {"memory/system/human/prefs.md": "Just plain content\nno frontmatter here\n"}),
    Case("precommit-unclosed",
         _sys("---\ndescription: oops\n\nContent without closing ---\n", "memory/system/broken.md")),
    Case("precommit-missing-description", _sys("---\n---\n\nContent.\n", "memory/system/bad.md")),
    Case("precommit-empty-description", _sys("---\ndescription:\n---\n\nContent.\n", "memory/system/bad.md")),
    Case("precommit-limit-legacy",
         _sys("---\ndescription: test\nlimit: legacy\n---\n\nContent.\n", "memory/system/ok.md")),
    Case("precommit-unknown-key",
         _sys("---\ndescription: valid\nlimit: 20000\ntypo_key: oops\n---\n\nContent.\n", "memory/system/bad.md")),
    Case("precommit-modify-read-only", _sys("---\ndescription: Skills\nread_only: true\n---\n\nModified.\n",
                                            "memory/system/skills.md"),
         head=_sys("---\ndescription: Skills\nread_only: true\n---\n\nOriginal.\n", "memory/system/skills.md"),
         deliberate=READ_ONLY_IS_A_CHANGE_RULE),
    Case("precommit-add-read-only", _sys("---\ndescription: New block\nread_only: false\n---\n\nContent.\n",
                                         "memory/system/new.md"), deliberate=READ_ONLY_IS_A_CHANGE_RULE),
    Case("precommit-change-read-only", _sys("---\ndescription: A block\nread_only: true\n---\n\nContent.\n",
                                            "memory/system/block.md"),
         head=_sys("---\ndescription: A block\nread_only: false\n---\n\nContent.\n", "memory/system/block.md"),
         deliberate=READ_ONLY_IS_A_CHANGE_RULE),
    Case("precommit-keep-read-only", _sys("---\ndescription: A block\nread_only: false\n---\n\nUpdated.\n",
                                          "memory/system/block.md"),
         head=_sys("---\ndescription: A block\nread_only: false\n---\n\nOriginal.\n", "memory/system/block.md")),
    Case("precommit-remove-read-only", _sys("---\ndescription: A block\n---\n\nContent.\n", "memory/system/block.md"),
         head=_sys("---\ndescription: A block\nread_only: false\n---\n\nContent.\n", "memory/system/block.md"),
         deliberate=READ_ONLY_IS_A_CHANGE_RULE),
    Case("precommit-flat-skill-nested-layout",
         {"memory/skills/slack-search.md": f"{VALID_FM}Legacy flat skill file.\n"}),
    Case("precommit-flat-skill-top-level", {"skills/slack-search.md": "Legacy flat skill file.\n"}),
    Case("precommit-skill-folder", {"skills/slack-search/SKILL.md": "# Slack Search\n"}),
    Case("precommit-top-level-no-frontmatter", {"system/human.md": "Just plain content\nno frontmatter here\n"}),
    Case("precommit-top-level-valid", {"system/human.md": f"{VALID_FM}Block content here.\n"}),
    Case("precommit-reference-no-frontmatter", {"reference/notes.md": "No frontmatter\n"}),
    Case("precommit-skill-md-no-frontmatter", {"skills/my-skill/SKILL.md": "# My Skill\nNo frontmatter needed.\n"}),
    Case("precommit-non-memory-file", {"README.md": "No frontmatter at all\n", "notes/todo.txt": "x\n"}),
    # --- the hook's branches: fences, keys, values -----------------------------------------------
    Case("crlf", _sys("---\r\ndescription: Windows line endings\r\n---\r\nBody.\r\n")),
    Case("bom", _sys("\ufeff---\ndescription: Starts with a BOM\n---\nBody.\n")),
    Case("bom-and-crlf", _sys("\ufeff---\r\ndescription: Both\r\n---\r\nBody.\r\n")),
    Case("closing-fence-trailing-space", _sys("---\ndescription: Closing fence has a space\n--- \nBody.\n")),
    Case("opening-fence-trailing-space", _sys("--- \ndescription: Opening fence has a space\n---\nBody.\n")),
    Case("name-key-in-memory-file", _sys("---\nname: notes\ndescription: Notes\n---\nBody.\n")),
    Case("capitalised-key", _sys("---\nDescription: Wrong case\n---\nBody.\n")),
    Case("comment-line", _sys("---\n# a comment\ndescription: With a comment\n---\nBody.\n")),
    Case("line-without-colon", _sys("---\ndescription: Fine\njust some words\n---\nBody.\n")),
    Case("spaced-key", _sys("---\ndescription : Space before the colon\n---\nBody.\n")),
    Case("duplicate-description", _sys("---\ndescription: First\ndescription: Second\n---\nBody.\n")),
    Case("description-colon", _sys("---\ndescription: Tooling: package manager and build prefs\n---\npnpm.\n")),
    Case("description-backticks", _sys("---\ndescription: `pnpm` workspace notes\n---\nBody.\n")),
    Case("description-backtick-colon", _sys("---\ndescription: `pnpm` user: prefers workspaces\n---\nBody.\n")),
    Case("description-empty-double-quotes", _sys('---\ndescription: ""\n---\nBody.\n')),
    Case("description-empty-single-quotes", _sys("---\ndescription: ''\n---\nBody.\n")),
    Case("description-quoted", _sys('---\ndescription: "Quoted: as YAML would"\n---\nBody.\n')),
    Case("description-quote-then-text", _sys('---\ndescription: "pnpm" is the package manager\n---\nBody.\n')),
    Case("description-indented-extra-line", _sys("---\ndescription: Wraps onto\n  a second line\n---\nBody.\n")),
    Case("description-tab-continuation", _sys("---\ndescription: Wraps\n\tagain\n---\nBody.\n")),
    Case("description-hash", _sys("---\ndescription: Notes # not a comment here\n---\nBody.\n")),
    Case("description-block-literal", _sys("---\ndescription: |\n  Line one\n  line two\n---\nBody.\n")),
    Case("description-block-folded", _sys("---\ndescription: >\n  Folded\n  text\n---\nBody.\n")),
    Case("description-list", _sys("---\ndescription:\n  - a\n  - b\n---\nBody.\n")),
    Case("description-unicode", _sys("---\ndescription: Zoë's café ☕ notes — ünïcode\n---\nBody.\n")),
    Case("description-yaml-special", _sys("---\ndescription: [not, a, list]\n---\nBody.\n")),
    Case("limit-zero", _sys("---\ndescription: Zero limit\nlimit: 0\n---\nBody.\n")),
    Case("limit-negative", _sys("---\ndescription: Negative limit\nlimit: -5\n---\nBody.\n")),
    Case("limit-number", _sys("---\ndescription: A real limit\nlimit: 20000\n---\nBody.\n")),
    Case("limit-empty", _sys("---\ndescription: Empty limit\nlimit:\n---\nBody.\n")),
    Case("read-only-new-file", _sys("---\ndescription: Protected\nread_only: true\n---\nBody.\n"),
         deliberate=READ_ONLY_IS_A_CHANGE_RULE),
    Case("empty-file", _sys("")),
    Case("frontmatter-only-no-newline", _sys("---\ndescription: No body\n---")),
    Case("latin1-bytes", _sys(b"---\ndescription: Caf\xe9 notes\n---\nCaf\xe9 cr\xe8me.\n")),
    Case("reference-valid", {"reference/api.md": "---\ndescription: API notes\n---\nGET /x\n"}),
    Case("reference-unknown-key", {"reference/api.md": "---\ndescription: API notes\ntags: api\n---\nGET /x\n"}),
    Case("outside-no-frontmatter", {"notes/ideas.md": "# Ideas\nNo frontmatter here.\n"}),
    Case("outside-crlf", {"notes/ideas.md": "---\r\ndescription: Ideas\r\n---\r\nBody.\r\n"}),
    Case("outside-unknown-key", {"projects/x.md": "---\ndescription: Project X\nstatus: active\n---\nBody.\n"}),
    Case("no-persona", {"system/human.md": HUMAN}, base=False),
    Case("skill-folder-without-skill-md", {"skills/tools/helper.py": "print('hi')\n"}),
    Case("skill-md-without-name", {"skills/deploy/SKILL.md": "---\ndescription: How to deploy\n---\nSteps.\n"}),
    Case("skill-md-with-name", {"skills/deploy/SKILL.md": "---\nname: deploy\ndescription: How to deploy\n---\nS.\n"}),
    Case("name-clash-nested", {"system/human/tooling.md": "---\ndescription: Tooling: package manager\n---\npnpm\n"}),
    Case("deep-system-file", {"system/a/b/c/d.md": "---\ndescription: Deep\n---\nBody.\n"}),
    # --- .memfs.config.json --------------------------------------------------------------------
    Case("config-valid", {**_config('{"version": 1, "maxDepth": 3, "maxFileCharacters": 20000}\n')}),
    Case("config-max-depth", {**_config('{"version": 1, "maxDepth": 1}\n'),
                              "system/human/tooling.md": "---\ndescription: Tooling\n---\npnpm\n"}),
    Case("config-max-depth-outside-checked", {**_config('{"version": 1, "maxDepth": 1}\n'),
                                              "notes/a/b.md": "---\ndescription: Deep note\n---\nx\n"}),
    Case("config-max-file-characters", {**_config('{"version": 1, "maxFileCharacters": 120}\n'),
                                        "system/big.md": "---\ndescription: Big\n---\n" + "x" * 200 + "\n"}),
    Case("config-glob-override-refuses", {**_config('{"version": 1, "fileCharacterLimits": '
                                                    '[{"pattern": "reference/**", "maxCharacters": 50}]}\n'),
                                          "reference/long.md": "---\ndescription: Long\n---\n" + "y" * 80 + "\n"}),
    Case("config-glob-override-lifts", {**_config('{"version": 1, "maxFileCharacters": 50, "fileCharacterLimits": '
                                                  '[{"pattern": "system/*.md", "maxCharacters": null}]}\n')}),
    Case("config-invalid-json", _config("{version: 1}\n")),
    Case("config-unknown-field", _config('{"version": 1, "maxDepthh": 2}\n')),
    Case("config-bad-version", _config('{"version": 2}\n')),
    Case("config-bad-max-depth", _config('{"version": 1, "maxDepth": -1}\n')),
    # --- MemFS v2 (root MEMORY.md) ---------------------------------------------------------------
    Case("v2-valid", _v2({"notes.md": V2_NOTE}), base=False),
    Case("v2-valid-nested", _v2({"projects/MEMORY.md": "# Projects\n", "projects/x.md": V2_NOTE}), base=False),
    Case("v2-index-with-frontmatter", {"MEMORY.md": "---\ndescription: index\n---\n# Memory\n", "notes.md": V2_NOTE},
         base=False),
    Case("v2-missing-name", _v2({"notes.md": "---\ndescription: What I keep\n---\nBody.\n"}), base=False),
    Case("v2-extra-key", _v2({"notes.md": '---\nname: "N"\ndescription: "D"\nread_only: true\n---\nB.\n'}),
         base=False),
    Case("v2-empty-quoted-description", _v2({"notes.md": '---\nname: "N"\ndescription: ""\n---\nB.\n'}), base=False),
    Case("v2-duplicate-key", _v2({"notes.md": '---\nname: "N"\nname: "M"\ndescription: "D"\n---\nB.\n'}),
         base=False),
    Case("v2-missing-index", _v2({"projects/x.md": V2_NOTE}), base=False),
    Case("v2-too-deep", _v2({"a/MEMORY.md": "# a\n", "a/b/MEMORY.md": "# b\n", "a/b/c/MEMORY.md": "# c\n",
                             "a/b/c/d.md": V2_NOTE}), base=False),
    Case("v2-file-too-long", _v2({"notes.md": V2_NOTE + "z" * 20001}), base=False),
    Case("v2-core-too-long", _v2({f"n{i}.md": V2_NOTE + "w" * 19000 for i in range(4)}), base=False),
    Case("v2-legacy-files", _v2({"system/persona.md": PERSONA}), base=False),
    Case("v2-flat-skill", _v2({"notes.md": V2_NOTE, "skills/x.md": "# x\n"}), base=False),
    # --- memory as Letta Code's memory tool writes it (renderMemoryMarkdown, legacy format) --------
    Case("tool-written-colon", {"system/human/tooling.md":
                                "---\ndescription: Tooling: package manager and build prefs\n---\nUses pnpm.\n"}),
    Case("tool-written-backticks",
         {"reference/pnpm.md": "---\ndescription: `pnpm` workspace notes\n---\nWorkspaces.\n"}),
    Case("tool-written-read-only-kept", {"system/style.md": "---\ndescription: Style\nread_only: false\n---\nTerse.\n"},
         head={"system/style.md": "---\ndescription: Style\nread_only: false\n---\nShort.\n"}),
]
