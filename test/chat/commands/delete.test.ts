import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deleteEntry } from '../../../src/chat/commands/delete.js';
import { modRoom } from './room-setup.js';

describe('/delete', () => {
  test('declares itself', () => {
    assert.deepEqual([deleteEntry.name, deleteEntry.level, deleteEntry.console], ['delete', 'operator', true]);
  });

  test('a message becomes a tombstone: live clients are told which seq to remove, history shows a tombstone', async () => {
    const r = await modRoom();
    await r.bob.member.input('my password is hunter2', 'p');
    const seq = r.bob.conn.last('ack').seq!;
    assert.deepEqual(await r.type(r.alice, `/delete ${seq}`), { info: `message ${seq} is deleted` });
    const notice = r.carol.conn.last('notice');
    assert.deepEqual([notice.action, notice.deleted, notice.text], ['delete', seq, 'alice deleted a message']);
    const late = await r.join('dave');
    const history = late.conn.last('welcome').history;
    assert.deepEqual(history.find((e) => e.seq === seq), { type: 'deleted', seq, ts: r.t.clock.now(), nick: '', text: '' });
    assert.equal(JSON.stringify(history).includes('hunter2'), false);
    // The sender's resend (same id) is not stored again.
    await r.bob.member.input('my password is hunter2', 'p');
    assert.equal(r.bob.conn.last('ack').seq, seq);
  });

  test('only messages, actions and console lines; by operators; a number', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.alice, '/delete 1')).error?.code, 'BAD_COMMAND', 'a join notice');
    assert.equal((await r.type(r.alice, '/delete 999')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/delete x')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/delete')).error?.code, 'BAD_COMMAND');
    await r.carol.member.input('x', 'x');
    assert.equal((await r.type(r.bob, `/delete #${r.carol.conn.last('ack').seq}`)).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.alice, `/delete #${r.carol.conn.last('ack').seq}`)).error, undefined, '#SEQ works too');
  });
});
