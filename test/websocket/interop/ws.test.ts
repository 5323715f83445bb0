/**
 * Interop with the `ws` package, both directions: our server with ws's
 * client, ws's server with our client, plus a raw TCP peer for the protocol
 * errors ws's client cannot produce. Each test goes through real sockets on
 * 127.0.0.1 and asserts what both ends saw.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WsClient, { type ClientOptions, type RawData, WebSocketServer as WsServer } from 'ws';
import {
  connect,
  HandshakeError,
  type WebSocket as OurWebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
} from '../../../src/websocket/index.js';
import { startEchoServer } from '../../../src/websocket/node/echo-server.js';

const MiB = 1024 * 1024;
const LIMIT = 16 * MiB;
/** Deadline for a single awaited event. */
const WAIT = 10_000;

// ---------------------------------------------------------------------------
// Helpers

interface Listenable {
  on(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * Collects an emitter's events so that none is lost between two awaits
 * (several messages can arrive in one socket read); next() waits for the
 * next one with a deadline, so a missing event fails instead of hanging.
 */
class Inbox<A extends unknown[]> {
  private readonly queue: A[] = [];
  private readonly waiting: Array<{ resolve: (args: A) => void; timer: NodeJS.Timeout }> = [];

  constructor(emitter: Listenable, event: string) {
    emitter.on(event, ((...args: A) => this.push(args)) as unknown as (...args: never[]) => void);
  }

  private push(args: A): void {
    const waiter = this.waiting.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(args);
    } else this.queue.push(args);
  }

  get size(): number {
    return this.queue.length;
  }

  next(what = 'event', ms = WAIT): Promise<A> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise<A>((resolve, reject) => {
      const waiter = {
        resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
        }, ms),
      };
      this.waiting.push(waiter);
    });
  }
}

/**
 * The next `name` event's arguments. Unlike events.once, an 'error' event
 * does not reject it: our connections emit 'error' for the peer's protocol
 * violations and then 'close', which is what these tests look at.
 */
function nextEvent<T extends unknown[] = unknown[]>(emitter: Listenable & { once: Listenable['on'] }, name: string): Promise<T> {
  return new Promise<T>((resolve) => {
    emitter.once(name, ((...args: T) => resolve(args)) as unknown as (...args: never[]) => void);
  });
}

/**
 * `promise` with a deadline: it rejects naming `what` after `ms`, so a missing
 * event fails the test instead of hanging it. Safe to leave unawaited.
 */
function deadline<T>(promise: Promise<T>, what: string, ms = WAIT): Promise<T> {
  const timed = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
  timed.catch(() => {});
  return timed;
}

/** The next 'close' event's arguments, with a deadline. */
function closeOf<T extends unknown[]>(emitter: Listenable & { once: Listenable['on'] }, ms = WAIT): Promise<T> {
  return deadline(nextEvent<T>(emitter, 'close'), "'close'", ms);
}

/** once() with a deadline; rejects on an 'error' event (for 'open', 'listening', 'connect'). */
function event<T extends unknown[] = unknown[]>(emitter: Listenable, name: string, ms = WAIT): Promise<T> {
  return once(emitter as unknown as NodeJS.EventEmitter, name, { signal: AbortSignal.timeout(ms) }) as Promise<T>;
}

function portOf(address: AddressInfo | string | null): number {
  assert.ok(address && typeof address === 'object', 'server is not listening');
  return address.port;
}

/** A ws client, open, with its messages collected. perMessageDeflate is off unless asked for. */
async function wsClient(url: string, options: ClientOptions = {}, protocols?: string[]) {
  const client = new WsClient(url, protocols, { perMessageDeflate: false, ...options });
  const messages = new Inbox<[RawData, boolean]>(client, 'message');
  const closed = deadline(
    new Promise<{ code: number; reason: string; wasClean: boolean }>((resolve) => {
      // The CloseEvent of ws's EventTarget interface is where ws reports wasClean.
      client.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean }), {
        once: true,
      });
    }),
    "ws 'close'",
    60_000,
  );
  // ws emits 'error' before 'close' when it fails the connection (e.g. a close 1009 it
  // reacts to mid-send); the close is what the tests look at.
  client.on('error', () => {});
  const upgrade = event<[{ headers: Record<string, string | undefined> }]>(client, 'upgrade');
  await event(client, 'open');
  const [response] = await upgrade;
  return { client, messages, closed, responseHeaders: response.headers };
}

/** Our client, open, with its messages and close collected. */
async function ourClient(url: string, options: Parameters<typeof connect>[1] = {}) {
  const client = await connect(url, { handshakeTimeout: WAIT, ...options });
  const messages = new Inbox<[string | Buffer, boolean]>(client, 'message');
  const closed = closeOf<[number, string, boolean]>(client, 60_000);
  // Swallow the expected close race noise; the close event says what happened.
  client.on('error', () => {});
  return { client, messages, closed };
}

/** The next connection our server accepts, with its messages and close collected. */
function nextConnection(server: WebSocketServer) {
  return deadline(nextEvent<[OurWebSocket]>(server, 'connection'), "'connection'").then(([conn]) => ({
    conn,
    messages: new Inbox<[string | Buffer, boolean]>(conn, 'message'),
    closed: closeOf<[number, string, boolean]>(conn, 60_000),
  }));
}

async function ourServer(options: Partial<WebSocketServerOptions> = {}) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await server.ready();
  return { server, url: `ws://127.0.0.1:${portOf(server.address())}` };
}

/** A ws server on 127.0.0.1, echoing every message with its type. */
async function wsEchoServer(options: ConstructorParameters<typeof WsServer>[0] = {}) {
  const server = new WsServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, ...options });
  server.on('connection', (socket) => {
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
  });
  await event(server, 'listening');
  return { server, url: `ws://127.0.0.1:${portOf(server.address())}` };
}

/** The next connection a ws server accepts. */
function nextWsConnection(server: WsServer): Promise<[WsClient]> {
  return deadline(nextEvent<[WsClient]>(server, 'connection'), "ws server 'connection'");
}

function closeWsServer(server: WsServer): Promise<void> {
  for (const client of server.clients) client.terminate();
  return new Promise((resolve) => server.close(() => resolve()));
}

function asBuffer(data: RawData): Buffer {
  assert.ok(Buffer.isBuffer(data), 'ws delivers Buffers with the default binaryType');
  return data;
}

