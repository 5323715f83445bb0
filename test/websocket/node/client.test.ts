/**
 * The client, `connect(url, options)`, over real sockets: ws:// and wss://
 * (our server and the `ws` package's), subprotocols, extra headers, the
 * handshake timeout, every way a server's answer can be wrong (against a raw
 * `node:net` fake server), masking of every frame it sends, and its side of
 * the closing handshake.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocketServer as WsServer } from 'ws';
import { type ConnectOptions, connect } from '../../../src/websocket/node/client.js';
import { WebSocket } from '../../../src/websocket/node/connection.js';
import { type HandshakeInfo, WebSocketServer } from '../../../src/websocket/node/server.js';
import { HandshakeError } from '../../../src/websocket/protocol/errors.js';
import { acceptKey } from '../../../src/websocket/protocol/handshake.js';
import { selfSignedCertificate } from '../../support/tls.js';

const HOST = '127.0.0.1';
const T = { timeout: 5000 };
const SUITE = { timeout: 60_000 };

/**
 * Everything a test opens, released after the last test even when one failed
 * half-way (a listening server left behind would keep this file's process,
 * and so the whole run, from ending).
 */
type Handle = WebSocketServer | net.Server | net.Socket | WsServer;
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
    } else if (handle instanceof WsServer) {
      for (const client of handle.clients) client.terminate();
      handle.close();
    } else if (handle instanceof https.Server) {
      handle.closeAllConnections();
      handle.close();
    } else if (handle instanceof net.Server) handle.close();
  }
});

// ---- a fake server that answers handshakes by hand ----

interface RawRequest {
  socket: net.Socket;
  /** The request head, without the final CRLF CRLF. */
  head: string;
  /** Lower-cased header names. */
  headers: Map<string, string>;
  key: string;
  /** Bytes after the head, then everything the client sends. */
  received(): Buffer;
  /** Resolves with everything received once `done(bytes)` is true. */
  waitFor(done: (bytes: Buffer) => boolean): Promise<Buffer>;
}

class FakeServer {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly requests: RawRequest[] = [];
  private readonly waiters: Array<(request: RawRequest) => void> = [];

  private constructor(answer: ((request: RawRequest) => void) | null) {
    // Half-open: the test decides when the fake server's side ends.
    this.server = track(net.createServer({ allowHalfOpen: true }, (socket) => {
      this.sockets.add(track(socket));
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
      let data = Buffer.alloc(0);
      let request: RawRequest | null = null;
      const wakers: Array<() => void> = [];
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        for (const wake of wakers.splice(0)) wake();
        if (request || !answer) return;
        const end = data.indexOf('\r\n\r\n');
        if (end === -1) return;
        const head = data.subarray(0, end).toString('latin1');
        data = data.subarray(end + 4);
        const headers = new Map<string, string>();
        for (const line of head.split('\r\n').slice(1)) {
          const colon = line.indexOf(':');
          headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
        }
        request = {
          socket,
          head,
          headers,
          key: headers.get('sec-websocket-key') ?? '',
          received: () => data,
          waitFor: async (done) => {
            while (!done(data)) await new Promise<void>((resolve) => wakers.push(resolve));
            return data;
          },
        };
        answer(request);
        const waiter = this.waiters.shift();
        if (waiter) waiter(request);
        else this.requests.push(request);
      });
    }));
  }

  /** A server that answers each request with `answer`; null: it never answers (nor reads). */
  static async start(answer: ((request: RawRequest) => void) | null): Promise<FakeServer> {
    const fake = new FakeServer(answer);
    fake.server.listen(0, HOST);
    await once(fake.server, 'listening');
    return fake;
  }

  get url(): string {
    return `ws://${HOST}:${(this.server.address() as AddressInfo).port}/`;
  }

  /** The next request received (or one received already). */
  nextRequest(): Promise<RawRequest> {
    const request = this.requests.shift();
    if (request) return Promise.resolve(request);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A 101 answer; `headers` replace or (with null) remove the defaults. */
function switching(request: RawRequest, headers: Record<string, string | null> = {}): string {
  const all: Record<string, string | null> = {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Accept': acceptKey(request.key),
    ...headers,
  };
  let text = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [name, value] of Object.entries(all)) if (value !== null) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

interface Frame {
  fin: boolean;
  opcode: number;
  masked: boolean;
  maskKey: Buffer | null;
  payload: Buffer;
}

/** Every complete frame at the start of `data` (payloads unmasked). */
function parseFrames(data: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (data.length - at >= 2) {
    const b1 = data[at + 1]!;
    let length = b1 & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (data.length < offset + 2) break;
      length = data.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (data.length < offset + 8) break;
      length = Number(data.readBigUInt64BE(offset));
      offset += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const maskKey = masked ? Buffer.from(data.subarray(offset, offset + 4)) : null;
    if (masked) offset += 4;
    if (data.length < offset + length) break;
    const payload = Buffer.from(data.subarray(offset, offset + length));
    if (maskKey) for (let i = 0; i < payload.length; i++) payload[i] = payload[i]! ^ maskKey[i % 4]!;
    frames.push({ fin: (data[at]! & 0x80) !== 0, opcode: data[at]! & 0x0f, masked, maskKey, payload });
    at = offset + length;
  }
  return frames;
}

/** An unmasked server frame with a payload under 126 bytes. */
function serverFrame(opcode: number, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from([0x80 | opcode, data.length]), data]);
}

