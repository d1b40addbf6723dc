// Connecting to `letta-ls serve --tcp`: the address, where the token is, and a real server that refuses a
// connection without the token and accepts the extension's (the same socket + initializationOptions.token
// the LanguageClient is given).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { StreamMessageReader, StreamMessageWriter, createMessageConnection } from 'vscode-jsonrpc/node';
import { connect, defaultTokenFile, parseTcpAddress, readToken, withToken } from '../src/tcpConnection';

test('addresses: HOST:PORT, [v6]:PORT, a bare port means loopback, junk is refused', () => {
  assert.deepEqual(parseTcpAddress('10.1.2.3:2087'), { host: '10.1.2.3', port: 2087 });
  assert.deepEqual(parseTcpAddress('[::1]:2087'), { host: '::1', port: 2087 });
  assert.deepEqual(parseTcpAddress('2087'), { host: '127.0.0.1', port: 2087 });
  assert.equal(parseTcpAddress(''), undefined);
  assert.equal(parseTcpAddress('localhost:http'), undefined);
  assert.equal(parseTcpAddress('1.2.3.4:70000'), undefined);
});

test('the token file the server writes: letta.home, else LETTA_LS_HOME, else ~/.letta-ls', () => {
  assert.equal(defaultTokenFile(2087, '~/h', {}, '/home/u'), '/home/u/h/run/tcp-2087.token');
  assert.equal(defaultTokenFile(2087, null, { LETTA_LS_HOME: '/srv/l' }, '/home/u'), '/srv/l/run/tcp-2087.token');
  assert.equal(defaultTokenFile(9, undefined, {}, '/home/u'), '/home/u/.letta-ls/run/tcp-9.token');
});

test('a missing token file says how to get one', () => {
  assert.throws(() => readToken('/nonexistent/tcp-1.token'), /letta-ls serve --tcp/);
});

/** The Python that runs letta-ls: LETTA_LS_PYTHON, else the checkout's .venv (what `make install` makes). */
function python(): string {
  return process.env.LETTA_LS_PYTHON ?? path.resolve(__dirname, '..', '..', '..', '.venv', 'bin', 'python');
}

async function startServer(home: string, port: number): Promise<() => void> {
  const proc = spawn(python(), ['-m', 'letta_ls', 'serve', '--tcp', `127.0.0.1:${port}`],
    { env: { ...process.env, LETTA_LS_HOME: home, LETTA_LS_TOKEN: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    proc.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('listening on')) {
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`letta-ls exited (${code}): ${stderr}`)));
  });
  return () => proc.kill();
}

async function initialize(port: number, options: Record<string, unknown>): Promise<unknown> {
  const socket = await connect({ host: '127.0.0.1', port });
  const connection = createMessageConnection(new StreamMessageReader(socket), new StreamMessageWriter(socket));
  connection.listen();
  const closed = new Promise((resolve) => socket.once('close', () => resolve('closed')));
  try {
    return await Promise.race([
      connection.sendRequest('initialize', { processId: null, capabilities: {}, initializationOptions: options })
        .then((result) => result, (error: Error) => `refused: ${error.message}`),
      closed,
    ]);
  } finally {
    connection.dispose();
    socket.destroy();
  }
}

test('a real letta-ls --tcp refuses a connection without the token and accepts the extension\'s', async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'letta-tcp-'));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const stop = await startServer(home, port);
  try {
    const refused = await initialize(port, { home });
    assert.ok(typeof refused === 'string' && /refused|closed/.test(refused), String(refused));
    const tokenFile = defaultTokenFile(port, home, {});
    assert.equal(fs.statSync(tokenFile).mode & 0o777, 0o600);
    const accepted = await initialize(port, withToken({ home }, readToken(tokenFile))) as { capabilities?: object };
    assert.ok(accepted.capabilities, JSON.stringify(accepted));
  } finally {
    stop();
  }
});
