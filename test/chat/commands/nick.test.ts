import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nick } from '../../../src/chat/commands/nick.js';
import { makeHub } from '../helpers.js';

describe('/nick', () => {
  test('declares itself', () => {
    assert.equal(nick.name, 'nick');
    assert.equal(nick.usage, '/nick NEW');
    assert.equal(nick.requires, 'joined');
  });

  test('renames: the member is told, the room gets a notice and the new list', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await bob.member.input('/nick 김철수', 'n1');
    assert.deepEqual(bob.conn.last('renamed'), { type: 'renamed', nick: '김철수', from: 'bob' });
    assert.deepEqual(bob.conn.last('ack'), { type: 'ack', id: 'n1' });
    assert.equal(bob.member.nick, '김철수');
    const notice = alice.conn.last('notice');
    assert.equal(notice.event, 'rename');
    assert.equal(notice.from, 'bob');
    assert.equal(notice.nick, '김철수');
    assert.equal(notice.text, 'bob is now known as 김철수');
    await t.hub.idle();
    assert.deepEqual(alice.conn.last('members').members, [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: '김철수', away: false },
    ]);
    await bob.member.input('hi');
    assert.equal(alice.conn.last('message').nick, '김철수');
    assert.ok((await t.connect().member.join({ nick: 'bob' })).ok, 'the old nickname is free');
  });

  test('a taken nickname (any case) is refused and nothing changes', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await bob.member.input('/nick ALICE', 'n');
    assert.deepEqual(bob.conn.last('error'), {
      type: 'error',
      code: 'NICK_TAKEN',
      message: 'the nickname ALICE is taken in this room',
      id: 'n',
    });
    assert.equal(bob.member.nick, 'bob');
    assert.equal(alice.conn.of('notice').filter((n) => n.event === 'rename').length, 0);
  });

  test('a nickname held by an away member is taken too', async () => {
    const t = makeHub();
    const away = await t.join('carol');
    away.conn.drop();
    const bob = await t.join('bob');
    await bob.member.input('/nick Carol');
    assert.equal(bob.conn.last('error').code, 'NICK_TAKEN');
  });

  test('changing only the case of your own nickname is allowed', async () => {
    const t = makeHub();
    const bob = await t.join('bob');
    await bob.member.input('/nick Bob');
    assert.equal(bob.member.nick, 'Bob');
  });

  test('invalid, missing, and unchanged nicknames', async () => {
    const t = makeHub();
    const bob = await t.join('bob');
    await bob.member.input('/nick Administrator');
    assert.equal(bob.conn.last('error').code, 'NICK_INVALID');
    await bob.member.input('/nick a\u200bb');
    assert.equal(bob.conn.last('error').code, 'NICK_INVALID');
    await bob.member.input('/nick', 'u');
    assert.deepEqual(bob.conn.last('error'), { type: 'error', code: 'BAD_COMMAND', message: 'usage: /nick NEW', id: 'u' });
    await bob.member.input('/nick bob', 's');
    assert.equal(bob.conn.last('info').text, 'You are already bob');
    assert.equal(bob.conn.last('ack').id, 's');
  });

  test('the seed-style flow: a generated ip:port nickname, then /nick NAME', async () => {
    const t = makeHub();
    const plain = await t.join('127.0.0.1:50000', { format: 'plain', uniquify: true });
    await plain.member.input('/nick Dana');
    assert.equal(plain.member.nick, 'Dana');
  });
});
