import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { MemoryStore } from '../../src/chat/store/memory.js';
import type { AppendResult, NewEntry } from '../../src/chat/store/store.js';
import { makeHub } from './helpers.js';

describe('joining', () => {
  test('the joiner gets a welcome; the others a notice and the member list', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('Bob');
    const welcome = bob.conn.last('welcome');
    assert.equal(welcome.room, 'lobby');
    assert.equal(welcome.nick, 'Bob');
    assert.equal(welcome.resumed, false);
    assert.match(welcome.resumeToken, /^[A-Za-z0-9_-]{32}$/);
    assert.deepEqual(welcome.members, [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: 'Bob', away: false },
    ]);
    assert.deepEqual(
      welcome.history.map((e) => e.type === 'notice' && e.text),
      ['alice joined', 'Bob joined'],
    );
    assert.equal(welcome.lastSeq, 2);
    assert.equal(welcome.maxMessage, 4000);
    const notice = alice.conn.last('notice');
    assert.deepEqual(notice, { type: 'notice', seq: 2, ts: t.clock.now(), event: 'join', nick: 'Bob', text: 'Bob joined' });
    await t.hub.idle();
    assert.deepEqual(alice.conn.last('members').members, welcome.members);
    assert.equal(bob.conn.of('notice').length, 0, 'the joiner sees its own notice in the welcome only');
  });

  test('nicknames are unique per room, case-insensitively; the loser can try again', async () => {
    const t = makeHub();
    await t.join('alice');
    const { conn, member } = t.connect();
    const taken = await member.join({ nick: 'ALICE' });
    assert.deepEqual(taken, { ok: false, code: 'NICK_TAKEN', message: 'the nickname ALICE is taken in this room' });
    assert.equal(conn.last('error').code, 'NICK_TAKEN');
    assert.equal(member.joined, false);
    assert.ok((await member.join({ nick: 'alice2' })).ok);
    assert.equal(member.nick, 'alice2');
    // Another room is another namespace.
    assert.ok((await t.connect().member.join({ nick: 'alice', room: 'elsewhere' })).ok);
  });

  test('history on join: the last 50 by default, configurable', async () => {
    const t = makeHub({ rateLimit: { burst: 1000 } });
    const alice = await t.join('alice');
    for (let i = 1; i <= 60; i++) await alice.member.input(`m${i}`, `c${i}`);
    const bob = await t.join('bob');
    const history = bob.conn.last('welcome').history;
    assert.equal(history.length, 50);
    assert.equal(history[history.length - 1]?.type, 'notice');
    assert.equal((history[0] as EntryEvent & { text: string }).text, 'm12');

    const small = makeHub({ historySize: 3 });
    await small.join('a');
    await small.join('b');
    await small.join('c');
    const d = await small.join('d');
    assert.deepEqual(
      d.conn.last('welcome').history.map((e) => e.seq),
      [2, 3, 4],
    );
  });

  test('uniquify picks a free variant for generated nicknames', async () => {
    const t = makeHub();
    await t.join('1.2.3.4:5');
    const second = await t.join('1.2.3.4:5', { uniquify: true });
    assert.equal(second.member.nick, '1.2.3.4:5-2');
    const third = await t.join('x'.repeat(24), { uniquify: true });
    assert.equal(third.member.nick, 'x'.repeat(24));
    const fourth = await t.join('X'.repeat(24), { uniquify: true });
    assert.equal(fourth.member.nick, `${'X'.repeat(22)}-2`);
  });

  test('a tripcode: nick#secret shows the nickname with a code from the secret, everywhere the nickname shows', async () => {
    const t = makeHub();
    const alice = await t.join('alice#open sesame');
    const welcome = alice.conn.last('welcome');
    assert.equal(welcome.nick, 'alice');
    assert.match(welcome.trip ?? '', /^[A-Za-z0-9_-]{8}$/);
    const bob = await t.join('bob');
    await alice.member.input('signed', 'm1');
    assert.equal(bob.conn.last('message').trip, welcome.trip);
    assert.deepEqual(bob.conn.last('welcome').members[0], { nick: 'alice', away: false, trip: welcome.trip, role: 'owner' });
    const joined = bob.conn.last('welcome').history[0];
    assert.equal(joined?.type === 'notice' && joined.trip, welcome.trip);
    assert.equal(bob.conn.of('message')[0]?.nick, 'alice');
    // The same secret gives the same code; another secret another.
    const again = await t.join('carol#open sesame');
    assert.equal(again.conn.last('welcome').trip, welcome.trip);
    const other = await t.join('dave#closed');
    assert.notEqual(other.conn.last('welcome').trip, welcome.trip);
    assert.equal((await t.store.lastEntries('lobby', 10)).find((e) => e.kind === 'message')?.trip, welcome.trip);
  });

  test('a full room refuses', async () => {
    const t = makeHub({ maxMembersPerRoom: 2 });
    await t.join('a');
    await t.join('b');
    const { member } = t.connect();
    assert.equal((await member.join({ nick: 'c' })).ok === false && 'ROOM_FULL', 'ROOM_FULL');
  });
});

