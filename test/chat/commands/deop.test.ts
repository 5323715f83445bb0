import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deop } from '../../../src/chat/commands/deop.js';
import { modRoom } from './room-setup.js';

describe('/deop', () => {
  test('declares itself', () => {
    assert.deepEqual([deop.name, deop.level, deop.console], ['deop', 'owner', true]);
  });

  test('the owner takes the operator role away: the member is told, the room sees a notice; its tripcode no longer counts', async () => {
    const r = await modRoom();
    const dave = await r.join('dave#sekrit');
    await r.type(r.alice, '/op dave');
    assert.deepEqual(await r.type(r.alice, '/deop dave'), { info: `dave !${dave.conn.last('welcome').trip} is no longer an operator` });
    assert.deepEqual(dave.conn.last('role'), { type: 'role', role: 'user' });
    assert.match(r.bob.conn.last('notice').text, /^alice removed dave !\S+ as an operator$/);
    assert.equal((await r.type(dave, '/kick bob')).error?.code, 'FORBIDDEN');
    await dave.member.input('/quit');
    await r.t.hub.idle();
    assert.equal((await r.join('dave#sekrit')).conn.last('welcome').role, 'user');
  });

  test('operators cannot deop; a user is not an operator; an owner stays an owner', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/op bob');
    await r.type(r.alice, '/op carol');
    assert.equal((await r.type(r.bob, '/deop carol')).error?.code, 'FORBIDDEN');
    const dave = await r.join('dave');
    assert.equal((await r.type(r.alice, '/deop dave')).error?.code, 'BAD_COMMAND');
    const phone = await r.join('alice2', undefined, { ownerKey: r.ownerKey });
    assert.equal((await r.type(r.alice, '/deop alice2')).error?.code, 'FORBIDDEN');
    assert.equal(phone.conn.last('welcome').role, 'owner');
    assert.equal(dave.conn.of('role').length, 0);
  });
});