/** Deterministic text made of words from a small vocabulary: compressible, not trivially. */
function words(length: number, seed: number): string {
  const vocabulary = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa', 'lambda'];
  let state = seed >>> 0 || 1;
  let out = '';
  while (out.length < length) {
    // xorshift32
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out += `${vocabulary[state % vocabulary.length]}${state % 7 === 0 ? '. ' : ' '}`;
  }
  return out.slice(0, length);
}

/** Random lowercase hex, `length` characters. */
function hexText(length: number): string {
  return randomBytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
}

/** Sec-WebSocket-Extensions parameters as a sorted list ("permessage-deflate", "server_max_window_bits=10", ...). */
function extensionParams(header: string | undefined): string[] {
  if (!header) return [];
  return header
    .split(';')
    .map((part) => part.trim().replace(/\s*=\s*/, '='))
    .filter((part) => part !== '')
    .sort();
}

const TEXTS = ['hello', 'héllo wörld — 你好 🎉 𝄞', ''];
const BINARIES = [Buffer.from([0, 1, 2, 0xfe, 0xff]), Buffer.alloc(0), randomBytes(300)];

// ---------------------------------------------------------------------------

describe('ws client -> our echo server', () => {
  let echo: WebSocketServer;
  let url: string;

  before(async () => {
    echo = await startEchoServer({ port: 0, host: '127.0.0.1' });
    url = `ws://127.0.0.1:${portOf(echo.address())}`;
  });
  after(() => echo.close());

  test('text (ASCII, multi-byte UTF-8, empty) comes back as text, binary (incl. empty) as binary', { timeout: 20_000 }, async () => {
    const { client, messages } = await wsClient(`${url}/echo`);
    for (const text of TEXTS) {
      client.send(text);
      const [data, isBinary] = await messages.next(`echo of ${JSON.stringify(text)}`);
      assert.equal(isBinary, false);
      assert.equal(asBuffer(data).toString('utf8'), text);
    }
    for (const bytes of BINARIES) {
      client.send(bytes);
      const [data, isBinary] = await messages.next(`echo of ${bytes.length} bytes`);
      assert.equal(isBinary, true);
      assert.deepEqual(asBuffer(data), bytes);
    }
    client.close();
    await closeOf(client);
  });

  test('fragmented messages, with a ping between fragments and a character split across frames', { timeout: 20_000 }, async () => {
    const { client, messages } = await wsClient(url);
    const pongs = new Inbox<[Buffer]>(client, 'pong');
    // RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
    client.send('Hel', { fin: false });
    client.ping('between');
    client.send('lo, ', { fin: false });
    client.send('world', { fin: true });
    const [pong] = await pongs.next('pong');
    assert.equal(pong.toString(), 'between');
    const [text, textIsBinary] = await messages.next('fragmented text');
    assert.equal(textIsBinary, false);
    assert.equal(asBuffer(text).toString(), 'Hello, world');

    // "€" is e2 82 ac: the first fragment ends inside the character.
    client.send(Buffer.from([0x61, 0xe2]), { binary: false, fin: false });
    client.send(Buffer.from([0x82]), { binary: false, fin: false });
    client.send(Buffer.from([0xac, 0x62]), { binary: false, fin: true });
    const [euro] = await messages.next('split character');
    assert.equal(asBuffer(euro).toString(), 'a€b');

    const parts = [randomBytes(1000), Buffer.alloc(0), randomBytes(70_000), randomBytes(1)];
    parts.forEach((part, i) => {
      client.send(part, { binary: true, fin: i === parts.length - 1 });
    });
    const [binary, isBinary] = await messages.next('fragmented binary');
    assert.equal(isBinary, true);
    assert.deepEqual(asBuffer(binary), Buffer.concat(parts));
    client.close();
    await closeOf(client);
  });

  test('1 MiB and 16 MiB (the default limit, exactly) round-trip', { timeout: 60_000 }, async () => {
    const { client, messages } = await wsClient(url, { maxPayload: 64 * MiB });
    for (const size of [MiB, LIMIT]) {
      const bytes = randomBytes(size);
      client.send(bytes);
      const [data, isBinary] = await messages.next(`echo of ${size} bytes`, 30_000);
      assert.equal(isBinary, true);
      assert.ok(asBuffer(data).equals(bytes), `echo of ${size} bytes differs`);
    }
    const text = 'é'.repeat(LIMIT / 2);
    client.send(text);
    const [data, isBinary] = await messages.next('16 MiB of text', 30_000);
    assert.equal(isBinary, false);
    assert.ok(asBuffer(data).toString() === text, '16 MiB text echo differs');
    client.close();
    await closeOf(client);
  });

  test('one byte over 16 MiB: the peer sees 1009', { timeout: 60_000 }, async () => {
    const { client, closed, messages } = await wsClient(url);
    client.send(Buffer.alloc(LIMIT + 1));
    const close = await closed;
    assert.equal(close.code, 1009);
    assert.equal(close.reason, 'message too big');
    assert.equal(messages.size, 0, 'nothing echoed');
  });

  test('compressed: 16 MiB inflates; one byte more closes 1009 while inflating', { timeout: 60_000 }, async () => {
    const { client, messages } = await wsClient(url, { perMessageDeflate: true, maxPayload: 64 * MiB });
    const atLimit = Buffer.alloc(LIMIT, 'a');
    client.send(atLimit);
    const [data] = await messages.next('16 MiB compressed echo', 30_000);
    assert.ok(asBuffer(data).equals(atLimit));
    // About 16 KiB on the wire: the limit must be enforced on the inflated size (RFC 6455 §10.4).
    const bomb = await wsClient(url, { perMessageDeflate: true });
    bomb.client.send(Buffer.alloc(LIMIT + 1));
    const close = await bomb.closed;
    assert.equal(close.code, 1009);
    client.close();
    await closeOf(client);
  });

  test('/broadcast fans out to every client, sender included, same type and bytes, compressed or not', { timeout: 20_000 }, async () => {
    const clients = await Promise.all([
      wsClient(`${url}/broadcast`),
      wsClient(`${url}/broadcast`, { perMessageDeflate: true }),
      wsClient(`${url}/broadcast`, { perMessageDeflate: { threshold: 0 } }),
      wsClient(`${url}/broadcast`),
    ]);
    const bystander = await wsClient(`${url}/elsewhere`);
    // The echo server joins a client to the room before its 101 goes out, so every client
    // that saw 'open' is in the room.
    const sender = clients[1]!;
    const text = `${words(4000, 7)} 🎉`;
    const binary = randomBytes(5000);
    sender.client.send(text);
    sender.client.send(binary);
    sender.client.send('');
    for (const [i, c] of clients.entries()) {
      const [t, tBinary] = await c.messages.next(`broadcast text at client ${i}`);
      assert.equal(tBinary, false);
      assert.equal(asBuffer(t).toString(), text);
      const [b, bBinary] = await c.messages.next(`broadcast binary at client ${i}`);
      assert.equal(bBinary, true);
      assert.deepEqual(asBuffer(b), binary);
      const [e, eBinary] = await c.messages.next(`broadcast empty text at client ${i}`);
      assert.equal(eBinary, false);
      assert.equal(asBuffer(e).length, 0);
    }
    assert.equal(bystander.messages.size, 0, 'a client on another path gets nothing');
    for (const c of [...clients, bystander]) {
      c.client.close();
      await c.closed;
    }
  });
});

