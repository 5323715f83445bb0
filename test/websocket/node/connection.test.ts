/**
 * The WebSocket connection over real sockets: messages keep their type, the
 * readyState moves as the WebSocket API says, the closing handshake (clean,
 * timed out, dropped, terminated) reports the right code and wasClean, the
 * server closes TCP first, protocol errors close with the right code, and
 * backpressure shows in send(), bufferedAmount and 'drain'. A raw `node:net`
 * client sends exact bytes and reads the server's bytes as they are.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../../src/websocket/node/client.js';
import { WebSocket } from '../../../src/websocket/node/connection.js';
import { WebSocketServer, type WebSocketServerOptions } from '../../../src/websocket/node/server.js';
import type { ProtocolError } from '../../../src/websocket/protocol/errors.js';

const HOST = '127.0.0.1';
const T = { timeout: 5000 };
const SUITE = { timeout: 60_000 };

/**
 * Everything a test opens, released after the last test even when one failed
 * half-way (a listening server left behind would keep this file's process,
 * and so the whole run, from ending).
 */
type Handle = WebSocketServer | net.Socket;
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
    }
  }
});

// ---- a raw client that reads frames ----

interface Frame {
  fin: boolean;
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

/** One frame from the start of `data`, or null when it is not all there. */
function parseFrame(data: Buffer): { frame: Frame; size: number } | null {
  if (data.length < 2) return null;
  const b0 = data[0]!;
  const b1 = data[1]!;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (data.length < 4) return null;
    length = data.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (data.length < 10) return null;
    length = Number(data.readBigUInt64BE(2));
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const mask = masked ? data.subarray(offset, offset + 4) : null;
  if (masked) offset += 4;
  if (data.length < offset + length) return null;
  const payload = Buffer.from(data.subarray(offset, offset + length));
  if (mask) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ mask[i % 4]!;
  return { frame: { fin: (b0 & 0x80) !== 0, rsv: b0 & 0x70, opcode: b0 & 0x0f, masked, payload }, size: offset + length };
}

/** A client frame, masked unless told otherwise (RFC 6455 §5.3). */
function frame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number; mask?: boolean } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, rsv = 0, mask = true } = options;
  const header: number[] = [(fin ? 0x80 : 0) | rsv | opcode];
  const maskBit = mask ? 0x80 : 0;
  if (data.length < 126) header.push(maskBit | data.length);
  else if (data.length < 0x10000) header.push(maskBit | 126, data.length >> 8, data.length & 0xff);
  else throw new RangeError('test frames are under 64 KiB');
  if (!mask) return Buffer.concat([Buffer.from(header), data]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const masked = Buffer.from(data.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(header), key, masked]);
}

function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

const REQUEST = (port: number, path = '/') =>
  `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

class RawClient {
  readonly socket: net.Socket;
  /** True once the server's FIN arrived. */
  ended = false;
  /** Set when the FIN arrived: whether this side had not ended yet (the server closed first). */
  serverClosedFirst: boolean | null = null;
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('end', () => {
      this.ended = true;
      this.serverClosedFirst = !socket.writableEnded;
      this.wake();
    });
    socket.on('error', () => {});
  }

  /**
   * Connect and complete the handshake; `extra` is written in the same
   * segment as the request (frames that arrive with the handshake).
   */
  static async connect(port: number, path = '/', extra: Buffer = Buffer.alloc(0)): Promise<RawClient> {
    // Half-open: this side decides when to end, so we can see who closed first.
    const socket = track(net.connect({ port, host: HOST, allowHalfOpen: true }));
    await once(socket, 'connect');
    const client = new RawClient(socket);
    socket.write(Buffer.concat([Buffer.from(REQUEST(port, path)), extra]));
    while (client.buffer.indexOf('\r\n\r\n') === -1) await client.next();
    const end = client.buffer.indexOf('\r\n\r\n');
    assert.match(client.buffer.subarray(0, end).toString('latin1'), /^HTTP\/1\.1 101 /);
    client.buffer = client.buffer.subarray(end + 4);
    return client;
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /** The next frame from the server. @throws when the server ends TCP first. */
  async frame(): Promise<Frame> {
    for (;;) {
      const parsed = parseFrame(this.buffer);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.size);
        return parsed.frame;
      }
      if (this.ended) throw new Error('the server closed the connection');
      await this.next();
    }
  }

  /** Resolves once the server's FIN arrived; returns the bytes left unread. */
  async end(): Promise<Buffer> {
    while (!this.ended) await this.next();
    return this.buffer;
  }

  private next(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/**
 * The arguments of the next 'close' event. Unlike `events.once`, this adds
 * no 'error' listener, which would both change the connection's behaviour
 * (errors are only emitted when listened to) and reject on protocol errors.
 */
function closeEvent(ws: WebSocket): Promise<[code: number, reason: string, wasClean: boolean]> {
  return new Promise((resolve) => ws.once('close', (...args) => resolve(args)));
}

/** A server whose next connection is handed to the test. */
async function startServer(options: WebSocketServerOptions = {}) {
  const server = track(new WebSocketServer({ port: 0, host: HOST, ...options }));
  await server.ready();
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `ws://${HOST}:${port}/`,
    /** The server side of the next connection. */
    next: async () => (await once(server, 'connection'))[0] as WebSocket,
  };
}

