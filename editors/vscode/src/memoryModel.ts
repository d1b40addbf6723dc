/**
 * The current agent's memory as `letta/memoryTree` describes it: files by tier with descriptions and
 * token counts, plus the system-token totals. One copy shared by the Memory view, the status bar and
 * the file system provider (which asks it whether a path is a folder). It reloads when the server
 * starts, when memory changes (`letta/memoryChanged`, or one of our own saves) and when the agent
 * changes; reloads that arrive together are coalesced into one request.
 */

import * as vscode from 'vscode';
import { LettaClient, errorMessage } from './client';
import { MemoryEntry, MemoryTree, Methods } from './protocol';

const COALESCE_MS = 50;

export class MemoryModel implements vscode.Disposable {
  private tree: MemoryTree | undefined;
  private error: string | undefined;
  private pending: Promise<MemoryTree | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly disposables: vscode.Disposable[] = [this.changed];
  readonly onDidChange = this.changed.event;

  constructor(private readonly client: LettaClient) {
    this.disposables.push(
      client.onDidStart(() => this.refresh()),
      client.onMemoryChanged(() => this.refresh()),
      client.onStatus((status) => {
        if (this.tree && status.agentId !== this.tree.agentId) {
          this.refresh();
        }
      }),
    );
  }

  get current(): MemoryTree | undefined {
    return this.tree;
  }

  /** Why the last load failed, if it did (shown in the Memory view). */
  get lastError(): string | undefined {
    return this.error;
  }

  /** The tree, loading it first if it was never loaded. */
  async load(): Promise<MemoryTree | undefined> {
    if (this.tree) {
      return this.tree;
    }
    return this.pending ?? this.fetch();
  }

  /** Reload soon; calls made together share one request. */
  refresh(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fetch();
    }, COALESCE_MS);
  }

  /** Reload now and wait for it (the Refresh button, tests of freshness). */
  async reload(): Promise<MemoryTree | undefined> {
    return this.fetch();
  }

  entry(path: string): MemoryEntry | undefined {
    return this.tree?.entries.find((entry) => entry.path === path);
  }

  isFolder(path: string): boolean {
    const prefix = path === '' ? '' : `${path}/`;
    return this.tree?.entries.some((entry) => entry.path.startsWith(prefix)) ?? false;
  }

  dispose(): void {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private fetch(): Promise<MemoryTree | undefined> {
    const run = this.fetchOnce().finally(() => {
      if (this.pending === run) {
        this.pending = undefined;
      }
    });
    this.pending = run;
    return run;
  }

  private async fetchOnce(): Promise<MemoryTree | undefined> {
    try {
      this.tree = await this.client.request<MemoryTree>(Methods.memoryTree, {});
      this.error = undefined;
    } catch (error) {
      this.error = errorMessage(error);
      this.client.output.warn(`letta/memoryTree failed: ${this.error}`);
    }
    this.changed.fire();
    return this.tree;
  }
}