describe('ws client -> our server: permessage-deflate negotiation and context takeover', () => {
  let server: WebSocketServer;
  let url: string;

  before(async () => {
    ({ server, url } = await ourServer({
      // Level 9 searches every candidate, so a repeat one message back is always found and the
      // effect of context takeover shows in the frame sizes (level 1 gives up after 4).
      perMessageDeflate: { contextTakeover: true, clientMaxWindowBits: 15, threshold: 0, level: 9 },
    }));
    server.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
  });
  after(() => server.close());

  test("ws's default offer: both report permessage-deflate", { timeout: 20_000 }, async () => {
    const accepted = nextConnection(server);
    const { client, messages, responseHeaders } = await wsClient(url, { perMessageDeflate: true });
    const { conn } = await accepted;
    // ws offers "permessage-deflate; client_max_window_bits"; we answer with our limit.
    assert.equal(conn.extensions, 'permessage-deflate; client_max_window_bits=15');
    assert.equal(responseHeaders['sec-websocket-extensions'], conn.extensions);
    assert.equal(client.extensions, 'permessage-deflate');
    const text = words(10_000, 3);
    client.send(text);
    const [data] = await messages.next('echo');
    assert.equal(asBuffer(data).toString(), text);
    assert.ok(conn.socket.bytesRead < 10_000 / 2, `ws compressed: ${conn.socket.bytesRead} bytes read`);
    assert.ok(conn.socket.bytesWritten < 10_000 / 2, `we compressed: ${conn.socket.bytesWritten} bytes written`);
    client.close();
    await closeOf(client);
  });

  for (const noTakeover of [false, true]) {
    for (let bits = 9; bits <= 15; bits++) {
      const name = `window bits ${bits}, ${noTakeover ? 'server_ and client_no_context_takeover' : 'context takeover'}`;
      test(name, { timeout: 30_000 }, async () => {
        const accepted = nextConnection(server);
        const { client, messages, responseHeaders } = await wsClient(url, {
          perMessageDeflate: {
            serverMaxWindowBits: bits,
            clientMaxWindowBits: bits,
            serverNoContextTakeover: noTakeover,
            clientNoContextTakeover: noTakeover,
            threshold: 0,
          },
        });
        const { conn } = await accepted;
        const expected = ['permessage-deflate', `server_max_window_bits=${bits}`, `client_max_window_bits=${bits}`];
        if (noTakeover) expected.push('server_no_context_takeover', 'client_no_context_takeover');
        assert.deepEqual(extensionParams(conn.extensions), expected.sort());
        assert.deepEqual(extensionParams(responseHeaders['sec-websocket-extensions']), expected);
        assert.equal(client.extensions, 'permessage-deflate');

        // The same message twice, shorter than the window: with context takeover the second
        // is almost all back-references into the first; without, it compresses the same.
        // Random hex: it compresses (4 bits a character) but has no long repeats of its own.
        const short = hexText((1 << bits) - 300);
        const sizes: Array<{ read: number; written: number }> = [];
        for (let i = 0; i < 2; i++) {
          const read = conn.socket.bytesRead;
          const written = conn.socket.bytesWritten;
          client.send(short);
          const [data] = await messages.next(`echo ${i}`);
          assert.equal(asBuffer(data).toString(), short);
          sizes.push({ read: conn.socket.bytesRead - read, written: conn.socket.bytesWritten - written });
        }
        const [first, second] = sizes as [{ read: number; written: number }, { read: number; written: number }];
        assert.ok(first.read < short.length, `ws compressed (${first.read} bytes for ${short.length})`);
        assert.ok(first.written < short.length, `we compressed (${first.written} bytes for ${short.length})`);
        if (noTakeover) {
          // RFC 7692 §7.1.1: each message starts from an empty window, so equal inputs give equal frames.
          assert.equal(second.read, first.read, 'ws reset its context');
          assert.equal(second.written, first.written, 'we reset our context');
        } else {
          assert.ok(second.read < first.read / 2, `ws used context takeover (${second.read} vs ${first.read})`);
          assert.ok(second.written < first.written / 2, `we used context takeover (${second.written} vs ${first.written})`);
        }

        // Then a run of messages, some larger than any window, both types, that only
        // inflate right if both sides slide their windows identically.
        const sent: Array<string | Buffer> = [];
        for (const [i, size] of [1, 700, 40_000, 5, 90_000, 33_000].entries()) {
          const text = words(size, bits * 100 + i);
          sent.push(text, Buffer.from(text.toUpperCase()), randomBytes(size % 2000));
        }
        for (const message of sent) client.send(message);
        for (const [i, message] of sent.entries()) {
          const [data, isBinary] = await messages.next(`echo ${i}`);
          assert.equal(isBinary, typeof message !== 'string');
          assert.ok(typeof message === 'string' ? asBuffer(data).toString() === message : asBuffer(data).equals(message));
        }

        // Compressed fragments: RSV1 on the first frame only (RFC 7692 §6.1).
        client.send(words(3000, 1), { fin: false, compress: true });
        client.send(words(3000, 2), { fin: true, compress: true });
        const [fragmented] = await messages.next('compressed fragments');
        assert.equal(asBuffer(fragmented).toString(), words(3000, 1) + words(3000, 2));
        client.close(1000);
        const [code] = await closeOf<[number]>(client);
        assert.equal(code, 1000);
      });
    }
  }
});

