import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { RateLimiter } from '../../src/chat/rate-limit.js';
import {
  asSentence,
  ChatSession,
  type ConnectionState,
  type EndReason,
  type OutboxItem,
  outboxKind,
  parseServerEvent,
  type SessionError,
  type SessionOptions,
  type StateDetail,
} from '../../src/client/session.js';
import { entries, FakeTimers, fakeFactory, message, welcome } from './fakes.js';

const URL = 'ws://chat.test/r/team';

function setup(options: Partial<SessionOptions> = {}) {
  const net = fakeFactory();
  const timers = new FakeTimers();
  let ids = 0;
  const session = new ChatSession({
    url: URL,
    nick: 'alice',
    socketFactory: net.factory,
    timers,
    random: () => 0.5,
    newId: () => `id-${++ids}`,
    ...options,
  });
  const log = {
    entries: [] as EntryEvent[],
    states: [] as [ConnectionState, StateDetail][],
    acked: [] as [OutboxItem, number | undefined][],
    failed: [] as [OutboxItem, SessionError][],
    pending: [] as OutboxItem[],
    errors: [] as SessionError[],
    nickRequired: [] as SessionError[],
    ended: [] as [EndReason, number | undefined, string][],
    nicks: [] as [string, string][],
    resets: 0,
    caughtUp: [] as number[],
  };
  session.on('entry', (e) => log.entries.push(e));
  session.on('state', (s, d) => log.states.push([s, d]));
  session.on('acked', (item, seq) => log.acked.push([item, seq]));
  session.on('failed', (item, error) => log.failed.push([item, error]));
  session.on('pending', (item) => log.pending.push(item));
  session.on('error', (e) => log.errors.push(e));
  session.on('nickRequired', (e) => log.nickRequired.push(e));
  session.on('ended', (r, c, t) => log.ended.push([r, c, t]));
  session.on('nick', (n, f) => log.nicks.push([n, f]));
  session.on('reset', () => log.resets++);
  session.on('caughtUp', (seq) => log.caughtUp.push(seq));
  return { session, net, timers, log, seqs: () => log.entries.map((e) => e.seq) };
}

/** Starts the session and completes the join with this welcome. */
function online(options: Partial<SessionOptions> = {}, history: EntryEvent[] = []) {
  const t = setup(options);
  t.session.start();
  t.net.last().open();
  t.net.last().receive(welcome({ history }));
  return t;
}

/** Advances the clock to the scheduled retry, exactly. */
function waitRetry(t: ReturnType<typeof setup>) {
  const [state, detail] = t.log.states.at(-1) ?? [];
  assert.equal(state, 'offline');
  assert.ok(detail?.retryInMs !== undefined, 'a retry is scheduled');
  t.timers.advance(detail.retryInMs);
}

/** Lets the backoff timer fire and opens the new socket. */
function reconnect(t: ReturnType<typeof setup>) {
  const before = t.net.sockets.length;
  waitRetry(t);
  assert.equal(t.net.sockets.length, before + 1, 'one new socket');
  const socket = t.net.last();
  socket.open();
  return socket;
}

