import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore } from '../../../src/chat/store/memory.js';
import { storeContract } from './contract.js';

storeContract('MemoryStore', () => new MemoryStore());

describe('MemoryStore', () => {
  test('keeps at most maxEntriesPerRoom entries per room, numbering unaffected', async () => {
    const store = new MemoryStore({ maxEntriesPerRoom: 10 });
    for (let i = 1; i <= 100; i++) {
      await store.append({ room: 'r', ts: i, kind: 'message', nick: 'a', text: `m${i}`, clientId: `c${i}` });
    }
    const last = await store.lastEntries('r', 1000);
    assert.deepEqual(
      last.map((e) => e.seq),
      [91, 92, 93, 94, 95, 96, 97, 98, 99, 100],
    );
    assert.deepEqual(
      (await store.entriesAfter('r', 0, 3)).map((e) => e.seq),
      [91, 92, 93],
      'asking from before the window starts at the oldest kept',
    );
    assert.deepEqual(
      (await store.entriesAfter('r', 95, 2)).map((e) => e.seq),
      [96, 97],
    );
    const resent = await store.append({ room: 'r', ts: 200, kind: 'message', nick: 'a', text: 'm100', clientId: 'c100' });
    assert.equal(resent.duplicate, true);
    assert.equal((await store.getRoom('r'))?.lastSeq, 100);
  });

  test('returned entries are copies', async () => {
    const store = new MemoryStore();
    const { entry } = await store.append({ room: 'r', ts: 1, kind: 'message', nick: 'a', text: 'x' });
    entry.text = 'changed';
    assert.equal((await store.lastEntries('r', 1))[0]?.text, 'x');
  });

  test('refuses a nonsensical cap', () => {
    assert.throws(() => new MemoryStore({ maxEntriesPerRoom: 0 }), RangeError);
  });
});