/** Our client and the server side of its connection. */
async function pair(options: WebSocketServerOptions = {}) {
  const s = await startServer(options);
  const accepted = s.next();
  const client = await connect(s.url);
  const server = await accepted;
  return { ...s, client, serverSide: server };
}

// ---- messages ----

describe('messages keep their type', SUITE, () => {
  let p: Awaited<ReturnType<typeof pair>>;
  before(async () => {
    p = await pair();
  });
  after(() => p.server.close());

  const cases: Array<[string, string | Uint8Array, string | Buffer, boolean]> = [
    ['text stays a string', 'héllo 🌍', 'héllo 🌍', false],
    ['bytes that happen to be UTF-8 stay binary', Buffer.from('hello'), Buffer.from('hello'), true],
    ['a Uint8Array arrives as a binary Buffer', new Uint8Array([0, 255, 7]), Buffer.from([0, 255, 7]), true],
    ['an empty string is an empty text message', '', '', false],
    ['an empty buffer is an empty binary message', Buffer.alloc(0), Buffer.alloc(0), true],
    ['a 100 KiB text', 'x'.repeat(100 * 1024), 'x'.repeat(100 * 1024), false],
  ];
  for (const [name, sent, expected, binary] of cases) {
    test(`client to server: ${name}`, T, async () => {
      const received = once(p.serverSide, 'message');
      assert.equal(p.client.send(sent), true);
      const [data, isBinary] = await received;
      assert.equal(isBinary, binary);
      assert.deepEqual(data, expected);
    });
    test(`server to client: ${name}`, T, async () => {
      const received = once(p.client, 'message');
      p.serverSide.send(sent);
      const [data, isBinary] = await received;
      assert.equal(isBinary, binary);
      assert.deepEqual(data, expected);
    });
  }

  // Issue 10, 1.5: every byte source ws accepts, sent by its byte length
  // (a Uint16Array used to lose half its bytes, an ArrayBuffer to throw).
  const wide = new Uint16Array([1, 2, 0x1234]);
  const wideBytes = Buffer.from(wide.buffer, wide.byteOffset, wide.byteLength);
  const backing = new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]);
  const sources: Array<[string, () => unknown, string | Buffer, boolean]> = [
    ['a Uint16Array: all 6 bytes', () => wide, wideBytes, true],
    ['a Float64Array: 8 bytes', () => new Float64Array([1.5]), Buffer.from(new Float64Array([1.5]).buffer), true],
    ['a view into the middle of a buffer', () => backing.subarray(2, 5), Buffer.from([7, 6, 5]), true],
    ['a DataView over part of an ArrayBuffer', () => new DataView(backing.buffer, 1, 3), Buffer.from([8, 7, 6]), true],
    ['an ArrayBuffer', () => backing.buffer.slice(0, 4), Buffer.from([9, 8, 7, 6]), true],
    ['a SharedArrayBuffer', () => new Uint8Array(new SharedArrayBuffer(3)).fill(1).buffer, Buffer.from([1, 1, 1]), true],
    ['a number, as text', () => 42, '42', false],
    ['an array of byte values', () => [1, 2, 255], Buffer.from([1, 2, 255]), true],
    ['a Blob', () => new Blob([Buffer.from('blob bytes')]), Buffer.from('blob bytes'), true],
  ];
  for (const [name, make, expected, binary] of sources) {
    test(`every byte source ws accepts: ${name}`, T, async () => {
      for (const [from, to] of [
        [p.client, p.serverSide],
        [p.serverSide, p.client],
      ] as const) {
        const received = once(to, 'message');
        from.send(make() as string);
        const [data, isBinary] = await received;
        assert.equal(isBinary, binary);
        assert.deepEqual(data, expected);
      }
    });
  }

  test('a Blob keeps its place among the messages sent after it', T, async () => {
    const got: Array<string | Buffer> = [];
    const done = new Promise<void>((resolve) => {
      const onMessage = (data: string | Buffer) => {
        got.push(data);
        if (got.length === 3) {
          p.serverSide.off('message', onMessage);
          resolve();
        }
      };
      p.serverSide.on('message', onMessage);
    });
    p.client.send('first');
    p.client.send(new Blob(['second']) as unknown as string);
    p.client.send('third');
    await done;
    assert.deepEqual(got, ['first', Buffer.from('second'), 'third']);
  });

  test('many messages in one turn arrive in order', T, async () => {
    const received: Array<string | Buffer> = [];
    const done = new Promise<void>((resolve) => {
      const onMessage = (data: string | Buffer) => {
        received.push(data);
        if (received.length === 100) {
          p.serverSide.off('message', onMessage);
          resolve();
        }
      };
      p.serverSide.on('message', onMessage);
    });
    for (let i = 0; i < 100; i++) p.client.send(i % 2 ? `t${i}` : Buffer.from([i]));
    await done;
    for (const [i, data] of received.entries()) assert.deepEqual(data, i % 2 ? `t${i}` : Buffer.from([i]));
  });

  test('ping() gets a pong with the same data; the peer sees the ping', T, async () => {
    const pinged = once(p.serverSide, 'ping');
    const ponged = once(p.client, 'pong');
    p.client.ping('are you there');
    assert.deepEqual((await pinged)[0], Buffer.from('are you there'));
    assert.deepEqual((await ponged)[0], Buffer.from('are you there'));
  });

  test('an unsolicited pong() is reported to the peer', T, async () => {
    const ponged = once(p.client, 'pong');
    p.serverSide.pong(Buffer.from([1, 2, 3]));
    assert.deepEqual((await ponged)[0], Buffer.from([1, 2, 3]));
  });

  test('ping() refuses a payload over 125 bytes', T, () => {
    assert.throws(() => p.client.ping(Buffer.alloc(126)), RangeError);
  });

  test('remoteAddress and protocol/extensions of a plain connection', T, () => {
    assert.equal(p.serverSide.remoteAddress, HOST);
    assert.equal(p.client.remoteAddress, HOST);
    assert.equal(p.serverSide.remotePort, p.client.socket.localPort);
    assert.equal(p.client.protocol, '');
    assert.equal(p.client.extensions, '');
  });
});

