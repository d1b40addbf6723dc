"""What /init learns from the workspace itself: README, manifests, build and CI files, git, agent
instructions and layout, as typed records (``inspect_workspace``) and as bounded text for a model
(``render_workspace_digest``). Read-only, bounded, secrets redacted, tolerant of anything on disk."""

from letta_ls.init.workspace.digest import render_workspace_digest
from letta_ls.init.workspace.inspector import inspect_folder, inspect_workspace
from letta_ls.init.workspace.model import (
    AuthorCount,
    BuildFile,
    Commands,
    Commit,
    FolderFacts,
    GitFacts,
    InstructionFile,
    LayoutEntry,
    Manifest,
    Readme,
    WorkspaceFacts,
)

__all__ = [
    "AuthorCount",
    "BuildFile",
    "Commands",
    "Commit",
    "FolderFacts",
    "GitFacts",
    "InstructionFile",
    "LayoutEntry",
    "Manifest",
    "Readme",
    "WorkspaceFacts",
    "inspect_folder",
    "inspect_workspace",
    "render_workspace_digest",
]