describe('ws client <-> our server: control frames, close codes, subprotocols, errors', () => {
  let server: WebSocketServer;
  let url: string;

  before(async () => {
    ({ server, url } = await ourServer({
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
    }));
  });
  after(() => server.close());

  test('ping/pong with payloads, both ways', { timeout: 20_000 }, async () => {
    const accepted = nextConnection(server);
    const { client } = await wsClient(url);
    const { conn } = await accepted;
    const serverPings = new Inbox<[Buffer]>(conn, 'ping');
    const serverPongs = new Inbox<[Buffer]>(conn, 'pong');
    const clientPings = new Inbox<[Buffer]>(client, 'ping');
    const clientPongs = new Inbox<[Buffer]>(client, 'pong');

    client.ping(Buffer.from('from ws'));
    assert.equal((await serverPings.next('ping at server'))[0].toString(), 'from ws');
    // RFC 6455 §5.5.3: the pong carries the ping's application data.
    assert.equal((await clientPongs.next('pong at ws'))[0].toString(), 'from ws');

    const payload = randomBytes(125);
    conn.ping(payload);
    assert.deepEqual((await clientPings.next('ping at ws'))[0], payload);
    assert.deepEqual((await serverPongs.next('pong at server'))[0], payload);

    client.ping();
    assert.equal((await clientPongs.next('empty pong at ws'))[0].length, 0);

    // An unsolicited pong is reported and otherwise ignored.
    client.pong(Buffer.from('unsolicited'));
    assert.equal((await serverPongs.next('unsolicited pong'))[0].toString(), 'unsolicited');
    assert.equal(conn.readyState, 1);
    client.close();
    await closeOf(client);
  });

  for (const [code, reason] of [
    [1000, 'done'],
    [1001, 'going away'],
    [3000, 'registered'],
    [4999, 'private range, max'],
  ] as const) {
    test(`ws closes with ${code}: our server sees code and reason, both clean`, { timeout: 20_000 }, async () => {
      const accepted = nextConnection(server);
      const { client, closed } = await wsClient(url);
      const { closed: serverClosed } = await accepted;
      client.close(code, reason);
      assert.deepEqual(await serverClosed, [code, reason, true]);
      // RFC 6455 §5.5.1: the endpoint echoes the status code it received.
      const seen = await closed;
      assert.equal(seen.code, code);
      assert.equal(seen.wasClean, true);
    });

    test(`our server closes with ${code}: ws sees code and reason, both clean`, { timeout: 20_000 }, async () => {
      const accepted = nextConnection(server);
      const { client, closed } = await wsClient(url);
      const { conn, closed: serverClosed } = await accepted;
      conn.close(code, reason);
      assert.deepEqual(await closed, { code, reason, wasClean: true });
      const [serverCode, , wasClean] = await serverClosed;
      assert.equal(serverCode, code);
      assert.equal(wasClean, true);
      assert.equal(client.readyState, WsClient.CLOSED);
    });
  }

  test('a close frame without a code is seen as 1005; a dropped TCP connection as 1006, not clean', { timeout: 20_000 }, async () => {
    let accepted = nextConnection(server);
    let ws = await wsClient(url);
    let conn = await accepted;
    ws.client.close();
    assert.deepEqual(await conn.closed, [1005, '', true]);
    assert.equal((await ws.closed).code, 1005);

    accepted = nextConnection(server);
    ws = await wsClient(url);
    conn = await accepted;
    ws.client.terminate();
    assert.deepEqual(await conn.closed, [1006, '', false]);
    assert.equal((await ws.closed).wasClean, false);
  });

  test('server.close() closes every client with 1001', { timeout: 20_000 }, async () => {
    const own = await ourServer();
    const clients = await Promise.all([wsClient(own.url), wsClient(own.url)]);
    await own.server.close();
    for (const c of clients) {
      const seen = await c.closed;
      assert.equal(seen.code, 1001);
      assert.equal(seen.wasClean, true);
    }
  });

  test('a close reason of 123 bytes (the most a close frame holds) goes through; 124 is refused', { timeout: 20_000 }, async () => {
    const accepted = nextConnection(server);
    const { closed } = await wsClient(url);
    const { conn } = await accepted;
    const reason = `${'é'.repeat(60)}abc`; // 123 bytes of UTF-8
    assert.throws(() => conn.close(4000, `${reason}x`), RangeError);
    conn.close(4000, reason);
    assert.deepEqual(await closed, { code: 4000, reason, wasClean: true });
  });

  test('backpressure: with a peer that stops reading, send() says stop, bufferedAmount grows, drain follows', { timeout: 60_000 }, async () => {
    const accepted = nextConnection(server);
    const { client, messages } = await wsClient(url);
    const { conn } = await accepted;
    // bufferedAmount counts a message from the moment send() returns, as in the WebSocket API.
    conn.send('x'.repeat(100));
    assert.ok(conn.bufferedAmount >= 100, `bufferedAmount right after send() is ${conn.bufferedAmount}`);
    assert.equal((await messages.next('small message'))[0].toString(), 'x'.repeat(100));

    client.pause();
    const chunk = Buffer.alloc(MiB, 0x2a);
    let sent = 0;
    // An application that sends while send() returns true must be stopped after a bounded amount.
    while (conn.send(chunk) && sent < 64) sent++;
    sent++;
    assert.ok(sent <= 16, `send() reported backpressure only after ${sent} MiB`);
    // Keep sending regardless: past what the kernel's buffers hold, the rest waits in ours.
    while (sent < 64) {
      conn.send(chunk);
      sent++;
    }
    assert.ok(conn.bufferedAmount > 0, 'bufferedAmount reports what the paused peer has not taken');
    const drained = deadline(nextEvent(conn, 'drain'), "'drain'", 30_000);
    client.resume();
    await drained;
    for (let i = 0; i < sent; i++) {
      const [data] = await messages.next(`message ${i} of ${sent}`, 30_000);
      assert.ok(asBuffer(data).equals(chunk));
    }
    assert.equal(conn.bufferedAmount, 0);
    client.close();
    await closeOf(client);
  });

  test('heartbeat: a ws client answers our pings and stays; one that stops reading is dropped', { timeout: 20_000 }, async () => {
    const own = await ourServer({ heartbeat: { interval: 50, timeout: 150 } });
    try {
      let accepted = nextConnection(own.server);
      const alive = await wsClient(own.url);
      const pings = new Inbox<[Buffer]>(alive.client, 'ping');
      for (let i = 0; i < 3; i++) await pings.next(`heartbeat ping ${i}`);
      assert.equal(alive.client.readyState, WsClient.OPEN);
      await accepted;

      accepted = nextConnection(own.server);
      const silent = await wsClient(own.url);
      const { closed } = await accepted;
      silent.client.pause();
      // No pong can come back: the server terminates the connection.
      assert.deepEqual(await closed, [1006, '', false]);
      silent.client.terminate();
      alive.client.close();
      await alive.closed;
    } finally {
      await own.server.close();
    }
  });

  test('subprotocol: the server picks one of the offered, both report it', { timeout: 20_000 }, async () => {
    let accepted = nextConnection(server);
    const ws = await wsClient(url, {}, ['chat.v1', 'chat.v2']);
    let { conn } = await accepted;
    assert.equal(ws.client.protocol, 'chat.v2');
    assert.equal(conn.protocol, 'chat.v2');
    ws.client.close();
    await ws.closed;

    // None acceptable: we answer without Sec-WebSocket-Protocol. ws then gives up on its own
    // (RFC 6455 §4.1 leaves that choice to the client), after the 101.
    accepted = nextConnection(server);
    const refused = new WsClient(url, ['other'], { perMessageDeflate: false });
    const [error] = await event<[Error]>(refused, 'error').catch((e: unknown) => [e as Error]);
    assert.match(error.message, /no subprotocol/);
    ({ conn } = await accepted);
    assert.equal(conn.protocol, '');
  });

  test('invalid UTF-8 in a text message closes with 1007, and mid-fragment without waiting for the rest', { timeout: 20_000 }, async () => {
    let accepted = nextConnection(server);
    let ws = await wsClient(url);
    let conn = await accepted;
    // ws does not validate what it sends as text.
    ws.client.send(Buffer.from([0x68, 0x69, 0xff]), { binary: false });
    assert.equal((await ws.closed).code, 1007);
    assert.deepEqual(await conn.closed, [1007, 'invalid UTF-8', false]);

    accepted = nextConnection(server);
    ws = await wsClient(url);
    conn = await accepted;
    // RFC 6455 §8.1 fail fast: c0 can never start a valid sequence; the message never finishes.
    ws.client.send(Buffer.from([0x61, 0xc0]), { binary: false, fin: false });
    assert.equal((await ws.closed).code, 1007);
    assert.equal((await conn.closed)[0], 1007);
  });
});

