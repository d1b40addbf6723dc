// letta/chatEvent → what the chat panel shows.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChatEvent } from '../src/protocol';
import { Transcript, pathOfMemoryUri, summarizeArguments } from '../src/webview/transcript';

const base = { conversationId: 'default', turnId: 't1' };

function play(events: ChatEvent[]): Transcript {
  const transcript = new Transcript();
  transcript.addUser('hello');
  for (const event of events) {
    transcript.apply(event);
  }
  return transcript;
}

test('streamed pieces join into one assistant message that stops streaming when done', () => {
  const t = play([{ ...base, kind: 'text', text: 'Hel' }, { ...base, kind: 'text', text: 'lo!' },
    { ...base, kind: 'done', reply: 'Hello!' }]);
  assert.equal(t.entries.length, 2);
  assert.deepEqual(t.entries[1], { id: t.entries[1].id, kind: 'assistant', turnId: 't1', text: 'Hello!', streaming: false });
});

test('a tool call splits the text, and its result attaches to it', () => {
  const t = play([
    { ...base, kind: 'text', text: 'Let me note that.' },
    { ...base, kind: 'tool_call', name: 'memory', arguments: '{"command":"create","file_path":"system/a.md"}' },
    { ...base, kind: 'tool_result', name: 'memory', result: 'Created system/a.md\nmore' },
    { ...base, kind: 'memory_edit', uri: 'letta-memory://agent-1/system/a%20b.md', commit: 'abc1234def', reason: 'learned' },
    { ...base, kind: 'text', text: 'Done.' },
    { ...base, kind: 'done', reply: 'Done.' },
  ]);
  assert.deepEqual(t.entries.map((e) => e.kind), ['user', 'assistant', 'tool', 'memory', 'assistant']);
  const tool = t.entries[2];
  assert.ok(tool.kind === 'tool' && tool.summary === 'create system/a.md' && tool.result === 'Created system/a.md');
  const edit = t.entries[3];
  assert.ok(edit.kind === 'memory' && edit.path === 'system/a b.md' && edit.uri.endsWith('a%20b.md'));
  assert.ok(t.entries.every((e) => e.kind !== 'assistant' || !e.streaming));
});

test('a reply that was not streamed still shows', () => {
  const t = play([{ ...base, kind: 'done', reply: 'Stored as a fact in system/remembered.md.' }]);
  assert.equal(t.entries[1].kind, 'assistant');
});

test('an error ends the stream and shows as an error', () => {
  const t = play([{ ...base, kind: 'text', text: 'Work' }, { ...base, kind: 'error', message: 'the model refused the key' }]);
  assert.deepEqual(t.entries.map((e) => e.kind), ['user', 'assistant', 'error']);
  assert.ok(t.entries[1].kind === 'assistant' && !t.entries[1].streaming);
});

test('two turns never merge', () => {
  const t = play([{ ...base, kind: 'text', text: 'one' }, { ...base, turnId: 't2', kind: 'text', text: 'two' }]);
  assert.equal(t.entries.length, 3);
});

test('argument summaries stay short and readable', () => {
  assert.equal(summarizeArguments({ command: 'str_replace', file_path: 'system/human.md', old_string: 'x' }),
    'str_replace system/human.md');
  assert.equal(summarizeArguments('not json'), 'not json');
  assert.equal(summarizeArguments({ other: 1 }), '{"other":1}');
  assert.equal(pathOfMemoryUri('letta-memory://agent-1/skills/pdf/SKILL.md'), 'skills/pdf/SKILL.md');
});
