/**
 * Issue 12, "nothing dropped": ChatSession over real sockets against the real
 * chat server. Lines queued offline or pasted in one go all arrive, once each,
 * in order, and the session is never closed for flooding. Counted twice: the
 * session's acks, and the entries another member sees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatServer } from '../../src/chat/server.js';
import { nodeSocketFactory } from '../../src/client/node-socket.js';
import { ChatSession, type EndReason } from '../../src/client/session.js';
import { JsonClient, startTestServer, within, wsUrl } from '../chat/support/clients.js';

interface Run {
  session: ChatSession;
  acked: string[];
  failed: string[];
  ended: Promise<EndReason>;
  welcomed: Promise<void>;
}

function session(url: string, nick: string): Run {
  const s = new ChatSession({ url, nick, socketFactory: nodeSocketFactory() });
  const run: Run = {
    session: s,
    acked: [],
    failed: [],
    ended: new Promise((resolve) => s.on('ended', (reason) => resolve(reason))),
    welcomed: new Promise((resolve) => s.on('welcome', () => resolve())),
  };
  s.on('acked', (item) => run.acked.push(item.text));
  s.on('failed', (item, error) => run.failed.push(`${item.text}: ${error.code}`));
  return run;
}

/** Waits until `watcher` has seen `count` messages from `nick`; returns their texts in seq order. */
async function seen(watcher: JsonClient, nick: string, count: number, timeoutMs: number): Promise<string[]> {
  const texts: string[] = [];
  while (texts.length < count) {
    const entry = await watcher.expect('message', (m) => m.nick === nick, timeoutMs);
    texts.push(entry.text);
  }
  return texts;
}

/** Waits until the session's outbox is empty. */
async function drained(run: Run, timeoutMs: number): Promise<void> {
  await within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (run.session.outbox.length === 0) resolve();
      };
      run.session.on('acked', check);
      run.session.on('failed', check);
      check();
    }),
    'the outbox to drain',
    timeoutMs,
  );
}

const lines = (n: number, label: string) => Array.from({ length: n }, (_, i) => `${label} ${i + 1}`);

describe('ChatSession against the chat server: nothing dropped', () => {
  let fast: ChatServer;
  let defaults: ChatServer;
  before(async () => {
    // 200 lines at the default 5 per second would take 40 s a test; the
    // client paces by what the welcome advertises, whatever it is.
    fast = await startTestServer({ hub: { rateLimit: { burst: 20, perSecond: 50 } } });
    defaults = await startTestServer();
  });
  after(async () => {
    await fast.close();
    await defaults.close();
  });

  for (const [label, how] of [
    ['queued offline', 'offline'],
    ['pasted (sent in one burst)', 'pasted'],
  ] as const) {
    test(`200 lines ${label} arrive once each, in order, with no 1008`, { timeout: 60_000 }, async () => {
      const room = `/r/pace-${how}`;
      const watcher = await JsonClient.joined(wsUrl(fast, room), 'watcher');
      const run = session(wsUrl(fast, room), 'typist');
      const texts = lines(200, how);
      if (how === 'offline') {
        for (const text of texts) run.session.send(text);
        run.session.start();
      } else {
        run.session.start();
        await within(run.welcomed, 'the welcome');
        for (const text of texts) run.session.send(text);
      }
      assert.deepEqual(await seen(watcher, 'typist', 200, 30_000), texts, 'the other member sees each line once, in order');
      await drained(run, 30_000);
      assert.deepEqual(run.acked, texts, 'every line acked, in order');
      assert.deepEqual(run.failed, []);
      assert.equal(run.session.ended, undefined, 'never closed (no 1008)');
      assert.ok(!watcher.all('notice').some((n) => n.event === 'leave'), 'nobody was disconnected');
      run.session.send('/quit');
      assert.equal(await within(run.ended, 'the end after /quit'), 'quit');
      await watcher.close();
    });
  }

  test('40 lines queued offline against the default limits (issue 12: 0 of 40 arrived)', { timeout: 60_000 }, async () => {
    const watcher = await JsonClient.joined(wsUrl(defaults, '/r/pace-default'), 'watcher');
    const run = session(wsUrl(defaults, '/r/pace-default'), 'traveller');
    const texts = lines(40, 'offline');
    for (const text of texts) run.session.send(text);
    run.session.start();
    // 18 at once, then 4.5 per second: about 5 s.
    assert.deepEqual(await seen(watcher, 'traveller', 40, 30_000), texts);
    await drained(run, 30_000);
    assert.deepEqual(run.acked, texts);
    assert.equal(run.session.ended, undefined);
    run.session.leave();
    assert.equal(await within(run.ended, 'the end after leave()'), 'quit');
    const left = await watcher.expect('notice', (n) => n.event === 'leave');
    assert.equal(left.text, 'traveller left', 'leave() leaves at once, not "away"');
    await watcher.close();
  });
});
