/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core)
 * against our server: a plain node:http server serves the page
 * (pages/websocket.html) and hands upgrades to our WebSocketServer. The
 * page's functions run the browser's WebSocket and report what it saw; we
 * assert that and what our server saw.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type WebSocket, WebSocketServer } from '../../src/websocket/index.js';
import { assertPeer, CHROMIUM, findChromium, peerSkip } from '../support/peers.js';

const PAGE = readFileSync(new URL('./pages/websocket.html', import.meta.url));
const MiB = 1024 * 1024;

interface CloseInfo {
  code: number;
  reason: string;
  wasClean: boolean;
}
interface Echoed {
  type: string;
  same: boolean;
  length?: number;
}
/** The functions pages/websocket.html puts on window.wsTest. */
interface PageApi {
  echo(path: string): Promise<{ results: Record<string, Echoed>; extensions: string; protocol: string; close: CloseInfo }>;
  large(path: string): Promise<{ binary: Echoed; text: Echoed; extensions: string; close: CloseInfo }>;
  sendAndAwaitClose(path: string, message: string): Promise<CloseInfo>;
  sendZeros(path: string, size: number): Promise<CloseInfo>;
  closeWith(path: string, code: number, reason: string): Promise<CloseInfo>;
  request(path: string, message: string): Promise<string>;
  subprotocol(path: string, protocols: string[]): Promise<string>;
}
type Api = { wsTest: PageApi };

/** What our server saw of one connection. */
interface Seen {
  conn: WebSocket;
  origin: string | undefined;
  closed: Promise<[code: number, reason: string, wasClean: boolean]>;
}

