import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatStore, NewEntry, RoomEvent, SeatClaim, SeatRecord } from '../../../src/chat/store/store.js';

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
          entry: { room: 'a', seq: 1, ts: 5, kind: 'action', nick: '김철수', text: 'one', clientId: 'c1', trip: null },
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
      extra: Partial<Pick<SeatRecord, 'id' | 'key' | 'trip' | 'holdable'>> = {},
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
        assert.deepEqual(result.entry, { room: 'r', seq: 1, ts: 1000, kind: 'join', nick: 'Alice', text: '', clientId: null, trip: 'T1' });
        assert.deepEqual(result.seat, {
          id: 'id-Alice',
          nick: 'Alice',
          key: 'alice',
          trip: 'T1',
          holder,
          holdUntil: null,
          holdable: true,
          joinedAt: 1000,
        });
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

    test('history of a room without seats for the TTL is deleted; numbering continues', () =>
      withStore(async (store) => {
        const holder = `${store.nodeId}/1`;
        await store.claimSeat(claim('r', 'a', holder));
        await store.append(message('r', 'a'));
        await store.releaseSeat({ room: 'r', id: 'id-a', reason: 'quit', ts: 10_000 });
        assert.deepEqual(await store.expireRooms(9_999), [], 'not yet');
        assert.equal((await store.lastEntries('r', 10)).length, 3);
        assert.deepEqual(await store.expireRooms(10_000), ['r']);
        assert.deepEqual(await store.lastEntries('r', 10), []);
        assert.deepEqual(await store.expireRooms(20_000), [], 'reported once');
        const next = await store.append(message('r', 'after expiry', { clientId: 'c' }));
        assert.equal(next.entry.seq, 4, 'sequence numbers are never reused');
        assert.deepEqual(
          (await store.entriesAfter('r', 3, 10)).map((e) => e.text),
          ['after expiry'],
        );
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
