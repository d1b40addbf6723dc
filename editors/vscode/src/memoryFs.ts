/**
 * `letta-memory://<agent>/<path>` as a file system, so memory files are ordinary editable documents
 * (dirty state, undo, save) whose truth is the agent's git repository on the server.
 *
 * Reads use `letta/memoryRead`; a save is `letta/memoryWrite` with the version (git blob id) the
 * editor's text was based on, so a save never silently overwrites a newer commit: the server answers
 * -32801 and conflict.ts asks the user. Changes announced by `letta/memoryChanged` fire
 * `onDidChangeFile`, and VS Code reloads the documents that have no unsaved edits.
 *
 * Deleting or renaming a file or a folder in the explorer is one commit each (`letta/memoryDelete`,
 * `letta/memoryRename`), undone from the file's history like any other change.
 *
 * Modification times: each new version of a file gets a new mtime, which is what makes VS Code
 * reload a document without unsaved edits. For one with unsaved edits, `stat` keeps reporting the
 * mtime and size the editor loaded: otherwise VS Code's own weaker check (mtime and size) would refuse
 * the save first with a second, different dialog, while the server's check is the one that knows.
 */

import * as vscode from 'vscode';
import { LettaClient, errorMessage } from './client';
import { askAboutConflict, discardChanges, showComparison } from './conflict';
import { MemoryModel } from './memoryModel';
import {
  MEMORY_SCHEME,
  MemoryMoveResult,
  MemoryReadResult,
  MemoryWriteParams,
  MemoryWriteResult,
  Methods,
  errorKindOf,
  fileSystemErrorFor,
  memoryPathOf,
} from './protocol';

/** The `vscode.FileSystemError` an error's `data.kind` stands for, or a plain one carrying the server's words. */
function fileSystemError(uri: vscode.Uri, error: unknown, prefix: string): vscode.FileSystemError {
  const message = `${prefix}${errorMessage(error)}`;
  const name = fileSystemErrorFor(errorKindOf(error));
  if (name === 'FileNotFound') {
    return vscode.FileSystemError.FileNotFound(uri);
  }
  return name ? vscode.FileSystemError[name](message) : new vscode.FileSystemError(message);
}

interface Known {
  version: string | null;
  mtime: number;
  size: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export class MemoryFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;
  /** The newest version the server has shown us, per URI, with the mtime we gave it. */
  private readonly latest = new Map<string, Known>();
  /** The version the editor's text is based on: the last one read into it or saved from it. */
  private readonly based = new Map<string, Known>();
  private lastMtime = 0;
  private readonly disposables: vscode.Disposable[] = [this.changes];

