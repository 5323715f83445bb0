import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { unmute } from '../../../src/chat/commands/unmute.js';
import { modRoom } from './room-setup.js';

describe('/unmute', () => {
  test('declares itself', () => {
    assert.deepEqual([unmute.name, unmute.level, unmute.console], ['unmute', 'operator', true]);
  });

  test('lifts the mute of a member present, and of its address should it come back', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/mute bob');
    assert.equal((await r.type(r.bob, 'hi')).error?.code, 'MUTED');
    assert.deepEqual(await r.type(r.alice, '/unmute bob'), { info: 'bob can speak again' });
    assert.equal(r.carol.conn.last('notice').text, 'bob was unmuted by alice');
    await r.bob.member.input('thanks', 't');
    assert.equal(typeof r.bob.conn.last('ack').seq, 'number');
    assert.equal((await r.type(r.alice, '/unmute bob')).error?.code, 'BAD_COMMAND', 'not muted');
  });

  test('a mute made for a nickname that left is lifted by that nickname', async () => {
    const r = await modRoom();
    const dave = await r.join('dave', '198.51.100.5');
    await r.type(r.alice, '/mute dave');
    await dave.member.input('/quit');
    await r.t.hub.idle();
    assert.deepEqual(await r.type(r.alice, '/unmute dave'), { info: 'dave can speak again' });
    const back = await r.join('dave', '198.51.100.5');
    await back.member.input('hello', 'h');
    assert.equal(typeof back.conn.last('ack').seq, 'number');
    assert.equal((await r.type(r.bob, '/unmute dave')).error?.code, 'FORBIDDEN');
  });
});
