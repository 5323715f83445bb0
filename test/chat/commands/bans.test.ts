import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bans } from '../../../src/chat/commands/bans.js';
import { modRoom } from './room-setup.js';

describe('/bans', () => {
  test('declares itself', () => {
    assert.deepEqual([bans.name, bans.level, bans.console], ['bans', 'operator', true]);
  });

  test('lists the bans in force with their ids, what they hold to and for how long', async () => {
    const r = await modRoom();
    assert.deepEqual(await r.type(r.alice, '/bans'), { info: `no bans in ${r.room}` });
    await r.join('mallory', '198.51.100.77');
    await r.join('troll#x', '198.51.100.78');
    await r.type(r.alice, '/ban mallory 2h');
    await r.type(r.alice, '/ban troll');
    const lines = (await r.type(r.alice, '/bans')).info?.split('\n') ?? [];
    assert.equal(lines[0], `2 bans in ${r.room}:`);
    assert.match(lines[1] ?? '', /^ {2}\S+ {2}mallory \(by address\), banned by alice, for 2h more$/);
    assert.match(lines[2] ?? '', /^ {2}\S+ {2}troll \(by address and tripcode !\S+\), banned by alice, until lifted$/);
    r.t.clock.advance(2 * 3_600_000);
    assert.equal((await r.type(r.alice, '/bans')).info?.split('\n')[0], `1 ban in ${r.room}:`, 'ended bans are gone');
    assert.equal((await r.type(r.bob, '/bans')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.alice, '/bans x')).error?.code, 'BAD_COMMAND');
  });
});
