import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { quit } from '../../../src/chat/commands/quit.js';
import { makeHub } from '../helpers.js';

describe('/quit', () => {
  test('declares itself', () => {
    assert.equal(quit.name, 'quit');
    assert.equal(quit.requires, 'nothing');
  });

  test('acknowledges, leaves at once with a notice (no grace period), closes with 1000', async () => {
    const t = makeHub({ graceMs: 120_000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await bob.member.input('/quit', 'q');
    assert.deepEqual(bob.conn.last('ack'), { type: 'ack', id: 'q' });
    assert.deepEqual(bob.conn.closed, { code: 1000, reason: 'bye' });
    const notice = alice.conn.last('notice');
    assert.deepEqual([notice.event, notice.reason, notice.text], ['leave', 'quit', 'bob left']);
    await t.hub.idle();
    assert.deepEqual(alice.conn.last('members').members, [{ nick: 'alice', away: false, role: 'owner' }]);
    assert.ok((await t.connect().member.join({ nick: 'bob' })).ok, 'the nickname is free at once');
    assert.equal(t.hub.connectionCount, 2);
  });

  test('the resume token dies with /quit', async () => {
    const t = makeHub();
    const bob = await t.join('bob');
    const token = bob.conn.last('welcome').resumeToken;
    await bob.member.input('/quit');
    const back = t.connect();
    const result = await back.member.join({ nick: 'bob', resumeToken: token });
    assert.ok(result.ok);
    assert.equal(result.resumed, false);
  });

  test('works before joining, and takes no arguments', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    await member.input('/quit now');
    assert.equal(conn.last('error').code, 'BAD_COMMAND');
    assert.equal(conn.closed, null);
    await member.input('/quit');
    assert.deepEqual(conn.closed, { code: 1000, reason: 'bye' });
  });
});
