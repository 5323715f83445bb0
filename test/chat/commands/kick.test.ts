import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { kick } from '../../../src/chat/commands/kick.js';
import { modRoom } from './room-setup.js';

describe('/kick', () => {
  test('declares itself', () => {
    assert.deepEqual([kick.name, kick.level, kick.console], ['kick', 'operator', true]);
  });

  test('an operator removes a member: told why, closed with 1008, a notice; it may come back', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/op bob');
    assert.deepEqual(await r.type(r.bob, '/kick carol'), { info: 'carol was kicked' });
    assert.deepEqual(r.carol.conn.last('removed'), { type: 'removed', reason: 'kicked', by: 'bob', text: 'You were kicked from this room by bob.' });
    assert.deepEqual(r.carol.conn.closed, { code: 1008, reason: 'kicked from the room' });
    const notice = r.alice.conn.last('notice');
    assert.deepEqual([notice.event, notice.reason, notice.by, notice.text], ['leave', 'kicked', 'bob', 'carol was kicked by bob']);
    assert.deepEqual(
      (await r.t.hub.members(r.room))?.map((m) => m.nick),
      ['alice', 'bob'],
    );
    assert.equal((await r.join('carol')).conn.last('welcome').nick, 'carol', 'a kick is not a ban');
  });

  test('members cannot kick; operators cannot kick owners or operators; nobody kicks themselves', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/kick carol')).error?.code, 'FORBIDDEN');
    await r.type(r.alice, '/op bob');
    await r.type(r.alice, '/op carol');
    assert.equal((await r.type(r.bob, '/kick alice')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.bob, '/kick carol')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.alice, '/kick alice')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/kick')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/kick nobody')).error?.code, 'NICK_INVALID');
    assert.equal((await r.type(r.alice, '/kick carol')).info, 'carol was kicked', 'an owner can');
  });
});
