/**
 * Several wschat nodes on one Redis (issue 9, sections 3 and 5): one room
 * across nodes and doors, in one order; kill -9 of a node mid-burst; kill -9
 * of Redis and a restart from its AOF; the same on a 3-master Cluster; a dead
 * node's members leave once; the console reaches every node.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { assertPeer, findRedis, peerSkip } from '../support/peers.js';
import { startRedis, startRedisCluster, useRedis } from '../support/redis.js';
import { JsonClient, PlainClient, TcpClient, within, wsUrl } from './support/clients.js';
import { type ChatNode, failoverFactory, killNode, RecordingSession, startNode, stopNodes } from './support/nodes.js';

const redisPeer = findRedis();
const skip = peerSkip(redisPeer);
const T = { timeout: 120_000 };

let nodes: ChatNode[] = [];
const sessions: RecordingSession[] = [];
afterEach(async () => {
  for (const s of sessions.splice(0)) s.session.close();
  await stopNodes(nodes);
  nodes = [];
});

/** Each of `clients` sends `count` messages, `perTurn` at a time, awaiting nothing but the event loop. */
async function burst(clients: RecordingSession[], count: number, tag: string): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (const c of clients) if (!c.session.ended) c.session.send(`${tag} ${c.session.nick} ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Waits until everyone has every acknowledgement and every entry up to the room's end, then checks them. */
async function settle(clients: RecordingSession[], expectedAcks: number): Promise<number> {
  for (const c of clients) await c.until(() => c.session.outbox.length === 0, 'an empty outbox', 60_000);
  const acked = clients.reduce((n, c) => n + c.acked.size, 0);
  assert.equal(acked, expectedAcks, 'every message acknowledged');
  const last = Math.max(...clients.map((c) => Math.max(...[...c.acked.values()].map((a) => a.seq), c.lastSeq)));
  for (const c of clients) await c.until(() => c.lastSeq >= last, `entries up to ${last}`, 30_000);
  const final = Math.max(...clients.map((c) => c.lastSeq));
  for (const c of clients) c.assertComplete(final);
  // Every acknowledged message is in everyone's view, at its seq, exactly once.
  const log = clients[0]!.entries;
  for (const c of clients) {
    for (const [id, { seq, text }] of c.acked) {
      const entry = log[seq - 1] as EntryEvent & { text?: string };
      assert.equal(entry?.text, text, `${id} acknowledged as ${seq} but the log has ${JSON.stringify(entry)}`);
    }
    const texts = log.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
    assert.equal(new Set(texts).size, texts.length, 'no message stored twice');
  }
  return final;
}

function crossNodeSuite(label: string, start: () => Promise<{ url: string; stop(): Promise<void> }>): void {
  describe(label, { skip }, () => {
    let backend: { url: string; stop(): Promise<void> };
    before(async () => {
      assertPeer(redisPeer);
      backend = await start();
    });
    after(async () => {
      await backend?.stop();
    });

    test('three nodes, all three doors: every client sees the same entries in the same order', T, async () => {
      nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, backend.url)));
      const room = `r${Date.now()}`;
      const json = nodes.map((_, i) => new RecordingSession(`json${i}`, failoverFactory(nodes, i, `/r/${room}`)));
      sessions.push(...json);
      for (const s of json) await s.until(() => s.welcomes.length === 1, 'the welcome');
      const plain = await PlainClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
      await plain.welcomed();
      const tcp = await TcpClient.open(nodes[2]!.tcpPort);
      await tcp.login('tcpuser');
      tcp.send(`/join ${room}`);
      await tcp.line(/You are tcpuser in /);
      plain.send('hello from plain');
      tcp.send('hello from tcp');
      await burst(json, 30, 'm');
      const last = await settle(json, 90);
      const order = json[0]!.entries.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
      // The plain and TCP members saw every chat line, in the same order.
      await plain.line(new RegExp(`${escapeRegExp(order.at(-1)!)}$`));
      await tcp.line(new RegExp(`${escapeRegExp(order.at(-1)!)}$`));
      assert.deepEqual(seenInOrder(plain.inbox.items, order), order);
      assert.deepEqual(seenInOrder(tcp.inbox.items, order), order);
      assert.ok(last >= 95);
      await plain.close();
      tcp.close();
    });

    test('kill -9 of a node during a burst: every acked message reaches everyone once, in order; nicknames kept', T, async () => {
      nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, backend.url)));
      const room = `k${Date.now()}`;
      const clients = Array.from({ length: 6 }, (_, i) => new RecordingSession(`user${i}`, failoverFactory(nodes, i, `/r/${room}`)));
      sessions.push(...clients);
      for (const c of clients) await c.until(() => c.welcomes.length === 1, 'the welcome');
      const sending = burst(clients, 60, 'k');
      await new Promise((resolve) => setTimeout(resolve, 40));
      await killNode(nodes[0]!);
      await sending;
      await settle(clients, 6 * 60);
      for (const c of clients) {
        assert.ok(c.welcomes.every((w) => w.nick === c.session.nick), `${c.session.nick} kept its nickname`);
        assert.ok(c.welcomes.slice(1).every((w) => w.resumed), `${c.session.nick} resumed every time`);
      }
      const moved = clients.filter((c) => c.welcomes.length > 1);
      assert.ok(moved.length >= 2, 'the members of the dead node came back through another');
      const notices = clients[0]!.entries.filter((e) => e.type === 'notice').map((e) => (e as { text: string }).text);
      assert.deepEqual(
        notices.filter((t) => / left/.test(t)),
        [],
        'nobody left: they resumed within the grace period',
      );
    });
  });
}

crossNodeSuite('several nodes on one Redis', startRedis);
crossNodeSuite('several nodes on a 3-master Redis Cluster', startRedisCluster);

describe('Redis failures', { skip }, () => {
  const server = useRedis();

  test('kill -9 of Redis and a restart from its AOF during traffic: no acked message lost, outage posts land once', T, async () => {
    nodes = await Promise.all(['a', 'b'].map((n) => startNode(n, server().url)));
    const room = `o${Date.now()}`;
    const a = await JsonClient.open(wsUrl(nodes[0]!.port, `/r/${room}`));
    await a.join('alice');
    const b = await JsonClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
    await b.join('bob');
    const acks = new Map<string, number>();
    // A client that keeps what was refused as retryable and sends it again, as ChatSession does.
    const sendUntilAcked = async (client: JsonClient, id: string, text: string): Promise<void> => {
      for (let attempt = 0; ; attempt++) {
        const answer = await client.request(text, id);
        if (answer.type === 'ack') {
          acks.set(id, answer.seq ?? -1);
          return;
        }
        assert.equal(answer.code, 'UNAVAILABLE', JSON.stringify(answer));
        assert.ok(typeof answer.retryAfter === 'number' && answer.retryAfter > 0);
        assert.ok(attempt < 200, `${id} never went through`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) sends.push(sendUntilAcked(i % 2 ? a : b, `pre-${i}`, `before ${i}`));
    await Promise.all(sends);
    await server().kill();
    const health = await fetch(`http://127.0.0.1:${nodes[0]!.port}/healthz`);
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { reason: string }).reason, /Redis/);
    for (let i = 0; i < 20; i++) sends.push(sendUntilAcked(i % 2 ? a : b, `out-${i}`, `during ${i}`));
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server().restart();
    await Promise.all(sends);
    assert.equal(acks.size, 40);
    for (const node of nodes) {
      for (let i = 0; (await fetch(`http://127.0.0.1:${node.port}/healthz`)).status !== 200; i++) {
        assert.ok(i < 100, 'healthz never recovered');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const reader = await JsonClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
    const history = (await reader.join('reader', { lastSeq: 0 })).history;
    const bySeq = new Map(history.map((e) => [e.seq, e as EntryEvent & { text?: string }]));
    for (const [id, seq] of acks) {
      const text = id.startsWith('pre') ? `before ${id.slice(4)}` : `during ${id.slice(4)}`;
      assert.equal(bySeq.get(seq)?.text, text, `acked ${id} (seq ${seq}) lost`);
    }
    const texts = history.filter((e) => e.type === 'message').map((e) => (e as { text: string }).text);
    assert.equal(texts.length, 40, 'each post stored exactly once');
    // Both members stayed connected through the outage and kept their seats.
    await a.say('still here');
    await b.say('me too');
    await Promise.all([a.close(), b.close(), reader.close()]);
  });

  test('Redis down and back: the clients keep what they send in their outbox and deliver it once Redis returns', T, async () => {
    nodes = await Promise.all(['a', 'b'].map((n) => startNode(n, server().url)));
    const room = `s${Date.now()}`;
    const clients = [0, 1].map((i) => new RecordingSession(`keeper${i}`, failoverFactory(nodes, i, `/r/${room}`)));
    sessions.push(...clients);
    for (const c of clients) await c.until(() => c.welcomes.length === 1, 'the welcome');
    for (const c of clients) c.session.send(`before ${c.session.nick}`);
    for (const c of clients) await c.until(() => c.session.outbox.length === 0, 'the first acks');
    await server().kill();
    for (let i = 0; i < 10; i++) for (const c of clients) c.session.send(`during ${c.session.nick} ${i}`);
    // Nothing can be stored while Redis is down: the lines wait in the outboxes.
    for (const c of clients) assert.equal(c.session.outbox.length, 10);
    await server().restart();
    const last = await settle(clients, 2 * 11);
    assert.equal(clients.flatMap((c) => c.failed).length, 0, 'nothing failed for good');
    for (const c of clients) assert.equal(c.welcomes.length, 1, `${c.session.nick} never lost its connection`);
    assert.ok(last >= 24);
  });

  test('a node that dies: its members leave after the grace period, one notice each, cluster-wide', T, async () => {
    nodes = await Promise.all(['a', 'b', 'c'].map((n) => startNode(n, server().url)));
    const room = `d${Date.now()}`;
    const watchers = [1, 2].map((i) => JsonClient.open(wsUrl(nodes[i]!.port, `/r/${room}`)));
    const [w1, w2] = await Promise.all(watchers);
    await w1!.join('watcher1');
    await w2!.join('watcher2');
    const doomed = await JsonClient.open(wsUrl(nodes[0]!.port, `/r/${room}`));
    await doomed.join('doomed');
    const plain = await PlainClient.open(wsUrl(nodes[0]!.port, `/r/${room}`));
    const plainNick = await plain.welcomed();
    const started = Date.now();
    await killNode(nodes[0]!);
    for (const w of [w1!, w2!]) {
      await w.expect('notice', (n) => n.event === 'leave' && n.nick === plainNick, 20_000);
      const left = await w.expect('notice', (n) => n.event === 'leave' && n.nick === 'doomed', 30_000);
      assert.equal(left.text, 'doomed left (connection lost)');
    }
    assert.ok(Date.now() - started >= 4000, 'not before the grace period');
    const reader = await JsonClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
    const history = (await reader.join('reader', { lastSeq: 0 })).history;
    const leaves = history.filter((e) => e.type === 'notice' && e.event === 'leave').map((e) => (e as { nick: string }).nick);
    assert.deepEqual(leaves.sort(), ['doomed', plainNick].sort(), 'one notice each, never two');
    await Promise.all([w1!.close(), w2!.close(), reader.close()]);
  });

  test('the console of any node reaches every room on every node: broadcast, /rooms, /say, /kick', T, async () => {
    const consoleNode = await startNode('console', server().url, [], 'pipe');
    nodes = [consoleNode, await startNode('other', server().url)];
    const room = `c${Date.now()}`;
    const far = await JsonClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
    await far.join('faraway');
    const victim = await JsonClient.open(wsUrl(nodes[1]!.port, `/r/${room}`));
    await victim.join('victim');
    const type = async (line: string, reply: RegExp): Promise<string> => {
      consoleNode.child.stdin?.write(`${line}\n`);
      return consoleNode.stdout.take((l) => reply.test(l), `the console's answer to ${line}`);
    };
    const rooms = await type('/rooms', new RegExp(`^${room} `));
    assert.match(rooms, /2 members/);
    await type('Maintenance at noon', /^sent to \d+ room/);
    assert.equal((await far.expect('admin')).text, 'Maintenance at noon');
    await type(`/say ${room} just this room`, /^sent to /);
    assert.equal((await far.expect('admin', (e) => e.text === 'just this room')).nick, 'Administrator');
    await type(`/kick ${room} victim`, /^victim was kicked$/);
    assert.equal((await within(victim.closed, 'the victim closed')).code, 1008);
    const notice = await far.expect('notice', (n) => n.event === 'leave' && n.nick === 'victim');
    assert.equal(notice.reason, 'kicked');
    await far.close();
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The texts of `order` that appear in `lines`, in the order they appear there. */
function seenInOrder(lines: readonly string[], order: readonly string[]): string[] {
  const wanted = new Set(order);
  const out: string[] = [];
  for (const line of lines) {
    for (const text of wanted) {
      if (line.endsWith(text)) {
        out.push(text);
        wanted.delete(text);
        break;
      }
    }
  }
  return out;
}
