import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { who } from '../../../src/chat/commands/who.js';
import { makeHub } from '../helpers.js';

describe('/who', () => {
  test('declares itself', () => {
    assert.equal(who.name, 'who');
    assert.equal(who.requires, 'joined');
  });

  test('lists the room, marking members who are away, to the asker only', async () => {
    const t = makeHub();
    const alice = await t.join('alice', { room: 'den' });
    const bob = await t.join('bob', { room: 'den' });
    bob.conn.drop();
    await t.join('other', { room: 'elsewhere' });
    await t.hub.idle();
    alice.conn.clear();
    await alice.member.input('/who', 'w');
    assert.deepEqual(alice.conn.received, [
      { type: 'info', text: '2 members in den: alice (owner), bob (away)', id: 'w' },
      { type: 'ack', id: 'w' },
    ]);
  });

  test('singular for one member; takes no arguments', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    await alice.member.input('/WHO');
    assert.equal(alice.conn.last('info').text, '1 member in lobby: alice (owner)');
    await alice.member.input('/who is there');
    assert.equal(alice.conn.last('error').code, 'BAD_COMMAND');
  });
});