describe('joining', () => {
  test('opens the room URL with the wschat.v1 subprotocol and joins with the nickname only', () => {
    const t = setup();
    t.session.start();
    const socket = t.net.last();
    assert.equal(socket.url, URL);
    assert.equal(socket.protocol, 'wschat.v1');
    assert.deepEqual(socket.sent, [], 'nothing is sent before the handshake completes');
    socket.open();
    assert.deepEqual(socket.sent, [{ type: 'join', nick: 'alice' }]);
    assert.equal(t.session.state, 'connecting');
  });

  test('start() twice connects once', () => {
    const t = setup();
    t.session.start();
    t.session.start();
    assert.equal(t.net.sockets.length, 1);
  });

  test('the welcome makes the session online and delivers its history in order', () => {
    const t = online({}, entries(1, 3));
    assert.deepEqual(t.seqs(), [1, 2, 3]);
    assert.equal(t.session.state, 'online');
    assert.equal(t.session.room, 'team');
    assert.equal(t.session.resumeToken, 'token-0123456789abcdef');
    assert.equal(t.session.lastSeq, 3);
    assert.equal(t.session.maxMessage, 4000);
    assert.deepEqual(
      t.log.states.map(([s]) => s),
      ['connecting', 'online'],
    );
    assert.deepEqual(t.log.caughtUp, [3]);
  });

  test('a welcome on an empty room sets lastSeq to the room’s, so the next join asks from there', () => {
    const t = setup();
    t.session.start();
    t.net.last().open();
    t.net.last().receive(welcome({ lastSeq: 0 }));
    assert.equal(t.session.lastSeq, 0);
    t.net.last().drop();
    const socket = reconnect(t);
    assert.deepEqual(socket.sent[0], {
      type: 'join',
      nick: 'alice',
      resumeToken: 'token-0123456789abcdef',
      lastSeq: 0,
      epoch: 'epoch0',
    });
  });

  test('the join sends back the epoch of its lastSeq; a welcome from another epoch resets', () => {
    const t = setup();
    t.session.start();
    t.net.last().open();
    t.net.last().receive(welcome({ history: entries(1, 3), lastSeq: 3, epoch: 'first' }));
    t.net.last().drop();
    const socket = reconnect(t);
    assert.deepEqual(socket.sent[0], { type: 'join', nick: 'alice', resumeToken: 'token-0123456789abcdef', lastSeq: 3, epoch: 'first' });
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 2, epoch: 'second', reset: true }));
    assert.equal(t.log.resets, 1);
    assert.equal(t.session.lastSeq, 2);
  });

  test('a nickname normalised by the server is reported and kept', () => {
    const t = setup({ nick: 'Cafe\u0301' });
    t.session.start();
    t.net.last().open();
    t.net.last().receive(welcome({ nick: 'Café' }));
    assert.deepEqual(t.log.nicks, [['Café', 'Cafe\u0301']]);
    assert.equal(t.session.nick, 'Café');
  });

  test('a taken nickname asks for another, and setNick joins again on the same socket', () => {
    const t = setup();
    t.session.start();
    const socket = t.net.last();
    socket.open();
    socket.receive({ type: 'error', code: 'NICK_TAKEN', message: 'alice is taken' });
    assert.deepEqual(t.log.nickRequired, [{ code: 'NICK_TAKEN', message: 'Alice is taken.' }]);
    assert.equal(t.session.needsNick, true);
    assert.deepEqual(t.timers.pending, [], 'no join timeout runs while the user picks a name');
    t.session.setNick('alicia');
    assert.deepEqual(socket.sent.at(-1), { type: 'join', nick: 'alicia' });
    socket.receive(welcome({ nick: 'alicia' }));
    assert.equal(t.session.state, 'online');
    assert.equal(t.session.nick, 'alicia');
    assert.equal(t.net.sockets.length, 1);
  });

  test('an invalid nickname whose socket then closes waits for setNick before reconnecting', () => {
    const t = setup({ resumeToken: 'old-token-0123456789' });
    t.session.start();
    t.net.last().open();
    t.net.last().receive({ type: 'error', code: 'NICK_INVALID', message: 'nickname is empty' });
    t.net.last().drop(1000);
    assert.equal(t.session.state, 'offline');
    t.timers.advance(60_000);
    assert.equal(t.net.sockets.length, 1, 'no reconnect without a nickname');
    t.session.setNick('bob');
    assert.equal(t.net.sockets.length, 2);
    t.net.last().open();
    assert.deepEqual(t.net.last().sent, [{ type: 'join', nick: 'bob' }], 'the refused resume token is not sent again');
  });

  test('ROOM_INVALID ends the session', () => {
    const t = setup();
    t.session.start();
    t.net.last().open();
    t.net.last().receive({ type: 'error', code: 'ROOM_INVALID', message: 'bad room' });
    assert.deepEqual(t.log.ended, [['room-invalid', undefined, 'Bad room.']]);
    t.timers.advance(60_000);
    assert.equal(t.net.sockets.length, 1);
  });

  test('another join error (ROOM_FULL) is reported and retried after a backoff', () => {
    const t = setup();
    t.session.start();
    t.net.last().open();
    t.net.last().receive({ type: 'error', code: 'ROOM_FULL', message: 'room is full' });
    assert.equal(t.log.errors[0]?.code, 'ROOM_FULL');
    assert.ok(t.net.sockets[0]?.closedWith, 'the refused socket is closed');
    waitRetry(t);
    assert.equal(t.net.sockets.length, 2);
  });

  test('a socket that never opens is given up after the join timeout and retried', () => {
    const t = setup({ joinTimeoutMs: 10_000 });
    t.session.start();
    t.timers.advance(9_999);
    assert.equal(t.net.sockets.length, 1);
    t.timers.advance(1);
    assert.ok(t.net.sockets[0]?.closedWith);
    assert.equal(t.net.sockets[0]?.detached, true);
    assert.equal(t.session.state, 'offline');
    assert.equal(t.log.states.at(-1)?.[1].reason, 'join timed out');
    waitRetry(t);
    assert.equal(t.net.sockets.length, 2);
  });

  test('a factory that throws counts as a failed attempt', () => {
    let calls = 0;
    const timers = new FakeTimers();
    const session = new ChatSession({
      url: URL,
      nick: 'alice',
      timers,
      random: () => 0.5,
      socketFactory: () => {
        calls++;
        throw new SyntaxError('bad url');
      },
    });
    const errors: SessionError[] = [];
    session.on('error', (e) => errors.push(e));
    session.start();
    assert.equal(session.state, 'offline');
    assert.match(errors[0]?.message ?? '', /bad url/);
    assert.deepEqual(timers.pending, [250]);
    timers.advance(250);
    assert.equal(calls, 2);
  });

  test('the constructor refuses missing options', () => {
    assert.throws(() => new ChatSession({ url: '', nick: 'a', socketFactory: fakeFactory().factory }), TypeError);
  });
});

