/**
 * Moderation holds across a restart of one node on SQLite (issue 11,
 * section 5): after `kill -9`, the owner key, operator tripcodes, bans,
 * mutes, the lock, the password, unused invites, the topic and deleted
 * entries are all as they were. Members are told apart by address through a
 * trusted proxy (X-Forwarded-For).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { WelcomeEvent } from '../../src/chat/messages.js';
import { JsonClient, within, wsUrl } from './support/clients.js';
import { type ServeProcess, startServeProcess, stopProcess } from './support/server-process.js';

const T = { timeout: 90_000 };
let dir: string;
const children: ServeProcess[] = [];

async function serve(): Promise<ServeProcess> {
  const p = await startServeProcess(['--data', dir, '--no-console', '--burst', '1000', '--grace', '30s', '--trust-proxy', '127.0.0.1']);
  children.push(p);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wschat-modrestart-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopProcess(c)));
  rmSync(dir, { recursive: true, force: true });
});

describe('moderation across a restart (SQLite)', () => {
  test('kill -9: owner key, operator tripcodes, bans, mutes, lock, password, invites, topic and tombstones hold', T, async () => {
    const first = await serve();
    const url = wsUrl(first.port, '/r/private');
    const at = (address: string) => ({ headers: { 'X-Forwarded-For': address } });
    const open = async (address: string): Promise<JsonClient> => JsonClient.open(url, at(address));

    const alice = await open('203.0.113.1');
    const welcome = await alice.join('alice');
    assert.equal(welcome.role, 'owner');
    const ownerKey = welcome.ownerKey;
    assert.ok(ownerKey);
    const carol = await open('203.0.113.3');
    await carol.join('carol#carols-secret');
    const dave = await open('203.0.113.4');
    await dave.join('dave');
    const mallory = await open('203.0.113.5');
    await mallory.join('mallory');
    const oops = await dave.say('this should not stay');

    await alice.say('/topic Plans for the launch');
    await alice.say('/op carol');
    await alice.say('/mute dave');
    await alice.say('/ban mallory');
    await alice.say(`/delete ${oops.seq}`);
    await alice.say('/password open sesame');
    alice.send({ type: 'message', id: 'inv', text: '/invite' });
    const invite = await alice.expect('invite');
    await alice.say('/lock');
    assert.equal((await within(mallory.closed, 'mallory removed')).code, 1008);

    first.child.kill('SIGKILL');
    await within(first.exited, 'the killed server exited');
    const second = await serve();
    const url2 = wsUrl(second.port, '/r/private');
    const again = (address: string) => JsonClient.open(url2, at(address));

    // Locked: a newcomer is refused; the password does not open a lock.
    const refused = await (await again('198.51.100.9')).tryJoin('newcomer', { password: 'open sesame' });
    assert.equal(refused.type === 'error' && refused.code, 'LOCKED', JSON.stringify(refused));
    // The owner key still makes an owner (another device of alice's).
    const phone = await again('203.0.113.11');
    const phoneWelcome = (await phone.tryJoin('alice-phone', { ownerKey })) as WelcomeEvent;
    assert.equal(phoneWelcome.role, 'owner', JSON.stringify(phoneWelcome));
    assert.equal(phoneWelcome.topic, 'Plans for the launch');
    // The operator tripcode still makes an operator, even into a locked room.
    const carol2 = await again('203.0.113.13');
    assert.equal(((await carol2.tryJoin('caroline#carols-secret')) as WelcomeEvent).role, 'operator');
    // The invite made before the crash works, once; the ban still holds, invite or not.
    const banned = await (await again('203.0.113.5')).tryJoin('not-mallory', { invite: invite.code });
    assert.equal(banned.type === 'error' && banned.code, 'BANNED');
    const guest = await again('198.51.100.10');
    assert.equal((await guest.tryJoin('guest', { invite: invite.code })).type, 'welcome');
    const reuse = await (await again('198.51.100.11')).tryJoin('guest2', { invite: invite.code });
    assert.equal(reuse.type === 'error' && reuse.code, 'INVITE_INVALID');
    // Unlocked, the password still guards the door.
    await phone.say('/unlock');
    const noPassword = await (await again('198.51.100.12')).tryJoin('walker');
    assert.equal(noPassword.type === 'error' && noPassword.code, 'PASSWORD_REQUIRED');
    // The mute holds for dave's address under any name.
    const dave2 = await again('203.0.113.4');
    assert.equal((await dave2.tryJoin('david', { password: 'open sesame' })).type, 'welcome');
    const muted = await dave2.request('am I heard?');
    assert.equal(muted.type === 'error' && muted.code, 'MUTED');
    // The deleted entry is a tombstone in the history.
    const reader = await (await again('203.0.113.14')).tryJoin('reader', { lastSeq: 0, password: 'open sesame' });
    assert.ok(reader.type === 'welcome');
    const tomb = reader.history.find((e) => e.seq === oops.seq);
    assert.deepEqual(tomb && { ...tomb, ts: 0 }, { type: 'deleted', seq: oops.seq, ts: 0, nick: '', text: '' });
    assert.equal(JSON.stringify(reader.history).includes('this should not stay'), false);
    const bans = await phone.request('/bans');
    assert.equal(bans.type, 'ack');
    assert.match((await phone.expect('info', (i) => /ban/.test(i.text))).text, /mallory \(by address\), banned by alice, until lifted/);
  });
});
