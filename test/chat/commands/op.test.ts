import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { op } from '../../../src/chat/commands/op.js';
import { modRoom } from './room-setup.js';

describe('/op', () => {
  test('declares itself: anyone may try (the key), the checks are the moderation\'s', () => {
    assert.equal(op.name, 'op');
    assert.equal(op.level, undefined);
    assert.equal(op.console, true);
  });

  test('the owner makes a member an operator: its role, the member list, a notice', async () => {
    const r = await modRoom();
    assert.equal(r.alice.conn.last('welcome').role, 'owner');
    assert.equal(r.bob.conn.last('welcome').role, 'user');
    assert.deepEqual(await r.type(r.alice, '/op bob'), { info: 'bob is now an operator' });
    assert.deepEqual(r.bob.conn.last('role'), { type: 'role', role: 'operator' });
    const notice = r.carol.conn.last('notice');
    assert.deepEqual([notice.event, notice.action, notice.by, notice.target, notice.text], ['mod', 'op', 'alice', 'bob', 'alice made bob an operator']);
    assert.deepEqual(
      r.carol.conn.last('members').members.map((m) => [m.nick, m.role]),
      [
        ['alice', 'owner'],
        ['bob', 'operator'],
        ['carol', undefined],
      ],
    );
    assert.equal((await r.type(r.alice, '/op bob')).info, 'bob is an operator already');
  });

  test('only an owner names operators; arguments checked', async () => {
    const r = await modRoom();
    assert.equal((await r.type(r.bob, '/op carol')).error?.code, 'FORBIDDEN');
    await r.type(r.alice, '/op bob');
    assert.equal((await r.type(r.bob, '/op carol')).error?.code, 'FORBIDDEN', 'operators cannot make operators');
    assert.equal((await r.type(r.alice, '/op')).error?.code, 'BAD_COMMAND');
    assert.equal((await r.type(r.alice, '/op nobody')).error?.code, 'NICK_INVALID');
  });

  test('/op KEY: the owner key makes an owner of another seat (another device), and says the key back', async () => {
    const r = await modRoom();
    const phone = await r.join('alice-phone');
    assert.equal((await r.type(phone, '/op not-the-key-1234')).error?.code, 'FORBIDDEN');
    assert.deepEqual(await r.type(phone, `/op ${r.ownerKey}`), { info: 'You are an owner of this room' });
    assert.deepEqual(phone.conn.of('role'), [{ type: 'role', role: 'owner', ownerKey: r.ownerKey }], 'once');
    assert.equal(r.bob.conn.last('notice').text, 'alice-phone proved to be an owner of the room');
    assert.equal((await r.type(phone, '/kick bob')).info, 'bob was kicked');
    // Joining with the key does the same without a command.
    const laptop = await r.join('alice-laptop', undefined, { ownerKey: r.ownerKey });
    assert.equal(laptop.conn.last('welcome').role, 'owner');
    assert.equal(laptop.conn.last('welcome').ownerKey, undefined, 'the key is given out once, when the room is made');
  });

  test('an operator with a tripcode is an operator again when it comes back with it, under any name', async () => {
    const r = await modRoom();
    const dave = await r.join('dave#sekrit');
    await r.type(r.alice, '/op dave');
    await dave.member.input('/quit');
    await r.t.hub.idle();
    const back = await r.join('david#sekrit');
    assert.equal(back.conn.last('welcome').role, 'operator');
    const impostor = await r.join('dave#guess');
    assert.equal(impostor.conn.last('welcome').role, 'user');
  });
});