// ---------------------------------------------------------------------------

describe('our client -> ws server', () => {
  let ws: Awaited<ReturnType<typeof wsEchoServer>>;

  before(async () => {
    ws = await wsEchoServer({
      maxPayload: 64 * MiB,
      handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false),
    });
  });
  after(() => closeWsServer(ws.server));

  test('text (ASCII, multi-byte UTF-8, empty) and binary (incl. empty) round-trip with their type', { timeout: 20_000 }, async () => {
    const { client, messages, closed } = await ourClient(ws.url);
    for (const text of TEXTS) {
      client.send(text);
      assert.deepEqual(await messages.next(`echo of ${JSON.stringify(text)}`), [text, false]);
    }
    for (const bytes of BINARIES) {
      client.send(bytes);
      const [data, isBinary] = await messages.next(`echo of ${bytes.length} bytes`);
      assert.equal(isBinary, true);
      assert.deepEqual(data, bytes);
    }
    assert.equal(client.extensions, '');
    client.close(1000, 'bye');
    assert.deepEqual(await closed, [1000, 'bye', true]);
  });

  test('fragmented messages from ws, with a ping between fragments and a character split across frames', { timeout: 20_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { client, messages } = await ourClient(ws.url);
    const [peer] = await connection;
    const pongs = new Inbox<[Buffer]>(peer, 'pong');
    const pings = new Inbox<[Buffer]>(client, 'ping');
    peer.send('Hel', { fin: false });
    peer.ping('between');
    peer.send('lo', { fin: true });
    assert.deepEqual(await messages.next('fragmented text'), ['Hello', false]);
    assert.equal((await pings.next('ping'))[0].toString(), 'between');
    assert.equal((await pongs.next('pong'))[0].toString(), 'between');

    peer.send(Buffer.from([0xf0, 0x9f]), { binary: false, fin: false });
    peer.send(Buffer.from([0x8e, 0x89]), { binary: false, fin: true });
    assert.deepEqual(await messages.next('split emoji'), ['🎉', false]);

    const parts = [randomBytes(10), Buffer.alloc(0), randomBytes(100_000)];
    parts.forEach((part, i) => {
      peer.send(part, { binary: true, fin: i === parts.length - 1 });
    });
    assert.deepEqual(await messages.next('fragmented binary'), [Buffer.concat(parts), true]);
    client.close();
  });

  test('1 MiB and 16 MiB (at the limit) round-trip', { timeout: 60_000 }, async () => {
    const { client, messages } = await ourClient(ws.url);
    for (const size of [MiB, LIMIT]) {
      const bytes = randomBytes(size);
      client.send(bytes);
      const [data, isBinary] = await messages.next(`echo of ${size} bytes`, 30_000);
      assert.equal(isBinary, true);
      assert.ok(Buffer.isBuffer(data) && data.equals(bytes), `echo of ${size} bytes differs`);
    }
    client.close();
  });

  test('ws sends one byte over 16 MiB: our client closes with 1009, ws sees it', { timeout: 60_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { closed, messages } = await ourClient(ws.url);
    const [peer] = await connection;
    const peerClosed = closeOf<[number, Buffer]>(peer, 30_000);
    peer.send(Buffer.alloc(LIMIT + 1));
    const [code] = await peerClosed;
    assert.equal(code, 1009);
    assert.deepEqual(await closed, [1009, 'message too big', false]);
    assert.equal(messages.size, 0);
  });

  test('ws sends invalid UTF-8 as text: our client closes with 1007', { timeout: 20_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { closed } = await ourClient(ws.url);
    const [peer] = await connection;
    const peerClosed = closeOf<[number, Buffer]>(peer);
    peer.send(Buffer.from([0xed, 0xa0, 0x80]), { binary: false }); // a UTF-16 surrogate, invalid in UTF-8
    assert.equal((await peerClosed)[0], 1007);
    assert.deepEqual(await closed, [1007, 'invalid UTF-8', false]);
  });

  test('ping/pong with payloads, both ways', { timeout: 20_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { client } = await ourClient(ws.url);
    const [peer] = await connection;
    const peerPings = new Inbox<[Buffer]>(peer, 'ping');
    const peerPongs = new Inbox<[Buffer]>(peer, 'pong');
    const pings = new Inbox<[Buffer]>(client, 'ping');
    const pongs = new Inbox<[Buffer]>(client, 'pong');

    client.ping('from us');
    assert.equal((await peerPings.next('ping at ws'))[0].toString(), 'from us');
    assert.equal((await pongs.next('pong at us'))[0].toString(), 'from us');

    const payload = randomBytes(125);
    peer.ping(payload);
    assert.deepEqual((await pings.next('ping at us'))[0], payload);
    assert.deepEqual((await peerPongs.next('pong at ws'))[0], payload);
    assert.throws(() => client.ping(Buffer.alloc(126)), RangeError);
    client.close();
  });

  for (const [code, reason] of [
    [1000, 'done'],
    [1001, 'going away'],
    [3000, 'registered'],
    [4999, 'private range, max'],
  ] as const) {
    test(`our client closes with ${code}: ws sees code and reason, both clean`, { timeout: 20_000 }, async () => {
      const connection = nextWsConnection(ws.server);
      const { client, closed } = await ourClient(ws.url);
      const [peer] = await connection;
      const peerClosed = closeOf<[number, Buffer]>(peer);
      client.close(code, reason);
      const [peerCode, peerReason] = await peerClosed;
      assert.equal(peerCode, code);
      assert.equal(peerReason.toString(), reason);
      // ws echoes code and reason.
      assert.deepEqual(await closed, [code, reason, true]);
    });

    test(`ws closes with ${code}: our client sees code and reason, both clean`, { timeout: 20_000 }, async () => {
      const connection = nextWsConnection(ws.server);
      const { closed } = await ourClient(ws.url);
      const [peer] = await connection;
      const peerClosed = deadline(
        new Promise<boolean>((resolve) => {
          peer.addEventListener('close', (e) => resolve(e.wasClean), { once: true });
        }),
        "ws 'close'",
      );
      peer.close(code, reason);
      assert.deepEqual(await closed, [code, reason, true]);
      assert.equal(await peerClosed, true);
    });
  }

  test('ws terminates: our client sees 1006, not clean', { timeout: 20_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { closed } = await ourClient(ws.url);
    const [peer] = await connection;
    peer.terminate();
    assert.deepEqual(await closed, [1006, '', false]);
  });

  test('subprotocol: ws picks one of ours, or none; one we did not offer is refused', { timeout: 20_000 }, async () => {
    const { client } = await ourClient(ws.url, { protocols: ['chat.v1', 'chat.v2'] });
    assert.equal(client.protocol, 'chat.v2');
    client.close();

    // ws picks none: the connection opens without a subprotocol.
    const { client: plain } = await ourClient(ws.url, { protocols: ['other'] });
    assert.equal(plain.protocol, '');
    plain.close();

    // RFC 6455 §4.1 (client step 6): a subprotocol that was not offered fails the connection.
    const rogue = await wsEchoServer({ handleProtocols: () => 'not-offered' });
    try {
      await assert.rejects(connect(rogue.url, { protocols: ['chat.v1'], handshakeTimeout: WAIT }), (error: unknown) => {
        assert.ok(error instanceof HandshakeError);
        return true;
      });
    } finally {
      await closeWsServer(rogue.server);
    }
  });
});