describe('history across reconnects: no gap, no duplicate', () => {
  test('rejoins with the resume token and the last seq, and drops what was already delivered', () => {
    const t = online({}, entries(1, 3));
    t.net.last().receive(message(4));
    t.net.last().drop(1006);
    assert.equal(t.session.state, 'offline');
    const socket = reconnect(t);
    assert.deepEqual(socket.sent[0], {
      type: 'join',
      nick: 'alice',
      resumeToken: 'token-0123456789abcdef',
      lastSeq: 4,
      epoch: 'epoch0',
    });
    // A server that sends overlapping history must not cause duplicates.
    socket.receive(welcome({ history: entries(3, 7), resumed: true }));
    socket.receive(message(7));
    socket.receive(message(8));
    assert.deepEqual(t.seqs(), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  test('live entries repeated by the server are delivered once', () => {
    const t = online({}, entries(1, 2));
    t.net.last().receive(message(3));
    t.net.last().receive(message(3));
    t.net.last().receive(message(2));
    t.net.last().receive(message(4));
    assert.deepEqual(t.seqs(), [1, 2, 3, 4]);
  });

  test('`more` pages with history requests up to the welcome’s lastSeq, live entries waiting behind', () => {
    const t = online({ historyPageSize: 4 }, entries(1, 2));
    t.net.last().drop();
    const socket = reconnect(t);
    socket.receive(welcome({ history: entries(3, 4), lastSeq: 12, more: true }));
    assert.deepEqual(socket.sentOfType('history'), [{ type: 'history', id: 'id-1', afterSeq: 4, limit: 4 }]);
    // Live entries after the welcome's lastSeq arrive before the pages.
    socket.receive(message(13));
    socket.receive(message(14));
    assert.deepEqual(t.seqs(), [1, 2, 3, 4], 'live entries wait for the missing ones');
    socket.receive({ type: 'history', id: 'id-1', entries: entries(5, 8), more: true });
    assert.deepEqual(socket.sentOfType('history')[1], { type: 'history', id: 'id-2', afterSeq: 8, limit: 4 });
    // A stale page (wrong id) is ignored.
    socket.receive({ type: 'history', id: 'id-1', entries: entries(5, 8), more: true });
    // The last page overlaps the buffered live entry 13.
    socket.receive({ type: 'history', id: 'id-2', entries: entries(9, 13), more: false });
    socket.receive(message(15));
    assert.deepEqual(
      t.seqs(),
      Array.from({ length: 15 }, (_, i) => i + 1),
    );
    assert.deepEqual(t.log.caughtUp, [2, 14]);
    assert.equal(socket.sentOfType('history').length, 2);
  });

  test('paging stops when a page brings nothing new', () => {
    const t = online();
    t.net.last().drop();
    const socket = reconnect(t);
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 10, more: true }));
    socket.receive({ type: 'history', id: 'id-1', entries: [], more: true });
    assert.equal(socket.sentOfType('history').length, 1);
    assert.equal(t.session.lastSeq, 10);
    socket.receive(message(11));
    assert.deepEqual(t.seqs(), [1, 2, 11]);
  });

  test('a failed history request reconnects and resumes from what was delivered', () => {
    const t = online();
    t.net.last().drop();
    let socket = reconnect(t);
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 10, more: true }));
    socket.receive({ type: 'error', code: 'INTERNAL', message: 'oops', id: 'id-1' });
    assert.ok(socket.closedWith);
    socket = reconnect(t);
    assert.equal(socket.sent[0]?.lastSeq, 2);
  });

  test('a connection lost while paging resumes from the last delivered entry, without the buffered ones', () => {
    const t = online();
    t.net.last().drop();
    let socket = reconnect(t);
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 10, more: true }));
    socket.receive(message(11));
    socket.drop();
    socket = reconnect(t);
    assert.equal(socket.sent[0]?.lastSeq, 2);
    socket.receive(welcome({ history: entries(3, 11), lastSeq: 11 }));
    assert.deepEqual(
      t.seqs(),
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
  });

  test('reset: a room that lost its history is shown from scratch', () => {
    const t = online({}, entries(1, 40));
    t.net.last().drop();
    const socket = reconnect(t);
    assert.equal(socket.sent[0]?.lastSeq, 40);
    socket.receive(welcome({ reset: true, history: entries(1, 2) }));
    assert.equal(t.log.resets, 1);
    assert.deepEqual(t.seqs().slice(40), [1, 2]);
    assert.equal(t.session.lastSeq, 2);
  });

  test('a welcome whose lastSeq is behind ours is a reset even without the flag', () => {
    const t = online({}, entries(1, 5));
    t.net.last().drop();
    const socket = reconnect(t);
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 2 }));
    assert.equal(t.log.resets, 1);
    assert.deepEqual(t.seqs(), [1, 2, 3, 4, 5, 1, 2]);
  });

  test('a saved lastSeq from the options is sent on the first join', () => {
    const t = setup({ lastSeq: 17, resumeToken: 'saved-token-0123456789' });
    t.session.start();
    t.net.last().open();
    assert.deepEqual(t.net.last().sent[0], {
      type: 'join',
      nick: 'alice',
      resumeToken: 'saved-token-0123456789',
      lastSeq: 17,
    });
  });

  test('entries before the welcome and malformed events are ignored', () => {
    const t = setup();
    t.session.start();
    const socket = t.net.last();
    socket.open();
    socket.receive(message(1));
    socket.receiveRaw('not json');
    socket.receiveRaw('[]');
    socket.receive({ type: 'message', seq: -1, ts: 0, nick: 'x', text: 'y' });
    socket.receive({ type: 'surprise' });
    socket.receive(welcome({ history: entries(1, 1) }));
    socket.receive({ type: 'message', seq: 'two', ts: 0, nick: 'x', text: 'y' } as Record<string, unknown>);
    socket.receive(message(2));
    assert.deepEqual(t.seqs(), [1, 2]);
  });
});

describe('outbox', () => {
  test('messages typed before the welcome are queued and sent after it, in order', () => {
    const t = setup();
    t.session.start();
    const a = t.session.send('first');
    const b = t.session.send('second');
    assert.equal(a.status, 'queued');
    assert.deepEqual(
      t.log.pending.map((i) => i.id),
      [a.id, b.id],
    );
    const socket = t.net.last();
    socket.open();
    assert.deepEqual(socket.sentOfType('message'), []);
    socket.receive(welcome());
    assert.deepEqual(socket.sentOfType('message'), [{ type: 'message', id: a.id, text: 'first' }], 'one at a time');
    assert.deepEqual([a.status, b.status], ['sent', 'queued']);
    socket.receive({ type: 'ack', id: a.id, seq: 1 });
    assert.deepEqual(socket.sentOfType('message'), [
      { type: 'message', id: a.id, text: 'first' },
      { type: 'message', id: b.id, text: 'second' },
    ]);
  });

  test('an unacknowledged message is resent with the same id after a reconnect, and leaves only on its ack', () => {
    const t = online();
    const item = t.session.send('hello');
    assert.deepEqual(t.net.last().sentOfType('message'), [{ type: 'message', id: item.id, text: 'hello' }]);
    t.net.last().drop();
    assert.equal(item.status, 'queued');
    const offline = t.session.send('typed while offline');
    const socket = reconnect(t);
    assert.deepEqual(socket.sentOfType('message'), [], 'nothing before the welcome');
    socket.receive(welcome({ resumed: true }));
    assert.deepEqual(socket.sentOfType('message'), [{ type: 'message', id: item.id, text: 'hello' }]);
    assert.equal(t.session.outbox.length, 2);
    socket.receive({ type: 'ack', id: item.id, seq: 1 });
    socket.receive({ type: 'ack', id: item.id, seq: 1 }); // A duplicate ack changes nothing.
    assert.deepEqual(
      t.session.outbox.map((i) => i.id),
      [offline.id],
    );
    assert.deepEqual(socket.sentOfType('message').at(-1), { type: 'message', id: offline.id, text: 'typed while offline' });
    assert.equal(socket.sentOfType('message').length, 2);
    socket.receive({ type: 'ack', id: offline.id, seq: 2 });
    assert.deepEqual(
      t.log.acked.map(([i, seq]) => [i.id, seq]),
      [
        [item.id, 1],
        [offline.id, 2],
      ],
    );
    assert.equal(t.session.outbox.length, 0);
    // And nothing is resent on the next reconnect.
    socket.drop();
    const again = reconnect(t);
    again.receive(welcome());
    assert.deepEqual(again.sentOfType('message'), []);
  });

  test('ids come from newId, default 16 URL-safe characters', () => {
    const net = fakeFactory();
    const session = new ChatSession({ url: URL, nick: 'a', socketFactory: net.factory, timers: new FakeTimers() });
    const ids = new Set([session.send('x').id, session.send('y').id]);
    assert.equal(ids.size, 2);
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
  });

  test('an error naming an outbox id fails that item', () => {
    const t = online();
    const item = t.session.send('x'.repeat(5000));
    t.net.last().receive({ type: 'error', code: 'MESSAGE_TOO_LONG', message: 'too long', id: item.id });
    assert.deepEqual(t.log.failed, [[item, { code: 'MESSAGE_TOO_LONG', message: 'Too long.', id: item.id }]]);
    assert.equal(t.session.outbox.length, 0);
    assert.deepEqual(t.log.errors, []);
  });

  test('an ack without seq (a command) is passed on', () => {
    const t = online();
    const item = t.session.send('/who');
    assert.equal(item.kind, 'command');
    t.net.last().receive({ type: 'info', text: 'Here: alice', id: item.id });
    t.net.last().receive({ type: 'ack', id: item.id });
    assert.deepEqual(t.log.acked, [[item, undefined]]);
  });

  test('outboxKind tells messages, actions and commands apart the way the server does', () => {
    assert.equal(outboxKind('hello'), 'message');
    assert.equal(outboxKind('//not a command'), 'message');
    assert.equal(outboxKind('/me waves'), 'action');
    assert.equal(outboxKind('/ME waves'), 'action');
    assert.equal(outboxKind('/meet'), 'command');
    assert.equal(outboxKind('/nick bob'), 'command');
  });
});

