/** Messages between the chat panel (extension side) and its webview. */

import type { ChatEvent, ConversationInfo } from '../protocol';

export interface ConversationOption {
  id: string;
  label: string;
}

/** Extension → webview. */
export type ToWebview =
  | { type: 'session'; agentName: string; model: string | null; conversations: ConversationOption[]; current: string;
      history: { messages: number; title: string | null } | null; slashCommands?: string[] }
  | { type: 'conversations'; conversations: ConversationOption[]; current: string }
  | { type: 'user'; text: string }
  | { type: 'event'; event: ChatEvent }
  | { type: 'busy'; busy: boolean }
  | { type: 'error'; text: string }
  | { type: 'notice'; text: string };

/** Webview → extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'cancel' }
  | { type: 'switch'; conversationId: string }
  | { type: 'new' }
  | { type: 'open'; uri: string }
  | { type: 'transcript' };

export function conversationLabel(info: ConversationInfo): string {
  const title = info.title?.trim() || (info.conversationId === 'default' ? 'Default conversation' : 'Untitled');
  return `${title} · ${info.messages} message${info.messages === 1 ? '' : 's'}`;
}
