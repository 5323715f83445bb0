/**
 * The echo test server (`wschat echo`): every message comes back with its
 * type on any path; on /broadcast every message goes to every client there,
 * the sender included, as the same frame bytes.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WsClient from 'ws';
import { connect } from '../../../src/websocket/node/client.js';
import { startEchoServer } from '../../../src/websocket/node/echo-server.js';
import { WebSocketServer } from '../../../src/websocket/node/server.js';

const HOST = '127.0.0.1';
const T = { timeout: 5000 };
const SUITE = { timeout: 60_000 };

/**
 * Everything a test opens, released after the last test even when one failed
 * half-way (a listening server left behind would keep this file's process,
 * and so the whole run, from ending).
 */
type Handle = WebSocketServer | net.Socket | WsClient;
const handles = new Set<Handle>();
function track<T extends Handle>(handle: T): T {
  handles.add(handle);
  return handle;
}
after(async () => {
  for (const handle of handles) if (handle instanceof net.Socket) handle.destroy();
  for (const handle of handles) {
    if (handle instanceof WebSocketServer) {
      for (const client of handle.clients) client.terminate();
      await handle.close();
    } else if (handle instanceof WsClient) handle.terminate();
  }
});

/** A raw client: exact frames out, exact bytes in. */
interface RawClient {
  socket: net.Socket;
  /** Bytes received after the 101. */
  received(): Buffer;
  /** Resolves with everything received once at least `n` bytes are in. */
  waitFor(n: number): Promise<Buffer>;
  /** Send one masked frame (RFC 6455 §5.3) with a payload under 126 bytes. */
  send(opcode: number, payload: Buffer | string): void;
}

async function rawClient(port: number, path: string): Promise<RawClient> {
  const socket = track(net.connect(port, HOST));
  await once(socket, 'connect');
  socket.on('error', () => {});
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let data = Buffer.alloc(0);
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    for (const wake of waiters.splice(0)) wake();
  });
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  await until(() => data.indexOf('\r\n\r\n') !== -1);
  const end = data.indexOf('\r\n\r\n');
  assert.match(data.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
  data = data.subarray(end + 4);
  return {
    socket,
    received: () => data,
    waitFor: async (n) => {
      await until(() => data.length >= n);
      return data;
    },
    send: (opcode, payload) => {
      const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
      const key = Buffer.from([0xa1, 0xb2, 0xc3, 0xd4]);
      const masked = Buffer.from(bytes.map((b, i) => b ^ key[i % 4]!));
      socket.write(Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | bytes.length]), key, masked]));
    },
  };
}

/** The unmasked frame a server sends for a short payload. */
function serverFrame(opcode: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([0x80 | opcode, bytes.length]), bytes]);
}

describe('echo server', SUITE, () => {
  let server: WebSocketServer;
  let port: number;

  before(async () => {
    server = track(await startEchoServer({ port: 0, host: HOST }));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  test('listens on the host asked for', T, () => {
    assert.equal((server.address() as AddressInfo).address, HOST);
    assert.notEqual(port, 0);
  });

  test('text stays text, binary stays binary, on any path', T, async () => {
    for (const path of ['/', '/any/path?x=1']) {
      const ws = await connect(`ws://${HOST}:${port}${path}`);
      const cases: Array<[string | Buffer, boolean]> = [
        ['hello', false],
        ['', false],
        ['💬 ünïcödé', false],
        [Buffer.from('looks like text'), true],
        [Buffer.from([0, 0xff, 0x80]), true],
        [Buffer.alloc(0), true],
      ];
      for (const [data, isBinary] of cases) {
        ws.send(data);
        assert.deepEqual(await once(ws, 'message'), [data, isBinary]);
      }
      ws.close();
      await once(ws, 'close');
    }
  });

  test('exact bytes: a text frame comes back as the same text frame, unmasked', T, async () => {
    const raw = await rawClient(port, '/');
    raw.send(0x1, 'echo me');
    assert.deepEqual(await raw.waitFor(9), serverFrame(0x1, 'echo me'));
    raw.send(0x2, Buffer.from([9, 8, 7]));
    assert.deepEqual((await raw.waitFor(9 + 5)).subarray(9), serverFrame(0x2, Buffer.from([9, 8, 7])));
    raw.socket.destroy();
  });

  test('accepts permessage-deflate when offered (ws client), types preserved', T, async () => {
    const ws = track(new WsClient(`ws://${HOST}:${port}/`, { perMessageDeflate: { threshold: 0 } }));
    await once(ws, 'open');
    assert.match(ws.extensions, /permessage-deflate/);
    const text = 'squeeze '.repeat(500);
    ws.send(text);
    const [echoed, textIsBinary] = await once(ws, 'message');
    assert.equal(textIsBinary, false);
    assert.equal(echoed.toString(), text);
    ws.send(Buffer.alloc(4096, 1));
    const [binary, binaryIsBinary] = await once(ws, 'message');
    assert.equal(binaryIsBinary, true);
    assert.deepEqual(binary, Buffer.alloc(4096, 1));
    ws.close();
    await once(ws, 'close');
  });

  test('/broadcast: every message goes to every client there, sender included, same bytes', T, async () => {
    const peers = await Promise.all([rawClient(port, '/broadcast'), rawClient(port, '/broadcast'), rawClient(port, '/broadcast')]);
    const outsider = await rawClient(port, '/elsewhere');
    const [a, b] = peers as [RawClient, RawClient, RawClient];

    a.send(0x1, 'hi all');
    const text = serverFrame(0x1, 'hi all');
    for (const peer of peers) assert.deepEqual(await peer.waitFor(text.length), text);

    b.send(0x2, Buffer.from([1, 2, 3]));
    const binary = serverFrame(0x2, Buffer.from([1, 2, 3]));
    for (const peer of peers) {
      assert.deepEqual((await peer.waitFor(text.length + binary.length)).subarray(text.length), binary);
    }

    // The client on another path got none of it: its first frame is its own echo.
    outsider.send(0x1, 'mine');
    assert.deepEqual(await outsider.waitFor(6), serverFrame(0x1, 'mine'));
    for (const peer of [...peers, outsider]) peer.socket.destroy();
  });

  test('/broadcast: our client and the ws package see the same type and data', T, async () => {
    const ours = await connect(`ws://${HOST}:${port}/broadcast`);
    const theirs = track(new WsClient(`ws://${HOST}:${port}/broadcast`));
    await once(theirs, 'open');
    const ourMessage = once(ours, 'message');
    const theirMessage = once(theirs, 'message');
    ours.send(Buffer.from('binary from ours'));
    assert.deepEqual(await ourMessage, [Buffer.from('binary from ours'), true]);
    const [data, isBinary] = await theirMessage;
    assert.equal(isBinary, true);
    assert.deepEqual(data, Buffer.from('binary from ours'));
    ours.close();
    theirs.close();
    await Promise.all([once(ours, 'close'), once(theirs, 'close')]);
  });

  test('/broadcast: a client that left gets nothing and does not break the others', T, async () => {
    const [a, b] = await Promise.all([rawClient(port, '/broadcast'), rawClient(port, '/broadcast')]);
    b.socket.destroy();
    await once(b.socket, 'close');
    a.send(0x1, 'anyone?');
    assert.deepEqual(await a.waitFor(9), serverFrame(0x1, 'anyone?'));
    a.socket.destroy();
  });
});
