/**
 * The chat served with `--http2` (issue 10, section 4): headless Chromium
 * loads the web client over HTTPS + HTTP/2 and must then open its WebSocket
 * as an RFC 8441 extended CONNECT stream of that same connection, which the
 * server side asserts; an HTTP/1.1 client (the terminal client's Node stack)
 * still joins the same room by an ordinary upgrade on the same port.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { type ChatServer, startChatServer } from '../../src/chat/server.js';
import type { ValidatedRequest } from '../../src/websocket/index.js';
import { JsonClient } from '../chat/support/clients.js';
import { assertPeer, findChromium, peerSkip } from '../support/peers.js';
import { selfSignedCertificate } from '../support/tls.js';
import { buildWeb, launchChromium } from './support/browser.js';
import { ChatTab } from './support/chat-tab.js';

const chromiumPeer = findChromium();

describe('the chat over HTTP/2 (--http2) in headless Chromium', { skip: peerSkip(chromiumPeer) }, () => {
  let browser: Browser;
  let server: ChatServer;
  let webRoot: string;
  const certificate = selfSignedCertificate();
  const handshakes: ValidatedRequest[] = [];

  before(async () => {
    assertPeer(chromiumPeer);
    webRoot = await mkdtemp(join(tmpdir(), 'wschat-http2-web-'));
    await buildWeb(webRoot);
    server = await startChatServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: null,
      console: null,
      webRoot,
      tls: certificate,
      http2: true,
    });
    server.websocket.on('connection', (_ws, request) => handshakes.push(request));
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  test('the page comes over HTTP/2 and its WebSocket is an extended CONNECT stream; HTTP/1.1 clients share the room', { timeout: 60_000 }, async () => {
    const base = `https://localhost:${server.port}`;
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    try {
      const tab = await ChatTab.open(context, base, 'h2', 'alice');
      const version = await tab.page.evaluate(() => {
        const nav = (globalThis as unknown as { performance: { getEntriesByType(t: string): { nextHopProtocol: string }[] } }).performance;
        return nav.getEntriesByType('navigation')[0]?.nextHopProtocol ?? '';
      });
      assert.equal(version, 'h2', 'the page was loaded over HTTP/2');
      await tab.join('alice');
      const streams = handshakes.filter((r) => r.path === '/r/h2');
      assert.equal(streams.length, 1);
      assert.equal(streams[0]!.httpVersion, '2.0');
      assert.equal(streams[0]!.method, 'CONNECT');
      assert.equal(streams[0]!.headers.get(':protocol'), 'websocket');

      // The terminal client's stack speaks HTTP/1.1 to the same port.
      const bob = await JsonClient.open(`wss://localhost:${server.port}/r/h2`, { tls: { ca: certificate.cert } });
      await bob.join('bob');
      assert.equal(handshakes.at(-1)?.httpVersion, '1.1');
      await tab.send('hello over h2');
      assert.equal((await bob.expect('message', (m) => m.text === 'hello over h2')).nick, 'alice');
      await bob.say('and back over 1.1');
      await tab.waitForMessage('bob', 'and back over 1.1');
      tab.watch.assertClean();
      await bob.close();
    } finally {
      await context.close();
    }
  });
});