describe('frames sent with the handshake', SUITE, () => {
  test('a frame in the same segment as the request is delivered after the connection event', T, async () => {
    const { server, port } = await startServer();
    const received = new Promise<[string | Buffer, boolean]>((resolve) => {
      server.on('connection', (ws) => ws.on('message', (...args) => resolve(args)));
    });
    const raw = await RawClient.connect(port, '/', frame(0x1, 'early bird'));
    const [data, isBinary] = await received;
    assert.equal(data, 'early bird');
    assert.equal(isBinary, false);
    raw.socket.destroy();
    await server.close();
  });
});

// ---- readyState and the closing handshake ----

describe('closing', SUITE, () => {
  test('readyState: OPEN, then CLOSING after close(), then CLOSED at the close event', T, async () => {
    const { server, client, serverSide } = await pair();
    assert.equal(client.readyState, WebSocket.OPEN);
    assert.equal(serverSide.readyState, WebSocket.OPEN);
    assert.equal(WebSocket.CONNECTING, 0);
    const clientClosed = closeEvent(client);
    const serverClosed = closeEvent(serverSide);
    client.close();
    assert.equal(client.readyState, WebSocket.CLOSING);
    await serverClosed;
    assert.equal(serverSide.readyState, WebSocket.CLOSED);
    await clientClosed;
    assert.equal(client.readyState, WebSocket.CLOSED);
    // Nothing goes out once closed.
    assert.equal(client.send('late'), false);
    assert.equal(serverSide.send('late'), false);
    await server.close();
  });

  test('close(code, reason) from the client: the server sees both, both closes are clean', T, async () => {
    const { server, client, serverSide } = await pair();
    const serverClosed = closeEvent(serverSide);
    const clientClosed = closeEvent(client);
    client.close(4001, 'bye now');
    const [serverCode, serverReason, serverClean] = await serverClosed;
    assert.deepEqual([serverCode, serverReason, serverClean], [4001, 'bye now', true]);
    // RFC 6455 §5.5.1: the server echoes the code.
    const [clientCode, , clientClean] = await clientClosed;
    assert.equal(clientCode, 4001);
    assert.equal(clientClean, true);
    await server.close();
  });

  test('close(code, reason) from the server: the client sees both, both closes are clean', T, async () => {
    const { server, client, serverSide } = await pair();
    const serverClosed = closeEvent(serverSide);
    const clientClosed = closeEvent(client);
    serverSide.close(1000, 'done');
    assert.deepEqual(await clientClosed, [1000, 'done', true]);
    const [code, , wasClean] = await serverClosed;
    assert.equal(code, 1000);
    assert.equal(wasClean, true);
    await server.close();
  });

  test('close() refuses a code that may not be sent', T, async () => {
    const { server, client } = await pair();
    assert.throws(() => client.close(1006), RangeError);
    // Issue 10, 1.6: 1005 used to send a close frame without a code.
    assert.throws(() => client.close(1005), RangeError);
    assert.throws(() => client.close(1000, 'x'.repeat(124)), RangeError);
    assert.equal(client.readyState, WebSocket.OPEN);
    client.close();
    await closeEvent(client);
    await server.close();
  });

  test('the server closes TCP first, right after its close frame', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const serverClosed = closeEvent(ws);
    raw.write(frame(0x8, closePayload(1000, 'bye')));
    const reply = await raw.frame();
    assert.equal(reply.opcode, 0x8);
    assert.equal(reply.masked, false);
    assert.equal(reply.payload.readUInt16BE(0), 1000);
    const rest = await raw.end();
    assert.equal(rest.length, 0, 'nothing after the close frame');
    assert.equal(raw.serverClosedFirst, true);
    raw.socket.end();
    assert.deepEqual(await serverClosed, [1000, 'bye', true]);
    await server.close();
  });

  test('a close frame without a status: 1005 is reported and an empty close is echoed', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const serverClosed = closeEvent(ws);
    raw.write(frame(0x8, Buffer.alloc(0)));
    const reply = await raw.frame();
    assert.equal(reply.opcode, 0x8);
    assert.equal(reply.payload.length, 0);
    await raw.end();
    raw.socket.end();
    assert.deepEqual(await serverClosed, [1005, '', true]);
    await server.close();
  });

  test('close timeout: a peer that never answers our close frame is dropped; wasClean is false', T, async () => {
    const { server, port, next } = await startServer({ closeTimeout: 100 });
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const closed = closeEvent(ws);
    const started = Date.now();
    ws.close(1000, 'going');
    const sent = await raw.frame();
    assert.equal(sent.opcode, 0x8);
    assert.equal(sent.payload.readUInt16BE(0), 1000);
    // The raw peer never answers.
    const [code, , wasClean] = await closed;
    const elapsed = Date.now() - started;
    assert.equal(code, 1006);
    assert.equal(wasClean, false);
    assert.ok(elapsed >= 90, `dropped after ${elapsed} ms, before closeTimeout`);
    assert.ok(elapsed < 2000, `dropped after ${elapsed} ms`);
    raw.socket.destroy();
    await server.close();
  });

  test('terminate() drops TCP at once: 1006 on both sides, not clean', T, async () => {
    const { server, client, serverSide } = await pair();
    const clientClosed = closeEvent(client);
    const serverClosed = closeEvent(serverSide);
    serverSide.terminate();
    const [serverCode, , serverClean] = await serverClosed;
    assert.equal(serverCode, 1006);
    assert.equal(serverClean, false);
    const [clientCode, , clientClean] = await clientClosed;
    assert.equal(clientCode, 1006);
    assert.equal(clientClean, false);
    assert.equal(server.clients.size, 0);
    await server.close();
  });

  test('a peer that drops TCP without a close frame: 1006, not clean', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const closed = closeEvent(ws);
    raw.socket.end();
    const [code, reason, wasClean] = await closed;
    assert.deepEqual([code, reason, wasClean], [1006, '', false]);
    assert.equal(ws.readyState, WebSocket.CLOSED);
    await server.close();
  });

  test('a peer that resets TCP: 1006, and no crash without an error listener', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const closed = closeEvent(ws);
    raw.socket.resetAndDestroy();
    const [code, , wasClean] = await closed;
    assert.equal(code, 1006);
    assert.equal(wasClean, false);
    await server.close();
  });
});