describe('messages', () => {
  test('store, then ack to the sender with its id and seq, then broadcast to all', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    alice.conn.clear();
    bob.conn.clear();
    await alice.member.input('hello <b>there</b>', 'm-1');
    assert.deepEqual(
      alice.conn.received.map((e) => e.type),
      ['ack', 'message'],
    );
    assert.deepEqual(alice.conn.received[0], { type: 'ack', id: 'm-1', seq: 3 });
    const expected = { type: 'message', seq: 3, ts: t.clock.now(), nick: 'alice', text: 'hello <b>there</b>' };
    assert.deepEqual(alice.conn.received[1], expected);
    assert.deepEqual(bob.conn.received, [expected]);
    const stored = await t.store.lastEntries('lobby', 1);
    assert.equal(stored[0]?.clientId, 'm-1');
  });

  test('a resend with the same client id is acknowledged again, not stored or broadcast twice', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('once', 'dup');
    await alice.member.input('once', 'dup');
    assert.deepEqual(
      alice.conn.of('ack').map((a) => a.seq),
      [3, 3],
    );
    assert.equal(bob.conn.of('message').length, 1);
    assert.equal((await t.store.getRoom('lobby'))?.lastSeq, 3);
  });

  test('sequence numbers are per room, gap-free, in send order', async () => {
    const t = makeHub({ rateLimit: { burst: 100 } });
    const a = await t.join('a', { room: 'one' });
    const b = await t.join('b', { room: 'two' });
    const sends = [];
    for (let i = 0; i < 20; i++) sends.push(a.member.input(`a${i}`, `a${i}`), b.member.input(`b${i}`, `b${i}`));
    await Promise.all(sends);
    assert.deepEqual(
      a.conn.of('message').map((m) => [m.seq, m.text]),
      Array.from({ length: 20 }, (_, i) => [i + 2, `a${i}`]),
    );
    assert.deepEqual(
      b.conn.of('message').map((m) => m.seq),
      Array.from({ length: 20 }, (_, i) => i + 2),
    );
  });

  test('posts that arrive in one turn are stored in one commit, then acked and broadcast in order', async () => {
    class CountingStore extends MemoryStore {
      batches: number[] = [];
      override async appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]> {
        this.batches.push(entries.length);
        return super.appendMany(entries);
      }
    }
    const store = new CountingStore();
    const t = makeHub({ store, rateLimit: { burst: 100 } });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    const carol = await t.join('carol');
    await Promise.all([alice.member.input('a1', 'a1'), bob.member.input('b1', 'b1'), carol.member.input('c1', 'c1')]);
    assert.deepEqual(store.batches, [3]);
    assert.deepEqual(
      bob.conn.of('message').map((m) => [m.seq, m.text]),
      [
        [4, 'a1'],
        [5, 'b1'],
        [6, 'c1'],
      ],
    );
    assert.deepEqual(alice.conn.last('ack'), { type: 'ack', id: 'a1', seq: 4 });
    assert.deepEqual(carol.conn.last('ack'), { type: 'ack', id: 'c1', seq: 6 });
  });

  test('a post after another operation is not batched ahead of it', async () => {
    const t = makeHub({ rateLimit: { burst: 100 } });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    bob.conn.clear();
    const carol = await t.join('carol');
    bob.conn.clear();
    // Queued in this order: a post (opens a batch), a rename, a post. The
    // second post must not join the first one's batch, ahead of the rename.
    await Promise.all([alice.member.input('hello', 'm1'), carol.member.input('/nick caroline'), bob.member.input('again', 'm2')]);
    const seen = bob.conn.received.flatMap((e) =>
      e.type === 'message' ? [`${e.seq} ${e.nick}: ${e.text}`] : e.type === 'notice' && e.event === 'rename' ? [`${e.seq} ${e.text}`] : [],
    );
    assert.deepEqual(seen, ['4 alice: hello', '5 carol is now known as caroline', '6 bob: again']);
  });

  test('broadcast encodes each event once per format and passes the same value to every member', async () => {
    const t = makeHub();
    const members = [];
    for (const [i, format] of ['json', 'json', 'json', 'plain', 'plain', 'tcp'].entries()) {
      members.push(await t.join(`m${i}`, { format }));
    }
    await t.hub.idle();
    for (const m of members) m.conn.encodeCalls = 0;
    for (const m of members) m.conn.clear();
    await members[0]?.member.input('to everyone');
    const calls = new Map<string, number>();
    for (const m of members) calls.set(m.conn.format, (calls.get(m.conn.format) ?? 0) + m.conn.encodeCalls);
    assert.deepEqual(Object.fromEntries(calls), { json: 1, plain: 1, tcp: 1 });
    const jsonPayloads = members.filter((m) => m.conn.format === 'json').map((m) => m.conn.rawReceived[0]);
    assert.equal(new Set(jsonPayloads).size, 1);
    assert.ok(members.every((m) => m.conn.of('message').length === 1));
  });
});

