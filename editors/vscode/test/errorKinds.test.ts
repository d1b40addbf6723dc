// An error's data.kind → what the extension makes of it (memoryFs.ts maps it to a vscode.FileSystemError).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_KINDS, errorKindOf, fileSystemErrorFor } from '../src/protocol';

test('the kind is read from data.kind of a response error, never from its message', () => {
  assert.equal(errorKindOf({ code: -32803, message: 'x', data: { kind: 'not-found' } }), 'not-found');
  assert.equal(errorKindOf({ code: -32801, message: 'x', data: { kind: 'stale', current: 'abc' } }), 'stale');
  assert.equal(errorKindOf({ code: -32803, message: 'no memory file notes/a.md' }), undefined);
  assert.equal(errorKindOf({ data: { kind: 'a word the contract does not have' } }), undefined);
  assert.equal(errorKindOf(new Error('the connection broke')), undefined);
  assert.equal(errorKindOf(null), undefined);
});

test('each kind the explorer can act on becomes the matching FileSystemError', () => {
  assert.equal(fileSystemErrorFor('not-found'), 'FileNotFound');
  assert.equal(fileSystemErrorFor('conflict'), 'FileExists');
  assert.equal(fileSystemErrorFor('read-only'), 'NoPermissions');
  assert.equal(fileSystemErrorFor('refused'), 'NoPermissions');
  assert.equal(fileSystemErrorFor('busy'), 'Unavailable');
  assert.equal(fileSystemErrorFor('stale'), undefined); // conflict.ts asks the user instead
  assert.equal(fileSystemErrorFor(undefined), undefined);
});

test('the kinds mirror the server contract (letta_ls/contract/errors.py)', () => {
  assert.deepEqual([...ERROR_KINDS].sort(), [
    'busy', 'config', 'conflict', 'failed', 'invalid', 'not-found', 'read-only', 'refused', 'stale', 'unavailable',
  ]);
});
