/**
 * The chat panel: a webview beside the editor that talks to the agent. A message is `letta.chat`
 * {message, conversationId}, sent straight to the server with a cancellation token (Stop sends
 * `$/cancelRequest`); the reply streams in as `letta/chatEvent`s, memory edits show as links that open
 * the file. Conversations are listed with `letta.listConversations` and switched in the header;
 * `letta.newConversation` starts one. The page itself is src/webview/chat.ts.
 */

import * as crypto from 'crypto';
import * as vscode from 'vscode';
import { LettaClient, errorMessage } from './client';
import {
  CONVERSATION_SCHEME,
  ChatEvent,
  ChatResult,
  Commands,
  ConversationInfo,
} from './protocol';
import { FromWebview, ToWebview, conversationLabel } from './webview/messages';

export class ChatPanel implements vscode.Disposable {
  private static instance: ChatPanel | undefined;
  private conversationId: string;
  /** The agent the panel is talking to: a switch (seen in letta/status) starts the panel afresh. */
  private agentId: string | undefined;
  private running: vscode.CancellationTokenSource | undefined;
  private eventsThisRequest = 0;
  private errorThisRequest = false;
  private readonly disposables: vscode.Disposable[] = [];

  /** Open the panel (or bring it forward), optionally on a given conversation. */
  static show(extensionUri: vscode.Uri, client: LettaClient, conversationId?: string): ChatPanel {
    if (!ChatPanel.instance) {
      const panel = vscode.window.createWebviewPanel('letta.chatPanel', 'Letta Chat',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: false }, {
          enableScripts: true,
          retainContextWhenHidden: true,
          localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
        });
      ChatPanel.instance = new ChatPanel(panel, extensionUri, client);
    } else {
      ChatPanel.instance.panel.reveal(undefined, false);
    }
    if (conversationId) {
      void ChatPanel.instance.switchTo(conversationId);
    }
    return ChatPanel.instance;
  }

  static get current(): ChatPanel | undefined {
    return ChatPanel.instance;
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly client: LettaClient,
  ) {
    this.conversationId = client.status?.conversationId ?? 'default';
    this.agentId = client.status?.agentId;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'letta.svg');
    panel.webview.html = this.html();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((message: FromWebview) => void this.receive(message)),
      client.onChatEvent((event) => this.forward(event)),
      client.onStatus((status) => {
        if (status.agentId !== this.agentId) {
          this.agentId = status.agentId;
          this.conversationId = status.conversationId ?? 'default';
          void this.sendSession();
        }
      }),
    );
  }

  get conversation(): string {
    return this.conversationId;
  }

  /** Show another conversation; a turn still running in the previous one finishes (its transcript keeps it). */
  async switchTo(conversationId: string): Promise<void> {
    this.conversationId = conversationId;
    await this.sendSession();
  }

  /** Start a new conversation and show it. */
  async startNew(): Promise<string | undefined> {
    try {
      const result = await this.client.executeCommand<{ conversationId: string }>(Commands.newConversation, {});
      await this.switchTo(result.conversationId);
      return result.conversationId;
    } catch (error) {
      this.post({ type: 'error', text: errorMessage(error) });
      return undefined;
    }
  }

  dispose(): void {
    ChatPanel.instance = undefined;
    this.running?.cancel();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
    this.panel.dispose();
  }

  private post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private forward(event: ChatEvent): void {
    if (event.conversationId !== this.conversationId) {
      return;
    }
    this.eventsThisRequest += 1;
    if (event.kind === 'error') {
      this.errorThisRequest = true;
    }
    this.post({ type: 'event', event });
  }

  private async receive(message: FromWebview): Promise<void> {
    switch (message.type) {
      case 'ready':
        await this.sendSession();
        break;
      case 'send':
        await this.send(message.text);
        break;
      case 'cancel':
        this.running?.cancel();
        break;
      case 'switch':
        await this.switchTo(message.conversationId);
        break;
      case 'new':
        await this.startNew();
        break;
      case 'open':
        await vscode.window.showTextDocument(vscode.Uri.parse(message.uri), {
          viewColumn: vscode.ViewColumn.One, preview: true });
        break;
      case 'transcript':
        await openTranscript(this.client, this.conversationId);
        break;
    }
  }

  private async conversations(): Promise<ConversationInfo[]> {
    let conversations: ConversationInfo[] = [];
    try {
      conversations = await this.client.executeCommand<ConversationInfo[]>(Commands.listConversations, {});
    } catch (error) {
      this.post({ type: 'error', text: `Conversations could not be listed: ${errorMessage(error)}` });
    }
    if (!conversations.some((info) => info.conversationId === this.conversationId)) {
      conversations.unshift({ conversationId: this.conversationId, title: null, updated: null, messages: 0 });
    }
    return conversations;
  }

  /** A fresh start for the current conversation: header, picker, and a note about earlier messages. */
  private async sendSession(): Promise<void> {
    const conversations = await this.conversations();
    const current = conversations.find((info) => info.conversationId === this.conversationId);
    const status = this.client.status;
    this.post({
      type: 'session',
      agentName: status?.agentName ?? 'Letta',
      model: status?.model ?? null,
      conversations: conversations.map((info) => ({ id: info.conversationId, label: conversationLabel(info) })),
      current: this.conversationId,
      history: current ? { messages: current.messages, title: current.title } : null,
      slashCommands: await this.slashCommands(),
    });
  }

  /** Only the picker (titles and message counts change as a conversation goes on). */
  private async sendConversations(): Promise<void> {
    const conversations = await this.conversations();
    this.post({
      type: 'conversations',
      conversations: conversations.map((info) => ({ id: info.conversationId, label: conversationLabel(info) })),
      current: this.conversationId,
    });
  }

  /** The server's slash commands (letta.slashCommands), for the message box's Tab completion. */
  private async slashCommands(): Promise<string[]> {
    try {
      const listed = await this.client.executeCommand<{ name: string }[]>(Commands.slashCommands, {});
      return listed.map((entry) => entry.name);
    } catch {
      return [];
    }
  }

  private async send(text: string): Promise<void> {
    // /remember and the other slash commands go to letta.chat: the server runs them and shows where it stored
    if (text === '/new') {
      await this.startNew();
      return;
    }
    if (text === '/doctor') {
      await vscode.commands.executeCommand(Commands.doctor);
      return;
    }
    this.post({ type: 'user', text });
    this.post({ type: 'busy', busy: true });
    const tokenSource = new vscode.CancellationTokenSource();
    this.running = tokenSource;
    this.eventsThisRequest = 0;
    this.errorThisRequest = false;
    const conversationId = this.conversationId;
    try {
      const result = await this.client.executeCommand<ChatResult>(Commands.chat, { message: text, conversationId },
        tokenSource.token);
      if (result.conversationId !== this.conversationId && this.conversationId === conversationId) {
        this.conversationId = result.conversationId;
      }
    } catch (error) {
      if (tokenSource.token.isCancellationRequested) {
        this.post({ type: 'notice', text: 'Stopped.' });
      } else if (!this.errorThisRequest) {
        this.post({ type: 'error', text: errorMessage(error) });
      }
    } finally {
      tokenSource.dispose();
      if (this.running === tokenSource) {
        this.running = undefined;
      }
      this.post({ type: 'busy', busy: false });
      void this.sendConversations();
      this.client.refreshReadOnly(transcriptUri(this.agentId ?? this.client.status?.agentId, conversationId));
    }
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'media', 'chat.css'));
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Letta Chat</title>
</head>
<body>
<header>
  <span id="agent" class="agent">Letta</span>
  <select id="conversation" title="Conversation" aria-label="Conversation"></select>
  <button id="new" class="secondary" title="Start a new conversation">New</button>
  <button id="transcript" class="secondary" title="Open this conversation's transcript">Transcript</button>
</header>
<main id="log" role="log" aria-live="polite"></main>
<footer>
  <textarea id="input" rows="3" placeholder="Message your agent (Enter to send, Shift+Enter for a new line; / and Tab for commands: /remember, /new, /doctor …)"></textarea>
  <div class="buttons">
    <button id="send">Send</button>
    <button id="stop" class="secondary" hidden>Stop</button>
  </div>
</footer>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}

export function transcriptUri(agentId: string | undefined, conversationId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: CONVERSATION_SCHEME, authority: agentId ?? 'unknown', path: `/${conversationId}.md` });
}

export async function openTranscript(client: LettaClient, conversationId: string): Promise<void> {
  const agentId = client.status?.agentId;
  if (!agentId) {
    void vscode.window.showWarningMessage('Letta: the server has not said which agent is current yet.');
    return;
  }
  const uri = transcriptUri(agentId, conversationId);
  client.refreshReadOnly(uri);
  try {
    await vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.One, preview: true });
  } catch (error) {
    void vscode.window.showErrorMessage(`Letta: the transcript could not be opened: ${errorMessage(error)}`);
  }
}
