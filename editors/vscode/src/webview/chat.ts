/**
 * The chat panel's page: a conversation picker, the streamed transcript, and the message box.
 * It only draws and forwards: every request to the server goes through the extension (panel.ts).
 * Enter sends, Shift+Enter adds a line; slash commands (/remember, /new, /doctor …) run in the server, which lists
 * them for Tab completion.
 */

import { Entry, Transcript } from './transcript';
import type { ConversationOption, FromWebview, ToWebview } from './messages';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const vscode = acquireVsCodeApi();
const transcript = new Transcript();

function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

const log = byId<HTMLDivElement>('log');
const input = byId<HTMLTextAreaElement>('input');
const send = byId<HTMLButtonElement>('send');
const stop = byId<HTMLButtonElement>('stop');
const picker = byId<HTMLSelectElement>('conversation');
const agent = byId<HTMLSpanElement>('agent');
let busy = false;

function element(tag: string, className: string, text?: string): HTMLElement {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

function link(label: string, onClick: () => void, title?: string): HTMLAnchorElement {
  const a = document.createElement('a');
  a.href = '#';
  a.textContent = label;
  if (title) {
    a.title = title;
  }
  a.addEventListener('click', (event) => {
    event.preventDefault();
    onClick();
  });
  return a;
}

function draw(entry: Entry): HTMLElement {
  switch (entry.kind) {
    case 'user':
      return element('div', 'entry user', entry.text);
    case 'assistant': {
      const el = element('div', `entry assistant${entry.streaming ? ' streaming' : ''}`, entry.text);
      return el;
    }
    case 'tool': {
      const el = element('div', 'entry tool');
      el.append(element('span', 'tool-name', entry.name), element('span', 'tool-args', ` ${entry.summary}`));
      if (entry.result !== undefined) {
        el.append(element('div', 'tool-result', `→ ${entry.result}`));
      }
      return el;
    }
    case 'memory': {
      const el = element('div', 'entry memory');
      el.append(element('span', 'memory-icon', '✎ '), document.createTextNode('Memory edit: '));
      const open = link(entry.path, () => vscode.postMessage({ type: 'open', uri: entry.uri }), `Open ${entry.path}`);
      open.className = 'memory-link';
      open.dataset.uri = entry.uri;
      el.append(open, element('span', 'memory-reason', ` — ${entry.reason} (${entry.commit.slice(0, 7)})`));
      return el;
    }
    case 'error':
      return element('div', 'entry error', entry.text);
    case 'notice': {
      const el = element('div', 'entry notice', entry.text);
      if (entry.link) {
        const action = entry.link.action;
        el.append(document.createTextNode(' '), link(entry.link.label, () => {
          vscode.postMessage({ type: action } as FromWebview);
        }));
      }
      return el;
    }
  }
}

function render(entry: Entry | undefined): void {
  if (!entry) {
    return;
  }
  const fresh = draw(entry);
  fresh.dataset.id = entry.id;
  const existing = log.querySelector(`[data-id="${entry.id}"]`);
  if (existing) {
    existing.replaceWith(fresh);
  } else {
    log.append(fresh);
  }
  log.scrollTop = log.scrollHeight;
}

function rerenderAll(): void {
  log.replaceChildren();
  for (const entry of transcript.entries) {
    render(entry);
  }
}

function setBusy(value: boolean): void {
  busy = value;
  send.disabled = value;
  stop.hidden = !value;
  document.body.classList.toggle('busy', value);
}

function submit(): void {
  const text = input.value.trim();
  if (!text || busy) {
    return;
  }
  input.value = '';
  vscode.postMessage({ type: 'send', text });
}

let slashCommands: string[] = [];

/** Tab after `/re` completes the server's slash command (letta.slashCommands); Tab again tries the next one. */
function completeSlashCommand(): boolean {
  const typed = /^\/[a-z]*$/.exec(input.value);
  if (!typed) {
    return false;
  }
  const matches = slashCommands.map((name) => `/${name}`).filter((word) => word.startsWith(input.value));
  const all = slashCommands.map((name) => `/${name}`);
  const next = matches.length > 1 || all.includes(input.value)
    ? all[(all.indexOf(input.value) + 1) % all.length]
    : matches[0];
  if (!next) {
    return false;
  }
  input.value = next;
  return true;
}

input.addEventListener('keydown', (event) => {
  if (event.key === 'Tab' && !event.shiftKey && completeSlashCommand()) {
    event.preventDefault();
    return;
  }
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
send.addEventListener('click', submit);
stop.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
picker.addEventListener('change', () => vscode.postMessage({ type: 'switch', conversationId: picker.value }));
byId<HTMLButtonElement>('new').addEventListener('click', () => vscode.postMessage({ type: 'new' }));
byId<HTMLButtonElement>('transcript').addEventListener('click', () => vscode.postMessage({ type: 'transcript' }));

function fillPicker(conversations: ConversationOption[], current: string): void {
  picker.replaceChildren(...conversations.map((option) => {
    const el = document.createElement('option');
    el.value = option.id;
    el.textContent = option.label;
    el.selected = option.id === current;
    return el;
  }));
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'session': {
      agent.textContent = message.model ? `${message.agentName} · ${message.model}` : message.agentName;
      fillPicker(message.conversations, message.current);
      slashCommands = message.slashCommands ?? slashCommands;
      transcript.clear();
      if (message.history && message.history.messages > 0) {
        transcript.addNotice(`${message.history.title ?? 'This conversation'} has ${message.history.messages} earlier ` +
          'messages.', { label: 'Open the transcript', action: 'transcript' });
      } else {
        transcript.addNotice('Say something to your agent. It remembers across conversations; /remember saves a note.');
      }
      rerenderAll();
      break;
    }
    case 'conversations':
      fillPicker(message.conversations, message.current);
      break;
    case 'user':
      render(transcript.addUser(message.text));
      break;
    case 'event':
      render(transcript.apply(message.event));
      break;
    case 'busy':
      setBusy(message.busy);
      if (!message.busy) {
        input.focus();
      }
      break;
    case 'error':
      render(transcript.addError(message.text));
      break;
    case 'notice':
      render(transcript.addNotice(message.text));
      break;
  }
});

setBusy(false);
input.focus();
vscode.postMessage({ type: 'ready' });
