/**
 * The server's commands from the command palette.
 *
 * vscode-languageclient registers every command the server lists (`letta.chat`, `letta.doctor`, …) as a
 * VS Code command, and a palette call reaches the server with `arguments: []`. So the client's
 * `executeCommand` middleware sends here every call that comes with no argument: it asks for what the
 * command needs with VS Code's own pickers and input boxes, forwards one complete argument object,
 * and shows the result (a report, a notification, the chat panel). A call that brings its argument
 * (another extension, a keybinding with args, the chat panel) goes to the server unchanged and gets
 * the result back.
 */

import * as vscode from 'vscode';
import { ExecuteCommandSignature } from 'vscode-languageclient/node';
import { ChatPanel } from './chatPanel';
import { LettaClient, errorMessage } from './client';
import { AgentInfo, Commands, DoctorResult, ReportResult } from './protocol';
import { showReport } from './reports';

type Run = (argument?: object) => Promise<unknown>;
type Interactive = (run: Run) => Promise<unknown>;

/** Agent presets shipped with letta-ls (`letta-ls agents presets`). */
const PRESETS: vscode.QuickPickItem[] = [
  { label: 'default', description: 'a careful coding agent that learns about you and the project' },
  { label: 'tutor', description: 'explains as it goes' },
  { label: 'terse', description: 'short answers' },
  { label: 'blank', description: 'only the required persona' },
];

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

export function summarizeDoctor(result: DoctorResult): string {
  const count = (severity: string) => result.findings.filter((finding) => finding.severity === severity).length;
  const parts = [plural(count('error'), 'error'), plural(count('warning'), 'warning')];
  const info = count('info') + count('hint');
  if (info > 0) {
    parts.push(`${info} note${info === 1 ? '' : 's'}`);
  }
  const tokens = result.tokens ? ` · system memory ${result.tokens.system.toLocaleString()} / ` +
    `${result.tokens.budget.toLocaleString()} tokens` : '';
  return `Letta doctor: ${parts.join(', ')}${tokens}`;
}

