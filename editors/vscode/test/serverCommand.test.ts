// Which command starts letta-ls: the setting, then the workspace's .venv (trusted only), then PATH, then python3 -m.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResolveEnvironment, describe, resolveServerCommand } from '../src/serverCommand';

function env(overrides: Partial<ResolveEnvironment> & { executables?: string[] }): ResolveEnvironment {
  const executables = new Set(overrides.executables ?? []);
  return {
    configured: [],
    workspaceFolders: ['/work/project'],
    trusted: true,
    platform: 'linux',
    pathDirectories: ['/usr/local/bin', '/usr/bin'],
    isExecutable: (file) => executables.has(file),
    ...overrides,
  };
}

test('the setting wins, with its arguments', () => {
  const cmd = resolveServerCommand(env({ configured: ['/opt/letta/bin/letta-ls', 'serve', '--tcp', '127.0.0.1:9'],
    executables: ['/work/project/.venv/bin/letta-ls'] }));
  assert.equal(cmd.command, '/opt/letta/bin/letta-ls');
  assert.deepEqual(cmd.args, ['serve', '--tcp', '127.0.0.1:9']);
  assert.match(cmd.source, /setting/);
});

test('empty entries in the setting are ignored, so [""] means the default', () => {
  const cmd = resolveServerCommand(env({ configured: [''], executables: ['/usr/bin/letta-ls'] }));
  assert.equal(cmd.command, '/usr/bin/letta-ls');
});

test("the workspace's .venv comes before PATH", () => {
  const cmd = resolveServerCommand(env({ executables: ['/work/project/.venv/bin/letta-ls', '/usr/bin/letta-ls'] }));
  assert.equal(cmd.command, '/work/project/.venv/bin/letta-ls');
  assert.deepEqual(cmd.args, ['serve']);
});

test('an untrusted workspace never runs its own .venv', () => {
  const cmd = resolveServerCommand(env({ trusted: false,
    executables: ['/work/project/.venv/bin/letta-ls', '/usr/bin/letta-ls'] }));
  assert.equal(cmd.command, '/usr/bin/letta-ls');
});

test('PATH is searched in order', () => {
  const cmd = resolveServerCommand(env({ executables: ['/usr/local/bin/letta-ls', '/usr/bin/letta-ls'] }));
  assert.equal(cmd.command, '/usr/local/bin/letta-ls');
});

test('with nothing installed it falls back to python3 -m letta_ls', () => {
  const cmd = resolveServerCommand(env({}));
  assert.equal(describe(cmd), 'python3 -m letta_ls serve');
  assert.match(cmd.source, /no letta-ls found/);
});

test('Windows looks for .venv\\Scripts\\letta-ls.exe, then letta-ls.exe on PATH, then python', () => {
  const win = (executables: string[]) => resolveServerCommand(env({ platform: 'win32', workspaceFolders: ['C:\\p'],
    pathDirectories: ['C:\\Python\\Scripts'], executables }));
  assert.equal(win(['C:\\p\\.venv\\Scripts\\letta-ls.exe']).command, 'C:\\p\\.venv\\Scripts\\letta-ls.exe');
  assert.equal(win(['C:\\Python\\Scripts\\letta-ls.exe']).command, 'C:\\Python\\Scripts\\letta-ls.exe');
  assert.equal(win([]).command, 'python');
});

test('describe quotes parts with spaces', () => {
  assert.equal(describe({ command: '/My Tools/letta-ls', args: ['serve'], source: '' }), '"/My Tools/letta-ls" serve');
});
