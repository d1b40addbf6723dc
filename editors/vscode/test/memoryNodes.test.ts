// letta/memoryTree → the Memory view's tiers, folders and descriptions.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FolderNode, buildMemoryNodes, formatTokens, nodeDescription } from '../src/memoryNodes';
import type { MemoryEntry, MemoryTree } from '../src/protocol';

function entry(path: string, tier: MemoryEntry['tier'], tokens: number, description: string | null = null): MemoryEntry {
  return { uri: `letta-memory://a/${path}`, path, tier, description, tokens, readOnly: false };
}

const tree: MemoryTree = {
  agentId: 'a', head: 'h',
  entries: [
    entry('system/persona.md', 'system', 300, 'Who I am'),
    entry('system/project/gotchas.md', 'system', 40, 'Gotchas'),
    entry('system/human.md', 'system', 120, 'The user'),
    entry('reference/stack.md', 'external', 22, 'Stack'),
    entry('ARCHIVE.md', 'external', 5, 'Old'),
    entry('skills/pdf/SKILL.md', 'skill', 19, 'Read and write PDF files'),
  ],
  totals: { systemTokens: 460, systemTokenBudget: 20000 },
};

test('three tiers, folders first, then files by name', () => {
  const [system, external, skills] = buildMemoryNodes(tree);
  assert.deepEqual([system.label, external.label, skills.label], ['System', 'External', 'Skills']);
  assert.deepEqual(system.children.map((n) => n.name), ['project', 'human.md', 'persona.md']);
  assert.deepEqual(external.children.map((n) => n.name), ['reference', 'ARCHIVE.md']);
  assert.equal(system.tokens, 460);
  assert.equal((system.children[0] as FolderNode).path, 'system/project');
});

test('a skill folder is described by its SKILL.md', () => {
  const skills = buildMemoryNodes(tree)[2];
  const pdf = skills.children[0] as FolderNode;
  assert.equal(pdf.name, 'pdf');
  assert.equal(nodeDescription(pdf), 'Read and write PDF files · 19 tok');
});

test('descriptions carry tokens, the system tier against its budget', () => {
  const [system, external] = buildMemoryNodes(tree);
  assert.equal(nodeDescription(system, 20000), '460 / 20k tokens · always in the prompt');
  assert.equal(nodeDescription(external), '27 tokens · read on demand');
  const empty = buildMemoryNodes({ ...tree, entries: [] })[2];
  assert.equal(nodeDescription(empty), 'loaded when used');
  const human = system.children[1];
  assert.equal(nodeDescription(human), 'The user · 120 tok');
});

test('token counts read at a glance', () => {
  assert.deepEqual([0, 999, 1000, 1234, 9960, 20000, 123456].map(formatTokens),
    ['0', '999', '1k', '1.2k', '10k', '20k', '123k']);
});

test('a MemFS v2 memory: root files are the system tier, named without a system/ folder', () => {
  const v2: MemoryTree = {
    agentId: 'a', head: 'h',
    entries: [
      entry('MEMORY.md', 'system', 10, null),
      entry('persona.md', 'system', 30, 'Who I am'),
      entry('projects/x.md', 'external', 5, 'Project X'),
    ],
    totals: { systemTokens: 40, systemTokenBudget: 20000 },
  };
  const [system, external] = buildMemoryNodes(v2);
  assert.deepEqual(system.children.map((n) => n.name), ['MEMORY.md', 'persona.md']);
  assert.deepEqual(external.children.map((n) => n.name), ['projects']);
});
