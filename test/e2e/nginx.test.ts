/**
 * The front door of a real deployment (issue 9, section 4): nginx from
 * docs/deploy.md terminating TLS and proxying a sub-path to several wschat
 * nodes on Redis. Headless Chromium chats over wss:// through it; a node
 * killed behind it makes its clients reconnect through nginx to another node
 * and resume without loss. Also the one-node configuration at the root.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { nodeSocketFactory } from '../../src/client/node-socket.js';
import { JsonClient, within } from '../chat/support/clients.js';
import { type ChatNode, RecordingSession, startNode, stopNodes } from '../chat/support/nodes.js';
import { startServeProcess, stopProcess } from '../chat/support/server-process.js';
import { documentedConfig, type Nginx, startNginx } from '../support/nginx.js';
import { assertPeer, findChromium, findNginx, findRedis, peerSkip } from '../support/peers.js';
import { freePort, type RedisServer, startRedis } from '../support/redis.js';
import { selfSignedCertificate } from '../support/tls.js';
import { buildWeb, launchChromium, ROOT } from './support/browser.js';
import { ChatTab } from './support/chat-tab.js';

const peers = [findChromium(), findRedis(), findNginx()];
const skip = peers.map(peerSkip).find((reason) => reason !== false) ?? false;
const T = { timeout: 120_000 };

describe('behind nginx: TLS, /chat/, three nodes on Redis', { skip }, () => {
  let browser: Browser;
  let redis: RedisServer;
  let nginx: Nginx;
  let nodes: ChatNode[] = [];
  let port: number;
  const certificate = selfSignedCertificate();

  before(async () => {
    for (const peer of peers) assertPeer(peer);
    // The nodes serve the built web client (npm test builds it first).
    if (!existsSync(join(ROOT, 'dist/web/index.html'))) await buildWeb(join(ROOT, 'dist/web'));
    redis = await startRedis();
    port = await freePort();
    nodes = await Promise.all(
      ['a', 'b', 'c'].map((name) => startNode(name, redis.url, ['--base-path', '/chat', '--allowed-origin', `https://localhost:${port}`])),
    );
    nginx = await startNginx({
      site: documentedConfig('several nodes, TLS, under /chat/'),
      port,
      certificate,
      replace: [
        ['server 127.0.0.1:8081 ', `server 127.0.0.1:${nodes[0]!.port} `],
        ['server 127.0.0.1:8082 ', `server 127.0.0.1:${nodes[1]!.port} `],
        ['server 127.0.0.1:8083 ', `server 127.0.0.1:${nodes[2]!.port} `],
        ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
        ['server_name chat.example.com;', 'server_name localhost;'],
        ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', '{prefix}/cert.pem'],
        ['/etc/letsencrypt/live/chat.example.com/privkey.pem', '{prefix}/key.pem'],
      ],
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await stopNodes(nodes);
    await redis?.stop();
  });

  test('Chromium chats over wss:// through nginx under /chat/', T, async () => {
    const base = `https://localhost:${port}/chat`;
    const sockets: string[] = [];
    const contexts = await Promise.all([0, 1].map(() => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 700 } })));
    try {
      const [alice, bob] = await Promise.all(contexts.map((c, i) => ChatTab.open(c, base, 'front-door', i === 0 ? 'alice' : 'bob')));
      alice!.page.on('websocket', (ws) => sockets.push(ws.url()));
      // The tabs opened before the listener: reload alice's so its socket is seen.
      await alice!.page.reload();
      await alice!.join('alice');
      await bob!.join('bob');
      await alice!.send('hello through nginx');
      await bob!.waitForMessage('alice', 'hello through nginx');
      await bob!.send('and back');
      await alice!.waitForMessage('bob', 'and back');
      assert.ok(sockets.length > 0 && sockets.every((u) => u === `wss://localhost:${port}/chat/r/front-door`), sockets.join(', '));
      // The landing page's links stay under the prefix.
      const landing = await contexts[0]!.newPage();
      await landing.goto(`${base}/`);
      await landing.click('#new-room');
      await landing.waitForURL(new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/r/[A-Za-z0-9_-]{16}$`));
      alice!.watch.assertClean();
      bob!.watch.assertClean();
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
  });

  test('a room named in Korean through nginx: the page, wss:// and the HTTP door, percent-encoded UTF-8 passed on as sent', T, async () => {
    const room = '우리방';
    const encoded = encodeURIComponent(room);
    const base = `https://localhost:${port}/chat`;
    const sockets: string[] = [];
    const contexts = await Promise.all([0, 1].map(() => browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1000, height: 700 } })));
    try {
      contexts[0]!.on('page', (page) => page.on('websocket', (ws) => sockets.push(ws.url())));
      const [a, b] = await Promise.all(contexts.map((c, i) => ChatTab.open(c, base, encoded, i === 0 ? '지영' : '철수')));
      await a!.join('지영');
      await b!.join('철수');
      assert.equal(await a!.page.textContent('#room-title'), room);
      await a!.send('nginx를 통해 안녕하세요');
      await b!.waitForMessage('지영', 'nginx를 통해 안녕하세요');
      assert.ok(sockets.length > 0 && sockets.every((u) => u === `wss://localhost:${port}/chat/r/${encoded}`), sockets.join(', '));
      a!.watch.assertClean();
      b!.watch.assertClean();
    } finally {
      await Promise.all(contexts.map((c) => c.close()));
    }
    // The HTTP door's location (a regular expression nginx matches on the decoded path) takes the name too.
    const opened = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, method: 'POST', path: `/chat/r/${encoded}/http`, servername: 'localhost', ca: certificate.cert, headers: { host: `localhost:${port}` } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(opened.status, 201, opened.body);
  });

  test('the HTTP door through nginx: a session\'s requests all reach the node that opened it', T, async () => {
    const call = (method: string, path: string, body = ''): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port, method, path, servername: 'localhost', ca: certificate.cert, headers: { host: `localhost:${port}` } },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              text += chunk;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const opened = await call('POST', '/chat/r/door/http');
    assert.equal(opened.status, 201, opened.body);
    const { session } = JSON.parse(opened.body) as { session: string };
    const base = `/chat/r/door/http/${session}`;
    // Round robin would spread these over three nodes; the door needs them on one.
    for (let i = 0; i < 6; i++) {
      const sent = await call('POST', `${base}/send`, `${JSON.stringify({ type: 'history', id: `h${i}`, afterSeq: 0 })}\n`);
      assert.equal(sent.status, 204, `request ${i}: ${sent.body}`);
    }
    assert.equal((await call('POST', `${base}/send`, `${JSON.stringify({ type: 'join', nick: 'door-user' })}\n`)).status, 204);
    let events: { type: string }[] = [];
    for (let after = 0; !events.some((e) => e.type === 'welcome'); ) {
      const polled = await call('GET', `${base}/events?after=${after}`);
      assert.equal(polled.status, 200, polled.body);
      const page = JSON.parse(polled.body) as { next: number; events: { type: string }[] };
      events = [...events, ...page.events];
      after = page.next;
    }
    assert.equal(events.filter((e) => e.type === 'error').length, 6, 'the six early requests were answered (NOT_JOINED) by the same session');
    assert.equal((await call('POST', `${base}/close`)).status, 204);
  });

  test('a node killed behind nginx: its clients come back through nginx to another node, resume, lose nothing', T, async () => {
    const factory = nodeSocketFactory({ tls: { ca: certificate.cert } });
    const url = `wss://localhost:${port}/chat/r/failover`;
    const clients: RecordingSession[] = [];
    try {
      // One after another: nginx's round robin gives each node two of them.
      for (let i = 0; i < 6; i++) {
        const client = new RecordingSession(`user${i}`, (_u, protocol) => factory(url, protocol));
        clients.push(client);
        await client.until(() => client.welcomes.length === 1, 'the welcome');
      }
      for (let round = 0; round < 40; round++) {
        for (const c of clients) c.session.send(`m ${c.session.nick} ${round}`);
        if (round === 10) {
          nodes[0]!.alive = false;
          nodes[0]!.child.kill('SIGKILL');
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      for (const c of clients) await c.until(() => c.session.outbox.length === 0, 'an empty outbox', 60_000);
      const last = Math.max(...clients.flatMap((c) => [...c.acked.values()].map((a) => a.seq)));
      for (const c of clients) await c.until(() => c.lastSeq >= last, `entries up to ${last}`);
      const final = Math.max(...clients.map((c) => c.lastSeq));
      for (const c of clients) c.assertComplete(final);
      const log = clients[0]!.entries;
      for (const c of clients) {
        assert.equal(c.acked.size, 40, `${c.session.nick}: every message acknowledged`);
        for (const { seq, text } of c.acked.values()) assert.equal((log[seq - 1] as { text?: string }).text, text);
        assert.ok(c.welcomes.every((w) => w.nick === c.session.nick && (w === c.welcomes[0] || w.resumed)), `${c.session.nick} resumed as itself`);
      }
      assert.ok(clients.filter((c) => c.welcomes.length > 1).length >= 2, 'the dead node\'s members came back through nginx');
      const texts = log.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
      assert.equal(new Set(texts).size, texts.length, 'nothing twice');
      assert.equal(texts.length, 6 * 40);
    } finally {
      for (const c of clients) c.session.close();
    }
  });
});

describe('behind nginx: one node at the root', { skip }, () => {
  test('the documented one-node configuration proxies pages and WebSockets over TLS', T, async () => {
    for (const peer of peers) assertPeer(peer);
    const port = await freePort();
    const node = await startServeProcess(['--memory', '--no-console', '--allowed-origin', `https://localhost:${port}`]);
    const certificate = selfSignedCertificate();
    let nginx: Nginx | null = null;
    try {
      nginx = await startNginx({
        site: documentedConfig('one node, TLS, at the root'),
        port,
        certificate,
        replace: [
          ['proxy_pass http://127.0.0.1:8080;', `proxy_pass http://127.0.0.1:${node.port};`],
          ['listen 443 ssl;', `listen 127.0.0.1:${port} ssl;`],
          ['server_name chat.example.com;', 'server_name localhost;'],
          ['/etc/letsencrypt/live/chat.example.com/fullchain.pem', '{prefix}/cert.pem'],
          ['/etc/letsencrypt/live/chat.example.com/privkey.pem', '{prefix}/key.pem'],
        ],
      });
      const client = await JsonClient.open(`wss://localhost:${port}/r/root`, { tls: { ca: certificate.cert }, origin: `https://localhost:${port}` });
      assert.equal((await client.join('alice')).room, 'root');
      assert.equal((await client.say('over TLS')).type, 'ack');
      await within(client.close(), 'closed');
    } finally {
      await nginx?.stop();
      await stopProcess(node);
    }
  });
});
