"""Earlier Claude Code and Codex sessions of a project, read into one provider-neutral shape.

``read_history`` finds and reads them (bounded, secrets redacted, never raising on what is on disk);
``detect_history`` counts them cheaply; ``digest_session`` / ``digest_history`` turn them into bounded
text for a model; ``split_into_slices`` shares them out between parallel workers; ``session_insights``
pulls out requests, corrections, preferences, commands, files and errors without a model.
"""

from letta_ls.init.history.claude_code import encode_project_dir, read_claude_session
from letta_ls.init.history.codex import read_codex_rollout
from letta_ls.init.history.digest import HistorySlice, digest_history, digest_session, split_into_slices
from letta_ls.init.history.history import (
    HistorySources,
    ProjectMatcher,
    detect_history,
    normalize_remote,
    read_history,
)
from letta_ls.init.history.insights import (
    HistoryInsights,
    Said,
    SessionInsights,
    classify,
    command_families,
    merge_insights,
    session_insights,
)
from letta_ls.init.history.model import (
    DetectedHistory,
    Message,
    ReadLimits,
    ReadNote,
    Session,
    SessionHistory,
    ToolCall,
)

__all__ = [
    "DetectedHistory",
    "HistoryInsights",
    "HistorySlice",
    "HistorySources",
    "Message",
    "ProjectMatcher",
    "ReadLimits",
    "ReadNote",
    "Said",
    "Session",
    "SessionHistory",
    "SessionInsights",
    "ToolCall",
    "classify",
    "command_families",
    "detect_history",
    "digest_history",
    "digest_session",
    "encode_project_dir",
    "merge_insights",
    "normalize_remote",
    "read_claude_session",
    "read_codex_rollout",
    "read_history",
    "session_insights",
    "split_into_slices",
]
