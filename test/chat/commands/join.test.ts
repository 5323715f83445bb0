import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join } from '../../../src/chat/commands/join.js';
import { makeHub } from '../helpers.js';

describe('/join', () => {
  test('declares itself, available only where rooms can be switched', () => {
    assert.equal(join.name, 'join');
    assert.equal(join.available?.({ canSwitchRooms: true }), true);
    assert.equal(join.available?.({ canSwitchRooms: false }), false);
  });

  test('moves to another room with the same nickname', async () => {
    const t = makeHub();
    const stay = await t.join('stay');
    const there = await t.join('there', { room: 'games' });
    const mover = await t.join('mover', { canSwitchRooms: true });
    await mover.member.input('/join games', 'j');
    assert.equal(mover.member.room, 'games');
    assert.equal(mover.member.nick, 'mover');
    assert.equal(mover.conn.last('welcome').room, 'games');
    assert.equal(mover.conn.last('ack').id, 'j');
    assert.equal(stay.conn.last('notice').text, 'mover went to another room');
    assert.equal(there.conn.last('notice').text, 'mover joined');
    await t.hub.idle();
    assert.deepEqual(await t.hub.members('lobby'), [{ nick: 'stay', away: false, role: 'owner' }]);
    await mover.member.input('hello games');
    assert.equal(there.conn.last('message').text, 'hello games');
    assert.equal(stay.conn.of('message').length, 0);
  });

  test('a taken nickname in the target room: stay where you are', async () => {
    const t = makeHub();
    await t.join('mover', { room: 'games' });
    const mover = await t.join('mover', { canSwitchRooms: true });
    await mover.member.input('/join games');
    assert.equal(mover.conn.last('error').code, 'NICK_TAKEN');
    assert.equal(mover.member.room, 'lobby');
  });

  test('bad room names, missing argument, same room', async () => {
    const t = makeHub();
    const mover = await t.join('mover', { canSwitchRooms: true });
    await mover.member.input('/join ../etc');
    assert.equal(mover.conn.last('error').code, 'ROOM_INVALID');
    await mover.member.input('/join');
    assert.equal(mover.conn.last('error').message, 'usage: /join ROOM [PASSWORD|INVITE]');
    await mover.member.input('/join lobby');
    assert.equal(mover.conn.last('info').text, 'You are already in lobby');
  });
});
