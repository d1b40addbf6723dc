/**
 * The Memory view in the Letta activity bar container: system, external and skills, each file with
 * its description and token count; a click opens the file (an editable `letta-memory://` document),
 * the context menu shows its history. It redraws whenever the shared MemoryModel reloads.
 */

import * as vscode from 'vscode';
import { MemoryModel } from './memoryModel';
import { AnyNode, TierNode, buildMemoryNodes, formatTokens, nodeDescription } from './memoryNodes';

export const VIEW_ID = 'letta.memory';
export const OPEN_COMMAND = 'letta.ui.openMemoryFile';
/** A memory this small shows every file at once; a bigger one opens with its folders closed. */
const EXPAND_UP_TO = 25;

const TIER_ICONS: Record<TierNode['tier'], string> = { system: 'pinned', external: 'library', skill: 'tools' };

function markdownTooltip(lines: string[]): vscode.MarkdownString {
  const tooltip = new vscode.MarkdownString(lines.join('\n\n'));
  tooltip.supportThemeIcons = true;
  return tooltip;
}

export class MemoryTreeProvider implements vscode.TreeDataProvider<AnyNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<AnyNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: MemoryModel) {
    this.subscription = model.onDidChange(() => this.changed.fire(undefined));
  }

  async getChildren(node?: AnyNode): Promise<AnyNode[]> {
    if (node) {
      return node.kind === 'file' ? [] : node.children;
    }
    const tree = await this.model.load();
    return tree ? buildMemoryNodes(tree) : [];
  }

  getTreeItem(node: AnyNode): vscode.TreeItem {
    const budget = this.model.current?.totals.systemTokenBudget;
    if (node.kind === 'tier') {
      const item = new vscode.TreeItem(node.label, node.files > 0
        ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.None);
      item.id = `tier:${node.tier}`;
      item.description = nodeDescription(node, budget);
      item.iconPath = new vscode.ThemeIcon(TIER_ICONS[node.tier]);
      item.contextValue = 'letta-tier';
      const over = node.tier === 'system' && budget !== undefined && node.tokens > budget;
      item.tooltip = markdownTooltip([
        `**${node.label} memory**: ${node.hint}`,
        `${node.files} file${node.files === 1 ? '' : 's'}, ${node.tokens.toLocaleString()} tokens` +
          (node.tier === 'system' && budget ? ` of a ${budget.toLocaleString()}-token budget` : ''),
        ...(over ? ['$(warning) over budget: move reference material out of system/'] : []),
      ]);
      return item;
    }
    if (node.kind === 'folder') {
      const small = (this.model.current?.entries.length ?? 0) <= EXPAND_UP_TO;
      const item = new vscode.TreeItem(`${node.name}/`, small
        ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `folder:${node.path}`;
      item.description = nodeDescription(node);
      item.iconPath = node.skill ? new vscode.ThemeIcon('tools') : vscode.ThemeIcon.Folder;
      item.contextValue = 'letta-folder';
      item.tooltip = markdownTooltip([`\`${node.path}/\``, ...(node.skill?.description ? [node.skill.description] : []),
        `${formatTokens(node.tokens)} tokens`]);
      return item;
    }
    const entry = node.entry;
    const uri = vscode.Uri.parse(entry.uri);
    const item = new vscode.TreeItem(uri, vscode.TreeItemCollapsibleState.None);
    item.id = `file:${entry.path}`;
    item.label = node.name;
    item.description = nodeDescription(node);
    item.contextValue = entry.readOnly ? 'letta-file-readonly' : 'letta-file';
    if (entry.readOnly) {
      item.iconPath = new vscode.ThemeIcon('lock');
    }
    item.tooltip = markdownTooltip([
      `\`${entry.path}\`${entry.readOnly ? ' $(lock) read only for the agent' : ''}`,
      entry.description ?? '_no description: the doctor will flag it_',
      `${entry.tokens.toLocaleString()} tokens`,
    ]);
    item.command = { command: OPEN_COMMAND, title: 'Open', arguments: [uri] };
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

export function registerMemoryView(model: MemoryModel): vscode.Disposable {
  const provider = new MemoryTreeProvider(model);
  const view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: provider, showCollapseAll: true });
  const showState = () => {
    view.message = model.lastError && !model.current
      ? `Memory could not be loaded: ${model.lastError}` : undefined;
    const status = model.current;
    view.description = status ? `${formatTokens(status.totals.systemTokens)} / ` +
      `${formatTokens(status.totals.systemTokenBudget)} system tokens` : undefined;
  };
  return vscode.Disposable.from(
    provider,
    view,
    model.onDidChange(showState),
    vscode.commands.registerCommand(OPEN_COMMAND, async (uri: vscode.Uri) => {
      await vscode.window.showTextDocument(uri, { preview: true });
    }),
  );
}