export class Palette {
  private readonly interactive: Record<string, Interactive> = {
    [Commands.chat]: async () => {
      ChatPanel.show(this.extensionUri, this.client);
    },
    [Commands.remember]: async (run) => {
      const selection = vscode.window.activeTextEditor?.document.getText(vscode.window.activeTextEditor.selection);
      const text = await vscode.window.showInputBox({
        title: 'Letta: Remember',
        prompt: 'What should your agent remember? Leave empty to let it pick what matters from the current chat.',
        value: selection?.trim() ?? '',
        ignoreFocusOut: true,
      });
      if (text === undefined) {
        return undefined;
      }
      const conversationId = ChatPanel.current?.conversation ?? this.client.status?.conversationId ?? undefined;
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification,
        title: 'Letta: remembering…' }, () => run({ ...(text.trim() ? { text } : {}),
        ...(conversationId ? { conversationId } : {}) })) as { reply: string; commits: string[] };
      void vscode.window.showInformationMessage(`Letta: ${result.reply}`);
      return result;
    },
    [Commands.doctor]: (run) => this.doctor(run),
    [Commands.init]: async (run) => {
      const depth = await vscode.window.showQuickPick([
        { label: 'standard', description: 'read the project and write what matters into memory' },
        { label: 'deep', description: 'also read more of the code and the git history; takes longer' },
      ], { title: 'Letta: Init: how deep?' });
      if (!depth) {
        return undefined;
      }
      return this.report('Letta Init', await run({ depth: depth.label }) as ReportResult);
    },
    [Commands.dream]: async (run) => this.report('Letta Dream', await run({}) as ReportResult),
    [Commands.defrag]: async (run) => {
      const go = await vscode.window.showWarningMessage('Defrag reorganises your agent\'s memory files.', {
        modal: true, detail: 'A backup is made first, and every change is a commit you can restore.' }, 'Defrag');
      if (go !== 'Defrag') {
        return undefined;
      }
      const result = await run({}) as ReportResult;
      return this.report('Letta Defrag', result, result.backup ? `backup: ${result.backup}` : undefined);
    },
    [Commands.newConversation]: async () => {
      const panel = ChatPanel.show(this.extensionUri, this.client);
      const conversationId = await panel.startNew();
      return conversationId ? { conversationId } : undefined;
    },
    [Commands.switchAgent]: async (run) => {
      const agent = await this.pickAgent('Letta: switch to which agent?', true);
      if (agent === 'new') {
        return vscode.commands.executeCommand(Commands.createAgent);
      }
      if (!agent) {
        return undefined;
      }
      const result = await run({ agentId: agent.agentId }) as { agentId: string; name: string };
      void vscode.window.showInformationMessage(`Letta: now working with ${result.name}.`);
      return result;
    },
    [Commands.createAgent]: async (run) => {
      const name = await vscode.window.showInputBox({ title: 'Letta: Create Agent', prompt: 'Name of the new agent',
        validateInput: (value) => (value.trim() ? undefined : 'Give the agent a name'), ignoreFocusOut: true });
      if (!name) {
        return undefined;
      }
      const preset = await vscode.window.showQuickPick(PRESETS, { title: `Letta: ${name.trim()} starts from which preset?` });
      if (!preset) {
        return undefined;
      }
      const created = await run({ name: name.trim(), preset: preset.label }) as { agentId: string; name: string };
      const choice = await vscode.window.showInformationMessage(`Letta: created ${created.name}.`, 'Switch to It');
      if (choice) {
        await this.client.executeCommand(Commands.switchAgent, { agentId: created.agentId });
      }
      return created;
    },
    [Commands.pin]: (run) => this.pin(run, true),
    [Commands.unpin]: (run) => this.pin(run, false),
    [Commands.sleeptime]: async (run) => {
      const current = await run({}) as { trigger: string; stepCount: number; idleSeconds: number };
      const trigger = await vscode.window.showQuickPick([
        { label: 'step-count', description: `dream every N agent steps (now ${current.stepCount})` },
        { label: 'compaction-event', description: 'dream when a conversation is compacted' },
        { label: 'off', description: 'no background dreams (Letta: Dream Now still works)' },
      ].map((item) => ({ ...item, picked: item.label === current.trigger,
        detail: item.label === current.trigger ? 'current' : undefined })),
      { title: `Letta: dreams run on "${current.trigger}". Change it?` });
      if (!trigger) {
        return current;
      }
      const change: { trigger: string; stepCount?: number } = { trigger: trigger.label };
      if (trigger.label === 'step-count') {
        const steps = await vscode.window.showInputBox({ title: 'Letta: steps between dreams',
          value: String(current.stepCount), validateInput: (value) =>
            (/^\s*[1-9]\d*\s*$/.test(value) ? undefined : 'A whole number above 0') });
        if (steps === undefined) {
          return current;
        }
        change.stepCount = Number(steps);
      }
      const result = await run(change) as { trigger: string; stepCount: number };
      void vscode.window.showInformationMessage(`Letta: dreams now run on ${result.trigger}` +
        (result.trigger === 'step-count' ? ` (every ${result.stepCount} steps).` : '.'));
      return result;
    },
    [Commands.backup]: async (run) => {
      const result = await run({}) as { ref: string };
      void vscode.window.showInformationMessage(`Letta: memory backed up as ${result.ref}.`, 'Copy Name')
        .then((choice) => choice && vscode.env.clipboard.writeText(result.ref.split('/').pop() ?? result.ref));
      return result;
    },
    [Commands.restore]: async (run) => {
      const ref = await vscode.window.showInputBox({
        title: 'Letta: Restore',
        prompt: 'A backup name, a ref or a commit. Leave empty to choose from the recent backups. Restoring is a new '
          + 'commit: nothing is lost.',
        ignoreFocusOut: true,
      });
      if (ref === undefined) {
        return undefined;
      }
      const result = await (ref.trim() ? run({ ref: ref.trim() }) : run()) as { ref: string; commit: string | null };
      void vscode.window.showInformationMessage(result.commit
        ? `Letta: memory restored to ${result.ref} (commit ${result.commit.slice(0, 7)}).`
        : `Letta: memory already matches ${result.ref}.`);
      return result;
    },
    [Commands.sync]: async (run) => {
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification,
        title: 'Letta: syncing memory…' }, () => run({})) as { pushed: number; pulled: number; conflicts: unknown[] };
      const conflicts = Array.isArray(result.conflicts) ? result.conflicts.length : Number(result.conflicts) || 0;
      void vscode.window.showInformationMessage(`Letta: sync pushed ${result.pushed}, pulled ${result.pulled}` +
        (conflicts ? `, ${plural(conflicts, 'conflict')} to resolve.` : '.'));
      return result;
    },
  };

  constructor(private readonly client: LettaClient, private readonly extensionUri: vscode.Uri) {}

  /** The `executeCommand` middleware of the language client. */
  readonly middleware = async (command: string, args: unknown[], next: ExecuteCommandSignature): Promise<unknown> => {
    const interactive = this.interactive[command];
    if (args.length > 0 || !interactive) {
      return next(command, args);
    }
    const run: Run = async (argument) => next(command, argument === undefined ? [] : [argument]);
    try {
      return await interactive(run);
    } catch (error) {
      if (!(error instanceof vscode.CancellationError)) {
        void vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`, 'Show Log').then((choice) => {
          if (choice) {
            this.client.output.show(true);
          }
        });
      }
      return undefined;
    }
  };

  private async doctor(run: Run, fix = false): Promise<DoctorResult> {
    const result = await run(fix ? { fix: true } : {}) as DoctorResult;
    await showReport('Letta Doctor', result.report);
    const fixable = result.findings.filter((finding) => finding.fix).length;
    const actions = fixable > 0 && !fix ? [`Fix ${plural(fixable, 'Finding')}`, 'Show Problems'] : ['Show Problems'];
    void vscode.window.showInformationMessage(summarizeDoctor(result), ...actions).then(async (choice) => {
      if (choice === 'Show Problems') {
        await vscode.commands.executeCommand('workbench.actions.view.problems');
      } else if (choice) {
        await this.doctor(run, true).catch((error) =>
          vscode.window.showErrorMessage(`Letta: ${errorMessage(error)}`));
      }
    });
    return result;
  }

  private async report(title: string, result: ReportResult, extra?: string): Promise<ReportResult> {
    const commits = result.commits?.length ?? 0;
    if (result.report) {
      await showReport(title, result.report);
    }
    const held = result.pendingReview ? '; its changes wait for your review' : '';  // sleeptime.merge "review"
    void vscode.window.showInformationMessage(`${title}: done, ${plural(commits, 'commit')}${held}` +
      (extra ? ` (${extra}).` : '.'));
    return result;
  }

  private async pickAgent(title: string, offerNew: boolean): Promise<AgentInfo | 'new' | undefined> {
    const agents = await this.client.executeCommand<AgentInfo[]>(Commands.listAgents, {});
    const current = this.client.status?.agentId;
    const items: (vscode.QuickPickItem & { agent?: AgentInfo })[] = agents.map((agent) => ({
      label: `${agent.pinned ? '$(pinned) ' : ''}${agent.name}`,
      description: [agent.agentId === current ? 'current' : '', agent.model ?? ''].filter(Boolean).join(' · '),
      detail: agent.lastUsed ? `last used ${new Date(agent.lastUsed).toLocaleString()}` : undefined,
      agent,
    }));
    if (offerNew) {
      items.push({ label: '$(add) Create a new agent…' });
    }
    const picked = await vscode.window.showQuickPick(items, { title, matchOnDescription: true });
    if (!picked) {
      return undefined;
    }
    return picked.agent ?? 'new';
  }

  private async pin(run: Run, pinned: boolean): Promise<unknown> {
    const agent = await this.pickAgent(`Letta: ${pinned ? 'pin' : 'unpin'} which agent?`, false);
    if (!agent || agent === 'new') {
      return undefined;
    }
    const result = await run({ agentId: agent.agentId });
    void vscode.window.showInformationMessage(`Letta: ${agent.name} is ${pinned ? 'pinned' : 'no longer pinned'}.`);
    return result;
  }
}
