import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Hub } from '../../src/chat/hub.js';
import { MemoryStore } from '../../src/chat/store/memory.js';
import { makeHub } from './helpers.js';

const HOUR = 3_600_000;

describe('configuration', () => {
  test('out-of-range options are refused', () => {
    const store = new MemoryStore();
    assert.throws(() => new Hub({ store, maxMessage: 0 }), RangeError);
    assert.throws(() => new Hub({ store, historySize: -1 }), RangeError);
    assert.throws(() => new Hub({ store, graceMs: Number.NaN }), RangeError);
    assert.throws(() => new Hub({ store, rateLimit: { burst: 0 } }), RangeError);
    const hub = new Hub({ store });
    assert.equal(hub.config.historySize, 50);
    assert.equal(hub.config.maxMessage, 4000);
    assert.equal(hub.config.graceMs, 120_000);
    assert.equal(hub.config.roomTtlMs, 24 * HOUR);
  });

  test('connect: the default room is lobby; an invalid room is a programming error', async () => {
    const t = makeHub();
    const { member } = t.connect();
    await member.join({ nick: 'a' });
    assert.equal(member.room, 'lobby');
    const { conn } = t.connect();
    assert.throws(() => t.hub.connect(conn, { room: '' }), RangeError);
  });
});

describe('console powers', () => {
  test('rooms(): live rooms with member counts', async () => {
    const t = makeHub();
    await t.join('a', { room: 'beta' });
    const b = await t.join('b', { room: 'alpha' });
    await t.join('c', { room: 'alpha' });
    b.conn.drop();
    await t.hub.idle();
    assert.deepEqual(await t.hub.rooms(), [
      { name: 'alpha', members: 2, connected: 1, lastSeq: 2 },
      { name: 'beta', members: 1, connected: 1, lastSeq: 1 },
    ]);
  });

  test('broadcastAdmin reaches every live room, stored as an admin entry', async () => {
    const t = makeHub();
    const a = await t.join('a', { room: 'one' });
    const b = await t.join('b', { room: 'two' });
    const outcome = await t.hub.broadcastAdmin('maintenance at noon');
    assert.deepEqual(outcome, { ok: true, rooms: 2 });
    for (const m of [a, b]) {
      assert.deepEqual(m.conn.last('admin'), {
        type: 'admin',
        seq: 2,
        ts: t.clock.now(),
        nick: 'Administrator',
        text: 'maintenance at noon',
      });
    }
    assert.equal((await t.store.lastEntries('one', 1))[0]?.kind, 'admin');
    assert.deepEqual(await t.hub.broadcastAdmin('  '), { ok: false, code: 'EMPTY_MESSAGE', message: 'message is empty' });
  });

  test('say: one room; refused for a room without members', async () => {
    const t = makeHub();
    const a = await t.join('a', { room: 'one' });
    const b = await t.join('b', { room: 'two' });
    assert.deepEqual(await t.hub.say('one', 'hello one'), { ok: true, rooms: 1 });
    assert.equal(a.conn.last('admin').text, 'hello one');
    assert.equal(b.conn.of('admin').length, 0);
    const missing = await t.hub.say('nowhere', 'x');
    assert.equal(missing.ok, false);
  });

  test('kick: the member is told, closed with 1008, announced as removed; its nickname is free', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    assert.deepEqual(await t.hub.kick('lobby', 'BOB'), { ok: true, rooms: 1 });
    assert.deepEqual(bob.conn.last('removed'), {
      type: 'removed',
      reason: 'kicked',
      by: 'Administrator',
      text: 'You were kicked from this room by Administrator.',
    });
    assert.deepEqual(bob.conn.closed, { code: 1008, reason: 'kicked from the room' });
    const notice = alice.conn.last('notice');
    assert.equal(notice.text, 'bob was kicked by Administrator');
    assert.equal(notice.by, 'Administrator');
    await t.hub.idle();
    assert.deepEqual(await t.hub.members('lobby'), [{ nick: 'alice', away: false, role: 'owner' }]);
    assert.equal((await t.hub.kick('lobby', 'bob')).ok, false);
    assert.equal((await t.hub.kick('nowhere', 'bob')).ok, false);
    assert.ok((await t.connect().member.join({ nick: 'bob' })).ok);
  });

  test('kick works on a member who is away', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    bob.conn.drop();
    await t.hub.idle();
    assert.ok((await t.hub.kick('lobby', 'bob')).ok);
    assert.equal(alice.conn.last('notice').reason, 'kicked');
  });
});

