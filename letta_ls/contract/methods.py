"""Every custom method of the contract once: its name, what it is (request, command, notification), its params
class and its result type. The server binds its handlers through this table, and a test holds it against SPEC.md.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs

# the areas as modules, not through this package's __init__ (which imports this table)
import letta_ls.contract.agents as agents
import letta_ls.contract.chat as chat
import letta_ls.contract.doctor as doctor
import letta_ls.contract.memory as memory
import letta_ls.contract.review as review
import letta_ls.contract.search as search
import letta_ls.contract.status as status
import letta_ls.contract.work as work

Role = Literal["request", "command", "notification"]


@attrs.frozen
class Method:
    name: str
    role: Role
    params: type
    result: Any = None  # an attrs class, ``list[...]`` of one, or None for a notification


def _table(*methods: Method) -> dict[str, Method]:
    return {m.name: m for m in methods}


METHODS: dict[str, Method] = _table(
    # requests (SPEC section 6, and the explorer's delete and rename)
    Method("letta/memoryRead", "request", memory.MemoryReadParams, memory.MemoryReadResult),
    Method("letta/memoryWrite", "request", memory.MemoryWriteParams, memory.MemoryWriteResult),
    Method("letta/memoryTree", "request", memory.MemoryTreeParams, memory.MemoryTree),
    Method("letta/memoryHistory", "request", memory.MemoryHistoryParams, list[memory.HistoryEntry]),
    Method("letta/memoryDelete", "request", memory.MemoryDeleteParams, memory.MemoryMoveResult),
    Method("letta/memoryRename", "request", memory.MemoryRenameParams, memory.MemoryMoveResult),
    # notifications from the server
    Method("letta/memoryChanged", "notification", memory.MemoryChanged),
    Method("letta/chatEvent", "notification", chat.ChatEvent),
    Method("letta/status", "notification", status.Status),
    # commands (SPEC section 7, and the quick fix)
    Method("letta.chat", "command", chat.ChatParams, chat.ChatResult),
    Method("letta.remember", "command", chat.RememberParams, chat.RememberResult),
    Method("letta.doctor", "command", doctor.DoctorParams, doctor.DoctorResult),
    Method("letta.applyFix", "command", doctor.ApplyFixParams, doctor.ApplyFixResult),
    Method("letta.init", "command", work.InitParams, work.ReportResult),
    Method("letta.dream", "command", work.DreamParams, work.ReportResult),
    Method("letta.defrag", "command", work.DefragParams, work.DefragResult),
    Method("letta.sleeptime", "command", work.SleeptimeParams, work.SleeptimeResult),
    Method("letta.sync", "command", work.SyncParams, work.SyncResult),
    Method("letta.newConversation", "command", agents.NewConversationParams, agents.ConversationRef),
    Method("letta.listConversations", "command", agents.ListConversationsParams, list[agents.ConversationRow]),
    Method("letta.listAgents", "command", agents.ListAgentsParams, list[agents.AgentRow]),
    Method("letta.createAgent", "command", agents.CreateAgentParams, agents.AgentRef),
    Method("letta.switchAgent", "command", agents.SwitchAgentParams, agents.AgentRef),
    Method("letta.pin", "command", agents.PinParams, agents.PinResult),
    Method("letta.unpin", "command", agents.PinParams, agents.PinResult),
    Method("letta.memory.backup", "command", memory.BackupParams, memory.BackupResult),
    Method("letta.memory.restore", "command", memory.RestoreParams, memory.RestoreResult),
    # beyond SPEC: dreams reviewed in the editor (issue 16) and search (issue 14)
    Method("letta/dreamChanges", "request", review.DreamChangesParams, review.DreamChangesResult),
    Method("letta.dreamAccept", "command", review.DreamDecisionParams, review.DreamAcceptResult),
    Method("letta.dreamReject", "command", review.DreamDecisionParams, review.DreamRejectResult),
    Method("letta/dreamReview", "notification", review.DreamReview),
    Method("letta/search", "request", search.SearchParams, dict[str, Any]),
    Method("letta.slashCommands", "command", chat.SlashCommandsParams, list[chat.SlashCommandRow]),
    Method("letta.openWorkspaceFile", "command", doctor.OpenWorkspaceFileParams, doctor.OpenWorkspaceFileResult),
)

BEYOND_SPEC = frozenset({"letta/memoryRead", "letta/memoryDelete", "letta/memoryRename", "letta.applyFix",
                         "letta/dreamChanges", "letta.dreamAccept", "letta.dreamReject", "letta/dreamReview",
                         "letta/search", "letta.openWorkspaceFile", "letta.slashCommands"})
"""Methods the editors use that SPEC.md does not list (yet): the test against SPEC.md knows them by name."""
