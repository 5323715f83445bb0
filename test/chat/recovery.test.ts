/**
 * Recovery over real connections: a client cut mid-stream comes back with
 * `lastSeq` and its `resumeToken` and gets exactly what it missed; its
 * nickname is held for the grace period and released after it; a member back
 * in time never "left". Grace periods run on a ManualClock where the test
 * needs to stand inside one, and on real timers once, end to end.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/chat/clock.js';
import type { EntryEvent, ServerEvent } from '../../src/chat/messages.js';
import type { ChatServer } from '../../src/chat/server.js';
import { JsonClient, startTestServer, within, wsUrl } from './support/clients.js';

const T = { timeout: 20_000 };
const ROOM = '/r/recovery';

/** Every history entry a client received (welcome history, history pages, live), in arrival order. */
function entries(client: JsonClient): EntryEvent[] {
  const out: EntryEvent[] = [];
  for (const e of client.inbox.items as ServerEvent[]) {
    if (e.type === 'welcome') out.push(...e.history);
    else if (e.type === 'history') out.push(...e.entries);
    else if (e.type === 'message' || e.type === 'action' || e.type === 'notice' || e.type === 'admin') out.push(e);
  }
  return out;
}

function maxSeq(client: JsonClient): number {
  return Math.max(0, ...entries(client).map((e) => e.seq));
}

/** Cuts the connection the way a network does: no close frame; resolves when the client side is closed. */
async function cut(client: JsonClient): Promise<void> {
  client.ws.terminate();
  assert.equal((await within(client.closed, 'the cut')).code, 1006);
}

