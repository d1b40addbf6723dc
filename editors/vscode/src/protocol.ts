/**
 * The letta-ls contract as the extension sees it (SPEC sections 5-7): URI schemes, custom methods,
 * notifications, and the shapes of command results. Names here must match SPEC.md exactly; nothing
 * in this file talks to VS Code or to the client.
 */

export const MEMORY_SCHEME = 'letta-memory';
export const REVISION_SCHEME = 'letta-memory-rev';
export const CONVERSATION_SCHEME = 'letta-conversation';

export const Methods = {
  memoryRead: 'letta/memoryRead',
  memoryWrite: 'letta/memoryWrite',
  memoryTree: 'letta/memoryTree',
  memoryHistory: 'letta/memoryHistory',
  memoryDelete: 'letta/memoryDelete',
  memoryRename: 'letta/memoryRename',
  memoryChanged: 'letta/memoryChanged',
  chatEvent: 'letta/chatEvent',
  status: 'letta/status',
} as const;

/** `letta/memoryDelete` and `letta/memoryRename`: one commit; the URIs it removed and added. */
export interface MemoryMoveResult {
  commit: string | null;
  uris: string[];
}

/** JSON-RPC error code of a save whose baseVersion is stale (LSP ContentModified). */
export const CONTENT_MODIFIED = -32801;

export type Tier = 'system' | 'external' | 'skill';

export interface MemoryReadResult {
  uri: string;
  text: string;
  version: string | null;
  head: string | null;
}

export interface MemoryWriteParams {
  uri: string;
  text: string;
  baseVersion?: string;
  reason?: string;
}

export interface MemoryWriteResult {
  version: string | null;
  commit: string | null;
}

export interface MemoryEntry {
  uri: string;
  path: string;
  tier: Tier;
  description: string | null;
  tokens: number;
  readOnly: boolean;
  version?: string | null;
}

export interface MemoryTree {
  agentId: string;
  head: string | null;
  entries: MemoryEntry[];
  totals: { systemTokens: number; systemTokenBudget: number };
}

export interface HistoryEntry {
  commit: string;
  date: string;
  author: string;
  message: string;
  uri: string;
}

export interface MemoryChanged {
  agentId: string;
  head: string | null;
  uris: string[];
}

export type DreamState = 'idle' | 'due' | 'running';

export interface Status {
  agentId: string;
  agentName: string;
  conversationId: string | null;
  model: string | null;
  systemTokens: number;
  dream: DreamState;
  /** The current agent's memory subagent runs (dream, defrag, init), running first. */
  runs?: RunStatus[];
}

export interface RunStatus {
  kind: string;
  runId: string;
  state: 'running' | 'queued';
  message: string | null;
  percentage: number | null;
}

export type ChatEvent =
  | { conversationId: string; turnId: string; kind: 'text'; text: string }
  | { conversationId: string; turnId: string; kind: 'tool_call'; name: string; arguments: unknown }
  | { conversationId: string; turnId: string; kind: 'tool_result'; name: string; result: string }
  | { conversationId: string; turnId: string; kind: 'memory_edit'; uri: string; commit: string; reason: string }
  | { conversationId: string; turnId: string; kind: 'done'; reply: string }
  | { conversationId: string; turnId: string; kind: 'error'; message: string };

export interface ChatResult {
  conversationId: string;
  reply: string;
}

export interface ConversationInfo {
  conversationId: string;
  title: string | null;
  updated: string | null;
  messages: number;
}

export interface AgentInfo {
  agentId: string;
  name: string;
  pinned: boolean;
  lastUsed: string | null;
  model: string | null;
}

export interface Finding {
  path: string;
  code: string;
  severity: 'error' | 'warning' | 'info' | 'hint';
  line: number | null;
  message: string;
  fix?: string;
}

export interface DoctorResult {
  findings: Finding[];
  tokens: { system: number; total: number; budget: number };
  report: string;
}

/** The results of the commands that do long work and answer with a markdown report. */
export interface ReportResult {
  report?: string;
  commits?: string[];
  backup?: string;
}

/** Server commands of SPEC section 7 that the extension gives palette entries to. */
export const Commands = {
  chat: 'letta.chat',
  remember: 'letta.remember',
  slashCommands: 'letta.slashCommands',
  doctor: 'letta.doctor',
  init: 'letta.init',
  dream: 'letta.dream',
  defrag: 'letta.defrag',
  sleeptime: 'letta.sleeptime',
  newConversation: 'letta.newConversation',
  listConversations: 'letta.listConversations',
  listAgents: 'letta.listAgents',
  createAgent: 'letta.createAgent',
  switchAgent: 'letta.switchAgent',
  pin: 'letta.pin',
  unpin: 'letta.unpin',
  backup: 'letta.memory.backup',
  restore: 'letta.memory.restore',
  sync: 'letta.sync',
} as const;

/** The path part of a letta-memory URI (`letta-memory://<agent>/<path>`), decoded; '' for the agent root. */
export function memoryPathOf(uri: { path: string }): string {
  return uri.path.replace(/^\/+/, '');
}