describe('reconnection and backoff', () => {
  test('delays grow exponentially with full jitter, capped at 30 s, and restart after a welcome', () => {
    const t = setup({ random: () => 0.999999 });
    t.session.start();
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      t.net.last().drop();
      const detail = t.log.states.at(-1)?.[1];
      assert.equal(t.log.states.at(-1)?.[0], 'offline');
      delays.push(detail?.retryInMs ?? -1);
      t.timers.advance(detail?.retryInMs ?? 0);
    }
    assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999, 29999, 29999]);
    t.net.last().open();
    t.net.last().receive(welcome());
    t.net.last().drop();
    assert.equal(t.log.states.at(-1)?.[1].retryInMs, 499, 'the backoff restarts after a welcome');
  });

  test('with random() = 0 the retry is immediate; state goes offline -> connecting -> online', () => {
    const t = online({ random: () => 0 });
    t.net.last().drop(1001, 'server restart');
    assert.deepEqual(t.log.states.at(-1), [
      'offline',
      { attempt: 1, retryInMs: 0, code: 1001, reason: 'server restart' },
    ]);
    t.timers.advance(0);
    t.net.last().open();
    t.net.last().receive(welcome());
    assert.deepEqual(
      t.log.states.map(([s]) => s),
      ['connecting', 'online', 'offline', 'connecting', 'online'],
    );
  });

  test('a retry never waits longer than 30 s', () => {
    const t = setup({ random: () => 0.999999 });
    t.session.start();
    for (let i = 0; i < 50; i++) {
      t.net.last().drop();
      for (const ms of t.timers.pending) assert.ok(ms < 30_000, `${ms} ms`);
      waitRetry(t);
    }
    assert.equal(t.net.sockets.length, 51);
  });

  test('retryNow skips the wait', () => {
    const t = online({ random: () => 0.9 });
    t.net.last().drop();
    assert.equal(t.net.sockets.length, 1);
    t.session.retryNow();
    assert.equal(t.net.sockets.length, 2);
    assert.deepEqual(t.timers.pending, [15_000], 'only the new socket’s join timeout is pending');
    t.session.retryNow(); // Connecting already: nothing happens.
    assert.equal(t.net.sockets.length, 2);
  });

  test('a normal close (1000) that we did not ask for is treated as a lost connection', () => {
    const t = online();
    t.net.last().drop(1000);
    assert.equal(t.session.state, 'offline');
    assert.deepEqual(t.log.ended, []);
    waitRetry(t);
    assert.equal(t.net.sockets.length, 2);
  });
});

describe('when not to reconnect', () => {
  test('/quit: the 1000 close that follows ends the session', () => {
    const t = online();
    const quit = t.session.send('/quit');
    assert.deepEqual(t.net.last().sentOfType('message'), [{ type: 'message', id: quit.id, text: '/quit' }]);
    assert.throws(() => t.session.send('more'), /ended/);
    t.net.last().drop(1000, 'bye');
    assert.deepEqual(t.log.ended, [['quit', 1000, 'bye']]);
    assert.equal(t.session.state, 'offline');
    assert.deepEqual(t.timers.pending, []);
    t.timers.advance(120_000);
    assert.equal(t.net.sockets.length, 1);
  });

  test('/quit while offline ends at once', () => {
    const t = online();
    t.net.last().drop();
    t.session.send('/QUIT');
    assert.equal(t.session.ended, 'quit');
    assert.deepEqual(t.timers.pending, []);
    t.timers.advance(120_000);
    assert.equal(t.net.sockets.length, 1);
  });

  test('a /quit the server refuses does not end the session', () => {
    const t = online();
    const quit = t.session.send('/quit now');
    t.net.last().receive({ type: 'error', code: 'BAD_COMMAND', message: 'no', id: quit.id });
    t.net.last().drop(1006);
    assert.equal(t.session.ended, undefined);
    waitRetry(t);
    assert.equal(t.net.sockets.length, 2);
  });

  for (const [code, reason] of [
    [4001, 'replaced'],
    [1008, 'policy'],
  ] as const) {
    test(`close code ${code} ends the session (${reason})`, () => {
      const t = online();
      t.net.last().drop(code, 'why');
      assert.deepEqual(t.log.ended, [[reason, code, 'why']]);
      assert.equal(t.session.state, 'offline');
      t.timers.advance(120_000);
      assert.equal(t.net.sockets.length, 1);
    });
  }

  test('close() closes with 1000 and never reconnects; sending afterwards throws', () => {
    const t = online();
    const socket = t.net.last();
    t.session.close();
    assert.deepEqual(socket.closedWith, { code: 1000, reason: undefined });
    assert.deepEqual(t.log.ended, [['closed', undefined, '']]);
    socket.drop(1000); // Detached: no effect.
    t.timers.advance(120_000);
    assert.equal(t.net.sockets.length, 1);
    assert.throws(() => t.session.send('x'));
  });
});