function closeEvent(ws: WebSocket): Promise<[code: number, reason: string, wasClean: boolean]> {
  return new Promise((resolve) => ws.once('close', (...args) => resolve(args)));
}

/** Assert that connect() rejects with a HandshakeError with this code (and status). */
async function assertRefused(url: string, code: string, status?: number, options: ConnectOptions = {}): Promise<HandshakeError> {
  let caught: unknown;
  await assert.rejects(
    connect(url, { handshakeTimeout: 2000, ...options }).catch((error) => {
      caught = error;
      throw error;
    }),
  );
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${caught}`);
  assert.equal(caught.code, code, caught.message);
  if (status !== undefined) assert.equal(caught.status, status);
  return caught;
}

// ---- against our server ----

describe('connect() to our server', SUITE, () => {
  let server: WebSocketServer;
  let url: string;
  const handshakes: HandshakeInfo[] = [];

  before(async () => {
    server = track(new WebSocketServer({
      port: 0,
      host: HOST,
      perMessageDeflate: true,
      selectProtocol: (offered) => offered.find((p) => p === 'chat.v2' || p === 'chat.v1'),
      accept: (info) => {
        handshakes.push(info);
        return true;
      },
    }));
    server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    await server.ready();
    url = `ws://${HOST}:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  test('ws:// opens, echoes, closes cleanly', T, async () => {
    const ws = await connect(`${url}/path?q=1`);
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(handshakes.at(-1)?.request.target, '/path?q=1');
    ws.send('ping me');
    assert.deepEqual(await once(ws, 'message'), ['ping me', false]);
    ws.close(1000, 'bye');
    assert.deepEqual(await closeEvent(ws), [1000, '', true]);
  });

  test('the Host header carries the port (RFC 6455 §4.1)', T, async () => {
    const ws = await connect(url);
    assert.equal(handshakes.at(-1)?.request.host, url.slice('ws://'.length));
    ws.close();
    await closeEvent(ws);
  });

  test('subprotocols are offered in order and the selected one is exposed', T, async () => {
    const ws = await connect(url, { protocols: ['chat.v1', 'chat.v2'] });
    assert.deepEqual(handshakes.at(-1)?.request.protocols, ['chat.v1', 'chat.v2']);
    assert.equal(ws.protocol, 'chat.v1');
    ws.close();
    await closeEvent(ws);
  });

  test('extra headers and the origin arrive at the server', T, async () => {
    const ws = await connect(url, {
      headers: { Authorization: 'Bearer abc123', 'X-Client': 'tests' },
      origin: 'https://app.example',
    });
    const request = handshakes.at(-1)!.request;
    assert.equal(request.headers.get('authorization'), 'Bearer abc123');
    assert.equal(request.headers.get('x-client'), 'tests');
    assert.equal(request.origin, 'https://app.example');
    ws.close();
    await closeEvent(ws);
  });

  test('an extra header that the handshake sets itself is refused before connecting', T, async () => {
    const before = handshakes.length;
    await assert.rejects(connect(url, { headers: { 'Sec-WebSocket-Key': 'x' } }), TypeError);
    await assert.rejects(connect(url, { headers: { 'X-Bad': 'a\r\nb' } }), TypeError);
    assert.equal(handshakes.length, before);
  });

  test('permessage-deflate is negotiated when offered, and messages still round-trip', T, async () => {
    const ws = await connect(url, { perMessageDeflate: true });
    assert.match(ws.extensions, /^permessage-deflate/);
    const text = 'compress me '.repeat(200);
    ws.send(text);
    assert.deepEqual(await once(ws, 'message'), [text, false]);
    const binary = Buffer.alloc(5000, 0x42);
    ws.send(binary);
    assert.deepEqual(await once(ws, 'message'), [binary, true]);
    ws.close();
    assert.equal((await closeEvent(ws))[2], true);
  });

  test('without an offer, no extension', T, async () => {
    const ws = await connect(url);
    assert.equal(ws.extensions, '');
    ws.close();
    await closeEvent(ws);
  });

  test('a non-ws URL or a fragment is a TypeError', T, async () => {
    await assert.rejects(connect(`http://${HOST}/`), TypeError);
    await assert.rejects(connect(`${url}/#frag`), TypeError);
    await assert.rejects(connect('not a url'), TypeError);
  });
});

