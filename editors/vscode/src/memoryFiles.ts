/**
 * Delete and Rename in the Memory view's context menu. Both go through the letta-memory:// file
 * system (memoryFs.ts), so each is one commit on the server that the file's history can undo.
 */

import * as vscode from 'vscode';
import { errorMessage } from './client';
import { MemoryModel } from './memoryModel';
import { AnyNode } from './memoryNodes';
import { checkNewPath } from './memoryPaths';
import { MEMORY_SCHEME, memoryPathOf } from './protocol';

export const DELETE_COMMAND = 'letta.ui.deleteMemory';
export const RENAME_COMMAND = 'letta.ui.renameMemory';

/** The letta-memory:// URI of a file or folder node of the Memory view (or of the active editor). */
function targetOf(model: MemoryModel, target: unknown): { uri: vscode.Uri; folder: boolean } | undefined {
  const node = target as AnyNode | undefined;
  if (node?.kind === 'file') {
    return { uri: vscode.Uri.parse(node.entry.uri), folder: false };
  }
  const agentId = model.current?.agentId;
  if (node?.kind === 'folder' && agentId) {
    return { uri: vscode.Uri.from({ scheme: MEMORY_SCHEME, authority: agentId, path: `/${node.path}` }), folder: true };
  }
  const active = vscode.window.activeTextEditor?.document.uri;
  return active?.scheme === MEMORY_SCHEME ? { uri: active, folder: false } : undefined;
}

async function deleteMemory(model: MemoryModel, target: unknown): Promise<void> {
  const found = targetOf(model, target);
  if (!found) {
    void vscode.window.showInformationMessage('Letta: right-click a memory file or folder in the Memory view to delete it.');
    return;
  }
  const path = memoryPathOf(found.uri);
  const choice = await vscode.window.showWarningMessage(
    `Delete ${found.folder ? `the folder ${path}/ and every file in it` : path} from memory?`,
    { modal: true, detail: 'It is one commit: the file stays in the memory history and can be restored.' },
    'Delete');
  if (choice !== 'Delete') {
    return;
  }
  try {
    await vscode.workspace.fs.delete(found.uri, { recursive: true });
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`);
  }
}

async function renameMemory(model: MemoryModel, target: unknown): Promise<void> {
  const found = targetOf(model, target);
  if (!found) {
    void vscode.window.showInformationMessage('Letta: right-click a memory file or folder in the Memory view to rename it.');
    return;
  }
  const path = memoryPathOf(found.uri);
  const slash = path.lastIndexOf('/');
  const stem = path.endsWith('.md') ? path.length - 3 : path.length;
  const typed = await vscode.window.showInputBox({
    title: `Rename ${path}`, value: path, valueSelection: [slash + 1, stem],
    prompt: 'The new path in memory (moving a file between folders is a rename too)',
    validateInput: checkNewPath,
  });
  if (typed === undefined || typed.trim() === path) {
    return;
  }
  const newUri = found.uri.with({ path: `/${typed.trim()}` });
  try {
    await vscode.workspace.fs.rename(found.uri, newUri, { overwrite: false });
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`);
  }
}

export function registerMemoryFileCommands(model: MemoryModel): vscode.Disposable {
  return vscode.Disposable.from(
    vscode.commands.registerCommand(DELETE_COMMAND, (target?: unknown) => deleteMemory(model, target)),
    vscode.commands.registerCommand(RENAME_COMMAND, (target?: unknown) => renameMemory(model, target)),
  );
}