describe('our client -> ws server: permessage-deflate negotiation and context takeover', () => {
  let ws: Awaited<ReturnType<typeof wsEchoServer>>;
  const sentHeaders: string[][] = [];

  before(async () => {
    ws = await wsEchoServer({ perMessageDeflate: { threshold: 0 }, maxPayload: 64 * MiB });
    ws.server.on('headers', (headers) => sentHeaders.push([...headers]));
  });
  after(() => closeWsServer(ws.server));

  function lastExtensionsHeader(): string | undefined {
    const headers = sentHeaders.at(-1) ?? [];
    const line = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-extensions:'));
    return line?.slice(line.indexOf(':') + 1).trim();
  }

  test('our default offer is accepted; compressed both ways; 16 MiB limit applies to inflated size', { timeout: 60_000 }, async () => {
    const connection = nextWsConnection(ws.server);
    const { client, messages, closed } = await ourClient(ws.url, { perMessageDeflate: true });
    const [peer] = await connection;
    assert.equal(peer.extensions, 'permessage-deflate');
    assert.deepEqual(extensionParams(client.extensions), extensionParams(lastExtensionsHeader()));
    assert.ok(client.extensions.startsWith('permessage-deflate'));
    const text = words(50_000, 11);
    client.send(text);
    assert.deepEqual(await messages.next('echo'), [text, false]);
    assert.ok(client.socket.bytesWritten < 25_000, `we compressed: ${client.socket.bytesWritten}`);
    assert.ok(client.socket.bytesRead < 25_000, `ws compressed: ${client.socket.bytesRead}`);
    // A small zip bomb: ~16 KiB on the wire, one byte over the limit once inflated.
    const peerClosed = closeOf<[number, Buffer]>(peer, 30_000);
    peer.send(Buffer.alloc(LIMIT + 1), { compress: true });
    assert.equal((await peerClosed)[0], 1009);
    assert.equal((await closed)[0], 1009);
  });

  for (const noTakeover of [false, true]) {
    for (let bits = 9; bits <= 15; bits++) {
      const name = `window bits ${bits}, ${noTakeover ? 'server_ and client_no_context_takeover' : 'context takeover'}`;
      test(name, { timeout: 30_000 }, async () => {
        const connection = nextWsConnection(ws.server);
        const { client, messages, closed } = await ourClient(ws.url, {
          perMessageDeflate: {
            serverMaxWindowBits: bits,
            clientMaxWindowBits: bits,
            serverNoContextTakeover: noTakeover,
            clientNoContextTakeover: noTakeover,
            contextTakeover: true,
            threshold: 0,
            level: 9,
          },
        });
        await connection;
        const expected = ['permessage-deflate', `server_max_window_bits=${bits}`, `client_max_window_bits=${bits}`];
        if (noTakeover) expected.push('server_no_context_takeover', 'client_no_context_takeover');
        assert.deepEqual(extensionParams(lastExtensionsHeader()), expected.sort());
        assert.deepEqual(extensionParams(client.extensions), expected);

        const short = hexText((1 << bits) - 300);
        const sizes: Array<{ read: number; written: number }> = [];
        for (let i = 0; i < 2; i++) {
          const read = client.socket.bytesRead;
          const written = client.socket.bytesWritten;
          client.send(short);
          assert.deepEqual(await messages.next(`echo ${i}`), [short, false]);
          sizes.push({ read: client.socket.bytesRead - read, written: client.socket.bytesWritten - written });
        }
        const [first, second] = sizes as [{ read: number; written: number }, { read: number; written: number }];
        assert.ok(first.written < short.length, `we compressed (${first.written} bytes for ${short.length})`);
        assert.ok(first.read < short.length, `ws compressed (${first.read} bytes for ${short.length})`);
        if (noTakeover) {
          assert.equal(second.written, first.written, 'we reset our context');
          assert.equal(second.read, first.read, 'ws reset its context');
        } else {
          assert.ok(second.written < first.written / 2, `we used context takeover (${second.written} vs ${first.written})`);
          assert.ok(second.read < first.read / 2, `ws used context takeover (${second.read} vs ${first.read})`);
        }

        const sent: Array<string | Buffer> = [];
        for (const [i, size] of [1, 700, 40_000, 5, 90_000, 33_000].entries()) {
          const text = words(size, bits * 1000 + i);
          sent.push(text, Buffer.from(text.toUpperCase()), randomBytes(size % 2000));
        }
        for (const message of sent) client.send(message);
        for (const [i, message] of sent.entries()) {
          const [data, isBinary] = await messages.next(`echo ${i}`);
          assert.equal(isBinary, typeof message !== 'string');
          assert.ok(typeof message === 'string' ? data === message : Buffer.isBuffer(data) && data.equals(message));
        }
        client.close(1000);
        assert.deepEqual(await closed, [1000, '', true]);
      });
    }
  }
});