describe('connect() over TLS (wss://)', SUITE, () => {
  const { cert, key } = selfSignedCertificate();

  test('to our TLS server', T, async () => {
    const server = track(new WebSocketServer({ port: 0, host: HOST, tls: { cert, key } }));
    server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    await server.ready();
    const port = (server.address() as AddressInfo).port;
    // By IP (no SNI) and by name.
    for (const host of [HOST, 'localhost']) {
      const ws = await connect(`wss://${host}:${port}/`, { tls: { ca: cert } });
      ws.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await once(ws, 'message'), [Buffer.from([1, 2, 3]), true]);
      ws.close();
      assert.equal((await closeEvent(ws))[2], true);
    }
    await server.close();
  });

  test("to the ws package's server on https, with a subprotocol", T, async () => {
    const httpsServer = track(https.createServer({ cert, key }));
    const wss = track(new WsServer({ server: httpsServer, handleProtocols: (protocols) => (protocols.has('b') ? 'b' : false) }));
    wss.on('connection', (peer) => peer.on('message', (data, isBinary) => peer.send(data, { binary: isBinary })));
    httpsServer.listen(0, HOST);
    await once(httpsServer, 'listening');
    const port = (httpsServer.address() as AddressInfo).port;
    const ws = await connect(`wss://${HOST}:${port}/`, { tls: { ca: cert }, protocols: ['a', 'b'] });
    assert.equal(ws.protocol, 'b');
    ws.send('über');
    assert.deepEqual(await once(ws, 'message'), ['über', false]);
    ws.close(4321, 'done');
    const [code, , wasClean] = await closeEvent(ws);
    assert.equal(code, 4321);
    assert.equal(wasClean, true);
    wss.close();
    httpsServer.close();
  });

  test('an untrusted certificate rejects with the TLS error', T, async () => {
    const server = track(new WebSocketServer({ port: 0, host: HOST, tls: { cert, key } }));
    await server.ready();
    const port = (server.address() as AddressInfo).port;
    await assert.rejects(connect(`wss://${HOST}:${port}/`), (error: NodeJS.ErrnoException) => {
      assert.equal(error instanceof HandshakeError, false);
      assert.match(String(error.code), /SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
      return true;
    });
    await server.close();
  });
});

// ---- against a fake server ----

