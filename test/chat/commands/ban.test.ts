import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ban } from '../../../src/chat/commands/ban.js';
import { modRoom } from './room-setup.js';

const HOUR = 3_600_000;

describe('/ban', () => {
  test('declares itself', () => {
    assert.deepEqual([ban.name, ban.level, ban.console], ['ban', 'operator', true]);
  });

  test('removes the member with the reason, and keeps its address out under any name until the ban ends', async () => {
    const r = await modRoom();
    const at = '198.51.100.77';
    const mallory = await r.join('mallory', at);
    assert.deepEqual(await r.type(r.alice, '/ban mallory 1h'), { info: 'mallory is banned for 1h' });
    const until = r.t.clock.now() + HOUR;
    assert.deepEqual(mallory.conn.last('removed'), {
      type: 'removed',
      reason: 'banned',
      by: 'alice',
      until,
      text: 'You were banned from this room by alice for 1h.',
    });
    assert.deepEqual(mallory.conn.closed, { code: 1008, reason: 'banned from the room' });
    const notice = r.bob.conn.last('notice');
    assert.deepEqual(
      [notice.event, notice.reason, notice.by, notice.until, notice.text],
      ['leave', 'banned', 'alice', until, 'mallory was banned by alice for 1h'],
    );
    const again = await r.tryJoin('not-mallory', at);
    assert.equal(again.ok === false && again.code, 'BANNED');
    assert.match(again.ok === false ? again.message : '', /^you are banned from this room until \d{4}-\d\d-\d\d \d\d:\d\d UTC$/);
    assert.ok((await r.tryJoin('someone', '198.51.100.78')).ok, 'another address');
    r.t.clock.advance(HOUR);
    assert.ok((await r.tryJoin('mallory', at)).ok, 'the ban is over');
  });

  test('by tripcode too: another address with the same tripcode is kept out; until lifted without a duration', async () => {
    const r = await modRoom();
    const troll = await r.join('troll#secret', '198.51.100.1');
    await r.type(r.alice, '/ban troll');
    assert.equal(troll.conn.last('removed').until, null);
    assert.equal(r.bob.conn.last('notice').text.startsWith('troll !'), true);
    const moved = await r.tryJoin('fresh#secret', '198.51.100.200');
    assert.equal(moved.ok === false && moved.code, 'BANNED');
    assert.equal(moved.ok === false && moved.message, 'you are banned from this room');
    r.t.clock.advance(1000 * HOUR);
    assert.equal((await r.tryJoin('later', '198.51.100.1')).ok, false);
  });

  test('who may ban whom', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/ban carol')).error?.code, 'FORBIDDEN');
    await r.type(r.alice, '/op bob');
    await r.type(r.alice, '/op carol');
    assert.equal((await r.type(r.bob, '/ban carol')).error?.code, 'FORBIDDEN', 'not another operator');
    assert.equal((await r.type(r.bob, '/ban alice 1h')).error?.code, 'FORBIDDEN', 'not an owner');
    assert.equal((await r.type(r.bob, '/ban')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.bob, '/ban bob')).error?.code, 'BAD_COMMAND');
  });

  test('nicknames with spaces, with or without a duration', async () => {
    const r = await modRoom();
    const mary = await r.join('Mary Ann', '198.51.100.9');
    assert.deepEqual(await r.type(r.alice, '/ban mary ann 10m'), { info: 'Mary Ann is banned for 10m' });
    assert.equal(mary.conn.last('removed').text, 'You were banned from this room by alice for 10m.');
  });
});
