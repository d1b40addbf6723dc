/**
 * The one connection to letta-ls: starts the server (see serverCommand.ts), passes the settings, and
 * re-publishes the server's notifications as VS Code events so the views never touch the language
 * client directly. It owns restarts: a new `letta.server.command` or `letta.home` needs a new
 * process; other settings go to the running server with `workspace/didChangeConfiguration`.
 */

import * as fs from 'fs';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  Middleware,
  ResponseError,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  TextDocumentContentRequest,
  TransportKind,
} from 'vscode-languageclient/node';
import {
  ChatEvent,
  DreamReviewNotice,
  MEMORY_SCHEME,
  MemoryChanged,
  Methods,
  Status,
} from './protocol';
import { ServerCommand, describe, resolveServerCommand } from './serverCommand';
import { RESTART_SETTINGS, lettaSettings } from './settings';
import { connect, defaultTokenFile, parseTcpAddress, readToken, withToken } from './tcpConnection';

export const CLIENT_ID = 'letta';

/** A failure the user can act on: the message is shown as it is. */
export class LettaError extends Error {}

export function errorMessage(error: unknown): string {
  if (error instanceof ResponseError || error instanceof Error) {
    return error.message;
  }
  return String(error);
}

export function isResponseError(error: unknown, code: number): error is ResponseError<unknown> {
  return error instanceof ResponseError && error.code === code;
}

/**
 * The settings the user set in VS Code, in the shape of SPEC section 9. In an untrusted workspace only
 * the user's own settings count: a repository's .vscode/settings.json must not be able to point the
 * agent (with your memory and an API key) at a server of its choosing.
 */
export function currentSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('letta');
  const trusted = vscode.workspace.isTrusted;
  return lettaSettings((key) => {
    const found = config.inspect(key);
    return trusted ? found?.workspaceFolderValue ?? found?.workspaceValue ?? found?.globalValue : found?.globalValue;
  });
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

export function serverCommand(): ServerCommand {
  return resolveServerCommand({
    configured: vscode.workspace.getConfiguration('letta').get<string[]>('server.command'),
    workspaceFolders: (vscode.workspace.workspaceFolders ?? [])
      .filter((folder) => folder.uri.scheme === 'file')
      .map((folder) => folder.uri.fsPath),
    trusted: vscode.workspace.isTrusted,
    platform: process.platform,
    isExecutable,
    pathDirectories: (process.env.PATH ?? '').split(process.platform === 'win32' ? ';' : ':').filter(Boolean),
  });
}

/** The `when`-clause context key that shows the server's commands in the palette only while it runs
 * (before, they would fail with "command not found": the language client registers them on start). */
const RUNNING_CONTEXT = 'letta.serverRunning';

function setRunning(running: boolean): void {
  void vscode.commands.executeCommand('setContext', RUNNING_CONTEXT, running);
}

/** Settings edits often come in bursts (typing in settings.json): restart once they settle. */
const RESTART_DELAY_MS = 500;

/** `letta.server.tcp` and `letta.server.tokenFile`: connect to a running `letta-ls serve --tcp`. */
function tcpSettings(): { address: string; tokenFile: string } {
  const config = vscode.workspace.getConfiguration('letta');
  return { address: config.get<string>('server.tcp') ?? '', tokenFile: config.get<string>('server.tokenFile') ?? '' };
}

/** What a running server depends on and cannot change without a restart. */
function launchIdentity(): string {
  return JSON.stringify([serverCommand(), currentSettings().home ?? null, tcpSettings()]);
}