describe('other events', () => {
  test('renamed changes the nickname used by the next join', () => {
    const t = online();
    t.net.last().receive({ type: 'renamed', nick: 'alicia', from: 'alice' });
    assert.deepEqual(t.log.nicks, [['alicia', 'alice']]);
    t.net.last().drop();
    const socket = reconnect(t);
    assert.equal(socket.sent[0]?.nick, 'alicia');
  });

  test('members, info and errors without an id are passed on', () => {
    const t = online();
    const members: unknown[] = [];
    const infos: unknown[] = [];
    t.session.on('members', (m) => members.push(m));
    t.session.on('info', (text, id) => infos.push([text, id]));
    t.net.last().receive({ type: 'members', members: [{ nick: 'bob', away: true }] });
    t.net.last().receive({ type: 'info', text: 'help text' });
    t.net.last().receive({ type: 'error', code: 'RATE_LIMITED', message: 'slow down' });
    assert.deepEqual(members, [[{ nick: 'bob', away: true }]]);
    assert.deepEqual(t.session.members, [{ nick: 'bob', away: true }]);
    assert.deepEqual(infos, [['help text', undefined]]);
    assert.deepEqual(t.log.errors, [{ code: 'RATE_LIMITED', message: 'Slow down.' }]);
  });

  test('a listener that throws does not break the session', () => {
    const caught: unknown[] = [];
    const t = setup({ onListenerError: (error) => caught.push(error) });
    t.session.on('entry', (entry) => {
      throw new Error(`listener bug ${entry.seq}`);
    });
    t.session.start();
    t.net.last().open();
    t.net.last().receive(welcome({ history: entries(1, 2) }));
    assert.deepEqual(t.seqs(), [1, 2], 'later listeners and entries still run');
    assert.equal(t.session.state, 'online');
    assert.deepEqual(
      caught.map((e) => (e as Error).message),
      ['listener bug 1', 'listener bug 2'],
    );
  });

  test('parseServerEvent accepts documented events and refuses malformed ones', () => {
    assert.deepEqual(parseServerEvent(JSON.stringify(message(1))), message(1));
    assert.equal(parseServerEvent('{"type":"ack"}'), null);
    assert.equal(parseServerEvent('{"type":"welcome","room":"r"}'), null);
    assert.equal(parseServerEvent('null'), null);
    const w = parseServerEvent(JSON.stringify({ ...welcome(), more: undefined }));
    assert.equal(w?.type === 'welcome' && w.more, false);
  });
});

