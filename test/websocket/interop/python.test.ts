/**
 * Interop with Python's `websockets` (Debian's python3-websockets, run by
 * Debian's /usr/bin/python3) as a client of our server. python_client.py runs
 * one scenario per process and prints JSON; we assert what it saw and what
 * our server saw.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { type WebSocket, WebSocketServer } from '../../../src/websocket/index.js';
import { assertPeer, findPythonWebsockets, PYTHON, peerSkip } from '../../support/peers.js';

const SCRIPT = fileURLToPath(new URL('./python_client.py', import.meta.url));
const MiB = 1024 * 1024;

interface Echo {
  type: 'text' | 'binary';
  same: boolean;
  length: number;
}
interface Close {
  code: number | null;
  reason: string | null;
}

/** What our server saw of one connection. */
interface Seen {
  conn: WebSocket;
  extensions: string;
  protocol: string;
  closed: Promise<[code: number, reason: string, wasClean: boolean]>;
}

const python = findPythonWebsockets();

/** Run one scenario of python_client.py against `base`; its JSON output. */
function runScenario(base: string, scenario: string, timeout = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      PYTHON,
      [SCRIPT, base, scenario],
      { timeout, maxBuffer: 4 * MiB, env: { ...process.env, PYTHONIOENCODING: 'utf-8' } },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`python_client.py ${scenario} failed: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as Record<string, unknown>);
        } catch {
          reject(new Error(`python_client.py ${scenario} printed no JSON:\n${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function params(header: unknown): string[] {
  if (typeof header !== 'string') return [];
  return header
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .sort();
}

describe('python websockets client -> our server', { skip: peerSkip(python) }, () => {
  let server: WebSocketServer;
  let base: string;
  /** Connections by path, in order. */
  const seen = new Map<string, Seen[]>();

  before(async () => {
    assertPeer(python);
    console.log(`# peer: ${PYTHON}, ${python.detail}`);
    server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      perMessageDeflate: true,
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
    });
    await server.ready();
    base = `ws://127.0.0.1:${server.address()!.port}`;
    server.on('connection', (conn, request) => {
      const closed = new Promise<[number, string, boolean]>((resolve) => {
        conn.once('close', (code, reason, wasClean) => resolve([code, reason, wasClean]));
      });
      const list = seen.get(request.path) ?? [];
      list.push({ conn, extensions: conn.extensions, protocol: conn.protocol, closed });
      seen.set(request.path, list);
      conn.on('message', (data, isBinary) => {
        if (!isBinary && data === 'close-me') conn.close(4001, 'bye');
        else if (!isBinary && data === 'ping-me') conn.ping('srv-ping');
        else conn.send(data);
      });
      conn.on('pong', (payload) => conn.send(`pong:${payload.toString()}`));
    });
  });
  after(() => server?.close());

  function only(path: string): Seen {
    const list = seen.get(path);
    assert.equal(list?.length, 1, `one connection on ${path}`);
    return list![0]!;
  }

  test('text, multi-byte, empty, binary, fragmented, 1 MiB, compressed, ping, close 4000', { timeout: 60_000 }, async () => {
    const result = await runScenario(base, 'messages');
    const conn = only('/messages');
    // websockets offers "permessage-deflate; client_max_window_bits"; we accept, no parameters needed.
    assert.equal(result.extensions, 'permessage-deflate');
    assert.equal(conn.extensions, 'permessage-deflate');
    const echoes = result.echoes as Record<string, Echo>;
    const expectedTypes: Record<string, Echo['type']> = {
      text: 'text',
      multibyte: 'text',
      'empty text': 'text',
      binary: 'binary',
      'empty binary': 'binary',
      'fragmented text': 'text',
      'fragmented binary': 'binary',
      '1 MiB binary': 'binary',
      '1 MiB text': 'text',
    };
    assert.deepEqual(Object.keys(echoes).sort(), Object.keys(expectedTypes).sort());
    for (const [name, type] of Object.entries(expectedTypes)) {
      assert.equal(echoes[name]?.type, type, `${name}: type kept`);
      assert.equal(echoes[name]?.same, true, `${name}: same content`);
    }
    assert.equal(echoes['1 MiB binary']?.length, MiB);
    assert.equal(result.pong, true);
    // RFC 6455 §5.5.1: we echo the status code; the reason is ours to choose (none).
    assert.deepEqual(result.close, { code: 4000, reason: '' } satisfies Close);
    assert.deepEqual(await within(conn.closed, 'close at the server'), [4000, 'python done', true]);
    // The 1 MiB of text went compressed: far fewer bytes than the ~2.2 MiB of payload.
    assert.ok(conn.conn.socket.bytesRead < 1.5 * MiB, `bytes read: ${conn.conn.socket.bytesRead}`);
    assert.ok(conn.conn.socket.bytesWritten < 1.5 * MiB, `bytes written: ${conn.conn.socket.bytesWritten}`);
  });

  test('without compression offered, none is used', { timeout: 30_000 }, async () => {
    const result = await runScenario(base, 'uncompressed');
    const conn = only('/uncompressed');
    assert.equal(result.extensions, null);
    assert.equal(conn.extensions, '');
    for (const echo of Object.values(result.echoes as Record<string, Echo>)) assert.equal(echo.same, true);
    assert.deepEqual(result.close, { code: 1000, reason: '' });
  });

  test('subprotocol: we pick chat.v2 from its list; it closes with 1001', { timeout: 30_000 }, async () => {
    const result = await runScenario(base, 'subprotocol');
    const conn = only('/subprotocol');
    assert.equal(result.subprotocol, 'chat.v2');
    assert.equal(conn.protocol, 'chat.v2');
    assert.deepEqual(await within(conn.closed, 'close at the server'), [1001, 'going away', true]);
  });

  test('our server closes with 4001 "bye": websockets sees code and reason', { timeout: 30_000 }, async () => {
    const result = await runScenario(base, 'server-close');
    const conn = only('/server-close');
    // websockets raises ConnectionClosedOK only for 1000 and 1001.
    assert.equal(result.exception, 'ConnectionClosedError');
    assert.deepEqual(result.received, { code: 4001, reason: 'bye' });
    // It echoed our code: the closing handshake completed, ours first.
    assert.deepEqual(result.sent, { code: 4001, reason: 'bye' });
    assert.equal(result.receivedFirst, true);
    assert.deepEqual(result.close, { code: 4001, reason: 'bye' });
    assert.deepEqual(await within(conn.closed, 'close at the server'), [4001, 'bye', true]);
  });

  test('our ping is answered by websockets with the same payload', { timeout: 30_000 }, async () => {
    const result = await runScenario(base, 'server-ping');
    assert.equal(result.reply, 'pong:srv-ping');
    assert.deepEqual(result.close, { code: 1000, reason: '' });
  });

  test('a message over 16 MiB closes with 1009', { timeout: 60_000 }, async () => {
    const result = await runScenario(base, 'too-big');
    const conn = only('/too-big');
    assert.deepEqual(result.close, { code: 1009, reason: 'message too big' } satisfies Close);
    const [code, , wasClean] = await within(conn.closed, 'close at the server');
    assert.equal(code, 1009);
    assert.equal(wasClean, false);
  });

  test('permessage-deflate: window bits 9..15, with and without context takeover', { timeout: 120_000 }, async () => {
    const result = await runScenario(base, 'deflate-params', 110_000);
    const runs = result.runs as Array<{
      bits: number;
      noTakeover: boolean;
      extensions: string | null;
      allSame: boolean;
      count: number;
      close: Close;
    }>;
    assert.equal(runs.length, 14);
    const conns = seen.get('/deflate-params') ?? [];
    assert.equal(conns.length, 14);
    for (const [i, run] of runs.entries()) {
      const label = `bits ${run.bits}${run.noTakeover ? ', no context takeover' : ''}`;
      const expected = ['permessage-deflate', `server_max_window_bits=${run.bits}`];
      if (run.noTakeover) expected.push('server_no_context_takeover', 'client_no_context_takeover');
      // client_max_window_bits=N was offered; we need not answer it (RFC 7692 §7.1.2.2), the client then uses N.
      assert.deepEqual(params(run.extensions), expected.sort(), label);
      assert.deepEqual(params(conns[i]?.extensions), expected, label);
      assert.equal(run.allSame, true, `${label}: every echo the same`);
      assert.equal(run.count, 24);
      assert.deepEqual(run.close, { code: 1000, reason: '' }, label);
    }
  });
});