  constructor(private readonly client: LettaClient, private readonly model: MemoryModel) {
    this.disposables.push(client.onMemoryChanged((event) => {
      const changed = event.uris.map((uri) => vscode.Uri.parse(uri));
      if (changed.length > 0) {
        this.changes.fire(changed.map((uri) => ({ type: vscode.FileChangeType.Changed, uri })));
      }
    }));
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined); // letta/memoryChanged covers every commit
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const path = memoryPathOf(uri);
    if (path === '') {
      return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    }
    let read: MemoryReadResult;
    try {
      read = await this.read(uri);
    } catch (error) {
      await this.model.load();
      if (this.model.isFolder(path)) {
        return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
      }
      throw this.notFound(uri, error);
    }
    const key = uri.toString();
    const latest = this.observe(key, read);
    let based = this.based.get(key);
    if (!based) {
      // a document VS Code restored from its own backup was never read here: assume what it last saw
      based = { ...latest };
      this.based.set(key, based);
    }
    if (this.hasUnsavedEdits(uri)) {
      // what the editor holds: the server's version check decides a save, not VS Code's mtime check
      return { type: vscode.FileType.File, ctime: 0, mtime: based.mtime, size: based.size };
    }
    return { type: vscode.FileType.File, ctime: 0, mtime: latest.mtime, size: latest.size };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    let read: MemoryReadResult;
    try {
      read = await this.read(uri);
    } catch (error) {
      throw this.notFound(uri, error);
    }
    const known = this.observe(uri.toString(), read);
    this.based.set(uri.toString(), { ...known });
    return encoder.encode(read.text);
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    if (memoryPathOf(uri) === '') {
      throw vscode.FileSystemError.FileIsADirectory(uri);
    }
    let text: string;
    try {
      text = decoder.decode(content);
    } catch {
      throw new vscode.FileSystemError('Memory files are UTF-8 text; this content is not, so it was not saved.');
    }
    const key = uri.toString();
    const base = this.based.get(key)?.version ?? undefined;
    try {
      await this.write(uri, text, base);
      return;
    } catch (error) {
      if (errorKindOf(error) !== 'stale') {
        throw fileSystemError(uri, error, 'Not saved: ');
      }
    }
    const current = await this.read(uri).catch(() => undefined);
    const choice = await askAboutConflict(uri);
    if (choice === 'overwrite') {
      try {
        await this.write(uri, text, current?.version ?? undefined);
        return;
      } catch (error) {
        throw fileSystemError(uri, error, 'Not saved: ');
      }
    }
    if (choice === 'compare' && current?.head) {
      const based = this.based.get(key);
      // the user has now seen the newer version: the next save keeps what the editor holds then
      this.based.set(key, { version: current.version, mtime: based?.mtime ?? 0, size: based?.size ?? 0 });
      void showComparison(uri, current.head);
    } else if (choice === 'discard') {
      setTimeout(() => void discardChanges(uri, text), 0); // after VS Code has finished this failed save
    }
    throw new vscode.FileSystemError(choice === 'compare'
      ? 'Not saved yet: compare the two versions, then save again to keep what your editor holds.'
      : `Not saved: ${memoryPathOf(uri)} changed in memory since you opened it.`);
  }

  readDirectory(uri: vscode.Uri): [string, vscode.FileType][] {
    const prefix = memoryPathOf(uri) === '' ? '' : `${memoryPathOf(uri)}/`;
    const tree = this.model.current;
    if (!tree || tree.agentId !== uri.authority) {
      return [];
    }
    const children = new Map<string, vscode.FileType>();
    for (const entry of tree.entries) {
      if (!entry.path.startsWith(prefix)) {
        continue;
      }
      const [name, ...rest] = entry.path.slice(prefix.length).split('/');
      children.set(name, rest.length > 0 ? vscode.FileType.Directory : vscode.FileType.File);
    }
    return [...children.entries()];
  }

  createDirectory(): void {
    // folders exist in memory as soon as a file is saved in them: nothing to do
  }

  async delete(uri: vscode.Uri): Promise<void> {
    if (memoryPathOf(uri) === '') {
      throw vscode.FileSystemError.NoPermissions('The memory folder itself cannot be deleted.');
    }
    const result = await this.move(Methods.memoryDelete, { uri: uri.toString() }, 'deleted', uri);
    this.changes.fire(result.uris.map((gone) => ({ type: vscode.FileChangeType.Deleted, uri: vscode.Uri.parse(gone) })));
  }

  async rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { overwrite: boolean }): Promise<void> {
    if (oldUri.authority !== newUri.authority) {
      throw vscode.FileSystemError.NoPermissions('Memory files move within one agent\'s memory.');
    }
    if (options.overwrite && await this.stat(newUri).then(() => true, () => false)) {
      await this.delete(newUri); // the user agreed to replace it: its own commit, so it can be restored
    }
    const result = await this.move(Methods.memoryRename, { uri: oldUri.toString(), newUri: newUri.toString() },
      'renamed', oldUri);
    const oldPrefix = oldUri.toString();
    this.changes.fire(result.uris.map((moved) => ({
      type: moved === oldPrefix || moved.startsWith(`${oldPrefix}/`) ? vscode.FileChangeType.Deleted : vscode.FileChangeType.Created,
      uri: vscode.Uri.parse(moved),
    })));
  }

  dispose(): void {
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
  }

  private async move(method: string, params: object, what: string, uri: vscode.Uri): Promise<MemoryMoveResult> {
    let result: MemoryMoveResult;
    try {
      result = await this.client.request<MemoryMoveResult>(method, params);
    } catch (error) {
      throw fileSystemError(uri, error, `${memoryPathOf(uri)} was not ${what}: `);
    }
    for (const gone of result.uris) {
      this.latest.delete(gone);
      this.based.delete(gone);
    }
    this.model.refresh();
    return result;
  }

  private read(uri: vscode.Uri): Promise<MemoryReadResult> {
    return this.client.request<MemoryReadResult>(Methods.memoryRead, { uri: uri.toString() });
  }

  private async write(uri: vscode.Uri, text: string, baseVersion: string | undefined): Promise<void> {
    const params: MemoryWriteParams = { uri: uri.toString(), text };
    if (baseVersion) {
      params.baseVersion = baseVersion;
    }
    const result = await this.client.request<MemoryWriteResult>(Methods.memoryWrite, params);
    const known = { version: result.version, mtime: this.nextMtime(), size: encoder.encode(text).length };
    this.latest.set(uri.toString(), known);
    this.based.set(uri.toString(), { ...known });
    this.model.refresh(); // our own saves are not announced back to us
  }

  /** Record what the server holds now; a version we have not seen before gets a new mtime. */
  private observe(key: string, read: MemoryReadResult): Known {
    const known = this.latest.get(key);
    if (known && known.version === read.version) {
      return known;
    }
    const fresh = { version: read.version, mtime: this.nextMtime(), size: encoder.encode(read.text).length };
    this.latest.set(key, fresh);
    return fresh;
  }

  private nextMtime(): number {
    this.lastMtime = Math.max(Date.now(), this.lastMtime + 1);
    return this.lastMtime;
  }

  private hasUnsavedEdits(uri: vscode.Uri): boolean {
    const key = uri.toString();
    return vscode.workspace.textDocuments.some((doc) => doc.isDirty && doc.uri.toString() === key);
  }

  private notFound(uri: vscode.Uri, error: unknown): vscode.FileSystemError {
    this.client.output.debug(`${Methods.memoryRead} ${uri.toString()}: ${errorMessage(error)}`);
    return fileSystemError(uri, error, `${memoryPathOf(uri)}: `);
  }
}

export function registerMemoryFileSystem(fs: MemoryFileSystem): vscode.Disposable {
  return vscode.workspace.registerFileSystemProvider(MEMORY_SCHEME, fs, { isCaseSensitive: true });
}