async function withServer(options: { graceMs: number; clock?: ManualClock }, fn: (server: ChatServer) => Promise<void>): Promise<void> {
  const server = await startTestServer({
    hub: { graceMs: options.graceMs, rateLimit: { burst: 1000 } },
    ...(options.clock ? { clock: options.clock } : {}),
  });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

describe('resume after a cut', () => {
  test('cut mid-stream: back with lastSeq + resumeToken, exactly the missed entries, no gap, no duplicate, in order', T, async () => {
    await withServer({ graceMs: 60_000 }, async (server) => {
      const url = wsUrl(server, ROOM);
      const alice = await JsonClient.joined(url, 'alice');
      const carol = await JsonClient.joined(url, 'carol');
      const bob = await JsonClient.open(url);
      const welcome = await bob.join('bob');
      const firstSeq = welcome.history[0]?.seq ?? 0;

      // Bob drops off while alice is in the middle of a burst.
      const cutDone = new Promise<void>((resolve) => {
        bob.ws.on('message', (data) => {
          if (String(data).includes('"text":"burst 10"')) {
            bob.ws.terminate();
            resolve();
          }
        });
      });
      const ids = Array.from({ length: 40 }, (_, i) => `burst-${i + 1}`);
      for (const [i, id] of ids.entries()) alice.send({ type: 'message', id, text: `burst ${i + 1}` });
      await within(cutDone, 'bob cut during the burst');
      assert.equal((await within(bob.closed, 'bob closed')).code, 1006);
      // The room keeps chatting while bob is away.
      await carol.expect('members', (m) => m.members.some((x) => x.nick === 'bob' && x.away));
      await carol.say('bob went quiet');
      await carol.say('/me shrugs');
      for (const id of ids) assert.equal((await alice.answer(id)).type, 'ack');

      const seen = entries(bob);
      const lastSeq = maxSeq(bob);
      assert.ok(seen.some((e) => e.text === 'burst 10'));
      assert.ok(lastSeq < maxSeq(alice), 'bob missed something');

      const back = await JsonClient.open(url);
      const resumed = await back.join('bob', { resumeToken: welcome.resumeToken, lastSeq });
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.nick, 'bob');
      assert.equal(resumed.resumeToken, welcome.resumeToken);
      assert.equal(resumed.more, false);
      assert.deepEqual(
        resumed.history.map((e) => e.seq),
        Array.from({ length: resumed.lastSeq - lastSeq }, (_, i) => lastSeq + 1 + i),
        'exactly the entries after lastSeq, in order',
      );
      await alice.say('welcome back');
      const live = await back.expect('message', (m) => m.text === 'welcome back');
      assert.equal(live.seq, resumed.lastSeq + 1, 'live continues right after the welcome');

      // Everything bob saw across both connections is what alice saw since bob joined: no gap, no duplicate.
      const all = [...seen, ...entries(back)];
      const expected = entries(alice).filter((e) => e.seq >= firstSeq);
      assert.deepEqual(
        all.map((e) => `${e.seq} ${e.nick} ${e.text}`),
        expected.map((e) => `${e.seq} ${e.nick} ${e.text}`),
      );
      assert.equal(new Set(all.map((e) => e.seq)).size, all.length);
      // Nobody saw bob leave or come back.
      assert.equal(
        entries(alice).filter((e) => e.type === 'notice' && e.nick === 'bob').map((e) => (e.type === 'notice' ? e.event : '')).join(),
        'join',
      );
      for (const c of [alice, carol, back]) await c.close();
    });
  });

  test('a message resent after a cut with the same id is stored once and acknowledged with its seq', T, async () => {
    await withServer({ graceMs: 60_000 }, async (server) => {
      const url = wsUrl(server, ROOM);
      const watcher = await JsonClient.joined(url, 'watcher');
      const alice = await JsonClient.open(url);
      const welcome = await alice.join('alice');
      // Sent and cut at once: the server may or may not have stored it.
      alice.send({ type: 'message', id: 'outbox-1', text: 'sent into the void' });
      await cut(alice);
      const back = await JsonClient.open(url);
      const resumed = await back.join('alice', { resumeToken: welcome.resumeToken, lastSeq: welcome.lastSeq });
      assert.equal(resumed.resumed, true);
      const ack = await back.say('sent into the void', 'outbox-1');
      const again = await back.say('sent into the void', 'outbox-1');
      assert.equal(again.seq, ack.seq);
      await back.say('done', 'outbox-2');
      await watcher.expect('message', (m) => m.text === 'done');
      assert.deepEqual(
        watcher.all('message').map((m) => [m.seq, m.text]),
        [
          [ack.seq, 'sent into the void'],
          [(ack.seq ?? 0) + 1, 'done'],
        ],
      );
      for (const c of [watcher, back]) await c.close();
    });
  });

  test('resuming while the old connection still looks alive closes the old one with 4001', T, async () => {
    await withServer({ graceMs: 60_000 }, async (server) => {
      const url = wsUrl(server, ROOM);
      const other = await JsonClient.joined(url, 'other');
      const first = await JsonClient.open(url);
      const welcome = await first.join('dana');
      const second = await JsonClient.open(url);
      const resumed = await second.join('dana', { resumeToken: welcome.resumeToken, lastSeq: welcome.lastSeq });
      assert.equal(resumed.resumed, true);
      assert.deepEqual(await within(first.closed, 'the old connection closed'), {
        code: 4001,
        reason: 'resumed on another connection',
      });
      await other.say('to the new one');
      assert.equal((await second.expect('message')).text, 'to the new one');
      assert.equal(first.all('message').length, 0);
      assert.equal(other.all('notice').filter((n) => n.nick === 'dana' && n.event === 'leave').length, 0);
      for (const c of [other, second]) await c.close();
    });
  });

  test('lastSeq beyond the room (its history was lost) gives reset: true and a fresh history', T, async () => {
    await withServer({ graceMs: 60_000 }, async (server) => {
      const client = await JsonClient.open(wsUrl(server, '/r/amnesia'));
      const welcome = await client.join('late', { lastSeq: 1041 });
      assert.equal(welcome.reset, true);
      assert.equal(welcome.lastSeq, 1);
      assert.deepEqual(
        welcome.history.map((e) => e.text),
        ['late joined'],
      );
      await client.close();
    });
  });
});

