import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { invite } from '../../../src/chat/commands/invite.js';
import { modRoom } from './room-setup.js';

describe('/invite', () => {
  test('declares itself', () => {
    assert.deepEqual([invite.name, invite.level, invite.console], ['invite', 'operator', true]);
  });

  test('a code for one person, once, into a locked room; to the one who asked only; a notice without the code', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/lock');
    await r.alice.member.input('/invite', 'inv');
    const event = r.alice.conn.last('invite');
    assert.equal(event.id, 'inv');
    assert.equal(event.room, r.room);
    assert.match(event.code, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(event.expiresAt, r.t.clock.now() + 24 * 3_600_000);
    assert.equal(r.bob.conn.of('invite').length, 0);
    assert.equal(r.bob.conn.last('notice').text, 'alice made an invite link');
    assert.equal(JSON.stringify(await r.t.store.lastEntries(r.room, 50)).includes(event.code), false);
    assert.ok((await r.tryJoin('guest', undefined, { invite: event.code })).ok);
    assert.deepEqual(await r.tryJoin('second', undefined, { invite: event.code }), {
      ok: false,
      code: 'INVITE_INVALID',
      message: 'this invite was used already or has expired: ask for a new one',
    });
  });

  test('into a room with a password; not after 24 hours; operators only', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/password pw');
    await r.alice.member.input('/invite', 'a');
    await r.alice.member.input('/invite', 'b');
    const [first, second] = r.alice.conn.of('invite');
    assert.ok((await r.tryJoin('guest', undefined, { invite: first!.code })).ok);
    r.t.clock.advance(24 * 3_600_000);
    assert.equal((await r.tryJoin('late', undefined, { invite: second!.code })).ok, false);
    assert.equal((await r.type(r.bob, '/invite')).error?.code, 'FORBIDDEN');
  });
});
