// The path typed to rename a memory file is checked before anything reaches the server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNewPath } from '../src/memoryPaths';

test('a relative memory path passes', () => {
  assert.equal(checkNewPath('reference/tools/editor.md'), undefined);
  assert.equal(checkNewPath('  notes.md '), undefined);
});

test('empty, absolute and escaping paths are refused with a reason', () => {
  assert.match(checkNewPath('   ') ?? '', /Type the new path/);
  assert.match(checkNewPath('/etc/passwd') ?? '', /relative/);
  assert.match(checkNewPath('../outside.md') ?? '', /\.\./);
  assert.match(checkNewPath('reference//x.md') ?? '', /empty parts/);
});
