/**
 * WebSockets over HTTP/2 (RFC 8441) in headless Chromium: the page is served
 * over HTTPS + HTTP/2 by `http2.createSecureServer({ allowHTTP1: true })` with
 * our WebSocketServer attached; the page's WebSockets must then go over
 * extended CONNECT streams of the same TLS connection, which the server side
 * asserts (method CONNECT, `:protocol` websocket, HTTP/2 stream transport).
 * Chromium is started with --ignore-certificate-errors for the test's
 * self-signed certificate (test/support/tls.ts).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { type ValidatedRequest, type WebSocket, WebSocketServer } from '../../src/websocket/index.js';
import { assertPeer, CHROMIUM, findChromium, peerSkip } from '../support/peers.js';
import { selfSignedCertificate } from '../support/tls.js';
import { CHROMIUM_ARGS } from './support/browser.js';

const browserPeer = findChromium();

/** The page: `run(base)` opens two WebSockets at once, echoes text, binary and 600 KB of text on each, closes them. */
const PAGE = `<!doctype html><meta charset="utf-8"><title>RFC 8441</title><script>
window.run = async (base) => {
  const open = (path) => new Promise((resolve, reject) => {
    const ws = new WebSocket(base + path, ['chat.v2']);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(path + ' failed'));
  });
  const next = (ws) => new Promise((resolve) => ws.addEventListener('message', (e) => resolve(e.data), { once: true }));
  const sockets = await Promise.all([open('/ws/a'), open('/ws/b')]);
  const out = [];
  for (const [i, ws] of sockets.entries()) {
    let reply = next(ws);
    ws.send('h\u00e9llo ' + i + ' \u{1F30D}');
    const text = String(await reply);
    reply = next(ws);
    ws.send(new Uint8Array([i, 255, 0]));
    const binary = [...new Uint8Array(await reply)];
    reply = next(ws);
    ws.send('compress me '.repeat(50000));
    const big = String(await reply).length;
    out.push({ text, binary, extensions: ws.extensions, protocol: ws.protocol, big });
    ws.close(1000);
  }
  return out;
};
</script>`;

interface PageResult {
  text: string;
  binary: number[];
  extensions: string;
  protocol: string;
  big: number;
}

describe('headless Chromium: WebSockets over HTTP/2 (RFC 8441)', { skip: peerSkip(browserPeer) }, () => {
  let server: http2.Http2SecureServer;
  let wss: WebSocketServer;
  let browser: Browser | undefined;
  let page: Page;
  let origin: string;
  const pageRequests: string[] = [];
  const seen: Array<{ ws: WebSocket; request: ValidatedRequest }> = [];

  before(async () => {
    assertPeer(browserPeer);
    const { cert, key } = selfSignedCertificate();
    server = http2.createSecureServer({ cert, key, allowHTTP1: true, settings: { enableConnectProtocol: true } }, (req, res) => {
      pageRequests.push(`${req.httpVersion} ${req.url}`);
      res.writeHead(req.url === '/' ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    });
    wss = new WebSocketServer({
      server,
      perMessageDeflate: true,
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : null),
    });
    wss.on('connection', (ws, request) => {
      seen.push({ ws, request });
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `https://localhost:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [...CHROMIUM_ARGS, '--ignore-certificate-errors'],
      timeout: 30_000,
    });
    page = await browser.newPage({ ignoreHTTPSErrors: true });
    page.setDefaultTimeout(20_000);
    await page.goto(`${origin}/`);
  });

  after(async () => {
    await browser?.close();
    await wss?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  test('the page came over HTTP/2; its WebSockets are extended CONNECT streams on that connection', { timeout: 30_000 }, async () => {
    assert.ok(pageRequests.includes('2.0 /'), `page requests: ${pageRequests.join(', ')}`);
    const results = await page.evaluate(
      (base) => (globalThis as unknown as { run(base: string): Promise<PageResult[]> }).run(base),
      origin.replace('https:', 'wss:'),
    );

    assert.deepEqual(
      results.map((r) => [r.text, r.binary, r.protocol, r.big]),
      [
        ['héllo 0 🌍', [0, 255, 0], 'chat.v2', 600_000],
        ['héllo 1 🌍', [1, 255, 0], 'chat.v2', 600_000],
      ],
    );
    for (const r of results) assert.match(r.extensions, /permessage-deflate/);

    // What the server saw: RFC 8441 streams, not HTTP/1.1 upgrades.
    const sockets = seen.filter((s) => s.request.path.startsWith('/ws/'));
    assert.equal(sockets.length, 2);
    for (const { ws, request } of sockets) {
      assert.equal(request.httpVersion, '2.0');
      assert.equal(request.method, 'CONNECT');
      assert.equal(request.headers.get(':protocol'), 'websocket');
      assert.equal(request.headers.get(':scheme'), 'https');
      assert.equal(request.key, '', 'no Sec-WebSocket-Key over HTTP/2');
      assert.equal(request.origin, origin);
      assert.equal(ws.transport.constructor.name, 'ServerHttp2Stream');
      assert.match(ws.extensions, /^permessage-deflate/);
    }
    // One TLS connection carries both.
    assert.equal(new Set(sockets.map((s) => s.ws.socket)).size, 1);
  });
});
