// letta/status → the status bar's text and tooltip lines.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Status } from '../src/protocol';
import { runLines, statusText } from '../src/statusText';

const base: Status = {
  agentId: 'a', agentName: 'Ada', conversationId: 'default', model: 'gpt', systemTokens: 1500, dream: 'idle',
};

test('agent and tokens against the budget, nothing else when idle', () => {
  assert.equal(statusText(base, 20000), '$(hubot) Ada · 1.5k/20k');
  assert.deepEqual(runLines(base), []);
});

test('a due dream shows a clock', () => {
  assert.equal(statusText({ ...base, dream: 'due' }, undefined), '$(hubot) Ada · 1.5k $(clock)');
});

test('a running subagent shows its kind and percentage; the tooltip its phase', () => {
  const status: Status = { ...base, dream: 'idle', runs: [
    { kind: 'defrag', runId: 'q', state: 'queued', message: null, percentage: null },
    { kind: 'init', runId: 'r', state: 'running', message: 'history workers 2/3 done', percentage: 48 },
  ] };
  assert.equal(statusText(status, 20000), '$(hubot) Ada · 1.5k/20k $(sync~spin) init 48%');
  assert.deepEqual(runLines(status), ['Waiting: defrag (starts when the current run ends)',
    'Running: init (history workers 2/3 done)']);
});

test('a run that only waits says so', () => {
  const status: Status = { ...base, runs: [{ kind: 'dream', runId: 'q', state: 'queued', message: null, percentage: null }] };
  assert.equal(statusText(status, undefined), '$(hubot) Ada · 1.5k $(clock) dream waiting');
});
