/**
 * Two hubs in one process, each on its own RedisStore (two nodes), sharing a
 * room: what a node does when its Redis pub/sub connection blips. Pub/sub
 * loses what is published while it is down; the room's feed must notice the
 * gap by sequence number and read the missing entries back from the log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/chat/clock.js';
import { Hub } from '../../src/chat/hub.js';
import { RedisStore } from '../../src/chat/store/redis.js';
import { findRedis, peerSkip } from '../support/peers.js';
import { useRedis } from '../support/redis.js';
import { FakeConnection } from './helpers.js';

const redisPeer = findRedis();

describe('two nodes, one room, a blip of one node\'s pub/sub connection', { skip: peerSkip(redisPeer) }, () => {
  const server = useRedis();

  test('entries published while the subscriber was cut are read back from the log: all, once, in order', { timeout: 60_000 }, async () => {
    const prefix = `blip${Date.now()}:`;
    const hubs = ['a', 'b'].map(
      (nodeId) =>
        new Hub({
          store: new RedisStore({ url: server().url, prefix, nodeId }),
          rateLimit: { burst: 10_000, perSecond: 10_000 },
          log: () => undefined,
        }),
    );
    const [a, b] = hubs as [Hub, Hub];
    try {
      await Promise.all(hubs.map((h) => h.start()));
      const join = async (hub: Hub, nick: string): Promise<FakeConnection> => {
        const conn = new FakeConnection({ format: 'wschat.v1' });
        conn.member = hub.connect(conn, { room: 'blip' });
        assert.ok((await conn.member.join({ nick })).ok);
        return conn;
      };
      const writer = await join(a, 'writer');
      const reader = await join(b, 'reader');
      let acked = 0;
      for (let i = 0; i < 200; i++) {
        await writer.member!.input(`m${i}`, `id${i}`);
        acked = writer.of('ack').length;
        // Cut every pub/sub connection (node b's subscriber among them) now and then, mid-stream.
        if (i % 50 === 25) {
          const killed = spawnSync('redis-cli', ['-p', String(server().port), 'CLIENT', 'KILL', 'TYPE', 'pubsub'], { encoding: 'utf8' });
          assert.ok(Number(killed.stdout.trim()) >= 1, `killed ${killed.stdout}${killed.stderr}`);
        }
      }
      assert.equal(acked, 200);
      const last = Math.max(...writer.of('ack').map((x) => x.seq ?? 0));
      const deadline = Date.now() + 30_000;
      while (Math.max(0, ...reader.seqs()) < last) {
        assert.ok(Date.now() < deadline, `the reader got up to ${Math.max(0, ...reader.seqs())} of ${last}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const seen = reader.seqs();
      const first = seen[0]!;
      assert.deepEqual(seen, Array.from({ length: last - first + 1 }, (_, i) => first + i), 'every entry once, in order');
      const texts = reader.of('message').map((m) => m.text);
      assert.deepEqual(texts, Array.from({ length: 200 }, (_, i) => `m${i}`));
    } finally {
      await Promise.all(hubs.map((h) => h.close()));
      await Promise.all(hubs.map((h) => h.store.close()));
    }
  });

  test('across nodes: typing (through the bus, never stored), replies, edits, deletions; a page reloading onto the other node is never seen away', { timeout: 60_000 }, async () => {
    const prefix = `features${Date.now()}:`;
    // One manual clock for both nodes: the hold ends when the test says, however slow the machine.
    const clock = new ManualClock(Date.now());
    const hubs = ['a', 'b'].map(
      (nodeId) =>
        new Hub({ store: new RedisStore({ url: server().url, prefix, nodeId }), clock, graceMs: 60_000, leaveHoldMs: 5000, gapWaitMs: 0, log: () => undefined }),
    );
    const [a, b] = hubs as [Hub, Hub];
    const until = async (what: string, done: () => boolean): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!done()) {
        assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    try {
      await Promise.all(hubs.map((h) => h.start()));
      const join = async (hub: Hub, nick: string, extra: { resumeToken?: string } = {}): Promise<FakeConnection> => {
        const conn = new FakeConnection({ format: 'wschat.v1' });
        conn.member = hub.connect(conn, { room: '우리방' });
        assert.ok((await conn.member.join({ nick, ...extra })).ok);
        return conn;
      };
      const alice = await join(a, 'alice');
      const bob = await join(b, 'bob');
      await bob.member!.handle({ type: 'typing' });
      await until('alice sees bob typing', () => alice.of('typing').some((e) => e.nick === 'bob'));
      assert.equal(bob.of('typing').length, 0, 'not echoed to the one typing');

      await alice.member!.input('question', 'q1');
      const question = alice.last('ack').seq ?? 0;
      await bob.member!.handle({ type: 'message', id: 'r1', text: 'answer', replyTo: question });
      await until('the reply on node a', () => alice.of('message').some((m) => m.replyTo === question && m.replyNick === 'alice'));
      await alice.member!.handle({ type: 'edit', id: 'e1', seq: question, text: 'the question, edited' });
      await until('the edit on node b', () => bob.of('edit').some((e) => e.edits === question && e.text === 'the question, edited'));
      await alice.member!.handle({ type: 'delete', id: 'd1', seq: question });
      await until('the deletion on node b', () => bob.of('notice').some((n) => n.action === 'delete' && n.deleted === question));

      // Bob's page unloads (hold) and comes back on node a with its token: nothing shows on either node.
      const token = bob.last('welcome').resumeToken;
      const noticesBefore = alice.of('notice').length;
      await bob.member!.handle({ type: 'hold' });
      bob.drop();
      const back = await join(a, 'bob', { resumeToken: token });
      assert.equal(back.last('welcome').resumed, true);
      clock.advance(5000); // node b's hold ends: the seat is no longer its to free
      await Promise.all(hubs.map((h) => h.idle()));
      // A page that does not come back leaves once the hold is over.
      await back.member!.handle({ type: 'hold' });
      back.drop();
      await Promise.all(hubs.map((h) => h.idle()));
      clock.advance(5000);
      await until('bob leaves', () => alice.of('notice').some((n) => n.event === 'leave' && n.nick === 'bob' && n.reason === 'quit'));
      assert.deepEqual(
        alice.of('notice').slice(noticesBefore).map((n) => n.text),
        ['bob left'],
        'one "left", after the second hold; nothing for the reload',
      );
      assert.ok(alice.of('members').every((m) => m.members.every((x) => !x.away)), 'never shown away');
    } finally {
      await Promise.all(hubs.map((h) => h.close()));
      await Promise.all(hubs.map((h) => h.store.close()));
    }
  });
});
