/**
 * Which command starts the language server. Pure: the file system and PATH are passed in, so the
 * choice is unit-tested without VS Code.
 *
 * Order: the `letta.server.command` setting; else the workspace's own `.venv` (a checkout of letta-ls,
 * or a project that pip-installed it into its venv; only in a trusted workspace, since running a
 * binary from the workspace is running the workspace's code); else `letta-ls` on PATH; else
 * `python3 -m letta_ls`, which works wherever the package is importable.
 */

import * as path from 'path';

export interface ServerCommand {
  command: string;
  args: string[];
  /** Where the choice came from, for the log and for error messages. */
  source: string;
}

export interface ResolveEnvironment {
  configured: readonly string[] | undefined;
  workspaceFolders: readonly string[];
  trusted: boolean;
  platform: NodeJS.Platform;
  isExecutable(file: string): boolean;
  pathDirectories: readonly string[];
}

function paths(platform: NodeJS.Platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

export function venvExecutable(folder: string, platform: NodeJS.Platform): string {
  return platform === 'win32'
    ? path.win32.join(folder, '.venv', 'Scripts', 'letta-ls.exe')
    : path.posix.join(folder, '.venv', 'bin', 'letta-ls');
}

export function findOnPath(name: string, env: ResolveEnvironment): string | undefined {
  const names = env.platform === 'win32' ? [`${name}.exe`, `${name}.cmd`] : [name];
  for (const dir of env.pathDirectories) {
    for (const candidate of names) {
      const full = paths(env.platform).join(dir, candidate);
      if (env.isExecutable(full)) {
        return full;
      }
    }
  }
  return undefined;
}

export function resolveServerCommand(env: ResolveEnvironment): ServerCommand {
  const configured = (env.configured ?? []).filter((part) => typeof part === 'string' && part.length > 0);
  if (configured.length > 0) {
    return { command: configured[0], args: configured.slice(1), source: 'the letta.server.command setting' };
  }
  if (env.trusted) {
    for (const folder of env.workspaceFolders) {
      const venv = venvExecutable(folder, env.platform);
      if (env.isExecutable(venv)) {
        return { command: venv, args: ['serve'], source: `the workspace's virtual environment (${folder})` };
      }
    }
  }
  const onPath = findOnPath('letta-ls', env);
  if (onPath) {
    return { command: onPath, args: ['serve'], source: 'letta-ls on PATH' };
  }
  const python = env.platform === 'win32' ? 'python' : 'python3';
  return { command: python, args: ['-m', 'letta_ls', 'serve'], source: `${python} -m letta_ls (no letta-ls found)` };
}

export function describe(cmd: ServerCommand): string {
  return [cmd.command, ...cmd.args].map((part) => (/\s/.test(part) ? JSON.stringify(part) : part)).join(' ');
}