describe('connect() refuses a wrong answer', SUITE, () => {
  test('a server that never answers: HANDSHAKE_TIMEOUT, and the socket is closed', T, async () => {
    const fake = await FakeServer.start(null);
    const accepted = once(fake.server, 'connection');
    const started = Date.now();
    const error = await assertRefused(fake.url, 'HANDSHAKE_TIMEOUT', 0, { handshakeTimeout: 100 });
    assert.ok(Date.now() - started >= 90, 'not before the timeout');
    assert.match(error.message, /timed out/);
    // The client gave up its socket: the fake server sees it end.
    const [socket] = (await accepted) as [net.Socket];
    if (!socket.readableEnded) await once(socket, 'end');
    await fake.close();
  });

  const wrongAnswers: Array<{ name: string; answer: (r: RawRequest) => string; code: string; status: number; options?: ConnectOptions }> = [
    {
      name: 'a status other than 101: UNEXPECTED_STATUS with the status',
      answer: () => 'HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope',
      code: 'UNEXPECTED_STATUS',
      status: 403,
    },
    {
      name: 'a 200 OK: UNEXPECTED_STATUS',
      answer: () => 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      code: 'UNEXPECTED_STATUS',
      status: 200,
    },
    {
      name: 'a wrong Sec-WebSocket-Accept: INVALID_ACCEPT',
      answer: (r) => switching(r, { 'Sec-WebSocket-Accept': acceptKey('AAAAAAAAAAAAAAAAAAAAAA==') }),
      code: 'INVALID_ACCEPT',
      status: 101,
    },
    {
      name: 'a missing Sec-WebSocket-Accept: INVALID_ACCEPT',
      answer: (r) => switching(r, { 'Sec-WebSocket-Accept': null }),
      code: 'INVALID_ACCEPT',
      status: 101,
    },
    {
      name: 'a missing Upgrade: INVALID_UPGRADE_HEADER',
      answer: (r) => switching(r, { Upgrade: null }),
      code: 'INVALID_UPGRADE_HEADER',
      status: 101,
    },
    {
      name: 'a Connection without upgrade: INVALID_CONNECTION_HEADER',
      answer: (r) => switching(r, { Connection: 'keep-alive' }),
      code: 'INVALID_CONNECTION_HEADER',
      status: 101,
    },
    {
      name: 'a subprotocol when none was offered: UNEXPECTED_SUBPROTOCOL',
      answer: (r) => switching(r, { 'Sec-WebSocket-Protocol': 'chat' }),
      code: 'UNEXPECTED_SUBPROTOCOL',
      status: 101,
    },
    {
      name: 'a subprotocol other than those offered: UNEXPECTED_SUBPROTOCOL',
      answer: (r) => switching(r, { 'Sec-WebSocket-Protocol': 'c' }),
      code: 'UNEXPECTED_SUBPROTOCOL',
      status: 101,
      options: { protocols: ['a', 'b'] },
    },
    {
      name: 'permessage-deflate when not offered: UNEXPECTED_EXTENSION',
      answer: (r) => switching(r, { 'Sec-WebSocket-Extensions': 'permessage-deflate' }),
      code: 'UNEXPECTED_EXTENSION',
      status: 101,
    },
    {
      name: 'an unknown extension when permessage-deflate was offered: UNEXPECTED_EXTENSION',
      answer: (r) => switching(r, { 'Sec-WebSocket-Extensions': 'x-webkit-frobnicate' }),
      code: 'UNEXPECTED_EXTENSION',
      status: 101,
      options: { perMessageDeflate: true },
    },
    {
      name: 'a response that is not HTTP: MALFORMED_HTTP',
      answer: () => 'SSH-2.0-OpenSSH_9.2\r\n\r\n',
      code: 'MALFORMED_HTTP',
      status: 0,
    },
  ];

  for (const c of wrongAnswers) {
    test(c.name, T, async () => {
      const fake = await FakeServer.start((r) => r.socket.write(c.answer(r)));
      const requested = fake.nextRequest();
      await assertRefused(fake.url, c.code, c.status, c.options);
      // The client closes its side of the refused connection.
      const request = await requested;
      if (!request.socket.readableEnded) await once(request.socket, 'end');
      await fake.close();
    });
  }

  test("a refusal's plain-text body, the server's explanation, ends the message; other bodies do not", T, async () => {
    const bodies: Array<[string, RegExp]> = [
      ['HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\n\r\nno such room\r\n', /^The server answered 404 instead of 101: no such room$/],
      // Without Content-Length: until the server closes.
      ['HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nnot from there', /: not from there$/],
      ['HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 13\r\n\r\n<h1>404</h1>\n', /^The server answered 404 instead of 101$/],
      [`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 5000\r\n\r\n${'x'.repeat(5000)}`, /: x{1024}$/],
      // A chunked body is not decoded: no text rather than chunk sizes.
      ['HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nno\r\n0\r\n\r\n', /^The server answered 403 instead of 101$/],
    ];
    for (const [answer, message] of bodies) {
      const fake = await FakeServer.start((r) => {
        r.socket.write(answer);
        if (!answer.includes('Content-Length') && !answer.includes('chunked')) r.socket.end();
      });
      const error = await assertRefused(fake.url, 'UNEXPECTED_STATUS', Number(answer.slice(9, 12)));
      assert.match(error.message, message);
      await fake.close();
    }
  });

  test('a redirect: UNEXPECTED_STATUS with the Location header for the caller', T, async () => {
    const fake = await FakeServer.start((r) =>
      r.socket.write('HTTP/1.1 302 Found\r\nLocation: ws://elsewhere.example/\r\nContent-Length: 0\r\n\r\n'),
    );
    const error = await assertRefused(fake.url, 'UNEXPECTED_STATUS', 302);
    assert.equal(error.headers.location, 'ws://elsewhere.example/');
    await fake.close();
  });

  test('the server closing during the handshake: CONNECTION_CLOSED', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.end());
    await assertRefused(fake.url, 'CONNECTION_CLOSED', 0);
    await fake.close();
  });

  test('a refused connection (ECONNREFUSED) rejects with the socket error', T, async () => {
    const probe = track(net.createServer());
    probe.listen(0, HOST);
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    await assert.rejects(connect(`ws://${HOST}:${port}/`), { code: 'ECONNREFUSED' });
  });
});

