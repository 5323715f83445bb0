/**
 * What a member does to its own lines and what the room sees of it: replies,
 * edits and deletions of one's own messages (15 minutes, the author only,
 * checked by the server), typing signals (never stored), and the brief hold
 * of a page that unloads (a reload resumes unseen; a closed tab leaves).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EDIT_WINDOW_MS, type EntryEvent } from '../../src/chat/messages.js';
import { makeHub } from './helpers.js';

/** The local bus (memory store) delivers on a later turn of the event loop. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const texts = (entries: readonly EntryEvent[]): string[] => entries.map((e) => `${e.type}:${'text' in e ? e.text : ''}`);

describe('replies', () => {
  test('a reply carries the seq and nickname it answers, for everyone and in history; /me replies too', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('lunch?', 'm1');
    const question = alice.conn.last('ack').seq ?? 0;
    await bob.member.handle({ type: 'message', id: 'r1', text: 'yes!', replyTo: question });
    await bob.member.handle({ type: 'message', id: 'r2', text: '/me nods', replyTo: question });
    await t.hub.idle();
    const reply = alice.conn.of('message').find((m) => m.text === 'yes!');
    assert.deepEqual([reply?.replyTo, reply?.replyNick], [question, 'alice']);
    const action = alice.conn.last('action');
    assert.deepEqual([action.text, action.replyTo, action.replyNick], ['nods', question, 'alice']);
    const carol = await t.join('carol');
    const history = carol.conn.last('welcome').history;
    assert.deepEqual(
      history.filter((e) => e.type === 'message' || e.type === 'action').map((e) => [e.type, 'replyTo' in e ? e.replyTo : undefined]),
      [
        ['message', undefined],
        ['message', question],
        ['action', question],
      ],
    );
  });

  test('a reply to an entry that is not there (or not a message) is refused with NOT_FOUND, and nothing is stored', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    for (const replyTo of [1, 99]) {
      await alice.member.handle({ type: 'message', id: `r${replyTo}`, text: 'hm', replyTo });
      const error = alice.conn.last('error');
      assert.deepEqual([error.code, error.id], ['NOT_FOUND', `r${replyTo}`]);
      assert.match(error.message, new RegExp(`no message ${replyTo} to reply to`));
    }
    assert.equal(alice.conn.of('message').length, 0);
  });
});

describe('editing one\'s own messages', () => {
  test('an edit is acknowledged with its own seq; everyone gets the edit event; history has the new text, marked edited', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('helo wrold', 'm1');
    const seq = alice.conn.last('ack').seq ?? 0;
    t.clock.advance(60_000);
    await alice.member.handle({ type: 'edit', id: 'e1', seq, text: 'hello world' });
    await t.hub.idle();
    const ack = alice.conn.last('ack');
    assert.equal(ack.id, 'e1');
    assert.equal(ack.seq, seq + 1);
    for (const conn of [alice.conn, bob.conn]) {
      assert.deepEqual(conn.last('edit'), { type: 'edit', seq: seq + 1, ts: t.clock.now(), nick: 'alice', edits: seq, text: 'hello world' });
    }
    const carol = await t.join('carol');
    const edited = carol.conn.last('welcome').history.find((e) => e.seq === seq);
    assert.deepEqual(edited, { type: 'message', seq, ts: t.clock.now() - 60_000, nick: 'alice', text: 'hello world', edited: t.clock.now() });
  });

  test('a client resuming by lastSeq learns of edits to entries it already had', async () => {
    const t = makeHub({ graceMs: 60_000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('first version', 'm1');
    await t.hub.idle();
    const seq = alice.conn.last('ack').seq ?? 0;
    const token = bob.conn.last('welcome').resumeToken;
    const lastSeq = Math.max(...bob.conn.seqs());
    bob.conn.drop();
    await t.hub.idle();
    await alice.member.handle({ type: 'edit', id: 'e1', seq, text: 'second version' });
    const again = await t.join('bob', { resumeToken: token, lastSeq });
    const history = again.conn.last('welcome').history;
    assert.deepEqual(texts(history), ['edit:second version']);
    assert.equal(history[0]?.type === 'edit' && history[0].edits, seq);
  });

  test('only one\'s own, within 15 minutes, of a message or action; muted members cannot; refusals are final errors', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('mine', 'm1');
    const seq = alice.conn.last('ack').seq ?? 0;
    await bob.member.handle({ type: 'edit', id: 'b1', seq, text: 'hijacked' });
    assert.deepEqual([bob.conn.last('error').code, bob.conn.last('error').id], ['FORBIDDEN', 'b1']);
    await alice.member.handle({ type: 'edit', id: 'a0', seq: 1, text: 'a notice?' });
    assert.equal(alice.conn.last('error').code, 'NOT_FOUND');
    await alice.member.handle({ type: 'edit', id: 'a1', seq, text: '   ' });
    assert.equal(alice.conn.last('error').code, 'EMPTY_MESSAGE');
    t.clock.advance(EDIT_WINDOW_MS + 1);
    await alice.member.handle({ type: 'edit', id: 'a2', seq, text: 'too late' });
    const late = alice.conn.last('error');
    assert.deepEqual([late.code, late.id], ['TOO_LATE', 'a2']);
    assert.match(late.message, /15 minutes/);
    // Muted: alice made the room, so she mutes bob.
    await bob.member.input('bob says', 'b2');
    const bobs = bob.conn.last('ack').seq ?? 0;
    await alice.member.input('/mute bob', 'mute');
    await t.hub.idle();
    await bob.member.handle({ type: 'edit', id: 'b3', seq: bobs, text: 'muted edit' });
    assert.equal(bob.conn.last('error').code, 'MUTED');
    assert.equal(bob.conn.of('edit').length, 0, 'nothing was edited');
  });

  test('a resent edit (same id) is acknowledged again with the same seq and changes nothing more', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('v1', 'm1');
    const seq = alice.conn.last('ack').seq ?? 0;
    await alice.member.handle({ type: 'edit', id: 'e1', seq, text: 'v2' });
    await alice.member.handle({ type: 'edit', id: 'e1', seq, text: 'v2' });
    await t.hub.idle();
    assert.deepEqual(alice.conn.of('ack').filter((a) => a.id === 'e1').map((a) => a.seq), [seq + 1, seq + 1]);
    assert.equal(bob.conn.of('edit').length, 1);
  });
});

describe('deleting one\'s own messages', () => {
  test('one\'s own within 15 minutes: a tombstone and a notice for everyone; another\'s is FORBIDDEN; an operator may', async () => {
    const t = makeHub();
    const owner = await t.join('olga');
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await alice.member.input('oops', 'm1');
    const oops = alice.conn.last('ack').seq ?? 0;
    await bob.member.input('bob line', 'm2');
    const bobs = bob.conn.last('ack').seq ?? 0;

    await alice.member.handle({ type: 'delete', id: 'd0', seq: bobs });
    assert.deepEqual([alice.conn.last('error').code, alice.conn.last('error').id], ['FORBIDDEN', 'd0']);
    await alice.member.handle({ type: 'delete', id: 'd1', seq: oops });
    await t.hub.idle();
    const notice = bob.conn.last('notice');
    assert.deepEqual([notice.event, notice.action, notice.by, notice.deleted, notice.text], ['mod', 'delete', 'alice', oops, 'alice deleted a message']);
    assert.deepEqual(alice.conn.last('ack'), { type: 'ack', id: 'd1', seq: notice.seq });
    const carol = await t.join('carol');
    assert.deepEqual(carol.conn.last('welcome').history.find((e) => e.seq === oops), { type: 'deleted', seq: oops, ts: t.clock.now(), nick: '', text: '' });

    t.clock.advance(EDIT_WINDOW_MS + 1);
    await bob.member.handle({ type: 'delete', id: 'd2', seq: bobs });
    assert.equal(bob.conn.last('error').code, 'TOO_LATE');
    // The room's owner may delete anyone's, whenever.
    await owner.member.handle({ type: 'delete', id: 'd3', seq: bobs });
    await t.hub.idle();
    assert.equal(owner.conn.last('ack').id, 'd3');
    assert.equal(bob.conn.last('notice').deleted, bobs);
    await owner.member.handle({ type: 'delete', id: 'd4', seq: bobs });
    assert.equal(owner.conn.last('error').code, 'NOT_FOUND');
  });
});

describe('typing', () => {
  test('reaches the others, not the one typing, and is never stored', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    const carol = await t.join('carol#secret');
    await t.hub.idle();
    const before = (await t.store.getRoom('lobby'))?.lastSeq;
    await alice.member.handle({ type: 'typing' });
    await carol.member.handle({ type: 'typing' });
    await nextTurn();
    assert.deepEqual(bob.conn.of('typing').map((e) => e.nick), ['alice', 'carol']);
    assert.equal(typeof bob.conn.of('typing')[1]?.trip, 'string', 'with the tripcode');
    assert.deepEqual(alice.conn.of('typing').map((e) => e.nick), ['carol']);
    assert.equal((await t.store.getRoom('lobby'))?.lastSeq, before, 'nothing stored');
  });

  test('more than 3 at once are dropped and count as strikes; the bucket refills', async () => {
    const t = makeHub({ rateLimit: { maxStrikes: 100 } });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    for (let i = 0; i < 10; i++) await alice.member.handle({ type: 'typing' });
    await nextTurn();
    assert.equal(bob.conn.of('typing').length, 3);
    t.clock.advance(1000);
    await alice.member.handle({ type: 'typing' });
    await nextTurn();
    assert.equal(bob.conn.of('typing').length, 4);
  });

  test('a flood of typing closes the connection as any flood does', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    for (let i = 0; i < 30; i++) await alice.member.handle({ type: 'typing' });
    assert.equal(alice.conn.closed?.code, 1008);
  });
});

describe('hold: a page unloading', () => {
  test('a reload: the connection closes after `hold`, the page resumes within the hold; nobody sees anything', async () => {
    const t = makeHub({ graceMs: 120_000, leaveHoldMs: 5000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await t.hub.idle();
    const token = bob.conn.last('welcome').resumeToken;
    alice.conn.clear();
    await bob.member.handle({ type: 'hold' });
    bob.conn.drop();
    await t.hub.idle();
    assert.deepEqual(alice.conn.received, [], 'no away, no notice');
    t.clock.advance(2000);
    await t.hub.idle();
    const again = await t.join('bob', { resumeToken: token });
    assert.equal(again.conn.last('welcome').resumed, true);
    t.clock.advance(10_000);
    await t.hub.idle();
    assert.deepEqual(alice.conn.of('notice'), [], 'no "left", no "joined"');
    assert.ok(alice.conn.of('members').every((m) => m.members.every((x) => !x.away)), 'never shown away');
  });

  test('a closed tab: not back within the hold, the member leaves ("quit"), not after the grace period', async () => {
    const t = makeHub({ graceMs: 120_000, leaveHoldMs: 5000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    await bob.member.handle({ type: 'hold' });
    bob.conn.drop();
    await t.hub.idle();
    t.clock.advance(4999);
    await t.hub.idle();
    assert.equal(alice.conn.of('notice').filter((n) => n.event === 'leave').length, 0);
    t.clock.advance(1);
    await t.hub.idle();
    const left = alice.conn.last('notice');
    assert.deepEqual([left.event, left.nick, left.reason, left.text], ['leave', 'bob', 'quit', 'bob left']);
    assert.deepEqual(alice.conn.last('members').members.map((m) => m.nick), ['alice']);
  });

  test('without `hold`, a lost connection is away for the grace period as before', async () => {
    const t = makeHub({ graceMs: 120_000, leaveHoldMs: 5000 });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    bob.conn.drop();
    await t.hub.idle();
    t.clock.advance(10_000);
    await t.hub.idle();
    assert.equal(alice.conn.of('notice').filter((n) => n.event === 'leave').length, 0);
    assert.equal(alice.conn.last('members').members.find((m) => m.nick === 'bob')?.away, true);
  });
});
