/**
 * The chat panel's transcript as data: `letta/chatEvent`s folded into entries the webview draws.
 * No DOM and no VS Code here, so it is unit-tested: streamed text pieces join into one assistant
 * entry per step, a tool result attaches to its call, memory edits become entries that link to the
 * file, and a turn that streamed nothing still shows its final reply.
 */

import type { ChatEvent } from '../protocol';

export type Entry =
  | { id: string; kind: 'user'; text: string }
  | { id: string; kind: 'assistant'; turnId: string; text: string; streaming: boolean }
  | { id: string; kind: 'tool'; turnId: string; name: string; summary: string; result?: string }
  | { id: string; kind: 'memory'; turnId: string; uri: string; path: string; commit: string; reason: string }
  | { id: string; kind: 'error'; text: string }
  | { id: string; kind: 'notice'; text: string; link?: { label: string; action: string } };

export class Transcript {
  readonly entries: Entry[] = [];
  private counter = 0;

  private nextId(): string {
    this.counter += 1;
    return `e${this.counter}`;
  }

  clear(): void {
    this.entries.length = 0;
  }

  addUser(text: string): Entry {
    return this.push({ id: this.nextId(), kind: 'user', text });
  }

  addError(text: string): Entry {
    return this.push({ id: this.nextId(), kind: 'error', text });
  }

  addNotice(text: string, link?: { label: string; action: string }): Entry {
    return this.push({ id: this.nextId(), kind: 'notice', text, link });
  }

  /** Fold one event in; returns the entry it created or changed (the webview redraws just that). */
  apply(event: ChatEvent): Entry | undefined {
    switch (event.kind) {
      case 'text': {
        const last = this.entries[this.entries.length - 1];
        if (last && last.kind === 'assistant' && last.turnId === event.turnId && last.streaming) {
          last.text += event.text;
          return last;
        }
        return this.push({ id: this.nextId(), kind: 'assistant', turnId: event.turnId, text: event.text,
          streaming: true });
      }
      case 'tool_call':
        this.endStreaming(event.turnId);
        return this.push({ id: this.nextId(), kind: 'tool', turnId: event.turnId, name: event.name,
          summary: summarizeArguments(event.arguments) });
      case 'tool_result': {
        for (let i = this.entries.length - 1; i >= 0; i--) {
          const entry = this.entries[i];
          if (entry.kind === 'tool' && entry.turnId === event.turnId && entry.name === event.name
            && entry.result === undefined) {
            entry.result = firstLine(event.result, 160);
            return entry;
          }
        }
        return undefined;
      }
      case 'memory_edit':
        return this.push({ id: this.nextId(), kind: 'memory', turnId: event.turnId, uri: event.uri,
          path: pathOfMemoryUri(event.uri), commit: event.commit, reason: event.reason });
      case 'done': {
        const streamed = this.endStreaming(event.turnId);
        if (!streamed && event.reply && event.reply.trim()) {
          return this.push({ id: this.nextId(), kind: 'assistant', turnId: event.turnId, text: event.reply,
            streaming: false });
        }
        return streamed;
      }
      case 'error':
        this.endStreaming(event.turnId);
        return this.push({ id: this.nextId(), kind: 'error', text: event.message });
      default:
        return undefined;
    }
  }

  private push(entry: Entry): Entry {
    this.entries.push(entry);
    return entry;
  }

  /** Close the turn's streaming assistant entry; returns it if there was one with text. */
  private endStreaming(turnId: string): Entry | undefined {
    let found: Entry | undefined;
    for (const entry of this.entries) {
      if (entry.kind === 'assistant' && entry.turnId === turnId) {
        entry.streaming = false;
        if (entry.text.trim()) {
          found = entry;
        }
      }
    }
    return found;
  }
}

/** `letta-memory://agent/system/a%20b.md` → `system/a b.md`. */
export function pathOfMemoryUri(uri: string): string {
  const match = /^[a-z-]+:\/\/[^/]*\/(.*)$/.exec(uri);
  if (!match) {
    return uri;
  }
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return match[1];
  }
}

export function firstLine(text: string, max: number): string {
  const line = String(text ?? '').trim().split('\n')[0] ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** A tool call's arguments in one short line: the command and the path it touches, if any. */
export function summarizeArguments(args: unknown): string {
  let value = args;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return firstLine(value as string, 120);
    }
  }
  if (value === null || typeof value !== 'object') {
    return '';
  }
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of ['command', 'file_path', 'old_path', 'new_path', 'path', 'query', 'pattern', 'name']) {
    if (typeof record[key] === 'string' && record[key]) {
      parts.push(String(record[key]));
    }
  }
  return firstLine(parts.length > 0 ? parts.join(' ') : JSON.stringify(record), 120);
}