// ---- the client's frames and its side of the close ----

describe('the client on the wire', SUITE, () => {
  test('the request is a valid RFC 6455 §4.1 handshake', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(`${fake.url}chat?room=1`, { protocols: ['a', 'b'] });
    const request = await requested;
    assert.match(request.head, /^GET \/chat\?room=1 HTTP\/1\.1\r\n/);
    assert.equal(request.headers.get('upgrade'), 'websocket');
    assert.equal(request.headers.get('connection'), 'Upgrade');
    assert.equal(request.headers.get('sec-websocket-version'), '13');
    assert.equal(request.headers.get('sec-websocket-protocol'), 'a, b');
    // A fresh nonce: 16 random bytes in base64.
    assert.equal(Buffer.from(request.key, 'base64').length, 16);
    const second = fake.nextRequest();
    const ws2 = await connect(fake.url);
    assert.notEqual((await second).key, request.key);
    ws.terminate();
    ws2.terminate();
    await fake.close();
  });

  test('every frame the client sends is masked, with a fresh key', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(fake.url);
    const request = await requested;
    ws.send('hello');
    ws.send(Buffer.from([1, 2, 3, 4, 5]));
    ws.send('x'.repeat(300));
    ws.ping('p');
    ws.pong(Buffer.alloc(0));
    ws.close(1000, 'bye');
    const data = await request.waitFor((bytes) => parseFrames(bytes).some((f) => f.opcode === 0x8));
    const frames = parseFrames(data);
    assert.deepEqual(
      frames.map((f) => [f.opcode, f.payload.toString('latin1')]),
      [
        [0x1, 'hello'],
        [0x2, '\x01\x02\x03\x04\x05'],
        [0x1, 'x'.repeat(300)],
        [0x9, 'p'],
        [0xa, ''],
        [0x8, '\x03\xe8bye'],
      ],
    );
    for (const f of frames) assert.equal(f.masked, true, `opcode ${f.opcode} unmasked`);
    // Keys from a cryptographic source: six equal keys would mean none.
    assert.ok(new Set(frames.map((f) => f.maskKey!.toString('hex'))).size > 1);
    // Finish the close as a server does: close frame back, then TCP.
    const closing = closeEvent(ws);
    request.socket.end(serverFrame(0x8, Buffer.from([0x03, 0xe8])));
    assert.deepEqual(await closing, [1000, '', true]);
    await fake.close();
  });

  test('masking keys cannot be chosen through connect() options (issue 10, 1.6: injection is for the sans-I/O tests only)', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    // An option the type no longer has, passed the way old code did.
    const ws = await connect(fake.url, { maskKey: () => Buffer.alloc(4) } as ConnectOptions);
    const request = await requested;
    for (let i = 0; i < 4; i++) ws.send(`m${i}`);
    const data = await request.waitFor((bytes) => parseFrames(bytes).length >= 4);
    const keys = parseFrames(data).map((f) => f.maskKey!.toString('hex'));
    assert.ok(keys.some((k) => k !== '00000000'), 'the all-zero keys of the option were used');
    ws.terminate();
    await fake.close();
  });

  test('a message sent in the same segment as the 101 reaches a listener added after await connect()', T, async () => {
    const fake = await FakeServer.start((r) =>
      r.socket.write(Buffer.concat([Buffer.from(switching(r)), serverFrame(0x1, 'welcome'), serverFrame(0x2, 'bin')])),
    );
    const ws = await connect(fake.url);
    const messages: Array<[string | Buffer, boolean]> = [];
    const both = new Promise<void>((resolve) =>
      ws.on('message', (data, isBinary) => {
        messages.push([data, isBinary]);
        if (messages.length === 2) resolve();
      }),
    );
    await both;
    assert.deepEqual(messages, [
      ['welcome', false],
      [Buffer.from('bin'), true],
    ]);
    ws.terminate();
    await fake.close();
  });

  test('after its close is answered, the client waits for the server to close TCP', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(fake.url, { closeTimeout: 2000 });
    const request = await requested;
    let closedAt = 0;
    const closing = closeEvent(ws).then((args) => {
      closedAt = Date.now();
      return args;
    });
    ws.close(4000);
    await request.waitFor((bytes) => parseFrames(bytes).some((f) => f.opcode === 0x8));
    request.socket.write(serverFrame(0x8, Buffer.from([0x0f, 0xa0])));
    // RFC 6455 §7.1.1: the client does not end TCP itself right away. Its
    // silence is what is tested, so there is no event to await: give it time.
    await delay(100);
    assert.equal(request.socket.readableEnded, false, 'the client ended TCP first');
    assert.equal(closedAt, 0);
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const endedAt = Date.now();
    request.socket.end();
    const [code, , wasClean] = await closing;
    assert.equal(code, 4000);
    assert.equal(wasClean, true);
    assert.ok(closedAt >= endedAt);
    await fake.close();
  });

  test('close timeout: a server that never answers the close frame is dropped, not clean', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(fake.url, { closeTimeout: 100 });
    const request = await requested;
    const started = Date.now();
    const closing = closeEvent(ws);
    ws.close(1000);
    const [code, , wasClean] = await closing;
    assert.equal(code, 1006);
    assert.equal(wasClean, false);
    assert.ok(Date.now() - started >= 90);
    assert.ok(parseFrames(request.received()).some((f) => f.opcode === 0x8), 'the close frame was sent');
    await fake.close();
  });

  test('a masked server frame: the client sends a close frame with 1002 and reports 1002', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(fake.url, { closeTimeout: 2000 });
    const request = await requested;
    const errors: Error[] = [];
    ws.on('error', (error) => errors.push(error));
    const closing = closeEvent(ws);
    // RFC 6455 §5.1: a client MUST close on a masked frame from the server.
    request.socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x69 ^ 2]));
    const data = await request.waitFor((bytes) => parseFrames(bytes).some((f) => f.opcode === 0x8));
    const close = parseFrames(data).find((f) => f.opcode === 0x8)!;
    assert.equal(close.masked, true);
    assert.equal(close.payload.readUInt16BE(0), 1002);
    // The server closes TCP first (RFC 6455 §7.1.1).
    request.socket.end();
    const [code, , wasClean] = await closing;
    assert.equal(code, 1002);
    assert.equal(wasClean, false);
    assert.equal(errors.length, 1);
    assert.equal((errors[0] as { code?: string }).code, 'MASK_FORBIDDEN');
    await fake.close();
  });

  test('the server dropping TCP without a close frame: 1006', T, async () => {
    const fake = await FakeServer.start((r) => r.socket.write(switching(r)));
    const requested = fake.nextRequest();
    const ws = await connect(fake.url);
    const closing = closeEvent(ws);
    (await requested).socket.destroy();
    assert.deepEqual(await closing, [1006, '', false]);
    await fake.close();
  });
});
