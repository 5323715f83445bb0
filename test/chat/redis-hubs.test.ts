/**
 * Two hubs in one process, each on its own RedisStore (two nodes), sharing a
 * room: what a node does when its Redis pub/sub connection blips. Pub/sub
 * loses what is published while it is down; the room's feed must notice the
 * gap by sequence number and read the missing entries back from the log.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
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
});
