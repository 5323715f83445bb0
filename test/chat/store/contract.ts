import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChatStore, NewEntry } from '../../../src/chat/store/store.js';

/**
 * The behaviour every ChatStore implementation must have. Each store's test
 * file calls this with a factory giving a fresh, empty store.
 */
export function storeContract(name: string, open: () => Promise<ChatStore> | ChatStore): void {
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
          entry: { room: 'a', seq: 1, ts: 5, kind: 'action', nick: '김철수', text: 'one', clientId: 'c1' },
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

    test('lastEntries: the last N, oldest first', () =>
      withStore(async (store) => {
        for (let i = 1; i <= 60; i++) await store.append(message('r', `m${i}`));
        const last = await store.lastEntries('r', 50);
        assert.equal(last.length, 50);
        assert.equal(last[0]?.seq, 11);
        assert.equal(last[49]?.seq, 60);
        assert.deepEqual(await store.lastEntries('r', 0), []);
        assert.equal((await store.lastEntries('r', 1000)).length, 60);
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
        assert.deepEqual(await store.entriesAfter('r', 30, 10), []);
        assert.deepEqual(await store.entriesAfter('r', 99, 10), []);
        assert.deepEqual(await store.entriesAfter('r', 5, 0), []);
      }));

    test('openRoom creates an occupied room; append alone creates an empty one', () =>
      withStore(async (store) => {
        const opened = await store.openRoom('o', 500);
        assert.deepEqual(opened, { name: 'o', createdAt: 500, lastActivity: 500, emptiedAt: null, lastSeq: 0 });
        await store.append(message('e', 'x', { ts: 700 }));
        assert.equal((await store.getRoom('e'))?.emptiedAt, 700);
        await store.openRoom('e', 800);
        assert.equal((await store.getRoom('e'))?.emptiedAt, null);
        assert.equal((await store.getRoom('e'))?.createdAt, 700);
      }));

    test('history of a room empty for the TTL is deleted; numbering continues', () =>
      withStore(async (store) => {
        await store.openRoom('r', 0);
        await store.append(message('r', 'a'));
        await store.append(message('r', 'b'));
        await store.markEmptied('r', 10_000);
        assert.deepEqual(await store.expireRooms(9_999), [], 'not yet');
        assert.equal((await store.lastEntries('r', 10)).length, 2);
        assert.deepEqual(await store.expireRooms(10_000), ['r']);
        assert.deepEqual(await store.lastEntries('r', 10), []);
        assert.deepEqual(await store.expireRooms(20_000), [], 'reported once');
        const next = await store.append(message('r', 'after expiry', { clientId: 'c' }));
        assert.equal(next.entry.seq, 3, 'sequence numbers are never reused');
        assert.deepEqual(
          (await store.entriesAfter('r', 2, 10)).map((e) => e.text),
          ['after expiry'],
        );
      }));

    test('a room with members never loses its history', () =>
      withStore(async (store) => {
        await store.openRoom('busy', 0);
        await store.append(message('busy', 'keep me', { ts: 1 }));
        assert.deepEqual(await store.expireRooms(Number.MAX_SAFE_INTEGER), []);
        assert.equal((await store.lastEntries('busy', 10)).length, 1);
        await store.markEmptied('busy', 50);
        await store.openRoom('busy', 60);
        assert.deepEqual(await store.expireRooms(Number.MAX_SAFE_INTEGER), [], 'reoccupied before expiry');
      }));

    test('resetOccupancy: rooms left occupied become empty from now', () =>
      withStore(async (store) => {
        await store.openRoom('left-open', 0);
        await store.append(message('left-open', 'x'));
        await store.openRoom('never-used', 0);
        await store.append(message('closed', 'x', { ts: 5 }));
        assert.equal(await store.resetOccupancy(1000), 1);
        assert.equal((await store.getRoom('left-open'))?.emptiedAt, 1000);
        assert.equal((await store.getRoom('closed'))?.emptiedAt, 5, 'already-empty rooms keep their time');
        assert.deepEqual(await store.expireRooms(999), ['closed']);
        assert.deepEqual(await store.expireRooms(1000), ['left-open']);
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
