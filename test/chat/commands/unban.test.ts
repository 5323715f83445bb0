import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unban } from '../../../src/chat/commands/unban.js';
import { modRoom } from './room-setup.js';

describe('/unban', () => {
  test('declares itself', () => {
    assert.deepEqual([unban.name, unban.level, unban.console], ['unban', 'operator', true]);
  });

  test('by nickname: the ban is lifted, with a notice; the member may come back', async () => {
    const r = await modRoom();
    await r.join('mallory', '198.51.100.77');
    await r.type(r.alice, '/ban mallory');
    assert.deepEqual(await r.type(r.alice, '/unban MALLORY'), { info: 'the ban on mallory is lifted' });
    assert.equal(r.bob.conn.last('notice').text, 'alice lifted the ban on mallory');
    assert.ok((await r.tryJoin('mallory', '198.51.100.77')).ok);
  });

  test('by the id /bans shows; unknown ones and members are refused', async () => {
    const r = await modRoom();
    await r.join('mallory', '198.51.100.77');
    await r.type(r.alice, '/ban mallory 1d');
    const id = /^ {2}(\S+) {2}mallory/m.exec((await r.type(r.alice, '/bans')).info ?? '')?.[1];
    assert.ok(id);
    assert.equal((await r.type(r.bob, `/unban ${id}`)).error?.code, 'FORBIDDEN');
    assert.deepEqual(await r.type(r.alice, `/unban ${id}`), { info: 'the ban on mallory is lifted' });
    assert.equal((await r.type(r.alice, `/unban ${id}`)).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/unban')).error?.code, 'BAD_COMMAND');
  });
});