describe('room expiry (--room-ttl)', () => {
  test('history of a room empty for the TTL is deleted by the periodic sweep', async () => {
    const t = makeHub({ roomTtlMs: 2 * HOUR, sweepIntervalMs: 60_000, graceMs: 0 });
    await t.hub.start();
    const a = await t.join('a', { room: 'brief' });
    await a.member.input('soon gone', '1');
    a.conn.drop();
    await t.hub.idle();
    t.clock.advance(2 * HOUR - 60_000);
    await t.hub.idle();
    assert.equal((await t.store.lastEntries('brief', 10)).length, 3, 'not yet');
    t.clock.advance(60_000);
    await t.hub.idle();
    assert.deepEqual(await t.store.lastEntries('brief', 10), []);
  });

  test('a room with members never loses its history, however long', async () => {
    const t = makeHub({ roomTtlMs: HOUR, sweepIntervalMs: 60_000 });
    await t.hub.start();
    await t.join('resident', { room: 'home' });
    t.clock.advance(48 * HOUR);
    assert.deepEqual(await t.hub.sweep(), []);
    assert.equal((await t.store.lastEntries('home', 10)).length, 1);
  });

  test('a member who is away keeps the room alive; the TTL starts after the grace period', async () => {
    const t = makeHub({ roomTtlMs: HOUR, graceMs: 2 * HOUR });
    await t.hub.start();
    const a = await t.join('a', { room: 'r' });
    await a.member.input('worth keeping', 'k');
    a.conn.drop();
    await t.hub.idle();
    t.clock.advance(90 * 60_000);
    assert.deepEqual(await t.hub.sweep(), []);
    t.clock.advance(30 * 60_000);
    await t.hub.idle();
    assert.deepEqual(await t.hub.sweep(), [], 'grace just ended: emptied now');
    t.clock.advance(HOUR);
    assert.deepEqual(await t.hub.sweep(), ['r']);
  });

  test('start(): seats a crashed run left held are away for the grace period, then leave once each', async () => {
    const store = new MemoryStore();
    const seat = { trip: null, holder: 'crashed-run/1', holdable: true };
    await store.claimSeat({ room: 'r', seat: { ...seat, id: 'bob', nick: 'bob', key: 'bob' }, ts: 0, maxSeats: 10 });
    await store.claimSeat({ room: 'r', seat: { ...seat, id: 'pat', nick: 'pat', key: 'pat', holdable: false }, ts: 0, maxSeats: 10 });
    await store.append({ room: 'r', ts: 0, kind: 'message', nick: 'bob', text: 'worth keeping' });
    const t = makeHub({ store, graceMs: 60_000, roomTtlMs: HOUR });
    await t.hub.start();
    await t.hub.idle();
    assert.deepEqual(await t.hub.members('r'), [{ nick: 'bob', away: true }], 'a seat without a token leaves at once');
    const thief = t.connect({ room: 'r' });
    assert.equal((await thief.member.join({ nick: 'bob' })).ok, false, 'the nickname is still held');
    t.clock.advance(60_000);
    await t.hub.idle();
    assert.equal(await t.hub.members('r'), null);
    const leaves = (await store.lastEntries('r', 10)).filter((e) => e.kind === 'leave').map((e) => `${e.nick} ${e.text}`);
    assert.deepEqual(leaves, ['pat lost', 'bob lost']);
    t.clock.advance(HOUR);
    assert.deepEqual(await t.hub.sweep(), ['r']);
  });
});

describe('shutdown', () => {
  test('close(): every connection closed with 1001, no "left" notices stored, store flushed', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob', { room: 'other' });
    const away = await t.join('carol');
    away.conn.drop();
    await t.hub.idle();
    const pending = t.connect();
    const before = (await t.store.getRoom('lobby'))?.lastSeq;
    await t.hub.close();
    for (const conn of [alice.conn, bob.conn, pending.conn]) {
      assert.deepEqual(conn.closed, { code: 1001, reason: 'server shutting down' });
    }
    assert.equal(t.clock.pendingTimers, 0, 'grace and sweep timers cancelled');
    assert.equal((await t.store.getRoom('lobby'))?.lastSeq, before);
    const late = t.connect();
    assert.deepEqual(late.conn.closed, { code: 1001, reason: 'server shutting down' });
    await t.hub.close();
  });
});

describe('three formats, one room', () => {
  test('members of every format see each other; each event encoded once per format', async () => {
    const t = makeHub();
    const json = await t.join('json-user', { format: 'wschat.v1' });
    const plain = await t.join('plain-user', { format: 'plain' });
    const tcp = await t.join('tcp-user', { format: 'tcp-lines', canSwitchRooms: true });
    await t.hub.idle();
    for (const m of [json, plain, tcp]) m.conn.encodeCalls = 0;
    await plain.member.input('from plain');
    await tcp.member.input('/me waves');
    await json.member.input('from json', 'j1');
    for (const m of [json, plain, tcp]) {
      assert.deepEqual(
        m.conn.received.filter((e) => e.type === 'message' || e.type === 'action').map((e) => (e as { nick: string }).nick),
        ['plain-user', 'tcp-user', 'json-user'],
      );
    }
    // Three broadcasts (plus one ack for the sender with an id) -> 3 encodes per format, 4 for wschat.v1.
    assert.equal(json.conn.encodeCalls, 4);
    assert.equal(plain.conn.encodeCalls, 3);
    assert.equal(tcp.conn.encodeCalls, 3);
  });
});

describe('shutdown races', () => {
  test('a connection lost just before close() starts no grace period after it', async () => {
    const t = makeHub();
    await t.join('alice');
    const bob = await t.join('bob');
    bob.conn.drop();
    await t.hub.close();
    assert.equal(t.clock.pendingTimers, 0);
    assert.deepEqual((await t.hub.rooms()).map((r) => r.members), [2], 'no one was made to leave');
  });

  test('a join still queued at close() is refused', async () => {
    const t = makeHub();
    await t.join('alice');
    const late = t.connect();
    const joining = late.member.join({ nick: 'late' });
    await t.hub.close();
    assert.equal((await joining).ok, false);
  });
});
