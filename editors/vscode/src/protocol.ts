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
  dreamChanges: 'letta/dreamChanges',
  dreamReview: 'letta/dreamReview',
  search: 'letta/search',
} as const;

/** `letta/dreamChanges`: one pending change of a dream held for review (sleeptime.merge "review"). */
export interface DreamChange {
  path: string;
  kind: 'added' | 'modified' | 'deleted' | 'renamed';
  oldPath: string | null;
  beforeUri: string | null;
  afterUri: string | null;
  reason: string;
}

export interface DreamChanges {
  runId: string;
  changes: DreamChange[];
}

/** `letta/dreamReview`: a dream finished and its changes wait for the user. */
export interface DreamReviewNotice {
  runId: string;
  changes: number;
  message: string;
}

/** `letta/memoryDelete` and `letta/memoryRename`: one commit; the URIs it removed and added. */
export interface MemoryMoveResult {
  commit: string | null;
  uris: string[];
}

/** JSON-RPC error code of a save whose baseVersion is stale (LSP ContentModified). */
export const CONTENT_MODIFIED = -32801;

/**
 * Every error a request or command returns carries `data.kind`, one of these words (letta_ls/contract/errors.py);
 * the extension switches on the kind, never on the English message.
 */
export const ERROR_KINDS = [
  'stale', 'not-found', 'read-only', 'refused', 'invalid', 'config', 'conflict', 'busy', 'unavailable', 'failed',
] as const;
export type ErrorKind = typeof ERROR_KINDS[number];

/** `data.kind` of an error a request returned; undefined for an error without one (the connection broke). */
export function errorKindOf(error: unknown): ErrorKind | undefined {
  const data = typeof error === 'object' && error !== null ? (error as { data?: unknown }).data : undefined;
  const kind = typeof data === 'object' && data !== null ? (data as { kind?: unknown }).kind : undefined;
  return typeof kind === 'string' && (ERROR_KINDS as readonly string[]).includes(kind) ? kind as ErrorKind : undefined;
}

/** The `vscode.FileSystemError` factory that says what an error kind means to the explorer and the editor. */
export type FileSystemErrorName = 'FileNotFound' | 'FileExists' | 'NoPermissions' | 'Unavailable';

export function fileSystemErrorFor(kind: ErrorKind | undefined): FileSystemErrorName | undefined {
  switch (kind) {
    case 'not-found': return 'FileNotFound';
    case 'conflict': return 'FileExists';
    case 'read-only':
    case 'refused': return 'NoPermissions';
    case 'busy':
    case 'unavailable':
    case 'config': return 'Unavailable';
    default: return undefined;
  }
}

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
  /** Dreams waiting for the user's review, oldest first (sleeptime.merge "review"). */
  reviews?: { runId: string; changes: number }[];
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
  line: number;
  message: string;
  fix?: { kind: string; title: string; data?: Record<string, unknown> };
}

export interface DoctorResult {
  findings: Finding[];
  tokens: { system: number; total: number; budget: number; files: { path: string; tokens: number }[] };
  report: string;
}

/** The results of the commands that do long work and answer with a markdown report. */
export interface ReportResult {
  report?: string;
  commits?: string[];
  backup?: string;
  /** `letta.dream` with sleeptime.merge "review": the run whose changes wait (letta/dreamChanges). */
  pendingReview?: string;
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
  dreamAccept: 'letta.dreamAccept',
  dreamReject: 'letta.dreamReject',
  openWorkspaceFile: 'letta.openWorkspaceFile',
} as const;

/** The path part of a letta-memory URI (`letta-memory://<agent>/<path>`), decoded; '' for the agent root. */
export function memoryPathOf(uri: { path: string }): string {
  return uri.path.replace(/^\/+/, '');
}
