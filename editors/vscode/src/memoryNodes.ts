/**
 * The Memory view's shape, computed from `letta/memoryTree` entries without VS Code (unit-tested):
 * three tiers (system, external, skills), each a tree of folders and files, sorted folders first.
 * A skill shows as its folder (`skills/pdf/`), described by its SKILL.md.
 */

import { MemoryEntry, MemoryTree, Tier } from './protocol';

export interface FileNode {
  kind: 'file';
  name: string;
  entry: MemoryEntry;
}

export interface FolderNode {
  kind: 'folder';
  name: string;
  path: string;
  tier: Tier;
  children: MemoryNode[];
  tokens: number;
  /** For a skill folder: its SKILL.md. */
  skill?: MemoryEntry;
}

export interface TierNode {
  kind: 'tier';
  tier: Tier;
  label: string;
  hint: string;
  children: MemoryNode[];
  tokens: number;
  files: number;
}

export type MemoryNode = FileNode | FolderNode;
export type AnyNode = TierNode | MemoryNode;

const TIERS: { tier: Tier; label: string; hint: string; prefix: string }[] = [
  { tier: 'system', label: 'System', hint: 'always in the prompt', prefix: 'system/' },
  { tier: 'external', label: 'External', hint: 'read on demand', prefix: '' },
  { tier: 'skill', label: 'Skills', hint: 'loaded when used', prefix: 'skills/' },
];

export function formatTokens(tokens: number): string {
  if (tokens < 1000) {
    return String(tokens);
  }
  const thousands = tokens / 1000;
  return `${thousands < 10 ? thousands.toFixed(1).replace(/\.0$/, '') : Math.round(thousands)}k`;
}

function sortNodes(nodes: MemoryNode[]): MemoryNode[] {
  nodes.sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === 'folder' ? -1 : 1));
  for (const node of nodes) {
    if (node.kind === 'folder') {
      sortNodes(node.children);
    }
  }
  return nodes;
}

function insert(root: MemoryNode[], tier: Tier, prefix: string, entry: MemoryEntry): void {
  const parts = entry.path.slice(prefix.length).split('/');
  let level = root;
  let folderPath = prefix.replace(/\/$/, '');
  const folders: FolderNode[] = [];
  for (const part of parts.slice(0, -1)) {
    folderPath = folderPath ? `${folderPath}/${part}` : part;
    let folder = level.find((node): node is FolderNode => node.kind === 'folder' && node.name === part);
    if (!folder) {
      folder = { kind: 'folder', name: part, path: folderPath, tier, children: [], tokens: 0 };
      level.push(folder);
    }
    folders.push(folder);
    level = folder.children;
  }
  for (const folder of folders) {
    folder.tokens += entry.tokens;
  }
  const name = parts[parts.length - 1];
  if (tier === 'skill' && name.toLowerCase() === 'skill.md' && folders.length > 0) {
    folders[folders.length - 1].skill = entry;
  }
  level.push({ kind: 'file', name, entry });
}

/** The three tiers, always present (an empty tier says so in the view). */
export function buildMemoryNodes(tree: MemoryTree): TierNode[] {
  return TIERS.map(({ tier, label, hint, prefix }) => {
    const entries = tree.entries.filter((entry) => entry.tier === tier);
    const children: MemoryNode[] = [];
    for (const entry of entries) {
      insert(children, tier, entry.path.startsWith(prefix) ? prefix : '', entry);
    }
    const tokens = entries.reduce((sum, entry) => sum + entry.tokens, 0);
    return { kind: 'tier', tier, label, hint, children: sortNodes(children), tokens, files: entries.length };
  });
}

/** The one-line description a node shows beside its name. */
export function nodeDescription(node: AnyNode, budget?: number): string {
  if (node.kind === 'tier') {
    const size = node.tier === 'system' && budget ? `${formatTokens(node.tokens)} / ${formatTokens(budget)} tokens`
      : `${formatTokens(node.tokens)} tokens`;
    return node.files === 0 ? node.hint : `${size} · ${node.hint}`;
  }
  if (node.kind === 'folder') {
    const what = node.skill?.description ? `${node.skill.description} · ` : '';
    return `${what}${formatTokens(node.tokens)} tok`;
  }
  const description = node.entry.description ? `${node.entry.description} · ` : '';
  return `${description}${formatTokens(node.entry.tokens)} tok`;
}
