/**
 * Letta: Memory History. Pick a memory file (the one in the active editor, the one right-clicked in
 * the Memory view, or from a list), then one of its commits, then open that revision read-only or
 * compare it with the current version or with the version before it. Revisions are
 * `letta-memory-rev://` documents served by the language client's content provider.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { LettaClient, errorMessage } from './client';
import { MemoryModel } from './memoryModel';
import { AnyNode, formatTokens } from './memoryNodes';
import { HistoryEntry, MEMORY_SCHEME, Methods, REVISION_SCHEME, memoryPathOf } from './protocol';

export const HISTORY_COMMAND = 'letta.ui.memoryHistory';

interface CommitPick extends vscode.QuickPickItem {
  entry: HistoryEntry;
  previous?: HistoryEntry;
}

/** The editable URI behind a revision URI (`letta-memory-rev://agent/<commit>/<path>`). */
export function currentUriOf(uri: vscode.Uri): vscode.Uri {
  if (uri.scheme !== REVISION_SCHEME) {
    return uri;
  }
  const [, ...rest] = memoryPathOf(uri).split('/');
  return uri.with({ scheme: MEMORY_SCHEME, path: `/${rest.join('/')}` });
}

function when(date: string): string {
  const parsed = new Date(date);
  return Number.isNaN(parsed.getTime()) ? date : parsed.toLocaleString();
}

async function pickFile(model: MemoryModel): Promise<vscode.Uri | undefined> {
  const tree = await model.load();
  if (!tree || tree.entries.length === 0) {
    void vscode.window.showInformationMessage('Letta: memory has no files yet.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(tree.entries.map((entry) => ({
    label: entry.path,
    description: `${formatTokens(entry.tokens)} tok`,
    detail: entry.description ?? undefined,
    uri: vscode.Uri.parse(entry.uri),
  })), { title: 'Memory History: which file?', matchOnDetail: true });
  return picked?.uri;
}

function targetUri(target: unknown): vscode.Uri | undefined {
  if (target instanceof vscode.Uri) {
    return target;
  }
  const node = target as AnyNode | undefined;
  if (node && node.kind === 'file') {
    return vscode.Uri.parse(node.entry.uri);
  }
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && (active.scheme === MEMORY_SCHEME || active.scheme === REVISION_SCHEME)) {
    return currentUriOf(active);
  }
  return undefined;
}

export async function showHistory(client: LettaClient, model: MemoryModel, target?: unknown): Promise<void> {
  const uri = targetUri(target) ?? await pickFile(model);
  if (!uri) {
    return;
  }
  const file = memoryPathOf(uri);
  let entries: HistoryEntry[];
  try {
    entries = await client.request<HistoryEntry[]>(Methods.memoryHistory, { uri: uri.toString(), limit: 200 });
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: no history for ${file}: ${errorMessage(error)}`);
    return;
  }
  const picks: CommitPick[] = entries.map((entry, index) => ({
    label: entry.message.split('\n')[0] || '(no message)',
    description: `${entry.commit.slice(0, 7)} · ${entry.author}`,
    detail: when(entry.date),
    entry,
    previous: entries[index + 1],
  }));
  const commit = await vscode.window.showQuickPick(picks, {
    title: `History of ${file} (${entries.length} commit${entries.length === 1 ? '' : 's'})`,
    placeHolder: 'Pick a commit to open or compare',
    matchOnDescription: true,
  });
  if (!commit) {
    return;
  }
  const name = path.posix.basename(file);
  const short = commit.entry.commit.slice(0, 7);
  const revision = vscode.Uri.parse(commit.entry.uri);
  const actions = [
    { label: '$(diff) Compare with the current version', run: () => vscode.commands.executeCommand(
      'vscode.diff', revision, uri, `${name} (${short}) ↔ current`) },
    { label: '$(file) Open this version (read only)', run: () => vscode.window.showTextDocument(revision) },
    ...(commit.previous ? [{ label: '$(git-compare) Show the change this commit made', run: () => {
      const before = vscode.Uri.parse(commit.previous!.uri);
      return vscode.commands.executeCommand('vscode.diff', before, revision,
        `${name} (${commit.previous!.commit.slice(0, 7)} ↔ ${short})`);
    } }] : []),
  ];
  const action = await vscode.window.showQuickPick(actions, { title: `${name} at ${short}: ${commit.label}` });
  await action?.run();
}