describe('resume', () => {
  test('a cut connection rejoining with lastSeq gets exactly what it missed: no gap, no duplicate', async () => {
    const t = makeHub({ rateLimit: { burst: 1000 } });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    for (let i = 0; i < 5; i++) await alice.member.input(`before ${i}`, `b${i}`);
    const seenBeforeCut = bob.conn.seqs();
    const lastSeq = Math.max(...seenBeforeCut);
    const token = bob.conn.last('welcome').resumeToken;
    bob.conn.drop();
    // Messages keep coming while bob is away, some still in flight as he rejoins.
    for (let i = 0; i < 5; i++) await alice.member.input(`during ${i}`, `d${i}`);
    const back = t.connect();
    const inFlight = [];
    for (let i = 0; i < 5; i++) inFlight.push(alice.member.input(`racing ${i}`, `r${i}`));
    const rejoin = back.member.join({ nick: 'bob', resumeToken: token, lastSeq });
    for (let i = 0; i < 5; i++) inFlight.push(alice.member.input(`after ${i}`, `a${i}`));
    assert.ok((await rejoin).ok);
    await Promise.all(inFlight);
    await t.hub.idle();
    const all = [...seenBeforeCut, ...back.conn.seqs()];
    const last = (await t.store.getRoom('lobby'))?.lastSeq ?? 0;
    assert.deepEqual(
      all,
      Array.from({ length: last }, (_, i) => i + 1),
    );
    assert.equal(back.conn.last('welcome').resumed, true);
    assert.equal(back.conn.last('welcome').nick, 'bob');
  });

  test('the nickname is held through the grace period and the "left" notice waits', async () => {
    const t = makeHub({ graceMs: 120_000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    const token = bob.conn.last('welcome').resumeToken;
    bob.conn.drop();
    await t.hub.idle();
    assert.deepEqual(alice.conn.last('members').members, [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: 'bob', away: true },
    ]);
    const thief = t.connect();
    assert.equal((await thief.member.join({ nick: 'BOB' })).ok, false);
    assert.equal(thief.conn.last('error').code, 'NICK_TAKEN');
    t.clock.advance(119_000);
    await t.hub.idle();
    alice.conn.clear();
    const back = t.connect();
    const result = await back.member.join({ nick: 'whatever', resumeToken: token });
    assert.deepEqual(result, { ok: true, room: 'lobby', nick: 'bob', resumed: true });
    t.clock.advance(10_000);
    await t.hub.idle();
    assert.equal(alice.conn.of('notice').length, 0, 'no left or joined notice for a member back in time');
    assert.deepEqual(alice.conn.last('members').members, [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: 'bob', away: false },
    ]);
  });

  test('after the grace period: "left" (connection lost), and the nickname is free', async () => {
    const t = makeHub({ graceMs: 1000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    const token = bob.conn.last('welcome').resumeToken;
    bob.conn.drop();
    await t.hub.idle();
    t.clock.advance(1000);
    await t.hub.idle();
    const left = alice.conn.last('notice');
    assert.equal(left.event, 'leave');
    assert.equal(left.reason, 'lost');
    assert.equal(left.text, 'bob left (connection lost)');
    assert.deepEqual(alice.conn.last('members').members, [{ nick: 'alice', away: false, role: 'owner' }]);
    const late = t.connect();
    const result = await late.member.join({ nick: 'carol', resumeToken: token });
    assert.deepEqual(result, { ok: true, room: 'lobby', nick: 'carol', resumed: false }, 'the token is dead');
    assert.ok((await t.connect().member.join({ nick: 'bob' })).ok, 'the nickname is free');
  });

  test('grace period 0: leaving is immediate', async () => {
    const t = makeHub({ graceMs: 0 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    bob.conn.drop();
    await t.hub.idle();
    assert.equal(alice.conn.last('notice').event, 'leave');
  });

  test('resuming while the old connection is still open replaces it (4001)', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const old = await t.join('bob');
    const token = old.conn.last('welcome').resumeToken;
    const fresh = t.connect();
    assert.ok((await fresh.member.join({ nick: 'bob', resumeToken: token })).ok);
    assert.deepEqual(old.conn.closed, { code: 4001, reason: 'resumed on another connection' });
    await t.hub.idle();
    await fresh.member.input('still me', 'x');
    assert.equal(alice.conn.last('message').nick, 'bob');
    assert.equal(old.conn.of('message').length, 0);
    await t.hub.idle();
    assert.deepEqual(await t.hub.members('lobby'), [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: 'bob', away: false },
    ]);
    assert.equal(alice.conn.of('notice').filter((n) => n.event === 'leave').length, 0);
  });

  test('a token only works in its own room', async () => {
    const t = makeHub();
    const bob = await t.join('bob', { room: 'one' });
    const token = bob.conn.last('welcome').resumeToken;
    const other = t.connect();
    const result = await other.member.join({ nick: 'bob2', room: 'two', resumeToken: token });
    assert.deepEqual(result, { ok: true, room: 'two', nick: 'bob2', resumed: false });
  });

  test('lastSeq ahead of the room (its history was lost): reset with the usual history', async () => {
    const t = makeHub();
    await t.join('alice');
    const bob = await t.join('bob', { lastSeq: 500 });
    const welcome = bob.conn.last('welcome');
    assert.equal(welcome.reset, true);
    assert.equal(welcome.lastSeq, 2);
    assert.deepEqual(
      welcome.history.map((e) => e.seq),
      [1, 2],
    );
  });

  test('a lastSeq from another epoch (the room started over) is a reset, whatever its number', async () => {
    const t = makeHub();
    await t.join('alice');
    const first = await t.join('bob');
    const { epoch } = first.conn.last('welcome');
    assert.match(epoch, /^[A-Za-z0-9_-]+$/);
    const same = await t.join('carol', { lastSeq: 1, epoch });
    assert.equal(same.conn.last('welcome').reset, false);
    assert.deepEqual(
      same.conn.last('welcome').history.map((e) => e.seq),
      [2, 3],
    );
    const other = await t.join('dave', { lastSeq: 1, epoch: 'another' });
    const welcome = other.conn.last('welcome');
    assert.equal(welcome.reset, true);
    assert.equal(welcome.epoch, epoch);
    assert.deepEqual(
      welcome.history.map((e) => e.seq),
      [1, 2, 3, 4],
    );
  });

  test('a long absence is replayed in bounded pages', async () => {
    const t = makeHub({ maxReplay: 10, rateLimit: { burst: 1000 } });
    const alice = await t.join('alice');
    for (let i = 0; i < 25; i++) await alice.member.input(`m${i}`, `c${i}`);
    const bob = await t.join('bob', { lastSeq: 0 });
    const welcome = bob.conn.last('welcome');
    assert.equal(welcome.more, true);
    assert.deepEqual(
      welcome.history.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    let after = 10;
    for (;;) {
      await bob.member.history(after, undefined, `h${after}`);
      const page = bob.conn.last('history');
      assert.equal(page.id, `h${after}`);
      assert.ok(page.entries.length <= 10);
      after = page.entries[page.entries.length - 1]?.seq ?? after;
      if (!page.more) break;
    }
    assert.equal(after, welcome.lastSeq);
  });

  test('replay pages are also bounded by text size', async () => {
    const t = makeHub({ maxReplayChars: 10_000, rateLimit: { burst: 1000 } });
    const alice = await t.join('alice');
    for (let i = 0; i < 10; i++) await alice.member.input('x'.repeat(4000), `c${i}`);
    const bob = await t.join('bob', { lastSeq: 1 });
    const welcome = bob.conn.last('welcome');
    assert.equal(welcome.history.length, 2);
    assert.equal(welcome.more, true);
  });
});

describe('room lifecycle', () => {
  test('the last member leaving marks the room empty in the store and drops it from the hub', async () => {
    const t = makeHub({ graceMs: 0 });
    const a = await t.join('a', { room: 'r1' });
    await a.member.input('worth keeping', 'k');
    assert.equal((await t.store.getRoom('r1'))?.emptiedAt, null);
    assert.deepEqual(
      (await t.hub.rooms()).map((r) => r.name),
      ['r1'],
    );
    a.conn.drop();
    await t.hub.idle();
    assert.equal((await t.store.getRoom('r1'))?.emptiedAt, t.clock.now());
    assert.deepEqual(await t.hub.rooms(), []);
    const again = await t.join('b', { room: 'r1' });
    assert.deepEqual(
      again.conn.last('welcome').history.map((e) => e.seq),
      [1, 2, 3, 4],
      'a new Room picks the numbering up from the store',
    );
  });

  test('a room left with nothing but comings and goings is forgotten: the next join starts a new epoch at 1', async () => {
    const t = makeHub({ graceMs: 0 });
    const a = await t.join('a', { room: 'bare' });
    const first = a.conn.last('welcome');
    a.conn.drop();
    await t.hub.idle();
    assert.equal(await t.store.getRoom('bare'), null);
    const b = await t.join('b', { room: 'bare', lastSeq: first.lastSeq, epoch: first.epoch });
    const welcome = b.conn.last('welcome');
    assert.notEqual(welcome.epoch, first.epoch);
    assert.equal(welcome.reset, true, 'a client holding the old numbering is told to start over');
    assert.deepEqual(
      welcome.history.map((e) => e.seq),
      [1],
    );
    await b.member.input('hello', 'h');
    assert.equal(b.conn.last('ack').seq, 2);
    assert.deepEqual(b.conn.seqs(), [1, 2]);
  });

  test('a burst of joins coalesces member-list updates', async () => {
    const t = makeHub();
    const first = await t.join('first');
    await t.hub.idle();
    first.conn.clear();
    const joins = Array.from({ length: 10 }, (_, i) => t.connect().member.join({ nick: `n${i}` }));
    await Promise.all(joins);
    await t.hub.idle();
    const lists = first.conn.of('members');
    assert.ok(lists.length < 10, `${lists.length} member lists for 10 joins`);
    assert.equal(lists[lists.length - 1]?.members.length, 11);
  });
});

describe('recovery, property-based', () => {
  test('whatever the interleaving of messages, drops and rejoins: every client sees 1..lastSeq once each, in order', async () => {
    const { default: fc } = await import('fast-check');
    const action = fc.oneof(
      fc.record({ kind: fc.constant('send' as const), who: fc.nat(3), awaited: fc.boolean() }),
      fc.record({ kind: fc.constant('drop' as const), who: fc.nat(3) }),
      fc.record({ kind: fc.constant('rejoin' as const), who: fc.nat(3), awaited: fc.boolean() }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 90_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 60 }), async (actions) => {
        const t = makeHub({ graceMs: 60_000, maxReplay: 7, rateLimit: { burst: 10_000 } });
        const clients = Array.from({ length: 4 }, (_, i) => ({
          nick: `c${i}`,
          token: undefined as string | undefined,
          seen: [] as number[],
          pair: null as ReturnType<typeof t.connect> | null,
        }));
        const collect = (c: (typeof clients)[number]): void => {
          if (c.pair === null) return;
          for (const s of c.pair.conn.seqs()) c.seen.push(s);
          const welcome = c.pair.conn.of('welcome')[0];
          if (welcome !== undefined) c.token = welcome.resumeToken;
          c.pair.conn.clear();
        };
        const lastSeen = (c: (typeof clients)[number]): number => c.seen.reduce((m, s) => Math.max(m, s), 0);
        const connect = async (c: (typeof clients)[number], awaited: boolean): Promise<void> => {
          collect(c);
          c.pair = t.connect();
          const request = { nick: c.nick, lastSeq: lastSeen(c), ...(c.token ? { resumeToken: c.token } : {}) };
          const joining = c.pair.member.join(request);
          if (awaited) await joining;
        };
        for (const c of clients) await connect(c, true);
        let n = 0;
        for (const a of actions) {
          if (a.kind === 'send') {
            const c = clients[a.who];
            if (c?.pair && !c.pair.conn.closed) {
              const sending = c.pair.member.input(`m${n++}`, `id${n}`);
              if (a.awaited) await sending;
            }
          } else if (a.kind === 'drop') {
            const c = clients[a.who];
            if (c?.pair && !c.pair.conn.closed) c.pair.conn.drop();
          } else if (a.kind === 'rejoin') {
            const c = clients[a.who];
            if (c) {
              c.pair?.conn.drop();
              await t.hub.idle();
              await connect(c, a.awaited);
            }
          } else {
            t.clock.advance(a.ms);
          }
        }
        await t.hub.idle();
        // Everyone reconnects one last time and pages through what is left.
        for (const c of clients) {
          c.pair?.conn.drop();
          await t.hub.idle();
          await connect(c, true);
          const welcome = c.pair?.conn.of('welcome')[0];
          assert.ok(welcome, `${c.nick} got no welcome`);
          collect(c);
          while (lastSeen(c) < welcome.lastSeq) {
            const after = lastSeen(c);
            await c.pair?.member.history(after, undefined, 'page');
            collect(c);
            if (lastSeen(c) === after) assert.fail(`${c.nick}: paging stalled at ${after}`);
          }
        }
        await t.hub.idle();
        for (const c of clients) collect(c);
        const last = (await t.store.getRoom('lobby'))?.lastSeq ?? 0;
        for (const c of clients) {
          const expected = Array.from({ length: last }, (_, i) => i + 1);
          assert.deepEqual(
            c.seen.filter((s) => s <= last),
            expected,
            `${c.nick} saw ${c.seen.join(',')}`,
          );
        }
      }),
      { numRuns: 150 },
    );
  });
});
