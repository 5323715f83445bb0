import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mute } from '../../../src/chat/commands/mute.js';
import { modRoom } from './room-setup.js';

describe('/mute', () => {
  test('declares itself', () => {
    assert.deepEqual([mute.name, mute.level, mute.console], ['mute', 'operator', true]);
  });

  test('the member stays but its lines are refused (MUTED, nothing stored) until the mute ends; a notice says so', async () => {
    const r = await modRoom();
    assert.deepEqual(await r.type(r.alice, '/mute bob 10m'), { info: 'bob is muted for 10m' });
    assert.equal(r.carol.conn.last('notice').text, 'bob was muted by alice for 10m');
    const before = (await r.t.store.getRoom(r.room))?.lastSeq;
    const refused = await r.type(r.bob, 'can I speak?');
    assert.equal(refused.error?.code, 'MUTED');
    assert.match(refused.error?.message ?? '', /^you are muted in this room until .+ UTC$/);
    assert.equal((await r.type(r.bob, '/me tries')).error?.code, 'MUTED');
    assert.equal((await r.t.store.getRoom(r.room))?.lastSeq, before, 'nothing stored');
    assert.equal(r.bob.conn.closed, null, 'still here');
    r.t.clock.advance(10 * 60_000);
    await r.bob.member.input('free again', 'f');
    assert.equal(r.bob.conn.last('ack').seq, (before ?? 0) + 1);
  });

  test('leaving and coming back (another name, same address) does not lift it; until unmuted without a duration', async () => {
    const r = await modRoom();
    const dave = await r.join('dave', '198.51.100.5');
    await r.type(r.alice, '/mute dave');
    await dave.member.input('/quit');
    await r.t.hub.idle();
    const back = await r.join('david', '198.51.100.5');
    assert.deepEqual((await r.type(back, 'hello')).error, {
      type: 'error',
      code: 'MUTED',
      message: 'you are muted in this room',
      id: 'c1',
    });
  });

  test('who may mute whom', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/mute carol')).error?.code, 'FORBIDDEN');
    await r.type(r.alice, '/op bob');
    assert.equal((await r.type(r.bob, '/mute alice')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.bob, '/mute')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.bob, '/mute carol 5m')).info, 'carol is muted for 5m');
  });
});