// ---- protocol errors ----

describe('protocol errors from the peer: close frame with the code, then TCP closed', SUITE, () => {
  const cases: Array<{ name: string; bytes: () => Buffer; code: number; error: string; options?: WebSocketServerOptions }> = [
    { name: 'an unmasked client frame', bytes: () => frame(0x1, 'hi', { mask: false }), code: 1002, error: 'MASK_REQUIRED' },
    { name: 'a reserved opcode', bytes: () => frame(0x3, 'x'), code: 1002, error: 'RESERVED_OPCODE' },
    { name: 'RSV1 without an extension', bytes: () => frame(0x1, 'x', { rsv: 0x40 }), code: 1002, error: 'RSV_NOT_NEGOTIATED' },
    { name: 'a fragmented ping', bytes: () => frame(0x9, 'x', { fin: false }), code: 1002, error: 'CONTROL_FRAME_FRAGMENTED' },
    { name: 'a continuation with no message', bytes: () => frame(0x0, 'x'), code: 1002, error: 'UNEXPECTED_CONTINUATION' },
    {
      name: 'invalid UTF-8 in a text message',
      bytes: () => frame(0x1, Buffer.from([0x68, 0xc3, 0x28])),
      code: 1007,
      error: 'INVALID_UTF8',
    },
    {
      name: 'invalid UTF-8 in the first fragment, before the message ends',
      bytes: () => frame(0x1, Buffer.from([0xff]), { fin: false }),
      code: 1007,
      error: 'INVALID_UTF8',
    },
    { name: 'a close code not allowed on the wire', bytes: () => frame(0x8, closePayload(1005)), code: 1002, error: 'INVALID_CLOSE_CODE' },
    {
      name: 'a message over maxMessageSize',
      bytes: () => frame(0x2, Buffer.alloc(17)),
      code: 1009,
      error: 'MESSAGE_TOO_BIG',
      options: { maxMessageSize: 16 },
    },
  ];

  for (const c of cases) {
    test(c.name, T, async () => {
      const { server, port, next } = await startServer(c.options);
      const accepted = next();
      const raw = await RawClient.connect(port);
      const ws = await accepted;
      const errors: ProtocolError[] = [];
      ws.on('error', (error) => errors.push(error as ProtocolError));
      const messages: unknown[] = [];
      ws.on('message', (data) => messages.push(data));
      const closed = closeEvent(ws);
      raw.write(c.bytes());
      const reply = await raw.frame();
      assert.equal(reply.opcode, 0x8);
      assert.equal(reply.payload.readUInt16BE(0), c.code);
      // Then TCP is closed by the server, nothing after the close frame.
      assert.equal((await raw.end()).length, 0);
      assert.equal(raw.serverClosedFirst, true);
      raw.socket.end();
      const [code, , wasClean] = await closed;
      assert.equal(code, c.code);
      assert.equal(wasClean, false);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.code, c.error);
      assert.equal(errors[0]!.closeCode, c.code);
      assert.deepEqual(messages, []);
      await server.close();
    });
  }

  test('without an error listener, a protocol error does not crash; the close event still says why', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    assert.equal(ws.listenerCount('error'), 0);
    const closed = closeEvent(ws);
    raw.write(frame(0x1, 'x', { mask: false }));
    const reply = await raw.frame();
    assert.equal(reply.payload.readUInt16BE(0), 1002);
    await raw.end();
    raw.socket.end();
    const [code] = await closed;
    assert.equal(code, 1002);
    await server.close();
  });

  test('messages before the bad frame are delivered, nothing after it', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    const messages: unknown[] = [];
    ws.on('message', (data) => messages.push(data));
    const closed = closeEvent(ws);
    raw.write(Buffer.concat([frame(0x1, 'before'), frame(0x3, ''), frame(0x1, 'after')]));
    assert.equal((await raw.frame()).opcode, 0x8);
    await raw.end();
    raw.socket.end();
    await closed;
    assert.deepEqual(messages, ['before']);
    await server.close();
  });
});