/** `promise`, or a rejection naming `what` after `ms`: a hung browser fails the test. */
async function within<T>(promise: Promise<T>, what: string, ms = 20_000): Promise<T> {
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

const browserPeer = findChromium();

describe('headless Chromium -> our server', { skip: peerSkip(browserPeer) }, () => {
  let http: Server;
  let wss: WebSocketServer;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  const seen = new Map<string, Seen[]>();

  before(async () => {
    assertPeer(browserPeer);
    console.log(`# peer: ${CHROMIUM}, ${browserPeer.detail}`);
    http = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(PAGE);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
      }
    });
    wss = new WebSocketServer({
      server: http,
      perMessageDeflate: true,
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
      accept: (info) => info.origin === origin,
    });
    wss.on('connection', (conn, request) => {
      const closed = new Promise<[number, string, boolean]>((resolve) => {
        conn.once('close', (code, reason, wasClean) => resolve([code, reason, wasClean]));
      });
      const list = seen.get(request.path) ?? [];
      list.push({ conn, origin: request.origin, closed });
      seen.set(request.path, list);
      conn.on('message', (data, isBinary) => {
        if (!isBinary && data === 'close-me') conn.close(4001, 'bye');
        else if (!isBinary && data === 'ping-me') conn.ping('srv-ping');
        else conn.send(data);
      });
      conn.on('pong', (payload) => conn.send(`pong:${payload.toString()}`));
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
    page = await browser.newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`${origin}/`);
  });

  after(async () => {
    await browser?.close();
    await wss?.close();
    http?.closeAllConnections();
    await new Promise<void>((resolve) => (http ? http.close(() => resolve()) : resolve()));
  });

  function only(path: string): Seen {
    const list = seen.get(path);
    assert.equal(list?.length, 1, `one connection on ${path}`);
    return list![0]!;
  }

  test('text, multi-byte, empty, binary ArrayBuffer: each comes back with its type; compression negotiated', { timeout: 30_000 }, async () => {
    const result = await within(
      page.evaluate((path) => (globalThis as unknown as Api).wsTest.echo(path), '/echo'),
      'the page',
    );
    assert.deepEqual(result.results, {
      text: { type: 'string', same: true },
      multibyte: { type: 'string', same: true },
      'empty text': { type: 'string', same: true },
      binary: { type: 'ArrayBuffer', same: true },
      'empty binary': { type: 'ArrayBuffer', same: true },
    });
    // Chromium offers "permessage-deflate; client_max_window_bits"; we accept without parameters.
    assert.equal(result.extensions, 'permessage-deflate');
    const conn = only('/echo');
    assert.equal(conn.conn.extensions, 'permessage-deflate');
    assert.equal(conn.origin, origin, 'the browser sent its Origin');
    assert.equal(result.protocol, '');
    assert.deepEqual(result.close, { code: 1000, reason: '', wasClean: true });
    assert.deepEqual(await within(conn.closed, 'close at the server'), [1000, '', true]);
  });

  test('1 MiB binary and 1 MiB text round-trip, compressed on the wire', { timeout: 60_000 }, async () => {
    const result = await within(
      page.evaluate((path) => (globalThis as unknown as Api).wsTest.large(path), '/large'),
      'the page',
      50_000,
    );
    assert.deepEqual(result.binary, { type: 'ArrayBuffer', length: MiB, same: true });
    assert.deepEqual(result.text, { type: 'string', length: MiB, same: true });
    assert.equal(result.extensions, 'permessage-deflate');
    assert.equal(result.close.code, 1000);
    const conn = only('/large');
    // 1 MiB random + 1 MiB of compressible text: compressed, both ways.
    assert.ok(conn.conn.socket.bytesRead < 1.5 * MiB, `bytes read: ${conn.conn.socket.bytesRead}`);
    assert.ok(conn.conn.socket.bytesWritten < 1.5 * MiB, `bytes written: ${conn.conn.socket.bytesWritten}`);
  });

  test('our server closes with 4001 "bye": the page sees code, reason, wasClean', { timeout: 30_000 }, async () => {
    const close = await within(
      page.evaluate((path) => (globalThis as unknown as Api).wsTest.sendAndAwaitClose(path, 'close-me'), '/server-close'),
      'the page',
    );
    assert.deepEqual(close, { code: 4001, reason: 'bye', wasClean: true });
    assert.deepEqual(await within(only('/server-close').closed, 'close at the server'), [4001, 'bye', true]);
  });

  test('the page closes with 4002 and a reason: our server sees both', { timeout: 30_000 }, async () => {
    const close = await within(
      page.evaluate(([path, code, reason]) => (globalThis as unknown as Api).wsTest.closeWith(path, code, reason), [
        '/page-close',
        4002,
        'page bye é',
      ] as const),
      'the page',
    );
    assert.equal(close.code, 4002);
    assert.equal(close.wasClean, true);
    assert.deepEqual(await within(only('/page-close').closed, 'close at the server'), [4002, 'page bye é', true]);
  });

  test('a message over 16 MiB: the page sees 1009', { timeout: 60_000 }, async () => {
    const close = await within(
      page.evaluate(([path, size]) => (globalThis as unknown as Api).wsTest.sendZeros(path, size), ['/too-big', 16 * MiB + 1] as const),
      'the page',
      50_000,
    );
    assert.equal(close.code, 1009);
    assert.equal(close.reason, 'message too big');
    const [code, , wasClean] = await within(only('/too-big').closed, 'close at the server');
    assert.equal(code, 1009);
    assert.equal(wasClean, false);
  });

  test('the browser answers our ping with the same payload', { timeout: 30_000 }, async () => {
    const reply = await within(
      page.evaluate((path) => (globalThis as unknown as Api).wsTest.request(path, 'ping-me'), '/ping'),
      'the page',
    );
    assert.equal(reply, 'pong:srv-ping');
  });

  test('subprotocol: we pick chat.v2 from the page\'s list', { timeout: 30_000 }, async () => {
    const protocol = await within(
      page.evaluate(([path, protocols]) => (globalThis as unknown as Api).wsTest.subprotocol(path, [...protocols]), [
        '/subprotocol',
        ['chat.v1', 'chat.v2'],
      ] as const),
      'the page',
    );
    assert.equal(protocol, 'chat.v2');
    assert.equal(only('/subprotocol').conn.protocol, 'chat.v2');
  });
});