describe('pacing: whatever is queued arrives, in order, without flooding', () => {
  /** Online with an advertised budget, `n` lines queued before the welcome. */
  function queued(n: number, rateLimit: { burst: number; perSecond: number } | undefined) {
    const t = setup();
    t.session.start();
    const items = Array.from({ length: n }, (_, i) => t.session.send(`line ${i + 1}`));
    const socket = t.net.last();
    socket.open();
    socket.receive(rateLimit === undefined ? welcome() : welcome({ rateLimit }));
    return { ...t, socket, items };
  }

  /** Acks every message on the wire that has not been acked, in order. */
  function ackAll(t: ReturnType<typeof queued>, acked: Set<unknown>) {
    for (const m of t.socket.sentOfType('message')) {
      if (acked.has(m.id)) continue;
      acked.add(m.id);
      t.socket.receive({ type: 'ack', id: String(m.id), seq: acked.size });
    }
  }

  test('the burst (less the reserve) goes at once, then the advertised rate (90% of it)', () => {
    const t = queued(10, { burst: 5, perSecond: 10 });
    const acked = new Set<unknown>();
    // One on the wire at a time; each ack lets the next go while tokens last: 5 - 2 = 3.
    for (let i = 0; i < 5; i++) ackAll(t, acked);
    assert.equal(acked.size, 3);
    assert.deepEqual(t.timers.pending, [112], 'a token of 9 per second comes back after 112 ms');
    t.timers.advance(111);
    ackAll(t, acked);
    assert.equal(acked.size, 3);
    t.timers.advance(1);
    ackAll(t, acked);
    assert.equal(acked.size, 4);
    for (let i = 0; i < 20; i++) {
      t.timers.advance(112);
      ackAll(t, acked);
    }
    assert.deepEqual(
      t.log.acked.map(([item]) => item.text),
      t.items.map((item) => item.text),
    );
  });

  test('without an advertised budget, the server defaults are assumed (20 at once, 5 per second)', () => {
    const t = queued(30, undefined);
    const acked = new Set<unknown>();
    for (let i = 0; i < 30; i++) ackAll(t, acked);
    assert.equal(acked.size, 18);
    assert.deepEqual(t.timers.pending, [223]);
  });

  test('RATE_LIMITED with retryAfter: the same entry goes again after the delay, still ahead of the rest', () => {
    const t = queued(3, { burst: 50, perSecond: 10 });
    const [a, b, c] = t.items;
    t.socket.receive({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', id: a!.id, retryAfter: 300 });
    assert.deepEqual(t.log.failed, [], 'not a failure');
    assert.equal(t.session.outbox.length, 3);
    assert.equal(t.socket.sentOfType('message').length, 1, 'nothing overtakes it');
    t.timers.advance(299);
    assert.equal(t.socket.sentOfType('message').length, 1);
    t.timers.advance(1);
    assert.deepEqual(
      t.socket.sentOfType('message').map((m) => m.id),
      [a!.id, a!.id],
    );
    t.socket.receive({ type: 'ack', id: a!.id, seq: 1 });
    assert.deepEqual(t.socket.sentOfType('message').at(-1)?.id, b!.id);
    t.socket.receive({ type: 'ack', id: b!.id, seq: 2 });
    t.timers.advance(1000);
    assert.deepEqual(t.socket.sentOfType('message').at(-1)?.id, c!.id);
    t.socket.receive({ type: 'ack', id: c!.id, seq: 3 });
    assert.deepEqual(
      t.log.acked.map(([item]) => item.id),
      [a!.id, b!.id, c!.id],
    );
  });

  test('RATE_LIMITED without retryAfter (a budget that never refills) is final', () => {
    const t = queued(2, { burst: 1, perSecond: 0 });
    const [a, b] = t.items;
    t.socket.receive({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', id: a!.id });
    assert.deepEqual(
      t.log.failed.map(([item]) => item.id),
      [a!.id],
    );
    assert.equal(t.socket.sentOfType('message').at(-1)?.id, b!.id, 'the next one still goes; the server decides');
  });

  test('UNAVAILABLE (the store is down) is resent after retryAfter, as long as it lasts', () => {
    const t = queued(1, { burst: 50, perSecond: 10 });
    const [a] = t.items;
    for (let i = 1; i <= 10; i++) {
      t.socket.receive({ type: 'error', code: 'UNAVAILABLE', message: 'storage unavailable', id: a!.id, retryAfter: 2000 });
      t.timers.advance(1999);
      assert.equal(t.socket.sentOfType('message').length, i);
      t.timers.advance(1);
      assert.equal(t.socket.sentOfType('message').length, i + 1);
    }
    t.socket.receive({ type: 'ack', id: a!.id, seq: 1 });
    assert.deepEqual(t.log.failed, []);
    assert.equal(t.log.acked.length, 1);
  });

  test('INTERNAL is resent after a backoff, then failed after 5 tries', () => {
    const t = queued(1, { burst: 50, perSecond: 10 });
    const [a] = t.items;
    for (let i = 1; i <= 6; i++) {
      assert.equal(t.socket.sentOfType('message').length, i);
      t.socket.receive({ type: 'error', code: 'INTERNAL', message: 'could not store', id: a!.id });
      t.timers.advance(60_000);
    }
    assert.equal(t.socket.sentOfType('message').length, 6);
    assert.deepEqual(t.log.failed.map(([, error]) => error.message), ['Could not store.']);
  });

  test('history pages are paced too, and a rate-limited page is asked again', () => {
    const t = setup({ historyPageSize: 2 });
    t.session.start();
    const socket = t.net.last();
    socket.open();
    socket.receive(welcome({ history: entries(1, 2), lastSeq: 6, more: true, rateLimit: { burst: 3, perSecond: 1 } }));
    const pages = () => socket.sentOfType('history');
    assert.equal(pages().length, 1);
    socket.receive({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', id: String(pages()[0]!.id), retryAfter: 500 });
    assert.equal(pages().length, 1);
    // The bucket restarted empty at the refusal: a token (0.9 per second) after 1112 ms.
    t.timers.advance(1111);
    assert.equal(pages().length, 1);
    t.timers.advance(1);
    assert.equal(pages().length, 2);
    socket.receive({ type: 'history', id: String(pages()[1]!.id), entries: entries(3, 4), more: true });
    assert.equal(pages().length, 2, 'no token yet');
    t.timers.advance(1112);
    assert.equal(pages().length, 3);
    assert.equal(pages()[2]!.afterSeq, 4);
    socket.receive({ type: 'history', id: String(pages()[2]!.id), entries: entries(5, 6), more: false });
    assert.deepEqual(t.seqs(), [1, 2, 3, 4, 5, 6]);
    assert.equal(t.net.sockets.length, 1, 'no reconnect');
  });

  test('against a simulated server with a real token bucket and a jittery network: every line once, in order, never flooding', () => {
    // A seeded generator: the same run every time.
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (const rateLimit of [
      { burst: 20, perSecond: 5 },
      { burst: 3, perSecond: 2 },
      { burst: 1, perSecond: 50 },
    ]) {
      const t = setup();
      const clock = { now: () => t.timers.now(), setTimeout: () => ({ cancel() {} }) };
      const limiter = new RateLimiter({ ...rateLimit, maxStrikes: 10, strikeDecayPerSecond: 1 }, clock);
      const stored: string[] = [];
      const storedIds = new Set<string>();
      let refused = 0;
      let flood = false;
      let lastArrival = 0;
      t.session.start();
      const socket = t.net.last();
      // Client -> server: delays of 0-300 ms, in order (TCP); server -> client: 0-50 ms.
      socket.send = (text: string) => {
        const m = JSON.parse(text) as { type: string; id: string; text: string };
        lastArrival = Math.max(lastArrival, t.timers.now() + Math.floor(random() * 300));
        t.timers.setTimeout(() => {
          if (m.type !== 'message' || flood) return;
          const verdict = limiter.check();
          const answer =
            verdict === 'ok'
              ? { type: 'ack', id: m.id, seq: storedIds.has(m.id) ? 0 : stored.push(m.text) }
              : { type: 'error', code: 'RATE_LIMITED', message: 'slow down', id: m.id, retryAfter: limiter.retryAfterMs() ?? undefined };
          if (verdict === 'ok') storedIds.add(m.id);
          else refused++;
          if (verdict === 'flood') flood = true;
          t.timers.setTimeout(() => socket.receive(answer), Math.floor(random() * 50));
        }, lastArrival - t.timers.now());
      };
      const lines = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`);
      for (const line of lines.slice(0, 100)) t.session.send(line);
      socket.open();
      socket.receive(welcome({ rateLimit }));
      for (const line of lines.slice(100)) t.session.send(line); // a paste while online
      t.timers.advance(600_000);
      assert.equal(flood, false, `never flooding (${JSON.stringify(rateLimit)})`);
      assert.deepEqual(stored, lines, `each once, in order (${refused} refusals)`);
      assert.equal(t.log.acked.length, 200);
      assert.equal(t.session.outbox.length, 0);
    }
  });
});

describe('leaving', () => {
  test('leave() sends /quit at once, ahead of what is queued; the close ends the session', () => {
    const t = online();
    const a = t.session.send('a');
    t.session.send('b');
    t.session.leave();
    const sent = t.net.last().sentOfType('message');
    assert.deepEqual(
      sent.map((m) => m.text),
      ['a', '/quit'],
    );
    assert.deepEqual(
      t.session.outbox.map((i) => i.text),
      ['a', '/quit', 'b'],
    );
    t.net.last().receive({ type: 'ack', id: a.id, seq: 1 });
    t.net.last().receive({ type: 'ack', id: String(sent[1]!.id) });
    assert.equal(t.net.last().sentOfType('message').length, 2, 'nothing after the /quit');
    t.net.last().drop(1000, 'bye');
    assert.deepEqual(t.log.ended, [['quit', 1000, 'bye']]);
    assert.deepEqual(
      t.session.outbox.map((i) => i.text),
      ['b'],
      'what was never sent is still there to show',
    );
  });

  test('leave() when not joined ends at once', () => {
    const t = setup();
    t.session.start();
    t.session.leave();
    assert.deepEqual(t.log.ended, [['quit', undefined, '']]);
  });

  test('/quit typed while offline behind queued lines waits for them: lines, then /quit, then the end', () => {
    const t = online();
    t.net.last().drop();
    t.session.send('still to say');
    const quit = t.session.send('/quit');
    assert.equal(t.session.ended, undefined);
    assert.throws(() => t.session.send('more'), /ended/);
    const socket = reconnect(t);
    socket.drop(1006); // lost again before the welcome: no end, the /quit was not sent
    assert.equal(t.session.ended, undefined);
    const again = reconnect(t);
    again.receive(welcome());
    const [line] = again.sentOfType('message');
    again.receive({ type: 'ack', id: String(line!.id), seq: 1 });
    assert.deepEqual(again.sentOfType('message').at(-1), { type: 'message', id: quit.id, text: '/quit' });
    again.receive({ type: 'ack', id: quit.id });
    again.drop(1000, 'bye');
    assert.deepEqual(t.log.ended, [['quit', 1000, 'bye']]);
  });
});

describe('connection failures', () => {
  test('a permanent failure ends the session with its message; no retry', () => {
    const t = setup();
    t.session.start();
    t.net.last().onclose?.(1006, 'x', { permanent: true, message: 'The server refused the connection (404 Not Found).' });
    assert.deepEqual(t.log.ended, [['refused', 1006, 'The server refused the connection (404 Not Found).']]);
    t.timers.advance(120_000);
    assert.equal(t.net.sockets.length, 1);
  });

  test('a transient failure is retried, its message in the state detail', () => {
    const t = setup();
    t.session.start();
    t.net.last().onclose?.(1006, 'x', { permanent: false, message: 'Connection refused by 127.0.0.1:9.' });
    const [state, detail] = t.log.states.at(-1)!;
    assert.equal(state, 'offline');
    assert.equal(detail.reason, 'Connection refused by 127.0.0.1:9.');
    waitRetry(t);
    assert.equal(t.net.sockets.length, 2);
  });
});

describe('asSentence', () => {
  test('capitalises and ends with a full stop, once', () => {
    assert.equal(asSentence('the nickname bob is taken in this room'), 'The nickname bob is taken in this room.');
    assert.equal(asSentence('Slow down: too many messages; try again in 0.2 s.'), 'Slow down: too many messages; try again in 0.2 s.');
    assert.equal(asSentence('  why? '), 'Why?');
    assert.equal(asSentence('über'), 'Über.');
    assert.equal(asSentence(''), '');
  });
});

describe('moderation and private rooms', () => {
  test('a room with a password: passwordRequired, then setPassword joins again with it (and keeps sending it)', () => {
    const t = setup();
    const asked: SessionError[] = [];
    t.session.on('passwordRequired', (e) => asked.push(e));
    t.session.start();
    t.net.last().open();
    t.net.last().receive({ type: 'error', code: 'PASSWORD_REQUIRED', message: 'this room needs a password' });
    assert.deepEqual(asked, [{ code: 'PASSWORD_REQUIRED', message: 'This room needs a password.' }]);
    assert.equal(t.session.needsNick, true);
    assert.equal(t.net.last().sentOfType('join').length, 1, 'no retry by itself');
    t.session.setPassword('sesame', 'alicia');
    assert.deepEqual(t.net.last().sentOfType('join').at(-1), { type: 'join', nick: 'alicia', password: 'sesame' });
    t.net.last().receive(welcome({ nick: 'alicia' }));
    t.net.last().drop();
    reconnect(t);
    assert.equal(t.net.last().sentOfType('join')[0]?.password, 'sesame');
  });

  test('banned, locked, an invite that no longer works: ended as refused, never retried', () => {
    for (const code of ['BANNED', 'LOCKED', 'INVITE_INVALID'] as const) {
      const t = setup();
      t.session.start();
      t.net.last().open();
      t.net.last().receive({ type: 'error', code, message: `refused: ${code}` });
      assert.deepEqual(t.log.ended, [['denied', undefined, `Refused: ${code}.`]], code);
      assert.deepEqual(t.timers.pending, [], 'no retry scheduled');
    }
  });

  test('removed: the reason and the text come with the close (1008): ended as kicked or banned', () => {
    for (const reason of ['kicked', 'banned'] as const) {
      const t = online();
      const removed: unknown[] = [];
      t.session.on('removed', (r) => removed.push(r));
      const event = { type: 'removed', reason, by: 'bob', text: `You were ${reason} from this room by bob.` };
      t.net.last().receive(event);
      t.net.last().drop(1008, `${reason} from the room`);
      assert.deepEqual(removed, [event]);
      assert.deepEqual(t.log.ended, [[reason, 1008, `You were ${reason} from this room by bob.`]]);
    }
    const flood = online();
    flood.net.last().drop(1008, 'flooding');
    assert.deepEqual(flood.log.ended, [['policy', 1008, 'flooding']]);
  });

  test('the owner key and an invite go with the join; the invite only until a welcome; a proved key is kept', () => {
    const t = setup({ invite: 'invite-code-1234', ownerKey: 'owner-key-123456' });
    const roles: [string, string | undefined][] = [];
    t.session.on('role', (role, key) => roles.push([role, key]));
    t.session.start();
    t.net.last().open();
    assert.deepEqual(t.net.last().sentOfType('join')[0], { type: 'join', nick: 'alice', invite: 'invite-code-1234', ownerKey: 'owner-key-123456' });
    t.net.last().receive(welcome({ role: 'operator', topic: 'Plans' }));
    assert.deepEqual([t.session.role, t.session.topic], ['operator', 'Plans']);
    t.net.last().receive({ type: 'role', role: 'owner', ownerKey: 'another-key-1234' });
    assert.deepEqual(roles, [['owner', 'another-key-1234']]);
    t.net.last().drop();
    reconnect(t);
    assert.deepEqual(t.net.last().sentOfType('join')[0], {
      type: 'join',
      nick: 'alice',
      resumeToken: welcome().resumeToken,
      lastSeq: 0,
      epoch: 'epoch0',
      ownerKey: 'another-key-1234',
    });
  });

  test('tombstones and topic notices are entries like any other (in order, once); the topic follows', () => {
    const t = online();
    t.net.last().receive({ type: 'deleted', seq: 1, ts: 5, nick: '', text: '' });
    t.net.last().receive({ type: 'notice', seq: 2, ts: 6, event: 'mod', nick: 'bob', action: 'topic', topic: 'New topic', by: 'bob', text: 'bob set the topic: New topic' });
    assert.deepEqual(t.seqs(), [1, 2]);
    assert.equal(t.session.topic, 'New topic');
    assert.deepEqual(parseServerEvent('{"type":"deleted","seq":3,"ts":1}'), { type: 'deleted', seq: 3, ts: 1, nick: '', text: '' });
    assert.equal(parseServerEvent('{"type":"role","role":"king"}'), null);
    assert.equal(parseServerEvent('{"type":"removed","reason":"bored","by":"x","text":"y"}'), null);
    const invites: unknown[] = [];
    t.session.on('invite', (i) => invites.push(i));
    t.net.last().receive({ type: 'invite', room: 'team', code: 'c0de-c0de-c0de', expiresAt: 99 });
    assert.equal(invites.length, 1);
  });
});

describe('replies, edits, deletions, typing, hold', () => {
  test('a reply carries replyTo; edit and delete go through the outbox (paced, acked, resent with their ids after a reconnect)', () => {
    const t = online({}, [message(1)]);
    const reply = t.session.send('yes', { replyTo: 1 });
    assert.equal(reply.kind, 'message');
    assert.deepEqual(t.net.last().sentOfType('message').at(-1), { type: 'message', id: reply.id, text: 'yes', replyTo: 1 });
    t.net.last().receive({ type: 'ack', id: reply.id, seq: 2 });
    // A command answers nothing: no replyTo.
    const command = t.session.send('/who', { replyTo: 1 });
    assert.equal(command.replyTo, undefined);
    t.net.last().receive({ type: 'ack', id: command.id });
    const edit = t.session.edit(2, 'yes!');
    const del = t.session.deleteEntry(2);
    assert.deepEqual([edit.kind, edit.target, del.kind, del.target], ['edit', 2, 'delete', 2]);
    assert.deepEqual(t.net.last().sentOfType('edit'), [{ type: 'edit', id: edit.id, seq: 2, text: 'yes!' }]);
    assert.deepEqual(t.net.last().sentOfType('delete'), [], 'one request on the wire at a time');
    t.net.last().drop();
    reconnect(t);
    t.net.last().receive(welcome({ lastSeq: 2, resumed: true }));
    assert.deepEqual(t.net.last().sentOfType('edit'), [{ type: 'edit', id: edit.id, seq: 2, text: 'yes!' }], 'resent with its id');
    t.net.last().receive({ type: 'ack', id: edit.id, seq: 3 });
    assert.deepEqual(t.net.last().sentOfType('delete'), [{ type: 'delete', id: del.id, seq: 2 }]);
    t.net.last().receive({ type: 'error', id: del.id, code: 'TOO_LATE', message: 'messages can be deleted for 15 minutes after they are sent' });
    assert.deepEqual(t.log.failed.map(([item, error]) => [item.kind, error.code, error.message]), [
      ['delete', 'TOO_LATE', 'Messages can be deleted for 15 minutes after they are sent.'],
    ]);
    assert.deepEqual(t.log.acked.map(([item, seq]) => [item.kind, seq]), [['message', 2], ['command', undefined], ['edit', 3]]);
  });

  test('edit entries are entries (in order, once); typing events are reported, never entries', () => {
    const t = online({}, [message(1)]);
    const typing: [string, string | undefined][] = [];
    t.session.on('typing', (nick, trip) => typing.push([nick, trip]));
    t.net.last().receive({ type: 'edit', seq: 2, ts: 9, nick: 'bob', edits: 1, text: 'fixed' });
    t.net.last().receive({ type: 'edit', seq: 2, ts: 9, nick: 'bob', edits: 1, text: 'fixed' });
    t.net.last().receive({ type: 'typing', nick: 'bob' });
    t.net.last().receive({ type: 'typing', nick: 'carol', trip: 'Ab3dEf12' });
    assert.deepEqual(t.seqs(), [1, 2]);
    assert.deepEqual(typing, [['bob', undefined], ['carol', 'Ab3dEf12']]);
    assert.equal(parseServerEvent('{"type":"edit","seq":3,"ts":1,"nick":"a","text":"x"}'), null, 'an edit names what it edits');
    assert.equal(parseServerEvent('{"type":"message","seq":3,"ts":1,"nick":"a","text":"x","replyTo":"2"}'), null);
    assert.equal(parseServerEvent('{"type":"typing"}'), null);
  });

  test('typing is sent at most every 3 s, only while online; hold is sent when joined and the session goes on', () => {
    const t = setup();
    t.session.start();
    t.session.typing();
    t.session.hold();
    t.net.last().open();
    assert.deepEqual(t.net.last().sentOfType('typing'), [], 'not before the welcome');
    t.net.last().receive(welcome());
    t.session.typing();
    t.session.typing();
    t.timers.advance(2999);
    t.session.typing();
    assert.equal(t.net.last().sentOfType('typing').length, 1);
    t.timers.advance(1);
    t.session.typing();
    assert.deepEqual(t.net.last().sentOfType('typing'), [{ type: 'typing' }, { type: 'typing' }]);
    // A line sent: the others stop showing us typing, so the next keystroke says it again soon, never within a second.
    t.net.last().receive({ type: 'ack', id: t.session.send('done').id, seq: 1 });
    t.session.typing();
    assert.equal(t.net.last().sentOfType('typing').length, 2);
    t.timers.advance(1000);
    t.session.typing();
    assert.equal(t.net.last().sentOfType('typing').length, 3);
    t.net.last().receive({ type: 'ack', id: t.session.send('again').id, seq: 2 });
    t.session.typing();
    t.timers.advance(999);
    t.session.typing();
    assert.equal(t.net.last().sentOfType('typing').length, 3, 'at most one a second, whatever is sent');
    t.timers.advance(1);
    assert.equal(t.net.last().sentOfType('typing').length, 4, 'the one held back goes when the second is over');
    t.timers.advance(10_000);
    assert.equal(t.net.last().sentOfType('typing').length, 4, 'once');
    t.session.hold();
    assert.deepEqual(t.net.last().sentOfType('hold'), [{ type: 'hold' }]);
    assert.equal(t.session.ended, undefined);
    assert.equal(t.session.state, 'online');
  });
});
