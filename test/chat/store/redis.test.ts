import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { RedisStore } from '../../../src/chat/store/redis.js';
import { StoreUnavailableError } from '../../../src/chat/store/store.js';
import { assertPeer, findRedis, peerSkip } from '../../support/peers.js';
import { type RedisCluster, startRedis, startRedisCluster, useRedis } from '../../support/redis.js';
import { storeContract } from './contract.js';

const redisPeer = findRedis();
const skip = peerSkip(redisPeer);
let counter = 0;
/** Every store in these tests gets its own key prefix, so tests share one server without seeing each other. */
const prefix = (): string => `t${process.pid}-${counter++}:`;

describe('RedisStore on a standalone Redis', { skip }, () => {
  const server = useRedis();

  storeContract('RedisStore', () => new RedisStore({ url: server().url, prefix: prefix() }));

  test('a second node sees the first one\'s entries and seats live, and its numbering', async () => {
    const p = prefix();
    const a = new RedisStore({ url: server().url, prefix: p, nodeId: 'a' });
    const b = new RedisStore({ url: server().url, prefix: p, nodeId: 'b' });
    await a.start();
    await b.start();
    try {
      const events: string[] = [];
      const done = new Promise<void>((resolve) => {
        void b.follow('r', (event) => {
          events.push(event.type === 'entries' ? `entries ${event.entries.map((e) => e.seq).join(',')}` : event.type);
          if (events.length === 3) resolve();
        });
      });
      await new Promise((resolve) => setImmediate(resolve));
      await a.claimSeat({ room: 'r', seat: { id: 's', nick: 'x', key: 'x', trip: null, holder: 'a/1', holdable: true }, ts: 1, maxSeats: 9 });
      await a.append({ room: 'r', ts: 2, kind: 'message', nick: 'x', text: 'hi' });
      await done;
      assert.deepEqual(events, ['seat', 'entries 1', 'entries 2']);
      assert.equal((await b.append({ room: 'r', ts: 3, kind: 'message', nick: 'y', text: 'from b' })).entry.seq, 3);
      assert.deepEqual(await b.serverSecret('tripcode'), await a.serverSecret('tripcode'), 'one tripcode salt for every node');
      assert.deepEqual(
        (await b.seats('r')).seats.map((s) => s.holder),
        ['a/1'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('seats of a node that stopped beating are orphaned after its heartbeat expires, not before', async () => {
    const p = prefix();
    const live = new RedisStore({ url: server().url, prefix: p, nodeId: 'live', heartbeatMs: 100, nodeTimeoutMs: 400 });
    await live.start();
    // A node "ghost" that beat once and then died (as kill -9 would leave it).
    const raw = createClient({ url: server().url });
    await raw.connect();
    try {
      // The clock starts before the beat, so the key cannot expire before beat + 800.
      const beat = Date.now();
      await raw.set(`${p}node:ghost`, '1', { expiration: { type: 'PX', value: 800 } });
      await raw.sAdd(`${p}nodes`, 'ghost');
      await live.claimSeat({ room: 'r', seat: { id: 's', nick: 'x', key: 'x', trip: null, holder: 'ghost/1', holdable: true }, ts: 1, maxSeats: 9 });
      let orphaned = 0;
      while (orphaned === 0) {
        assert.ok(Date.now() - beat < 5000, 'never orphaned');
        await new Promise((resolve) => setTimeout(resolve, 50));
        orphaned = (await live.sweepSeats(Date.now(), 1000)).orphaned;
      }
      assert.ok(Date.now() - beat >= 795, `judged gone ${Date.now() - beat} ms after its last beat, before its key expired`);
      const [seat] = (await live.seats('r')).seats;
      assert.equal(seat?.holder, null);
      assert.equal(typeof seat?.holdUntil, 'number');
      assert.deepEqual(await raw.sMembers(`${p}nodes`), ['live'], 'the dead node left the node list');
    } finally {
      raw.destroy();
      await live.close();
    }
  });

  test('Redis down: calls fail at once with StoreUnavailableError and health says why; back: it works again', async () => {
    const own = await startRedis();
    const store = new RedisStore({ url: own.url, prefix: prefix(), heartbeatMs: 100, nodeTimeoutMs: 400 });
    await store.start();
    try {
      await store.append({ room: 'r', ts: 1, kind: 'message', nick: 'x', text: 'before', clientId: 'c1' });
      await own.kill();
      await assert.rejects(store.append({ room: 'r', ts: 2, kind: 'message', nick: 'x', text: 'during', clientId: 'c2' }), StoreUnavailableError);
      const health = store.health();
      assert.equal(health.ok, false);
      assert.match(health.ok ? '' : health.reason, /Redis/);
      await own.restart();
      let result = null;
      for (let i = 0; result === null; i++) {
        assert.ok(i < 200, 'the store never came back');
        result = await store.append({ room: 'r', ts: 3, kind: 'message', nick: 'x', text: 'during', clientId: 'c2' }).catch(() => null);
        if (result === null) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(result.entry.seq, 2, 'the AOF kept seq 1');
      assert.equal((await store.append({ room: 'r', ts: 4, kind: 'message', nick: 'x', text: 'again', clientId: 'c1' })).duplicate, true);
      for (let i = 0; !store.health().ok; i++) {
        assert.ok(i < 100, 'health never recovered');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

describe('RedisStore on a 3-master Redis Cluster', { skip }, () => {
  let cluster: RedisCluster;
  before(async () => {
    assertPeer(redisPeer);
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });

  storeContract('RedisStore (Cluster)', () => new RedisStore({ url: cluster.url, prefix: prefix() }));
});

