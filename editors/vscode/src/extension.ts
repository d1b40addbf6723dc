/**
 * Entry point: wires the parts together and starts the server. Each part lives in its own module:
 * client.ts (the connection), memoryFs.ts (letta-memory:// documents), memoryView.ts (the Memory view),
 * memoryFiles.ts (delete and rename there),
 * history.ts, chatPanel.ts, palette.ts (server commands from the palette), statusBar.ts, reports.ts.
 */

import * as vscode from 'vscode';
import { ChatPanel, openTranscript } from './chatPanel';
import { LettaClient, errorMessage } from './client';
import { HISTORY_COMMAND, showHistory } from './history';
import { registerDreamReview } from './dreamReview';
import { registerMemoryFileCommands } from './memoryFiles';
import { MemoryFileSystem, registerMemoryFileSystem } from './memoryFs';
import { MemoryModel } from './memoryModel';
import { registerMemoryView } from './memoryView';
import { Palette } from './palette';
import { Commands, ConversationInfo } from './protocol';
import { registerReports } from './reports';
import { LettaStatusBar } from './statusBar';
import { conversationLabel } from './webview/messages';

let client: LettaClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Letta', { log: true });
  let palette: Palette | undefined;
  const lc = new LettaClient(output, {
    executeCommand: (command, args, next) => palette!.middleware(command, args, next),
  });
  client = lc;
  palette = new Palette(lc, context.extensionUri);
  const model = new MemoryModel(lc);
  const memoryFs = new MemoryFileSystem(lc, model);
  const statusBar = new LettaStatusBar(lc, model);

  context.subscriptions.push(
    output, lc, model, memoryFs, statusBar,
    registerMemoryFileSystem(memoryFs),
    registerMemoryView(model),
    registerMemoryFileCommands(model),
    registerReports(),
    registerDreamReview(lc),
    vscode.commands.registerCommand(HISTORY_COMMAND, (target?: unknown) => showHistory(lc, model, target)),
    vscode.commands.registerCommand('letta.ui.refreshMemory', () => model.reload()),
    vscode.commands.registerCommand('letta.ui.showLog', () => output.show(true)),
    vscode.commands.registerCommand('letta.ui.restartServer', () => startServer(lc, statusBar, true)),
    vscode.commands.registerCommand('letta.ui.openTranscript', () =>
      openTranscript(lc, ChatPanel.current?.conversation ?? lc.status?.conversationId ?? 'default')),
    vscode.commands.registerCommand('letta.ui.switchConversation', () => switchConversation(lc, context.extensionUri)),
  );
  // awaited, so a palette command that activated the extension finds the server's commands registered
  await startServer(lc, statusBar, false);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}

async function startServer(lc: LettaClient, statusBar: LettaStatusBar, restart: boolean): Promise<void> {
  try {
    await (restart ? lc.restart() : lc.start());
  } catch (error) {
    const message = errorMessage(error);
    lc.output.error(message);
    statusBar.showFailure(message);
    // not awaited: activation must finish even while the notification is open
    void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log').then(async (choice) => {
      if (choice === 'Open Settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', 'letta.server.command');
      } else if (choice === 'Show Log') {
        lc.output.show(true);
      }
    });
  }
}

async function switchConversation(lc: LettaClient, extensionUri: vscode.Uri): Promise<void> {
  try {
    const conversations = await lc.executeCommand<ConversationInfo[]>(Commands.listConversations, {});
    const current = ChatPanel.current?.conversation ?? lc.status?.conversationId;
    const picked = await vscode.window.showQuickPick([
      { label: '$(add) New conversation', id: undefined as string | undefined },
      ...conversations.map((info) => ({
        label: conversationLabel(info),
        description: info.conversationId === current ? 'current' : info.conversationId,
        detail: info.updated ? `updated ${new Date(info.updated).toLocaleString()}` : undefined,
        id: info.conversationId as string | undefined,
      })),
    ], { title: 'Letta: switch to which conversation?' });
    if (!picked) {
      return;
    }
    const panel = ChatPanel.show(extensionUri, lc);
    if (picked.id) {
      await panel.switchTo(picked.id);
    } else {
      await panel.startNew();
    }
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`);
  }
}
