// VS Code settings → SPEC section 9: only what the user set, never the extension's own settings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lettaSettings, pruned } from '../src/settings';

test('nothing set sends nothing, so settings.json in the home is not overridden by defaults', () => {
  assert.deepEqual(lettaSettings(() => undefined), {});
});

test('set values arrive in the SPEC shape', () => {
  const set: Record<string, unknown> = {
    'model.provider': 'openai', 'model.baseUrl': 'http://127.0.0.1:11434/v1', 'model.contextWindow': 32000,
    'memory.diagnostics': { 'duplicate-content': 'off' }, 'sleeptime.trigger': 'off', home: '~/letta',
  };
  assert.deepEqual(lettaSettings((key) => set[key]), {
    home: '~/letta',
    model: { provider: 'openai', baseUrl: 'http://127.0.0.1:11434/v1', contextWindow: 32000 },
    sleeptime: { trigger: 'off' },
    memory: { diagnostics: { 'duplicate-content': 'off' } },
  });
});

test('blank text counts as unset, and wrong types are dropped rather than sent', () => {
  const set: Record<string, unknown> = { 'model.name': '   ', 'model.maxOutputTokens': 'lots', agent: ' Ada ' };
  assert.deepEqual(lettaSettings((key) => set[key]), { agent: 'Ada' });
});

test('the extension-only settings are never asked for', () => {
  const asked: string[] = [];
  lettaSettings((key) => {
    asked.push(key);
    return undefined;
  });
  assert.ok(asked.every((key) => !key.startsWith('server') && !key.startsWith('trace')), asked.join(', '));
});

test('pruned drops nulls and objects left empty', () => {
  assert.deepEqual(pruned({ a: null, b: { c: null }, d: { e: 1, f: null }, g: [1] }), { d: { e: 1 }, g: [1] });
});
