import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FOREVER } from '../../../src/chat/store/restrictions.js';
import type { ChatStore, EditRequest, ModerationRequest, NewEntry, Restriction, RoomEvent, SeatClaim, SeatRecord } from '../../../src/chat/store/store.js';

/** The fields of an entry that is no reply, was never edited and has no author. */
const NO_EXTRAS = { author: null, ref: null, refNick: null, edited: null } as const;

/**
 * The behaviour every ChatStore implementation must have. Each store's test
 * file calls this with a factory giving a fresh, empty, unstarted store.
 */
export function storeContract(name: string, openStore: () => Promise<ChatStore> | ChatStore): void {
  const open = async (): Promise<ChatStore> => {
    const store = await openStore();
    await store.start({ now: 0, graceMs: 60_000 });
    return store;
  };
  const message = (room: string, text: string, extra: Partial<NewEntry> = {}): NewEntry => ({
    room,
    ts: 1000,
    kind: 'message',
    nick: 'alice',
    text,
    ...extra,
  });

  const mod = (room: string, change: ModerationRequest['change'], ts = 2000, notice = 'detail'): ModerationRequest => ({
    room,
    ts,
    change,
    notice: { nick: 'boss', trip: 'BossTrip', text: notice },
  });
  const restriction = (id: string, extra: Partial<Restriction> = {}): Restriction => ({
    id,
    nick: 'bob',
    key: 'bob',
    address: null,
    trip: null,
    by: 'boss',
    at: 2000,
    until: null,
    ...extra,
  });

  async function withStore(fn: (store: ChatStore) => Promise<void>): Promise<void> {
    const store = await open();
    try {
      await fn(store);
    } finally {
      await store.close();
    }
  }

  describe(`${name}: the ChatStore contract`, () => {
    test('an unknown room has no record and no history', () =>
      withStore(async (store) => {
        assert.equal(await store.getRoom('nowhere'), null);
        assert.deepEqual(await store.lastEntries('nowhere', 10), []);
        assert.deepEqual(await store.entriesAfter('nowhere', 0, 10), []);
      }));

    test('append numbers entries 1, 2, 3... per room and returns them whole', () =>
      withStore(async (store) => {
        const a1 = await store.append(message('a', 'one', { ts: 5, kind: 'action', nick: '김철수', clientId: 'c1' }));
        assert.deepEqual(a1, {
          entry: { room: 'a', seq: 1, ts: 5, kind: 'action', nick: '김철수', text: 'one', clientId: 'c1', trip: null, ...NO_EXTRAS },
          duplicate: false,
        });
        assert.equal((await store.append(message('a', 'two'))).entry.seq, 2);
        assert.equal((await store.append(message('b', 'other room'))).entry.seq, 1);
        assert.equal((await store.append(message('a', 'three'))).entry.seq, 3);
        const room = await store.getRoom('a');
        assert.equal(room?.lastSeq, 3);
        assert.equal(room?.lastActivity, 1000);
        assert.equal((await store.append(message('a', 'no id'))).entry.clientId, null);
      }));

    test('text survives the round trip exactly', () =>
      withStore(async (store) => {
        const texts = ['안녕하세요 😀', 'line 1\nline 2\n\ttabbed', '<img src=x onerror=alert(1)>', "quote ' \" \\ %"];
        for (const text of texts) await store.append(message('r', text));
        assert.deepEqual(
          (await store.lastEntries('r', 10)).map((e) => e.text),
          texts,
        );
      }));

    test('a resend with the same (room, client id) is stored once', () =>
      withStore(async (store) => {
        const first = await store.append(message('r', 'hello', { clientId: 'm-1' }));
        await store.append(message('r', 'in between'));
        const again = await store.append(message('r', 'hello (resent)', { clientId: 'm-1', ts: 2000 }));
        assert.equal(again.duplicate, true);
        assert.deepEqual(again.entry, first.entry);
        assert.equal((await store.getRoom('r'))?.lastSeq, 2);
        assert.equal((await store.lastEntries('r', 10)).length, 2);
        const elsewhere = await store.append(message('other', 'hello', { clientId: 'm-1' }));
        assert.equal(elsewhere.duplicate, false, 'client ids are per room');
        await store.append(message('r', 'x'));
        await store.append(message('r', 'x'));
        assert.equal((await store.getRoom('r'))?.lastSeq, 4, 'entries without client id never deduplicate');
      }));

    test('appendMany stores a batch in order, as appends one by one would', () =>
      withStore(async (store) => {
        await store.append(message('r', 'before', { clientId: 'early' }));
        const results = await store.appendMany([
          message('r', 'one', { clientId: 'b1' }),
          message('other', 'elsewhere'),
          message('r', 'again', { clientId: 'early' }),
          message('r', 'two', { clientId: 'b2' }),
          message('r', 'one (resent in the same batch)', { clientId: 'b1' }),
        ]);
        assert.deepEqual(
          results.map((r) => [r.entry.room, r.entry.seq, r.entry.text, r.duplicate]),
          [
            ['r', 2, 'one', false],
            ['other', 1, 'elsewhere', false],
            ['r', 1, 'before', true],
            ['r', 3, 'two', false],
            ['r', 2, 'one', true],
          ],
        );
        assert.deepEqual(
          (await store.lastEntries('r', 10)).map((e) => e.text),
          ['before', 'one', 'two'],
        );
        assert.equal((await store.getRoom('r'))?.lastSeq, 3);
        assert.deepEqual(await store.appendMany([]), []);
      }));

    test('tripcodes are kept with the entry', () =>
      withStore(async (store) => {
        await store.append(message('r', 'signed', { trip: 'Ab3dEf' }));
        assert.equal((await store.lastEntries('r', 1))[0]?.trip, 'Ab3dEf');
      }));

    test('lastEntries: the last N, oldest first, up to a seq', () =>
      withStore(async (store) => {
        for (let i = 1; i <= 60; i++) await store.append(message('r', `m${i}`));
        const last = await store.lastEntries('r', 50);
        assert.equal(last.length, 50);
        assert.equal(last[0]?.seq, 11);
        assert.equal(last[49]?.seq, 60);
        assert.deepEqual(await store.lastEntries('r', 0), []);
        assert.equal((await store.lastEntries('r', 1000)).length, 60);
        assert.deepEqual(
          (await store.lastEntries('r', 3, 40)).map((e) => e.seq),
          [38, 39, 40],
        );
      }));

    test('entriesAfter: exactly the entries after S, in order, bounded', () =>
      withStore(async (store) => {
        for (let i = 1; i <= 30; i++) await store.append(message('r', `m${i}`));
        assert.deepEqual(
          (await store.entriesAfter('r', 25, 100)).map((e) => e.seq),
          [26, 27, 28, 29, 30],
        );
        assert.deepEqual(
          (await store.entriesAfter('r', 0, 3)).map((e) => e.seq),
          [1, 2, 3],
        );
        assert.deepEqual(
          (await store.entriesAfter('r', 10, 2)).map((e) => e.text),
          ['m11', 'm12'],
        );
        assert.deepEqual(
          (await store.entriesAfter('r', 10, 100, 13)).map((e) => e.seq),
          [11, 12, 13],
        );
        assert.deepEqual(await store.entriesAfter('r', 30, 10), []);
        assert.deepEqual(await store.entriesAfter('r', 99, 10), []);
        assert.deepEqual(await store.entriesAfter('r', 5, 0), []);
      }));

    test('a room has an epoch that stays while its numbering does', () =>
      withStore(async (store) => {
        await store.append(message('r', 'x'));
        const epoch = (await store.getRoom('r'))?.epoch;
        assert.match(epoch ?? '', /^[A-Za-z0-9_-]{4,}$/);
        await store.append(message('r', 'y'));
        assert.equal((await store.getRoom('r'))?.epoch, epoch);
        assert.notEqual((await store.append(message('other', 'z'))).entry.seq, 0);
        assert.notEqual((await store.getRoom('other'))?.epoch, undefined);
      }));

    // ---- seats ----

    const claim = (
      room: string,
      nick: string,
      holder: string,
      extra: Partial<Pick<SeatRecord, 'id' | 'key' | 'trip' | 'holdable' | 'address'>> = {},
      maxSeats = 100,
    ): SeatClaim => ({
      room,
      seat: {
        id: `id-${nick}`,
        nick,
        key: nick.toLowerCase(),
        trip: null,
        holder,
        holdable: true,
        ...extra,
      },
      ts: 1000,
      maxSeats,
    });

    test('claimSeat: the seat and its "joined" notice at once; the room is occupied', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        const result = await store.claimSeat(claim('r', 'Alice', holder, { trip: 'T1' }));
        assert.ok(result.ok);
        assert.deepEqual(result.entry, { room: 'r', seq: 1, ts: 1000, kind: 'join', nick: 'Alice', text: '', clientId: null, trip: 'T1', ...NO_EXTRAS });
        assert.deepEqual(result.seat, {
          id: 'id-Alice',
          nick: 'Alice',
          key: 'alice',
          trip: 'T1',
          holder,
          holdUntil: null,
          holdable: true,
          joinedAt: 1000,
          role: 'user',
          address: null,
          mutedUntil: null,
        });
        assert.equal(result.madeOwner, false);
        assert.equal(result.usedInvite, false);
        assert.equal((await store.getRoom('r'))?.emptiedAt, null);
        const snapshot = await store.seats('r');
        assert.equal(snapshot.version, result.version);
        assert.deepEqual(snapshot.seats, [result.seat]);
      }));

    test('claimSeat: a nickname key is taken once per room; a full room refuses', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        assert.ok((await store.claimSeat(claim('r', 'alice', holder))).ok);
        assert.deepEqual(await store.claimSeat(claim('r', 'ALICE', `${store.nodeId}/2`, { id: 'other', key: 'alice' })), {
          ok: false,
          reason: 'taken',
        });
        assert.ok((await store.claimSeat(claim('elsewhere', 'alice', holder))).ok, 'another room, another namespace');
        assert.deepEqual(await store.claimSeat(claim('r', 'bob', holder, {}, 1)), { ok: false, reason: 'full' });
        assert.equal((await store.getRoom('r'))?.lastSeq, 1, 'refusals store nothing');
      }));

    test('concurrent claims of one nickname: exactly one wins', () =>
      withStore(async (store) => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => store.claimSeat(claim('r', 'same', `${store.nodeId}/${i}`, { id: `s${i}` }))),
        );
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.equal((await store.seats('r')).seats.length, 1);
      }));

    test('resumeSeat: any holder takes the seat back by id, no notice; unknown ids and other rooms get null', () =>
      withStore(async (store) => {
        const first = `${store.nodeId}/1`;
        const second = `${store.nodeId}/2`;
        const claimed = await store.claimSeat(claim('r', 'bob', first));
        assert.ok(claimed.ok);
        await store.append(message('r', 'after the join'));
        const resumed = await store.resumeSeat('r', 'id-bob', second, 2000);
        assert.ok(resumed);
        assert.equal(resumed.previousHolder, first);
        assert.equal(resumed.seat.holder, second);
        assert.equal(resumed.lastSeq, 2);
        assert.ok(resumed.version > claimed.version);
        assert.equal((await store.getRoom('r'))?.lastSeq, 2, 'no notice');
        assert.equal(await store.resumeSeat('r', 'nobody', second, 2000), null);
        assert.equal(await store.resumeSeat('elsewhere', 'id-bob', second, 2000), null);
      }));

    test('awaySeat: only by the connection holding the seat; resuming ends the hold', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'bob', holder));
        assert.equal(await store.awaySeat('r', 'id-bob', `${store.nodeId}/9`, 5000), null, 'not the holder');
        const away = await store.awaySeat('r', 'id-bob', holder, 5000);
        assert.ok(away);
        assert.equal(away.seat.holder, null);
        assert.equal(away.seat.holdUntil, 5000);
        assert.equal(await store.awaySeat('r', 'id-bob', holder, 6000), null, 'once');
        const back = await store.resumeSeat('r', 'id-bob', `${store.nodeId}/2`, 3000);
        assert.equal(back?.previousHolder, null);
        assert.equal(back?.seat.holdUntil, null);
      }));

    test('renameSeat: with its notice; refused when taken or not held by the caller', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'alice', holder));
        await store.claimSeat(claim('r', 'bob', `${store.nodeId}/2`));
        assert.deepEqual(await store.renameSeat('r', 'id-alice', holder, 'Bob', 'bob', 2000), { ok: false, reason: 'taken' });
        assert.deepEqual(await store.renameSeat('r', 'id-alice', `${store.nodeId}/2`, 'x', 'x', 2000), { ok: false, reason: 'gone' });
        const renamed = await store.renameSeat('r', 'id-alice', holder, 'Alicia', 'alicia', 2000);
        assert.ok(renamed.ok);
        assert.equal(renamed.entry.kind, 'rename');
        assert.equal(renamed.entry.nick, 'Alicia');
        assert.equal(renamed.entry.text, 'alice');
        assert.ok((await store.claimSeat(claim('r', 'alice', `${store.nodeId}/3`, { id: 'new' }))).ok, 'the old name is free');
        assert.deepEqual(
          (await store.seats('r')).seats.map((s) => s.nick),
          ['Alicia', 'bob', 'alice'],
          'joining order',
        );
      }));

    test('releaseSeat: by id or key, with its notice, exactly once; the last one empties the room', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'alice', holder));
        await store.claimSeat(claim('r', 'bob', `${store.nodeId}/2`));
        await store.append(message('r', 'worth keeping'));
        assert.equal(await store.releaseSeat({ room: 'r', id: 'id-alice', reason: 'quit', ts: 3000, holder: 'someone/else' }), null);
        const released = await Promise.all([
          store.releaseSeat({ room: 'r', id: 'id-alice', reason: 'quit', ts: 3000 }),
          store.releaseSeat({ room: 'r', key: 'alice', reason: 'kicked', ts: 3000 }),
        ]);
        const done = released.filter((r) => r !== null);
        assert.equal(done.length, 1, 'freed once');
        assert.equal(done[0]?.entry.kind, 'leave');
        assert.equal(done[0]?.entry.nick, 'alice');
        assert.equal(done[0]?.emptied, false);
        const last = await store.releaseSeat({ room: 'r', key: 'bob', reason: 'kicked', ts: 4000 });
        assert.equal(last?.entry.text, 'kicked');
        assert.equal(last?.emptied, true);
        assert.equal(last?.forgotten, false, 'it has a message');
        assert.equal((await store.getRoom('r'))?.emptiedAt, 4000);
        assert.deepEqual((await store.seats('r')).seats, []);
        assert.equal(await store.releaseSeat({ room: 'nowhere', key: 'x', reason: 'quit', ts: 1 }), null);
      }));

    test('releaseSeat with expired: only an away seat whose hold has ended', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'bob', holder));
        assert.equal(await store.releaseSeat({ room: 'r', id: 'id-bob', reason: 'lost', ts: 9999, expired: true }), null, 'held');
        await store.awaySeat('r', 'id-bob', holder, 5000);
        assert.equal(await store.releaseSeat({ room: 'r', id: 'id-bob', reason: 'lost', ts: 4999, expired: true }), null, 'not yet');
        const released = await store.releaseSeat({ room: 'r', id: 'id-bob', reason: 'lost', ts: 5000, expired: true });
        assert.equal(released?.entry.text, 'lost');
      }));

    test('sweepSeats: seats of connections that are gone become away; ended holds are freed once', () =>
      withStore(async (store) => {
        const mine = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'mine', mine));
        await store.claimSeat(claim('r', 'orphan', 'ghost-node/7'));
        await store.claimSeat(claim('r', 'plain', 'ghost-node/8', { holdable: false }));
        await store.claimSeat(claim('r', 'away', mine));
        await store.awaySeat('r', 'id-away', mine, 1500);
        const first = await store.sweepSeats(1200, 60_000);
        assert.deepEqual(first, { released: 1, orphaned: 2, nextHoldUntil: 1500 });
        const seats = new Map((await store.seats('r')).seats.map((s) => [s.nick, s]));
        assert.equal(seats.get('mine')?.holder, mine, 'live connections keep their seats');
        assert.equal(seats.get('orphan')?.holder, null);
        assert.equal(seats.get('orphan')?.holdUntil, 61_200);
        assert.equal(seats.has('plain'), false, 'a seat that cannot be resumed is freed at once');
        const second = await store.sweepSeats(1500, 60_000);
        assert.deepEqual(second, { released: 1, orphaned: 0, nextHoldUntil: 61_200 });
        const leaves = (await store.lastEntries('r', 100)).filter((e) => e.kind === 'leave').map((e) => `${e.nick}:${e.text}`);
        assert.deepEqual(leaves, ['plain:lost', 'away:lost']);
        const [a, b] = await Promise.all([store.sweepSeats(70_000, 60_000), store.sweepSeats(70_000, 60_000)]);
        assert.equal((a?.released ?? 0) + (b?.released ?? 0), 1, 'two sweeps at once free a seat once');
      }));

    test('listRooms: rooms with seats, with counts', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('b', 'x', holder));
        await store.claimSeat(claim('a', 'x', holder));
        await store.claimSeat(claim('a', 'y', holder));
        await store.awaySeat('a', 'id-y', holder, 9999);
        await store.append(message('history-only', 'x'));
        assert.deepEqual(await store.listRooms(), [
          { name: 'a', members: 2, connected: 1, lastSeq: 2 },
          { name: 'b', members: 1, connected: 1, lastSeq: 1 },
        ]);
      }));

    // ---- the room bus ----

    test('followers get entries and seat changes, in order, after they are stored', () =>
      withStore(async (store) => {
        const events: RoomEvent[] = [];
        let resolveWait: (() => void) | null = null;
        const unfollow = await store.follow('r', (event) => {
          events.push(event);
          resolveWait?.();
        });
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'alice', holder));
        await store.append(message('r', 'hello'));
        await store.append(message('other', 'not followed'));
        await store.signal('r', { typing: 'alice' });
        const seen = async (n: number): Promise<void> => {
          while (events.length < n) await new Promise<void>((resolve) => (resolveWait = resolve));
        };
        await seen(4);
        const seqs = events.flatMap((e) => (e.type === 'entries' ? e.entries.map((x) => x.seq) : []));
        assert.deepEqual(seqs, [1, 2]);
        const seat = events.find((e) => e.type === 'seat');
        assert.ok(seat?.type === 'seat' && seat.change.op === 'set' && seat.change.seat.nick === 'alice');
        const signal = events.find((e) => e.type === 'signal');
        assert.deepEqual(signal?.type === 'signal' && signal.data, { typing: 'alice' });
        assert.ok(events.every((e) => e.room === 'r'));
        unfollow();
        const count = events.length;
        await store.append(message('r', 'after unfollow'));
        await store.signal('r', { x: 1 });
        await store.claimSeat(claim('probe', 'p', holder));
        const probe: RoomEvent[] = [];
        const stop = await store.follow('probe', (e) => probe.push(e));
        await store.append(message('probe', 'x'));
        while (probe.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        stop();
        assert.equal(events.length, count, 'nothing after unfollow');
      }));

    // ---- expiry ----

    test('a room without seats for the TTL is forgotten: history, settings; the name starts afresh', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'a', holder));
        await store.append(message('r', 'a'));
        await store.moderate(mod('r', { op: 'topic', topic: 'kept until expiry' }, 5000));
        const epoch = (await store.getRoom('r'))?.epoch;
        await store.releaseSeat({ room: 'r', id: 'id-a', reason: 'quit', ts: 10_000 });
        assert.deepEqual(await store.expireRooms(9_999), [], 'not yet');
        assert.equal((await store.lastEntries('r', 10)).length, 4);
        assert.deepEqual(await store.expireRooms(10_000), ['r']);
        assert.deepEqual(await store.lastEntries('r', 10), []);
        assert.equal(await store.getRoom('r'), null);
        assert.equal((await store.policy('r', 10_000)).topic, null, 'settings go with it');
        assert.deepEqual(await store.expireRooms(20_000), [], 'reported once');
        const next = await store.append(message('r', 'after expiry', { clientId: 'c' }));
        assert.equal(next.entry.seq, 1, 'a new life: numbering from 1...');
        assert.notEqual((await store.getRoom('r'))?.epoch, epoch, '...in a new epoch');
      }));

    test('a room emptied with nothing but comings and goings is forgotten at once', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('bare', 'a', holder));
        await store.claimSeat(claim('bare', 'b', holder));
        await store.renameSeat('bare', 'id-b', holder, 'bee', 'bee', 1500);
        const epoch = (await store.getRoom('bare'))?.epoch;
        assert.equal((await store.releaseSeat({ room: 'bare', id: 'id-a', reason: 'quit', ts: 2000 }))?.forgotten, false, 'not empty yet');
        const last = await store.releaseSeat({ room: 'bare', id: 'id-b', reason: 'quit', ts: 3000 });
        assert.equal(last?.emptied, true);
        assert.equal(last?.forgotten, true);
        assert.equal(await store.getRoom('bare'), null);
        assert.deepEqual(await store.lastEntries('bare', 10), []);
        const again = await store.claimSeat(claim('bare', 'c', holder));
        assert.ok(again.ok);
        assert.equal(again.entry.seq, 1);
        assert.notEqual(again.epoch, epoch);
        // The same through a sweep: the last away seat's hold ends.
        await store.awaySeat('bare', 'id-c', holder, 4000);
        await store.sweepSeats(4000, 60_000);
        assert.equal(await store.getRoom('bare'), null, 'swept empty and forgotten');
        // A message, a console line or a moderation notice makes it worth keeping.
        for (const [room, keep] of [
          ['m', () => store.append(message('m', 'hi'))],
          ['l', () => store.moderate(mod('l', { op: 'lock', locked: true }))],
        ] as const) {
          await store.claimSeat(claim(room, 'a', holder));
          await keep();
          const released = await store.releaseSeat({ room, id: 'id-a', reason: 'quit', ts: 5000 });
          assert.equal(released?.forgotten, false, room);
          assert.equal((await store.getRoom(room))?.emptiedAt, 5000, room);
        }
        assert.equal((await store.policy('l', 5000)).locked, true, 'a lock outlives the last member');
      }));

    test('append alone creates an empty room; a room with seats never loses its history', () =>
      withStore(async (store) => {
        await store.append(message('e', 'x', { ts: 700 }));
        assert.equal((await store.getRoom('e'))?.emptiedAt, 700);
        assert.equal((await store.getRoom('e'))?.createdAt, 700);
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('busy', 'a', holder));
        await store.append(message('busy', 'keep me', { ts: 1 }));
        assert.deepEqual(await store.expireRooms(Number.MAX_SAFE_INTEGER), ['e']);
        assert.equal((await store.lastEntries('busy', 10)).length, 2);
        await store.awaySeat('busy', 'id-a', holder, 2000);
        assert.deepEqual(await store.expireRooms(Number.MAX_SAFE_INTEGER), [], 'an away member keeps it too');
      }));

    // ---- moderation ----

    test('policy of a room nobody configured: nothing set; reading it creates nothing', () =>
      withStore(async (store) => {
        assert.deepEqual(await store.policy('nowhere', 1), {
          ownerKey: null,
          locked: false,
          password: null,
          topic: null,
          opTrips: [],
          bans: [],
          mutes: [],
        });
        assert.equal(await store.getRoom('nowhere'), null);
      }));

    test('ownership: the first claim of a room with no history may make the owner; the key makes owners later', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        const first = await store.claimSeat({ ...claim('r', 'alice', holder), newOwnerKey: 'K1' });
        assert.ok(first.ok);
        assert.equal(first.madeOwner, true);
        assert.equal(first.seat.role, 'owner');
        assert.equal((await store.policy('r', 1000)).ownerKey, 'K1');
        const second = await store.claimSeat({ ...claim('r', 'bob', holder), newOwnerKey: 'K2' });
        assert.ok(second.ok);
        assert.deepEqual([second.madeOwner, second.seat.role], [false, 'user'], 'the room exists: no new owner');
        const wrong = await store.claimSeat({ ...claim('r', 'carol', holder), ownerKey: 'K2' });
        assert.equal(wrong.ok && wrong.seat.role, 'user');
        const right = await store.claimSeat({ ...claim('r', 'dave', holder), ownerKey: 'K1' });
        assert.equal(right.ok && right.seat.role, 'owner', 'another device of the owner');
        await store.append(message('h', 'history first'));
        const late = await store.claimSeat({ ...claim('h', 'x', holder), newOwnerKey: 'K3' });
        assert.equal(late.ok && late.madeOwner, false, 'a room with history gets no owner this way');
        assert.equal((await store.policy('h', 1000)).ownerKey, null);
      }));

    test('moderate role: with its notice and seat change; operator tripcodes make operators of later seats', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'bob', holder, { trip: 'BobTrip' }));
        const events: RoomEvent[] = [];
        const stop = await store.follow('r', (e) => events.push(e));
        const result = await store.moderate(mod('r', { op: 'role', seat: 'id-bob', role: 'operator', trip: 'add' }, 2000, 'op bob'));
        assert.ok(result.ok);
        assert.deepEqual(
          [result.entry.kind, result.entry.nick, result.entry.trip, result.entry.text, result.entry.seq],
          ['mod', 'boss', 'BossTrip', 'op bob', 2],
        );
        assert.equal(result.seat?.change.op === 'set' && result.seat.change.seat.role, 'operator');
        assert.deepEqual((await store.seats('r')).seats.map((x) => x.role), ['operator']);
        assert.deepEqual((await store.policy('r', 2000)).opTrips, ['BobTrip']);
        while (!events.some((e) => e.type === 'entries') || !events.some((e) => e.type === 'seat')) {
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        stop();
        await store.releaseSeat({ room: 'r', id: 'id-bob', reason: 'quit', ts: 3000 });
        const back = await store.claimSeat(claim('r', 'bobby', holder, { id: 'again', trip: 'BobTrip' }));
        assert.equal(back.ok && back.seat.role, 'operator', 'the same tripcode, another seat');
        await store.moderate(mod('r', { op: 'role', seat: 'again', role: 'user', trip: 'remove' }));
        assert.deepEqual((await store.policy('r', 4000)).opTrips, []);
        assert.deepEqual(await store.moderate(mod('r', { op: 'role', seat: 'nobody', role: 'operator' })), { ok: false, reason: 'gone' });
      }));

    test('bans: the seat leaves with the notice as its reason; later claims by address or tripcode are refused until it ends', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'boss', holder));
        await store.claimSeat(claim('r', 'bob', holder, { address: 'A1', trip: 'T1' }));
        const ban = restriction('b1', { address: 'A1', trip: 'T1', until: 5000 });
        const result = await store.moderate(mod('r', { op: 'ban', restriction: ban, seat: 'id-bob' }, 2000, '{"ban":"bob"}'));
        assert.ok(result.ok);
        assert.deepEqual([result.entry.kind, result.entry.nick, result.entry.text], ['leave', 'bob', '{"ban":"bob"}']);
        assert.deepEqual(result.seat?.change, { op: 'delete', id: 'id-bob', reason: '{"ban":"bob"}' });
        assert.deepEqual((await store.seats('r')).seats.map((x) => x.nick), ['boss']);
        assert.deepEqual((await store.policy('r', 2000)).bans, [ban]);
        const byAddress = await store.claimSeat({ ...claim('r', 'robert', holder, { id: 'x1', address: 'A1' }), ts: 3000 });
        assert.deepEqual(byAddress, { ok: false, reason: 'banned', until: 5000 });
        const byTrip = await store.claimSeat({ ...claim('r', 'rob', holder, { id: 'x2', address: 'A2', trip: 'T1' }), ts: 3000 });
        assert.deepEqual(byTrip, { ok: false, reason: 'banned', until: 5000 });
        assert.ok((await store.claimSeat({ ...claim('r', 'other', holder, { id: 'x3', address: 'A2' }), ts: 3000 })).ok, 'others are fine');
        assert.ok((await store.claimSeat({ ...claim('r', 'robert', holder, { id: 'x4', address: 'A1' }), ts: 5000 })).ok, 'the ban ended');
        assert.deepEqual((await store.policy('r', 5000)).bans, [], 'ended bans are not listed');
        assert.ok((await store.claimSeat({ ...claim('elsewhere', 'bob', holder, { address: 'A1' }), ts: 3000 })).ok, 'bans are per room');
      }));

    test('bans: until lifted; of a member who is gone; an owner key passes; unban', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat({ ...claim('r', 'owner', holder, { address: 'A1' }), newOwnerKey: 'OK' });
        const result = await store.moderate(mod('r', { op: 'ban', restriction: restriction('b2', { address: 'A1' }), seat: 'gone-seat' }, 2000, 'ban text'));
        assert.ok(result.ok);
        assert.deepEqual([result.entry.kind, result.entry.text], ['mod', 'ban text'], 'nobody to remove: a moderation notice');
        assert.equal(result.seat, undefined);
        assert.deepEqual(await store.claimSeat({ ...claim('r', 'x', holder, { id: 'x', address: 'A1' }), ts: 9e12 }), {
          ok: false,
          reason: 'banned',
          until: null,
        });
        const owner = await store.claimSeat({ ...claim('r', 'owner2', holder, { id: 'o2', address: 'A1' }), ownerKey: 'OK' });
        assert.equal(owner.ok && owner.seat.role, 'owner', 'the owner is never locked out of the room');
        assert.deepEqual(await store.moderate(mod('r', { op: 'unban', ids: ['nope'] })), { ok: false, reason: 'not-found' });
        assert.ok((await store.moderate(mod('r', { op: 'unban', ids: ['b2'] }))).ok);
        assert.ok((await store.claimSeat(claim('r', 'x', holder, { id: 'x', address: 'A1' }))).ok);
      }));

    test('mutes: the seat is muted, later seats of that address or tripcode too; unmute lifts both', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'bob', holder, { address: 'A1', trip: 'T1' }));
        const result = await store.moderate(mod('r', { op: 'mute', restriction: restriction('m1', { address: 'A1', trip: 'T1' }), seat: 'id-bob' }));
        assert.ok(result.ok);
        assert.equal(result.entry.kind, 'mod');
        assert.equal(result.seat?.change.op === 'set' && result.seat.change.seat.mutedUntil, FOREVER);
        await store.releaseSeat({ room: 'r', id: 'id-bob', reason: 'quit', ts: 2500 });
        const back = await store.claimSeat({ ...claim('r', 'bobby', holder, { id: 'b2', address: 'A1' }), ts: 3000 });
        assert.equal(back.ok && back.seat.mutedUntil, FOREVER, 'leaving and coming back does not lift a mute');
        const timed = await store.moderate(mod('r', { op: 'mute', restriction: restriction('m2', { trip: 'T9', until: 9000 }), seat: null }));
        assert.ok(timed.ok);
        const t9 = await store.claimSeat({ ...claim('r', 'nine', holder, { id: 'n', trip: 'T9' }), ts: 4000 });
        assert.equal(t9.ok && t9.seat.mutedUntil, 9000);
        assert.equal((await store.policy('r', 4000)).mutes.length, 2);
        const lifted = await store.moderate(mod('r', { op: 'unmute', ids: ['m1'], seat: 'b2' }));
        assert.equal(lifted.ok && lifted.seat?.change.op === 'set' && lifted.seat.change.seat.mutedUntil, null);
        assert.deepEqual(await store.moderate(mod('r', { op: 'unmute', ids: ['m1'], seat: 'b2' })), { ok: false, reason: 'not-found' });
        assert.deepEqual(
          (await store.policy('r', 4000)).mutes.map((m) => m.id),
          ['m2'],
        );
      }));

    test('lock: newcomers are refused, members stay; owners, operator tripcodes and invites get in', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat({ ...claim('r', 'owner', holder), newOwnerKey: 'OK' });
        await store.claimSeat(claim('r', 'op', holder, { trip: 'OpTrip' }));
        await store.moderate(mod('r', { op: 'role', seat: 'id-op', role: 'operator', trip: 'add' }));
        assert.ok((await store.moderate(mod('r', { op: 'lock', locked: true }))).ok);
        assert.equal((await store.policy('r', 2000)).locked, true);
        assert.deepEqual(await store.claimSeat(claim('r', 'newcomer', holder)), { ok: false, reason: 'locked' });
        assert.equal((await store.seats('r')).seats.length, 2, 'members stay');
        const ownerAgain = await store.claimSeat({ ...claim('r', 'owner2', holder), ownerKey: 'OK' });
        assert.equal(ownerAgain.ok && ownerAgain.seat.role, 'owner');
        const opAgain = await store.claimSeat(claim('r', 'op2', holder, { trip: 'OpTrip' }));
        assert.equal(opAgain.ok && opAgain.seat.role, 'operator');
        await store.moderate(mod('r', { op: 'invite', hash: 'INV', until: 10_000 }));
        assert.deepEqual(
          await store.claimSeat({ ...claim('r', 'owner', holder, { id: 'taken-nick' }), invite: 'INV' }),
          { ok: false, reason: 'taken' },
          'a refused claim does not use the invite up',
        );
        const invited = await store.claimSeat({ ...claim('r', 'guest', holder), invite: 'INV' });
        assert.ok(invited.ok);
        assert.equal(invited.usedInvite, true);
        assert.deepEqual(await store.claimSeat({ ...claim('r', 'guest2', holder), invite: 'INV' }), { ok: false, reason: 'locked' }, 'once');
        await store.moderate(mod('r', { op: 'invite', hash: 'OLD', until: 1500 }));
        assert.deepEqual(await store.claimSeat({ ...claim('r', 'late', holder), invite: 'OLD', ts: 2000 }), { ok: false, reason: 'locked' }, 'expired');
        await store.moderate(mod('r', { op: 'lock', locked: false }));
        const open = await store.claimSeat({ ...claim('r', 'free', holder), invite: 'NOPE' });
        assert.equal(open.ok && open.usedInvite, false, 'an open room needs no invite');
      }));

    test('an invite admits one person once, however many try at once', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'owner', holder));
        await store.moderate(mod('r', { op: 'lock', locked: true }));
        await store.moderate(mod('r', { op: 'invite', hash: 'ONE', until: 10_000 }));
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => store.claimSeat({ ...claim('r', `guest${i}`, holder), invite: 'ONE' })),
        );
        assert.equal(results.filter((r) => r.ok).length, 1);
        assert.ok(results.every((r) => r.ok || r.reason === 'locked'));
      }));

    test('password: refused without it or with another; the right one or an invite lets in; a lock still wins', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'owner', holder));
        await store.moderate(mod('r', { op: 'password', hash: 'PW' }));
        assert.equal((await store.policy('r', 2000)).password, 'PW');
        assert.deepEqual(await store.claimSeat(claim('r', 'a', holder)), { ok: false, reason: 'password' });
        assert.deepEqual(await store.claimSeat({ ...claim('r', 'a', holder), password: 'other' }), { ok: false, reason: 'password' });
        assert.ok((await store.claimSeat({ ...claim('r', 'a', holder), password: 'PW' })).ok);
        await store.moderate(mod('r', { op: 'invite', hash: 'INV', until: 10_000 }));
        const invited = await store.claimSeat({ ...claim('r', 'b', holder), invite: 'INV' });
        assert.equal(invited.ok && invited.usedInvite, true);
        await store.moderate(mod('r', { op: 'lock', locked: true }));
        assert.deepEqual(await store.claimSeat({ ...claim('r', 'c', holder), password: 'PW' }), { ok: false, reason: 'locked' });
        await store.moderate(mod('r', { op: 'lock', locked: false }));
        await store.moderate(mod('r', { op: 'password', hash: null }));
        assert.ok((await store.claimSeat(claim('r', 'c', holder))).ok);
      }));

    test('topic: kept in the policy, with its notice', () =>
      withStore(async (store) => {
        const result = await store.moderate(mod('r', { op: 'topic', topic: 'Plans for Friday 🎉' }, 2000, 'topic notice'));
        assert.ok(result.ok);
        assert.deepEqual([result.entry.seq, result.entry.kind, result.entry.text], [1, 'mod', 'topic notice']);
        assert.equal((await store.policy('r', 2000)).topic, 'Plans for Friday 🎉');
        await store.moderate(mod('r', { op: 'topic', topic: null }));
        assert.equal((await store.policy('r', 2000)).topic, null);
        assert.equal((await store.getRoom('r'))?.emptiedAt, 2000, 'a room made by a notice is empty until someone joins');
      }));

    test('delete: a message becomes a tombstone (seq, time and client id stay); only messages, actions and console lines', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'alice', holder));
        const said = await store.append(message('r', 'oops, my password', { clientId: 'c1', trip: 'T' }));
        const result = await store.moderate(mod('r', { op: 'delete', seq: said.entry.seq }, 2000, 'deleted 2'));
        assert.ok(result.ok);
        assert.equal(result.entry.seq, 3);
        const [tomb] = await store.entriesAfter('r', 1, 1);
        assert.deepEqual(tomb, { room: 'r', seq: 2, ts: 1000, kind: 'deleted', nick: '', text: '', clientId: 'c1', trip: null, ...NO_EXTRAS });
        const resent = await store.append(message('r', 'oops, my password', { clientId: 'c1' }));
        assert.equal(resent.duplicate, true, 'a resend of a deleted message is not stored again');
        assert.equal(resent.entry.seq, 2);
        assert.deepEqual(await store.moderate(mod('r', { op: 'delete', seq: 2 })), { ok: false, reason: 'not-found' }, 'twice');
        assert.deepEqual(await store.moderate(mod('r', { op: 'delete', seq: 1 })), { ok: false, reason: 'not-found' }, 'a notice');
        assert.deepEqual(await store.moderate(mod('r', { op: 'delete', seq: 99 })), { ok: false, reason: 'not-found' });
        assert.deepEqual(await store.moderate(mod('nowhere', { op: 'delete', seq: 1 })), { ok: false, reason: 'not-found' });
        assert.equal(await store.getRoom('nowhere'), null, 'a refusal creates nothing');
      }));

    // ---- authors, replies, edits, deleting one's own ----

    const edit = (seq: number, text: string, extra: Partial<EditRequest> = {}): EditRequest => ({
      room: 'r',
      seq,
      text,
      author: 'seat-a',
      since: 0,
      ts: 3000,
      nick: 'alice',
      trip: null,
      clientId: null,
      ...extra,
    });

    test('authors and replies are stored with the entry and come back whole', () =>
      withStore(async (store) => {
        await store.append(message('r', 'question', { author: 'seat-b', nick: 'bob' }));
        const reply = await store.append(message('r', 'answer', { author: 'seat-a', ref: 1, refNick: 'bob', clientId: 'c9' }));
        assert.deepEqual(reply.entry, {
          room: 'r', seq: 2, ts: 1000, kind: 'message', nick: 'alice', text: 'answer', clientId: 'c9', trip: null,
          author: 'seat-a', ref: 1, refNick: 'bob', edited: null,
        });
        assert.deepEqual(await store.entriesAfter('r', 1, 1), [reply.entry]);
        const [batched] = await store.appendMany([message('r', 'batched', { author: 'seat-a', ref: 2, refNick: 'alice' })]);
        assert.deepEqual([batched?.entry.author, batched?.entry.ref, batched?.entry.refNick], ['seat-a', 2, 'alice']);
        assert.deepEqual((await store.append(message('r', 'plain'))).entry.author, null);
      }));

    test('editEntry: the text replaced in place with its time, an edit entry of its own that followers get', () =>
      withStore(async (store) => {
        const events: RoomEvent[] = [];
        const unfollow = await store.follow('r', (event) => events.push(event));
        await store.append(message('r', 'helo', { author: 'seat-a', clientId: 'm1', trip: 'T' }));
        await store.append(message('r', 'other', { author: 'seat-b', nick: 'bob' }));
        const result = await store.editEntry(edit(1, 'hello', { clientId: 'e1', trip: 'T' }));
        assert.ok(result.ok);
        assert.equal(result.duplicate, false);
        assert.deepEqual(result.entry, {
          room: 'r', seq: 3, ts: 3000, kind: 'edit', nick: 'alice', text: 'hello', clientId: 'e1', trip: 'T',
          author: 'seat-a', ref: 1, refNick: null, edited: null,
        });
        const [edited] = await store.entriesAfter('r', 0, 1);
        assert.deepEqual(edited, {
          room: 'r', seq: 1, ts: 1000, kind: 'message', nick: 'alice', text: 'hello', clientId: 'm1', trip: 'T',
          author: 'seat-a', ref: null, refNick: null, edited: 3000,
        });
        assert.equal((await store.getRoom('r'))?.lastSeq, 3);
        while (!events.some((e) => e.type === 'entries' && e.entries.some((x) => x.kind === 'edit'))) await new Promise((resolve) => setTimeout(resolve, 5));
        const announced = events.flatMap((e) => (e.type === 'entries' ? e.entries : [])).find((e) => e.kind === 'edit');
        assert.deepEqual(announced, result.entry);
        unfollow();
        // The message's own client id still finds it: a resend is not stored again.
        assert.equal((await store.append(message('r', 'helo', { clientId: 'm1' }))).duplicate, true);
      }));

    test('editEntry: only the author, only since the time given, only messages and actions; a refusal changes nothing', () =>
      withStore(async (store) => {
        await store.append(message('r', 'mine', { author: 'seat-a', ts: 1000 }));
        await store.append(message('r', 'not mine', { author: 'seat-b', ts: 1000 }));
        await store.append({ room: 'r', ts: 1000, kind: 'admin', nick: 'Administrator', text: 'console' });
        await store.append({ room: 'r', ts: 1000, kind: 'join', nick: 'alice', text: '' });
        await store.append(message('r', 'acted', { kind: 'action', author: 'seat-a' }));
        assert.deepEqual(await store.editEntry(edit(2, 'x')), { ok: false, reason: 'not-yours' });
        assert.deepEqual(await store.editEntry(edit(1, 'x', { since: 1001 })), { ok: false, reason: 'too-late' });
        assert.deepEqual(await store.editEntry(edit(3, 'x')), { ok: false, reason: 'not-found' });
        assert.deepEqual(await store.editEntry(edit(4, 'x')), { ok: false, reason: 'not-found' });
        assert.deepEqual(await store.editEntry(edit(99, 'x')), { ok: false, reason: 'not-found' });
        assert.deepEqual(await store.editEntry(edit(1, 'x', { room: 'nowhere' })), { ok: false, reason: 'not-found' });
        assert.equal(await store.getRoom('nowhere'), null);
        assert.equal((await store.getRoom('r'))?.lastSeq, 5, 'no entry for a refusal');
        assert.deepEqual((await store.lastEntries('r', 5)).map((e) => [e.text, e.edited]), [['mine', null], ['not mine', null], ['console', null], ['', null], ['acted', null]]);
        const action = await store.editEntry(edit(5, 'acts again', { since: 1000 }));
        assert.ok(action.ok);
        assert.equal((await store.entriesAfter('r', 4, 1))[0]?.kind, 'action', 'an action stays an action');
      }));

    test('editEntry: a resend (same client id) changes nothing and returns the first; a later edit empties the earlier one', () =>
      withStore(async (store) => {
        await store.append(message('r', 'v1', { author: 'seat-a' }));
        const first = await store.editEntry(edit(1, 'v2 with a secret', { clientId: 'e1' }));
        assert.ok(first.ok);
        const again = await store.editEntry(edit(1, 'something else', { clientId: 'e1', ts: 4000 }));
        assert.deepEqual(again, { ok: true, entry: first.entry, duplicate: true });
        assert.equal((await store.entriesAfter('r', 0, 1))[0]?.text, 'v2 with a secret');
        const second = await store.editEntry(edit(1, 'v3', { clientId: 'e2', ts: 5000 }));
        assert.ok(second.ok);
        assert.equal(second.entry.seq, 3);
        const all = await store.lastEntries('r', 10);
        assert.deepEqual(
          all.map((e) => [e.seq, e.kind, e.text, e.ref, e.edited]),
          [
            [1, 'message', 'v3', null, 5000],
            [2, 'edit', '', 1, null],
            [3, 'edit', 'v3', 1, null],
          ],
          'the superseded edit keeps its place but not the old text',
        );
        assert.equal((await store.getRoom('r'))?.lastSeq, 3, 'the resend stored nothing');
      }));

    test('delete with an author and a time: one\'s own entry only, recent only; the tombstone keeps the author, the last edit loses its text', () =>
      withStore(async (store) => {
        await store.append(message('r', 'mine', { author: 'seat-a', ref: null }));
        await store.append(message('r', 'reply', { author: 'seat-b', ref: 1, refNick: 'alice' }));
        const change = (seq: number, extra: { author?: string; since?: number }) => mod('r', { op: 'delete', seq, ...extra });
        assert.deepEqual(await store.moderate(change(2, { author: 'seat-a' })), { ok: false, reason: 'not-yours' });
        assert.deepEqual(await store.moderate(change(1, { author: 'seat-a', since: 1001 })), { ok: false, reason: 'too-late' });
        assert.equal((await store.getRoom('r'))?.lastSeq, 2, 'refusals store nothing');
        assert.ok((await store.editEntry(edit(2, 'edited reply', { author: 'seat-b' }))).ok);
        const done = await store.moderate(change(2, { author: 'seat-b', since: 1000 }));
        assert.ok(done.ok);
        const entries = await store.lastEntries('r', 10);
        assert.deepEqual(entries[1], { room: 'r', seq: 2, ts: 1000, kind: 'deleted', nick: '', text: '', clientId: null, trip: null, ...NO_EXTRAS, author: 'seat-b' });
        assert.deepEqual([entries[2]?.kind, entries[2]?.text], ['edit', ''], 'the edit no longer holds the deleted text');
        assert.deepEqual(await store.editEntry(edit(2, 'again', { author: 'seat-b' })), { ok: false, reason: 'not-found' }, 'a tombstone is not edited');
      }));

    test('room names in any script, braces never: 우리방 and an NFC name are rooms like any other', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        for (const room of ['우리방', 'café', '東京-2025']) {
          const claimed = await store.claimSeat(claim(room, 'alice', holder));
          assert.ok(claimed.ok, room);
          await store.append(message(room, `hello ${room}`));
          assert.deepEqual((await store.lastEntries(room, 5)).map((e) => e.text), ['', `hello ${room}`], room);
          assert.equal((await store.seats(room)).seats.length, 1);
        }
        assert.deepEqual((await store.listRooms()).map((r) => r.name).sort(), ['café', '東京-2025', '우리방'].sort());
      }));

    test('takeToken: a bucket of N refilled at a rate, per key', () =>
      withStore(async (store) => {
        for (let i = 0; i < 3; i++) assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1000), { ok: true });
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1000), { ok: false, retryAfterMs: 1000 });
        assert.deepEqual(await store.takeToken('rooms:B', 3, 3600, 1000), { ok: true }, 'another key');
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1500), { ok: false, retryAfterMs: 500 });
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 2000), { ok: true });
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1_000_000), { ok: true }, 'full again, not more');
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1_000_000), { ok: true });
        assert.deepEqual(await store.takeToken('rooms:A', 3, 3600, 1_000_000), { ok: true });
        assert.equal((await store.takeToken('rooms:A', 3, 3600, 1_000_000)).ok, false);
      }));

    test('serverSecret: 32 random bytes per name, the same every time', () =>
      withStore(async (store) => {
        const a = await store.serverSecret('tripcode');
        assert.equal(a.length, 32);
        assert.deepEqual(await store.serverSecret('tripcode'), a);
        assert.notDeepEqual(await store.serverSecret('other'), a);
      }));

    test('flush, then close; a closed store refuses work', async () => {
      const store = await open();
      await store.append(message('r', 'x'));
      await store.flush();
      await store.close();
      await assert.rejects(store.append(message('r', 'y')), /closed/);
      await assert.rejects(store.lastEntries('r', 1), /closed/);
    });
  });
}