// ---------------------------------------------------------------------------
// A raw TCP peer, for the protocol errors neither ws nor a browser will send.

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
/** RFC 6455 §1.3's example key and accept value. */
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** A client frame, masked unless told otherwise (RFC 6455 §5.2), payload under 126 bytes. */
function rawFrame(first: number, payload: Buffer, masked = true): Buffer {
  assert.ok(payload.length < 126);
  const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = masked ? Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!)) : payload;
  return Buffer.concat([Buffer.from([first, (masked ? 0x80 : 0) | payload.length]), masked ? mask : Buffer.alloc(0), body]);
}

/** A raw client after a hand-made handshake: what the server sent after its 101, and its TCP close. */
async function rawOpen(port: number) {
  const socket = net.connect({ host: '127.0.0.1', port });
  await event(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = deadline(nextEvent(socket, 'end'), 'the server to close TCP');
  const headReceived = deadline(
    new Promise<void>((resolve) => {
      const check = () => {
        if (Buffer.concat(chunks).includes('\r\n\r\n')) {
          socket.off('data', check);
          resolve();
        }
      };
      socket.on('data', check);
    }),
    'the 101 response',
  );
  socket.write(
    `GET /raw HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await headReceived;
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf('\r\n\r\n') + 4;
  const head = all.subarray(0, headEnd).toString('latin1');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.match(head, new RegExp(`\r\nsec-websocket-accept: *${ACCEPT.replace(/[+/]/g, '\\$&')}\r\n`, 'i'));
  return { socket, ended, received: () => Buffer.concat(chunks).subarray(headEnd) };
}

/** Handshake by hand, send `frames`, and return what the server sent after its 101 until it closed TCP. */
async function rawExchange(port: number, frames: Buffer[]): Promise<Buffer> {
  const raw = await rawOpen(port);
  for (const frame of frames) raw.socket.write(frame);
  await raw.ended;
  raw.socket.end();
  return raw.received();
}

/** The close frame the server sent: an unmasked FIN close with a 2-byte code and a reason. */
function parseCloseFrame(bytes: Buffer): { code: number; reason: string } {
  assert.equal(bytes[0], 0x88, `expected a close frame, got ${bytes.subarray(0, 8).toString('hex')}`);
  const length = bytes[1]!;
  assert.ok(length >= 2 && length < 126, 'close frame: unmasked, with a code');
  assert.equal(bytes.length, 2 + length, 'nothing after the close frame');
  return { code: bytes.readUInt16BE(2), reason: bytes.subarray(4, 2 + length).toString('utf8') };
}

describe('raw TCP peer -> our server: protocol errors get the right close code, then TCP closes', () => {
  let server: WebSocketServer;
  let port: number;

  before(async () => {
    const own = await ourServer();
    server = own.server;
    port = portOf(server.address());
  });
  after(() => server.close());

  const cases: Array<[string, Buffer[], number, string]> = [
    ['invalid UTF-8 in a text frame', [rawFrame(0x81, Buffer.from([0x68, 0xff]))], 1007, 'invalid UTF-8'],
    // RFC 6455 §8.1: fail fast, the rest of the message never comes.
    ['invalid UTF-8 in a first fragment', [rawFrame(0x01, Buffer.from([0xe2, 0x28]))], 1007, 'invalid UTF-8'],
    ['an unmasked client frame', [rawFrame(0x81, Buffer.from('hi'), false)], 1002, 'frame must be masked'],
    ['reserved opcode 3', [rawFrame(0x83, Buffer.alloc(0))], 1002, 'reserved opcode'],
    ['RSV1 without an extension', [rawFrame(0xc1, Buffer.from('hi'))], 1002, 'reserved bit set'],
    ['a fragmented ping', [rawFrame(0x09, Buffer.alloc(0))], 1002, 'fragmented control frame'],
    ['a continuation with no message', [rawFrame(0x80, Buffer.from('x'))], 1002, 'unexpected continuation frame'],
    [
      'a new message inside a fragmented one',
      [rawFrame(0x01, Buffer.from('a')), rawFrame(0x81, Buffer.from('b'))],
      1002,
      'expected continuation frame',
    ],
    ['close code 1005 on the wire', [rawFrame(0x88, Buffer.from([0x03, 0xed]))], 1002, 'invalid close code'],
    ['a 1-byte close payload', [rawFrame(0x88, Buffer.from([0x03]))], 1002, 'invalid close payload'],
    ['a close reason that is not UTF-8', [rawFrame(0x88, Buffer.from([0x03, 0xe8, 0xff]))], 1007, 'invalid close reason'],
  ];
  for (const [name, frames, code, reason] of cases) {
    test(`${name} -> ${code}`, { timeout: 10_000 }, async () => {
      const closed = nextConnection(server).then((c) => c.closed);
      const reply = await rawExchange(port, frames);
      assert.deepEqual(parseCloseFrame(reply), { code, reason });
      const [serverCode, , wasClean] = await closed;
      assert.equal(serverCode, code);
      assert.equal(wasClean, false);
    });
  }

  test('a peer that never answers our close frame is dropped after closeTimeout: 1006, not clean', { timeout: 10_000 }, async () => {
    const own = await ourServer({ closeTimeout: 200 });
    try {
      const accepted = nextConnection(own.server);
      const raw = await rawOpen(portOf(own.server.address()));
      const { conn, closed } = await accepted;
      conn.close(4000, 'bye');
      // RFC 6455 §7.1.1: the server closes TCP itself when the peer does not finish the handshake.
      await raw.ended;
      assert.deepEqual(await closed, [1006, '', false]);
      assert.deepEqual(raw.received(), Buffer.concat([Buffer.from([0x88, 5, 0x0f, 0xa0]), Buffer.from('bye')]));
      raw.socket.destroy();
    } finally {
      await own.server.close();
    }
  });

  test('a ping gets its pong, a valid close its echo, and the server closes TCP', { timeout: 10_000 }, async () => {
    const reply = await rawExchange(port, [
      rawFrame(0x89, Buffer.from('raw ping')),
      rawFrame(0x88, Buffer.concat([Buffer.from([0x0f, 0xa0]), Buffer.from('bye')])),
    ]);
    assert.deepEqual(reply.subarray(0, 10), Buffer.concat([Buffer.from([0x8a, 8]), Buffer.from('raw ping')]));
    // RFC 6455 §5.5.1: the reply echoes the status code (4000).
    assert.deepEqual(reply.subarray(10), Buffer.from([0x88, 0x02, 0x0f, 0xa0]));
  });
});

/** A hand-written server: answers the handshake, then sends `afterHandshake` (same write) and, on our first frame, `onFirstFrame`. */
async function rawServer(options: { afterHandshake?: Buffer; onFirstFrame?: Buffer }) {
  const received: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    let head = Buffer.alloc(0);
    let open = false;
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (open) {
        received.push(chunk);
        if (received.length === 1 && options.onFirstFrame) socket.write(options.onFirstFrame);
        // A masked client close frame (RFC 6455 §5.5.1): the server then closes TCP.
        if (Buffer.concat(received).includes(0x88)) socket.end();
        return;
      }
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      open = true;
      const key = /\r\nsec-websocket-key: *(\S+)/i.exec(head.toString('latin1'))?.[1] ?? '';
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      const response = Buffer.from(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // One write: the frames reach the client in the same TCP segment as the 101.
      socket.write(Buffer.concat([response, options.afterHandshake ?? Buffer.alloc(0)]));
      if (head.length > end + 4) socket.emit('data', head.subarray(end + 4));
    });
  });
  server.listen(0, '127.0.0.1');
  await event(server, 'listening');
  return {
    url: `ws://127.0.0.1:${portOf(server.address())}/`,
    /** The client's frames, unmasked, as [first byte, payload]. */
    frames: () => unmaskClientFrames(Buffer.concat(received)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Split and unmask client frames (payloads under 126 bytes). */
function unmaskClientFrames(bytes: Buffer): Array<[number, Buffer]> {
  const frames: Array<[number, Buffer]> = [];
  let at = 0;
  while (at + 6 <= bytes.length) {
    const first = bytes[at]!;
    const second = bytes[at + 1]!;
    assert.ok(second & 0x80, 'client frames are masked (RFC 6455 §5.3)');
    const length = second & 0x7f;
    assert.ok(length < 126);
    const mask = bytes.subarray(at + 2, at + 6);
    const payload = Buffer.from(bytes.subarray(at + 6, at + 6 + length).map((b, i) => b ^ mask[i % 4]!));
    frames.push([first, payload]);
    at += 6 + length;
  }
  return frames;
}

describe('raw TCP server -> our client', () => {
  test('a message in the same TCP segment as the 101 reaches the application', { timeout: 10_000 }, async () => {
    const server = await rawServer({ afterHandshake: Buffer.concat([Buffer.from([0x81, 7]), Buffer.from('welcome')]) });
    try {
      const client = await connect(server.url, { handshakeTimeout: WAIT });
      // Servers commonly greet right after the 101 (a chat's welcome line); the message
      // must not be emitted before the caller of connect() could attach a listener.
      const [data, isBinary] = await deadline(nextEvent<[string | Buffer, boolean]>(client, 'message'), 'the welcome message', 2000);
      assert.equal(data, 'welcome');
      assert.equal(isBinary, false);
      client.terminate();
    } finally {
      await server.close();
    }
  });

  const cases: Array<[string, Buffer, number, string]> = [
    ['a masked server frame', Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x69 ^ 1, 0x69 ^ 2]), 1002, 'frame must not be masked'],
    ['RSV2 set', Buffer.from([0xa1, 0x01, 0x61]), 1002, 'reserved bit set'],
    ['a 126-byte ping', Buffer.concat([Buffer.from([0x89, 126, 0, 126]), Buffer.alloc(126)]), 1002, 'control frame too long'],
    ['invalid UTF-8', Buffer.from([0x81, 0x02, 0xc3, 0x28]), 1007, 'invalid UTF-8'],
  ];
  for (const [name, bytes, code, reason] of cases) {
    test(`${name} -> our client sends close ${code} and reports it`, { timeout: 10_000 }, async () => {
      const server = await rawServer({ onFirstFrame: bytes });
      try {
        const { client, closed } = await ourClient(server.url);
        client.send('go');
        assert.deepEqual(await closed, [code, reason, false]);
        const frames = server.frames();
        assert.equal(frames.length, 2, 'our "go", then the close frame');
        const [first, payload] = frames[1]!;
        assert.equal(first, 0x88);
        assert.equal(payload.readUInt16BE(0), code);
        assert.equal(payload.subarray(2).toString(), reason);
      } finally {
        await server.close();
      }
    });
  }
});