export class LettaClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private readonly memoryChanged = new vscode.EventEmitter<MemoryChanged>();
  private readonly statusChanged = new vscode.EventEmitter<Status>();
  private readonly chatEvents = new vscode.EventEmitter<ChatEvent>();
  private readonly dreamReviews = new vscode.EventEmitter<DreamReviewNotice>();
  private readonly started = new vscode.EventEmitter<void>();
  private readonly stopped = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [];
  /** The last `letta/status` the server sent. */
  status: Status | undefined;
  private launchedWith: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;

  readonly onMemoryChanged = this.memoryChanged.event;
  readonly onStatus = this.statusChanged.event;
  readonly onChatEvent = this.chatEvents.event;
  readonly onDreamReview = this.dreamReviews.event;
  /** Fires each time a server (re)starts, after `initialize`: views reload. */
  readonly onDidStart = this.started.event;
  /** Fires when the server stopped without being asked to (the client stopped restarting it). */
  readonly onDidStopUnexpectedly = this.stopped.event;

  constructor(
    readonly output: vscode.LogOutputChannel,
    private readonly middleware: Middleware,
  ) {
    this.disposables.push(
      this.memoryChanged, this.statusChanged, this.chatEvents, this.dreamReviews, this.started, this.stopped,
      vscode.workspace.onDidChangeConfiguration((event) => this.configurationChanged(event)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.configurationChanged({ affectsConfiguration: () => true })),
    );
  }

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** Start the server; rejects with a message that says what to change when it cannot start. */
  start(): Promise<LanguageClient> {
    if (!this.starting) {
      this.starting = this.launch();
      this.starting.catch(() => {
        this.starting = undefined; // a later request or Restart Server tries again
      });
    }
    return this.starting;
  }

  /** The running client; starts it when needed. */
  ready(): Promise<LanguageClient> {
    return this.client?.state === State.Running ? Promise.resolve(this.client) : this.start();
  }

  async restart(): Promise<void> {
    await this.starting?.catch(() => undefined); // never two servers: let a start in progress finish first
    await this.stop();
    await this.start();
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.starting = undefined;
    setRunning(false);
    if (client) {
      try {
        await client.stop(5000);
      } catch (error) {
        this.output.warn(`stopping letta-ls: ${errorMessage(error)}`);
      }
      client.dispose();
    }
  }

  async request<R>(method: string, params: object, token?: vscode.CancellationToken): Promise<R> {
    const client = await this.ready();
    return token ? client.sendRequest<R>(method, params, token) : client.sendRequest<R>(method, params);
  }

  /**
   * Run a server command with its full argument, straight to the server (no palette middleware). Errors
   * come back as ResponseError with the server's message.
   */
  async executeCommand<R>(command: string, argument?: object, token?: vscode.CancellationToken): Promise<R> {
    const client = await this.ready();
    const params = { command, arguments: argument === undefined ? [] : [argument] };
    return (token
      ? client.sendRequest(ExecuteCommandRequest.type, params, token)
      : client.sendRequest(ExecuteCommandRequest.type, params)) as Promise<R>;
  }

  /** Tell VS Code that a read-only document (a transcript, a revision) has new content. */
  refreshReadOnly(uri: vscode.Uri): void {
    const feature = this.client?.getFeature(TextDocumentContentRequest.method);
    for (const provider of feature?.getProviders() ?? []) {
      if (provider.scheme === uri.scheme) {
        provider.onDidChangeEmitter.fire(uri);
      }
    }
  }

  dispose(): void {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
    }
    void this.stop();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private scheduleRestart(): void {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.output.info('letta.server.command or letta.home changed: restarting letta-ls');
      void vscode.commands.executeCommand('letta.ui.restartServer');
    }, RESTART_DELAY_MS);
  }

  private async launch(): Promise<LanguageClient> {
    this.launchedWith = launchIdentity();
    const command = serverCommand();
    this.output.info(`starting letta-ls: ${describe(command)} (from ${command.source})`);
    const cwd = vscode.workspace.workspaceFolders?.find((folder) => folder.uri.scheme === 'file')?.uri.fsPath;
    let serverOptions: ServerOptions = {
      command: command.command,
      args: command.args,
      transport: TransportKind.stdio,
      options: { cwd, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    };
    let settings = currentSettings();
    const tcp = tcpSettings();
    if (tcp.address) {
      // a server already running with `letta-ls serve --tcp`: its first message must carry the token
      const address = parseTcpAddress(tcp.address);
      if (!address) {
        throw new LettaError(`letta.server.tcp must be HOST:PORT (for example 127.0.0.1:2087), not ${tcp.address}`);
      }
      const tokenFile = tcp.tokenFile || defaultTokenFile(address.port, settings.home as string | undefined,
        process.env);
      try {
        settings = withToken(settings, readToken(tokenFile));
      } catch (error) {
        throw new LettaError(errorMessage(error));
      }
      this.output.info(`connecting to letta-ls at ${address.host}:${address.port} (token from ${tokenFile})`);
      serverOptions = async () => {
        const socket = await connect(address);
        return { reader: socket, writer: socket };
      };
    }
    this.output.info(`settings for letta-ls: ${JSON.stringify({ ...settings, token: undefined })}`);
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: MEMORY_SCHEME }],
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never, // errors are shown by the feature that hit them
      initializationOptions: settings,
      diagnosticCollectionName: 'letta',
      middleware: {
        ...this.middleware,
        workspace: {
          ...this.middleware.workspace,
          // the server asks for the `letta` section: answer with the SPEC shape, not VS Code's raw object
          configuration: async (params, token, next) => {
            const answers = await next(params, token);
            if (!Array.isArray(answers)) {
              return answers;
            }
            return params.items.map((item, index) => (item.section === 'letta' ? currentSettings() : answers[index]));
          },
        },
      },
    };
    const client = new LanguageClient(CLIENT_ID, 'Letta', serverOptions, clientOptions);
    client.onNotification(Methods.memoryChanged, (params: MemoryChanged) => this.memoryChanged.fire(params));
    client.onNotification(Methods.chatEvent, (params: ChatEvent) => this.chatEvents.fire(params));
    client.onNotification(Methods.dreamReview, (params: DreamReviewNotice) => this.dreamReviews.fire(params));
    client.onNotification(Methods.status, (params: Status) => {
      if (this.status && this.status.agentId !== params.agentId) {
        this.forgetDiagnosticsOfOtherAgents(client, params.agentId);
      }
      this.status = params;
      this.statusChanged.fire(params);
    });
    client.onDidChangeState((change) => {
      if (this.client !== client) {
        return; // starting, or stopped on purpose
      }
      setRunning(change.newState === State.Running);
      if (change.newState === State.Running) {
        this.started.fire(); // also after the client restarted a crashed server by itself
      } else if (change.newState === State.Stopped) {
        this.stopped.fire(); // it crashed too often and the client gave up
      }
    });
    try {
      await client.start();
    } catch (error) {
      client.dispose();
      const why = /ENOENT/.test(errorMessage(error)) ? `${command.command} was not found` : errorMessage(error);
      this.output.error(`starting letta-ls failed: ${errorMessage(error)}`);
      throw new LettaError(`Letta could not start its language server \`${describe(command)}\` ` +
        `(${command.source}): ${why}. Install letta-ls (pip install letta-ls) or set letta.server.command.`);
    }
    this.client = client;
    setRunning(true);
    this.output.info(`letta-ls is running (${client.initializeResult?.serverInfo?.name ?? 'letta-ls'} ` +
      `${client.initializeResult?.serverInfo?.version ?? ''})`);
    this.started.fire();
    return client;
  }

  /** After an agent switch, the previous agent's memory diagnostics no longer describe anything open. */
  private forgetDiagnosticsOfOtherAgents(client: LanguageClient, agentId: string): void {
    const stale: vscode.Uri[] = [];
    client.diagnostics?.forEach((uri) => {
      if (uri.scheme === MEMORY_SCHEME && uri.authority !== agentId) {
        stale.push(uri);
      }
    });
    for (const uri of stale) {
      client.diagnostics?.delete(uri);
    }
  }

  private configurationChanged(event: vscode.ConfigurationChangeEvent): void {
    if (!event.affectsConfiguration('letta') || this.launchedWith === undefined) {
      return;
    }
    this.output.debug('the letta settings changed');
    if (RESTART_SETTINGS.some((key) => event.affectsConfiguration(key))) {
      // also covers settings that arrive after activation (VS Code may load them late): the server
      // reads its home only at start, so a different home or command means a new server
      if (launchIdentity() !== this.launchedWith) {
        this.scheduleRestart();
      }
      return;
    }
    if (this.client?.state === State.Running) {
      void this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { letta: currentSettings() },
      });
    }
  }
}
