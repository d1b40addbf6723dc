/**
 * Connecting to a letta-ls that is already running with `letta-ls serve --tcp HOST:PORT` (a remote
 * machine through an SSH tunnel, a container, a server started by hand), instead of starting one.
 *
 * Every TCP connection must present the server's per-launch token as `initializationOptions.token` in
 * its first message, `initialize`; otherwise the server closes it before reading anything else. The
 * token is read from a file only the user can read: the one `letta-ls serve --tcp` writes
 * (`<home>/run/tcp-PORT.token`, its path printed on the server's stderr) unless `letta.server.tokenFile`
 * names another (the one given to the server with `--token-file`). No VS Code import: unit-tested.
 */

import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export interface TcpAddress {
  host: string;
  port: number;
}

/** `HOST:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1, as the server's default); undefined if not that. */
export function parseTcpAddress(value: string | undefined | null): TcpAddress | undefined {
  const text = (value ?? '').trim();
  if (!text) {
    return undefined;
  }
  const colon = text.lastIndexOf(':');
  const host = (colon >= 0 ? text.slice(0, colon) : '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  const portText = colon >= 0 ? text.slice(colon + 1) : text;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    return undefined;
  }
  return { host, port };
}

/** The file `letta-ls serve --tcp` writes its token to, for this home and port. */
export function defaultTokenFile(port: number, home: string | undefined | null, env: NodeJS.ProcessEnv,
  homedir: string = os.homedir()): string {
  const expand = (p: string): string => (p === '~' || p.startsWith('~/') ? path.join(homedir, p.slice(1)) : p);
  const root = home ? expand(home) : env.LETTA_LS_HOME ? expand(env.LETTA_LS_HOME) : path.join(homedir, '.letta-ls');
  return path.join(root, 'run', `tcp-${port}.token`);
}

/** The token in `file`; an Error that says what to do when it cannot be read. */
export function readToken(file: string): string {
  let token: string;
  try {
    token = fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new Error(`cannot read the letta-ls token file ${file} (${(error as Error).message}): start the server ` +
      'with `letta-ls serve --tcp HOST:PORT` (it prints where it wrote the token) or set letta.server.tokenFile');
  }
  if (!token) {
    throw new Error(`the letta-ls token file ${file} is empty`);
  }
  return token;
}

/** The initialization options with the token added (the server removes it before reading settings). */
export function withToken(settings: Record<string, unknown>, token: string): Record<string, unknown> {
  return { ...settings, token };
}

/** A connected socket, or a rejection with the reason (refused, unreachable, timed out). */
export function connect(address: TcpAddress, timeoutMs = 10000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(address.port, address.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from letta-ls at ${address.host}:${address.port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot connect to letta-ls at ${address.host}:${address.port}: ${error.message}`));
    });
  });
}
