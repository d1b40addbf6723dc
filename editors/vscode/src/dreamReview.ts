/**
 * Dreams the user reviews (`sleeptime.merge: "review"`): a dream's changes wait on its ref until accepted.
 *
 * `Letta: Review Dream` opens the pending changes in VS Code's multi-file diff editor (`vscode.changes`),
 * each file's version before the dream against the dream's, both `letta-memory-rev://` documents the
 * language client serves. Accept / Reject act on all files, or on one (picked from a list, or the file of
 * the diff in the active editor, from its title bar). The review is reachable from the notification the
 * server sends when a dream starts waiting (`letta/dreamReview`), from the status bar menu and from the
 * Memory view's title bar (shown while `letta.dreamPending`).
 */

import * as vscode from 'vscode';
import { LettaClient, errorMessage } from './client';
import { currentUriOf } from './history';
import { Commands, DreamChange, DreamChanges, DreamReviewNotice, Methods, REVISION_SCHEME, memoryPathOf } from './protocol';

export const REVIEW_COMMAND = 'letta.ui.reviewDream';
export const ACCEPT_ALL_COMMAND = 'letta.ui.acceptDream';
export const REJECT_ALL_COMMAND = 'letta.ui.rejectDream';
export const ACCEPT_FILE_COMMAND = 'letta.ui.acceptDreamFile';
export const REJECT_FILE_COMMAND = 'letta.ui.rejectDreamFile';
const PENDING_CONTEXT = 'letta.dreamPending';

/** The run of the last `letta/dreamReview` (it may arrive before the `letta/status` that lists it). */
let announcedRun: string | undefined;

/** The run to review: the one the server lists first in `letta/status` (oldest first), else the announced one. */
function pendingRun(lc: LettaClient): string | undefined {
  return lc.status?.reviews?.[0]?.runId ?? announcedRun;
}

async function changesOf(lc: LettaClient, runId: string): Promise<DreamChange[]> {
  return (await lc.request<DreamChanges>(Methods.dreamChanges, { runId })).changes;
}

/** Open every pending change of the run in the multi-file diff editor. */
export async function openReview(lc: LettaClient): Promise<void> {
  const runId = pendingRun(lc);
  if (!runId) {
    void vscode.window.showInformationMessage('Letta: no dream waits for review.');
    return;
  }
  const changes = await changesOf(lc, runId);
  const resources = changes.map((change) => {
    const after = change.afterUri ? vscode.Uri.parse(change.afterUri) : undefined;
    const before = change.beforeUri ? vscode.Uri.parse(change.beforeUri) : undefined;
    // the row is named by the memory file (letta-memory://), not by either revision
    return [currentUriOf(after ?? before!), before, after];
  });
  await vscode.commands.executeCommand('vscode.changes', `Dream review: ${changes.length} change(s) of ${runId}`,
    resources);
}

/** The memory path of the diff whose title bar button was pressed, when it belongs to the dream under review. */
function activePath(changes: DreamChange[], target?: unknown): string | undefined {
  // only the editor title's button passes the file; from the palette the user picks from the list
  const uri = target instanceof vscode.Uri ? target : undefined;
  if (!uri || uri.scheme !== REVISION_SCHEME) {
    return undefined;
  }
  const path = memoryPathOf(uri).split('/').slice(1).join('/');
  return changes.find((change) => change.path === path || change.oldPath === path)?.path;
}

async function decide(lc: LettaClient, action: 'accept' | 'reject', oneFile: boolean, target?: unknown): Promise<void> {
  const runId = pendingRun(lc);
  if (!runId) {
    void vscode.window.showInformationMessage('Letta: no dream waits for review.');
    return;
  }
  try {
    let paths: string[] | undefined;
    if (oneFile) {
      const changes = await changesOf(lc, runId);
      const path = activePath(changes, target) ?? (await vscode.window.showQuickPick(changes.map((change) => ({
        label: change.path, description: change.kind, detail: change.reason,
      })), { title: `${action === 'accept' ? 'Accept' : 'Reject'} which change of the dream?` }))?.label;
      if (!path) {
        return;
      }
      paths = [path];
    }
    const command = action === 'accept' ? Commands.dreamAccept : Commands.dreamReject;
    const result = await lc.executeCommand<{ accepted?: string[]; rejected?: string[] }>(command,
      paths ? { runId, paths } : { runId });
    const done = (action === 'accept' ? result.accepted : result.rejected) ?? [];
    void vscode.window.showInformationMessage(
      `Letta: ${action === 'accept' ? 'accepted' : 'rejected'} ${done.length} file(s): ${done.join(', ')}`);
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: could not ${action} the dream's changes: ${errorMessage(error)}`);
  }
}

export function registerDreamReview(lc: LettaClient): vscode.Disposable {
  const setPending = () => {
    const pending = (lc.status?.reviews?.length ?? 0) > 0;
    void vscode.commands.executeCommand('setContext', PENDING_CONTEXT, pending);
  };
  const announce = async (notice: DreamReviewNotice) => {
    announcedRun = notice.runId;
    const choice = await vscode.window.showInformationMessage(notice.message, 'Review', 'Accept All', 'Reject All');
    if (choice === 'Review') {
      await openReview(lc);
    } else if (choice === 'Accept All') {
      await decide(lc, 'accept', false);
    } else if (choice === 'Reject All') {
      await decide(lc, 'reject', false);
    }
  };
  const guarded = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (error) {
      void vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`);
    }
  };
  return vscode.Disposable.from(
    lc.onStatus(setPending),
    lc.onDreamReview((notice) => void announce(notice)),
    vscode.commands.registerCommand(REVIEW_COMMAND, guarded(() => openReview(lc))),
    vscode.commands.registerCommand(ACCEPT_ALL_COMMAND, () => decide(lc, 'accept', false)),
    vscode.commands.registerCommand(REJECT_ALL_COMMAND, () => decide(lc, 'reject', false)),
    vscode.commands.registerCommand(ACCEPT_FILE_COMMAND, (target?: unknown) => decide(lc, 'accept', true, target)),
    vscode.commands.registerCommand(REJECT_FILE_COMMAND, (target?: unknown) => decide(lc, 'reject', true, target)),
  );
}
