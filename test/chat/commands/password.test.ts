import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { password } from '../../../src/chat/commands/password.js';
import { modRoom } from './room-setup.js';

describe('/password', () => {
  test('declares itself', () => {
    assert.deepEqual([password.name, password.level, password.console], ['password', 'owner', true]);
  });

  test('newcomers need it: refused without it or with another; the right one lets in; members resume without it', async () => {
    const r = await modRoom();
    assert.deepEqual(await r.type(r.alice, '/password open sesame'), { info: 'the room has a password now: newcomers need it (or an invite)' });
    assert.equal(r.bob.conn.last('notice').text, 'alice set a password for the room');
    assert.deepEqual(await r.tryJoin('dave'), { ok: false, code: 'PASSWORD_REQUIRED', message: 'this room needs a password' });
    assert.deepEqual(await r.tryJoin('dave', undefined, { password: 'open says me' }), { ok: false, code: 'PASSWORD_WRONG', message: 'wrong password for this room' });
    assert.ok((await r.tryJoin('dave', undefined, { password: 'open sesame' })).ok);
    const token = r.bob.conn.last('welcome').resumeToken;
    r.bob.conn.drop();
    await r.t.hub.idle();
    const back = await r.tryJoin('bob', undefined, { resumeToken: token });
    assert.ok(back.ok && back.resumed, 'a member coming back within the grace period needs nothing');
    const stored = JSON.stringify(await r.t.store.lastEntries(r.room, 100));
    assert.equal(stored.includes('sesame'), false, 'the secret is never stored or shown');
    assert.equal((await r.t.store.policy(r.room, r.t.clock.now())).password?.startsWith('scrypt$'), true);
  });

  test('owners only; - removes it', async () => {
    const r = await modRoom();
    await r.type(r.alice, '/op bob');
    assert.equal((await r.type(r.bob, '/password x')).error?.code, 'FORBIDDEN');
    assert.equal((await r.type(r.alice, '/password')).error?.code, 'BAD_COMMAND');
    await r.type(r.alice, '/password secret');
    assert.deepEqual(await r.type(r.alice, '/password -'), { info: 'the room has no password now' });
    assert.equal(r.bob.conn.last('notice').text, "alice removed the room's password");
    assert.ok((await r.tryJoin('dave')).ok);
  });
});
