/**
 * The status bar item: the agent, its system tokens against the budget, the dream state and the subagent
 * run in progress, from `letta/status` (the budget from `letta/memoryTree`; the text from `statusText`).
 * A click opens a short menu of Letta actions.
 */

import * as vscode from 'vscode';
import { LettaClient } from './client';
import { MemoryModel } from './memoryModel';
import { Commands } from './protocol';
import { DREAM_WORDS, runLines, statusText } from './statusText';

export const MENU_COMMAND = 'letta.ui.menu';

export class LettaStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('letta.status', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: vscode.Disposable[] = [this.item];
  private failure: string | undefined;

  constructor(private readonly client: LettaClient, private readonly model: MemoryModel) {
    this.item.name = 'Letta';
    this.item.command = MENU_COMMAND;
    this.item.text = '$(loading~spin) Letta';
    this.item.tooltip = 'Letta: starting the language server';
    this.item.show();
    this.disposables.push(
      client.onStatus(() => this.render()),
      model.onDidChange(() => this.render()),
      client.onDidStart(() => {
        this.failure = undefined;
        this.item.backgroundColor = undefined;
        this.render();
      }),
      client.onDidStopUnexpectedly(() =>
        this.showFailure('letta-ls stopped: see Letta: Show Server Log, then Letta: Restart Server')),
      vscode.commands.registerCommand(MENU_COMMAND, () => this.menu()),
    );
  }

  /** Show that the server is not running, and why. */
  showFailure(message: string): void {
    this.failure = message;
    this.item.text = '$(error) Letta';
    this.item.tooltip = message;
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
  }

  dispose(): void {
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private render(): void {
    const status = this.client.status;
    if (!status || this.failure) {
      return;
    }
    const tree = this.model.current;
    const budget = tree && tree.agentId === status.agentId ? tree.totals.systemTokenBudget : undefined;
    this.item.text = statusText(status, budget);
    const over = budget !== undefined && status.systemTokens > budget;
    this.item.backgroundColor = over ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const tooltip = new vscode.MarkdownString([
      `**Letta** · agent **${status.agentName}** (\`${status.agentId}\`)`,
      `Model: ${status.model ?? 'not configured'} · conversation \`${status.conversationId ?? 'default'}\``,
      `System memory: ${status.systemTokens.toLocaleString()} tokens` +
        (budget ? ` of ${budget.toLocaleString()}${over ? ' $(warning) over budget' : ''}` : ''),
      `Dreams: ${DREAM_WORDS[status.dream] ?? status.dream}`,
      ...runLines(status),
      ...(status.reviews?.length ? [`$(diff) A dream waits for your review: click, then Review Dream`] : []),
    ].join('\n\n'));
    tooltip.supportThemeIcons = true;
    this.item.tooltip = tooltip;
  }

  private async menu(): Promise<void> {
    const items: (vscode.QuickPickItem & { command: string })[] = this.failure ? [
      { label: '$(output) Show Server Log', command: 'letta.ui.showLog' },
      { label: '$(debug-restart) Restart Server', command: 'letta.ui.restartServer' },
    ] : [
      { label: '$(comment-discussion) Chat', command: Commands.chat },
      { label: '$(pulse) Doctor', command: Commands.doctor },
      { label: '$(add) New Conversation', command: Commands.newConversation },
      { label: '$(arrow-swap) Switch Agent', command: Commands.switchAgent },
      { label: '$(history) Memory History', command: 'letta.ui.memoryHistory' },
      { label: '$(output) Show Server Log', command: 'letta.ui.showLog' },
    ];
    const reviews = this.client.status?.reviews ?? [];
    if (!this.failure && reviews.length > 0) {  // a dream waits for the user (sleeptime.merge "review")
      items.unshift({ label: `$(diff) Review Dream (${reviews[0].changes} change(s))`, command: 'letta.ui.reviewDream' });
    }
    const picked = await vscode.window.showQuickPick(items, { title: 'Letta' });
    if (picked) {
      await vscode.commands.executeCommand(picked.command);
    }
  }
}
