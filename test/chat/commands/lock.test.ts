import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lock } from '../../../src/chat/commands/lock.js';
import { unlock } from '../../../src/chat/commands/unlock.js';
import { modRoom } from './room-setup.js';

describe('/lock and /unlock', () => {
  test('declare themselves', () => {
    assert.deepEqual([lock.name, lock.level, lock.console], ['lock', 'operator', true]);
    assert.deepEqual([unlock.name, unlock.level, unlock.console], ['unlock', 'operator', true]);
  });

  test('locked: newcomers are refused with a clear message; members stay and talk; owners and operator tripcodes get in', async () => {
    const r = await modRoom();
    const op = await r.join('op#trip');
    await r.type(r.alice, '/op op');
    assert.deepEqual(await r.type(r.alice, '/lock'), { info: 'the room is locked' });
    assert.equal(r.bob.conn.last('notice').text, 'alice locked the room: nobody new can join without an invite');
    const refused = await r.tryJoin('newcomer');
    assert.deepEqual(refused, { ok: false, code: 'LOCKED', message: 'this room is locked: nobody new can join without an invite' });
    await r.bob.member.input('members still talk', 'm');
    assert.equal(typeof r.bob.conn.last('ack').seq, 'number');
    assert.ok((await r.tryJoin('alice-again', undefined, { ownerKey: r.ownerKey })).ok);
    await op.member.input('/quit');
    await r.t.hub.idle();
    assert.ok((await r.tryJoin('op-again#trip')).ok);
    assert.equal((await r.type(r.alice, '/lock')).info, 'the room is locked already');
  });

  test('unlock lets newcomers in again; members cannot do either', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/lock')).error?.code, 'FORBIDDEN');
    await r.type(r.alice, '/lock');
    assert.equal((await r.type(r.bob, '/unlock')).error?.code, 'FORBIDDEN');
    assert.deepEqual(await r.type(r.alice, '/unlock'), { info: 'the room is unlocked' });
    assert.equal(r.bob.conn.last('notice').text, 'alice unlocked the room');
    assert.ok((await r.tryJoin('newcomer')).ok);
    assert.equal((await r.type(r.alice, '/lock now')).error?.code, 'BAD_COMMAND');
  });
});