// ---- backpressure ----

describe('backpressure', SUITE, () => {
  test('bufferedAmount counts a message as soon as send() returns', T, async () => {
    const { server, client } = await pair();
    const before = client.bufferedAmount;
    client.send(Buffer.alloc(1000));
    assert.ok(client.bufferedAmount >= before + 1000, `bufferedAmount ${client.bufferedAmount}`);
    client.close();
    await closeEvent(client);
    await server.close();
  });

  test('send() returns false within one turn once the high-water mark is passed', T, async () => {
    const { server, client } = await pair();
    const highWaterMark = client.socket.writableHighWaterMark;
    // Within one turn the server cannot read: once the kernel's buffers are
    // full (a few MiB on loopback), the messages of this turn must count.
    let sent = 0;
    while (client.send(Buffer.alloc(1024)) && sent < 65_536) sent++;
    assert.ok(sent < 65_536, 'send() never reported backpressure');
    assert.ok(client.bufferedAmount >= highWaterMark, `bufferedAmount ${client.bufferedAmount}`);
    // It still drains: the peer reads everything.
    await once(client, 'drain');
    client.close();
    await closeEvent(client);
    await server.close();
  });

  test('a peer that does not read: bufferedAmount grows, send() returns false, drain fires when it reads', T, async () => {
    const { server, port, next } = await startServer();
    const accepted = next();
    const raw = await RawClient.connect(port);
    const ws = await accepted;
    raw.socket.pause();
    const chunk = Buffer.alloc(8 * 1024, 0x61);
    let full = false;
    let previous = 0;
    // Fill the kernel buffers (a few MiB on loopback), one write per turn.
    for (let i = 0; i < 64 * 128 && !full; i++) {
      full = !ws.send(chunk);
      await new Promise((resolve) => setImmediate(resolve));
      if (!full) previous = ws.bufferedAmount;
    }
    assert.equal(full, true, 'send() never returned false');
    assert.ok(ws.bufferedAmount >= ws.socket.writableHighWaterMark, `bufferedAmount ${ws.bufferedAmount}`);
    assert.ok(ws.bufferedAmount > previous, 'bufferedAmount grows');
    const drained = once(ws, 'drain');
    raw.socket.resume();
    await drained;
    assert.ok(ws.bufferedAmount < ws.socket.writableHighWaterMark);
    assert.equal(ws.send('after drain'), true);
    raw.socket.destroy();
    await server.close();
  });
});
