/**
 * What the user sees when a save meets a newer committed version (the server answered -32801 to
 * `letta/memoryWrite` because the agent, another window or git committed the file meanwhile).
 *
 * The choice is asked in a modal dialog while the save waits, so there is exactly one question:
 * - Overwrite: save the buffer on top of the newer version (which stays in the memory history);
 * - Compare: open the newer committed version beside the buffer; the save is not made, and the next
 *   save keeps what the buffer then holds (the user has seen both);
 * - Discard My Changes: take the newer version into the editor; the discarded text goes to the
 *   clipboard, so even this loses nothing;
 * - Cancel: nothing happens, the buffer stays unsaved.
 */

import * as path from 'path';
import * as vscode from 'vscode';
import { REVISION_SCHEME, memoryPathOf } from './protocol';

export type ConflictChoice = 'overwrite' | 'compare' | 'discard' | 'cancel';

const CHOICES: Record<string, ConflictChoice> = {
  Overwrite: 'overwrite',
  Compare: 'compare',
  'Discard My Changes': 'discard',
};

export async function askAboutConflict(uri: vscode.Uri): Promise<ConflictChoice> {
  const picked = await vscode.window.showWarningMessage(
    `${memoryPathOf(uri)} changed in memory since you opened it.`,
    {
      modal: true,
      detail: 'The agent, another window or git committed a newer version. Overwrite saves your text on top of it '
        + '(the newer version stays in the memory history); Compare shows both; Discard takes the newer version '
        + 'and puts your text on the clipboard.',
    },
    ...Object.keys(CHOICES),
  );
  return picked ? CHOICES[picked] : 'cancel';
}

/** The committed version of a memory file at `head`, as a read-only `letta-memory-rev` URI. */
export function revisionUri(uri: vscode.Uri, head: string): vscode.Uri {
  return uri.with({ scheme: REVISION_SCHEME, path: `/${head}/${memoryPathOf(uri)}` });
}

export async function showComparison(uri: vscode.Uri, head: string): Promise<void> {
  const name = path.posix.basename(memoryPathOf(uri));
  await vscode.commands.executeCommand('vscode.diff', revisionUri(uri, head), uri,
    `${name}: in memory (${head.slice(0, 7)}) ↔ yours`);
}

/** Put the editor back on the committed text; the text it held goes to the clipboard. */
export async function discardChanges(uri: vscode.Uri, discarded: string): Promise<void> {
  await vscode.env.clipboard.writeText(discarded);
  const document = vscode.workspace.textDocuments.find((doc) => doc.uri.toString() === uri.toString());
  if (document) {
    await vscode.window.showTextDocument(document, { preserveFocus: false, preview: false });
    await vscode.commands.executeCommand('workbench.action.files.revert');
  }
  void vscode.window.showInformationMessage(
    `Letta: took the committed version of ${memoryPathOf(uri)}; your discarded text is on the clipboard.`);
}