describe('the grace period', () => {
  test('the nickname is held through the grace period (NICK_TAKEN) and released after it', T, async () => {
    const clock = new ManualClock();
    await withServer({ graceMs: 200, clock }, async (server) => {
      const url = wsUrl(server, ROOM);
      const alice = await JsonClient.joined(url, 'alice');
      const bob = await JsonClient.open(url);
      const welcome = await bob.join('bob');
      await cut(bob);
      await alice.expect('members', (m) => m.members.some((x) => x.nick === 'bob' && x.away));

      clock.advance(199);
      const mallory = await JsonClient.open(url);
      const refused = await mallory.tryJoin('BOB');
      assert.equal(refused.type === 'error' && refused.code, 'NICK_TAKEN');
      await alice.say('/who', 'who-1');
      assert.equal(alice.all('info').at(-1)?.text, '2 members in recovery: alice (owner), bob (away)');

      clock.advance(1);
      const left = await alice.expect('notice', (n) => n.event === 'leave');
      assert.deepEqual([left.nick, left.reason, left.text], ['bob', 'lost', 'bob left (connection lost)']);
      await alice.expect('members', (m) => m.members.length === 1);
      assert.equal((await mallory.join('bob')).nick, 'bob', 'the nickname is free after the grace period');

      // Bob's token died with the grace period: his comeback is a fresh join, and the name is gone.
      const back = await JsonClient.open(url);
      const late = await back.tryJoin('bob', { resumeToken: welcome.resumeToken, lastSeq: welcome.lastSeq });
      assert.equal(late.type === 'error' && late.code, 'NICK_TAKEN');
      const fresh = await back.join('bob2', { resumeToken: welcome.resumeToken, lastSeq: welcome.lastSeq });
      assert.equal(fresh.resumed, false);
      assert.notEqual(fresh.resumeToken, welcome.resumeToken);
      for (const c of [alice, mallory, back]) await c.close();
    });
  });

  test('soft leave: back within the grace period, nobody ever sees "left", even after it would have ended', T, async () => {
    const clock = new ManualClock();
    await withServer({ graceMs: 200, clock }, async (server) => {
      const url = wsUrl(server, ROOM);
      const alice = await JsonClient.joined(url, 'alice');
      const bob = await JsonClient.open(url);
      const welcome = await bob.join('bob');
      await cut(bob);
      await alice.expect('members', (m) => m.members.some((x) => x.nick === 'bob' && x.away));
      clock.advance(150);

      const back = await JsonClient.open(url);
      const resumed = await back.join('bob', { resumeToken: welcome.resumeToken, lastSeq: welcome.lastSeq });
      assert.equal(resumed.resumed, true);
      assert.deepEqual(resumed.history, [], 'nothing happened meanwhile');
      assert.deepEqual(resumed.members, [
        { nick: 'alice', away: false, role: 'owner' },
        { nick: 'bob', away: false },
      ]);
      await alice.expect('members', (m) => m.members.every((x) => !x.away));

      clock.advance(10_000);
      const ack = await alice.say('still two of us');
      assert.equal(ack.seq, resumed.lastSeq + 1, 'no notice was stored in between');
      assert.equal((await back.expect('message')).seq, ack.seq);
      assert.deepEqual(
        alice.all('notice').map((n) => n.text),
        ['bob joined'],
      );
      for (const c of [alice, back]) await c.close();
    });
  });

  test('on real timers: the "left (connection lost)" notice comes after the grace period, then the name is free', T, async () => {
    await withServer({ graceMs: 200 }, async (server) => {
      const url = wsUrl(server, ROOM);
      const alice = await JsonClient.joined(url, 'alice');
      const bob = await JsonClient.joined(url, 'bob');
      // The clock starts before the cut: the server's grace timer can only start after it.
      const cutAt = Date.now();
      await cut(bob);
      await alice.expect('members', (m) => m.members.some((x) => x.nick === 'bob' && x.away));
      const left = await alice.expect('notice', (n) => n.event === 'leave', 5000);
      assert.ok(Date.now() - cutAt >= 195, `left ${Date.now() - cutAt} ms after the cut, before the grace period ended`);
      assert.equal(left.text, 'bob left (connection lost)');
      const newBob = await JsonClient.joined(url, 'bob');
      assert.equal((await alice.expect('notice', (n) => n.event === 'join')).text, 'bob joined');
      for (const c of [alice, newBob]) await c.close();
    });
  });
});
