/**
 * Issue 12 §4 in Debian's headless Chromium: a page behind a proxy that
 * refuses WebSocket upgrades (and buffers every response whole, as filtering
 * proxies do) falls back to the HTTP door by itself, says so next to its
 * connection status, chats with a member on WebSocket, comes back by itself
 * after a server restart (SQLite keeps the room and the seats), and returns
 * to WebSocket once upgrades get through, without anyone seeing it leave.
 *
 * The page's clock is Playwright's (installed before it loads, running
 * normally): `fastForward` stands for a minute passing, as when a laptop lid
 * is closed and opened, so the periodic WebSocket probe comes without the
 * test waiting a real minute.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type ChatServer, type ChatServerOptions, startChatServer } from '../../src/chat/server.js';
import { assertPeer, findChromium, peerSkip } from '../support/peers.js';
import { buildWeb, launchChromium } from './support/browser.js';
import { ChatTab, type LogEntry } from './support/chat-tab.js';
import { UpgradeBlockingProxy } from './support/upgrade-proxy.js';

/** Long enough that a restart never shows anyone leaving. */
const GRACE_MS = 60_000;
/** Falling back, reconnecting after a restart: jittered backoffs, bounded generously. */
const SLOW_MS = 40_000;

const chromiumPeer = findChromium();

/** Seqs shown are strictly increasing: nothing twice, nothing out of order. */
function assertInOrder(log: LogEntry[], label: string): void {
  const seqs = log.flatMap((entry) => (entry.seq === null ? [] : [entry.seq]));
  for (let i = 1; i < seqs.length; i++) {
    assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), `${label}: seq ${seqs[i]} after ${seqs[i - 1]} in ${seqs.join(',')}`);
  }
}

function lines(log: LogEntry[]): string[] {
  return log.filter((e) => e.type === 'message').map((e) => `${e.nick}: ${e.text}`);
}

describe('the HTTP fallback in headless Chromium', { skip: peerSkip(chromiumPeer) }, () => {
  let browser: Browser;
  let workDir: string;
  let webRoot: string;
  let server: ChatServer | null = null;
  let proxy: UpgradeBlockingProxy | null = null;
  const contexts: BrowserContext[] = [];

  async function serve(options: ChatServerOptions): Promise<ChatServer> {
    server = await startChatServer({ host: '127.0.0.1', console: null, webRoot, ...options, hub: { graceMs: GRACE_MS } });
    return server;
  }

  async function person(): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    context.setDefaultTimeout(15_000);
    contexts.push(context);
    return context;
  }

  before(async () => {
    assertPeer(chromiumPeer);
    workDir = await mkdtemp(join(tmpdir(), 'wschat-e2e-fallback-'));
    webRoot = join(workDir, 'web');
    await buildWeb(webRoot);
    browser = await launchChromium();
  }, { timeout: 90_000 });

  after(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await browser?.close();
    await proxy?.close();
    await server?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('WebSockets refused: the page falls back, chats, survives a restart, and returns to WebSocket', { timeout: 180_000 }, async () => {
    const dataDir = join(workDir, 'data');
    await mkdir(dataDir);
    let running = await serve({ port: 0, dataDir });
    const port = running.port;
    proxy = await UpgradeBlockingProxy.start(port);
    const room = 'fallback';

    // alice is behind the proxy; bob reaches the server directly.
    const aliceContext = await person();
    await aliceContext.clock.install();
    const alice = await ChatTab.open(aliceContext, proxy.url, room, 'alice (behind the proxy)');
    await alice.submitNick('alice');
    await alice.waitForStatus('online', SLOW_MS);
    const aliceTransport = alice.page.locator('#status #transport');
    await alice.page.locator('#transport[data-transport="http"]').waitFor({ timeout: SLOW_MS });
    assert.equal(await aliceTransport.textContent(), 'HTTP');
    assert.match((await aliceTransport.getAttribute('title')) ?? '', /WebSockets do not get through/);
    assert.ok(proxy.refused >= 2, `the proxy refused the upgrades (${proxy.refused})`);
    assert.equal(proxy.tunnelled, 0);

    const bob = await ChatTab.open(await person(), running.url, room, 'bob (direct)');
    await bob.join('bob');
    await bob.page.locator('#transport[data-transport="websocket"]').waitFor();
    assert.equal(await bob.page.locator('#transport').textContent(), 'WS');

    await alice.send('hello from behind the proxy');
    await bob.waitForMessage('alice', 'hello from behind the proxy');
    await bob.send('hello over WebSocket');
    await alice.waitForMessage('bob', 'hello over WebSocket');
    await alice.waitForMembers(['alice', 'bob']);
    await alice.waitForNothingPending();

    // A restart on the same port and data directory, while alice is on HTTP.
    await running.close();
    await alice.waitForStatus('offline', SLOW_MS);
    await alice.send('written while the server was down');
    running = await serve({ port, dataDir });
    await alice.waitForStatus('online', SLOW_MS);
    await bob.waitForStatus('online', SLOW_MS);
    await bob.waitForMessage('alice', 'written while the server was down', SLOW_MS);
    await alice.waitForMessage('alice', 'written while the server was down');
    assert.equal(await aliceTransport.getAttribute('data-transport'), 'http', 'still on HTTP: WebSockets are still refused');
    await bob.send('after the restart');
    await alice.waitForMessage('bob', 'after the restart');
    await alice.waitForNothingPending();

    // Upgrades get through again; a minute later the page is back on WebSocket by itself.
    proxy.blockUpgrades = false;
    await alice.page.clock.fastForward(61_000);
    await alice.page.locator('#transport[data-transport="websocket"]').waitFor({ timeout: SLOW_MS });
    assert.ok(proxy.tunnelled >= 2, `a probe and the session went through the proxy (${proxy.tunnelled})`);
    await alice.waitForStatus('online', SLOW_MS);
    await alice.send('back on WebSocket');
    await bob.waitForMessage('alice', 'back on WebSocket');
    await alice.waitForNothingPending();

    const expected = [
      'alice: hello from behind the proxy',
      'bob: hello over WebSocket',
      'alice: written while the server was down',
      'bob: after the restart',
      'alice: back on WebSocket',
    ];
    for (const tab of [alice, bob]) {
      const log = await tab.log();
      assertInOrder(log, tab.label);
      assert.deepEqual(lines(log), expected, `${tab.label}: every line once, in order`);
      // A restart and a change of transport are not a departure.
      assert.ok(!log.some((e) => e.type === 'notice' && /left/.test(e.text ?? '')), `${tab.label}: nobody left`);
      tab.watch.assertClean();
    }
    await alice.waitForMembers(['alice', 'bob']);
    await running.close();
    server = null;
  });
});
