import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { me } from '../../../src/chat/commands/me.js';
import { makeHub } from '../helpers.js';

describe('/me', () => {
  test('declares itself', () => {
    assert.equal(me.name, 'me');
    assert.equal(me.requires, 'joined');
  });

  test('stores an action, acknowledges it with its seq, broadcasts it', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    alice.conn.clear();
    await bob.member.input('/me waves  hello', 'a1');
    assert.deepEqual(bob.conn.last('ack'), { type: 'ack', id: 'a1', seq: 3 });
    assert.equal(bob.conn.of('ack').length, 1, 'acknowledged once');
    const action = { type: 'action', seq: 3, ts: t.clock.now(), nick: 'bob', text: 'waves  hello' };
    assert.deepEqual(alice.conn.received, [action]);
    assert.equal((await t.store.lastEntries('lobby', 1))[0]?.kind, 'action');
  });

  test('a resent action is not stored twice', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await bob.member.input('/me nods', 'same');
    await bob.member.input('/me nods', 'same');
    assert.equal(alice.conn.of('action').length, 1);
    assert.deepEqual(
      bob.conn.of('ack').map((a) => a.seq),
      [3, 3],
    );
  });

  test('needs text within the limits', async () => {
    const t = makeHub({ maxMessage: 5 });
    const bob = await t.join('bob');
    await bob.member.input('/me', 'e');
    assert.deepEqual(bob.conn.last('error'), { type: 'error', code: 'BAD_COMMAND', message: 'usage: /me ACTION', id: 'e' });
    await bob.member.input('/me dances a lot', 'l');
    assert.equal(bob.conn.last('error').code, 'MESSAGE_TOO_LONG');
    assert.equal(bob.conn.of('action').length, 0);
  });

  test('is refused before joining', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    await member.input('/me waves');
    assert.equal(conn.last('error').code, 'NOT_JOINED');
  });
});
