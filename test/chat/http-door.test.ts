/**
 * The HTTP door (src/chat/transports/http-door.ts) on its own: the session
 * core driven directly on a manual clock (numbered events, confirmation by
 * poll, liveness, join deadline, slow reader, closes), and the HTTP side over
 * a loopback socket with the same hub (routes under a base path, Origin,
 * CORS, methods, limits, refusals).
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpHandler } from '../../src/chat/http.js';
import type { ServerEvent } from '../../src/chat/messages.js';
import { originAllowed } from '../../src/chat/host-check.js';
import {
  doorRoute,
  HttpDoor,
  HttpDoorSession,
  type PollAnswer,
  pollBody,
  type SessionHost,
} from '../../src/chat/transports/http-door.js';
import { makeHub, type TestHub } from './helpers.js';

const POLL_MS = 1000;
const LIVENESS_MS = 2000;
const JOIN_TIMEOUT_MS = 5000;

interface Rig {
  t: TestHub;
  host: SessionHost;
  forgotten: HttpDoorSession[];
  open(room?: string): HttpDoorSession;
}

function rig(options: { highWaterMark?: number; hub?: Parameters<typeof makeHub>[0] } = {}): Rig {
  const t = makeHub(options.hub);
  const forgotten: HttpDoorSession[] = [];
  let n = 0;
  const host: SessionHost = {
    clock: t.clock,
    log: () => undefined,
    pollMs: POLL_MS,
    livenessMs: LIVENESS_MS,
    joinTimeoutMs: JOIN_TIMEOUT_MS,
    highWaterMark: options.highWaterMark ?? 1024 * 1024,
    forget: (session) => forgotten.push(session),
  };
  return {
    t,
    host,
    forgotten,
    open(room = 'test') {
      const session = new HttpDoorSession(`s${++n}`, room, '127.0.0.1:1', host);
      session.attach(t.hub.connect(session, { room }));
      return session;
    },
  };
}

/** Lets the hub's promise chains run, and zero-delay timers fire, until `done()` or a bound. */
async function settle(t: TestHub, done: () => boolean = () => false): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    await new Promise((resolve) => setImmediate(resolve));
    t.clock.advance(0);
  }
}

/** A poll whose answers are collected; events parsed. */
class Poll {
  readonly answers: PollAnswer[] = [];
  readonly respond = (answer: PollAnswer): void => {
    this.answers.push(answer);
  };
  get answered(): boolean {
    return this.answers.length > 0;
  }
  get answer(): PollAnswer {
    const answer = this.answers[0];
    assert.ok(answer, 'the poll was not answered');
    return answer;
  }
  events(): ServerEvent[] {
    return this.answer.events.map((e) => JSON.parse(e) as ServerEvent);
  }
}

/** Polls `after` and waits until answered (running zero-delay timers). */
async function pollNow(r: Rig, session: HttpDoorSession, after: number): Promise<Poll> {
  const poll = new Poll();
  assert.equal(session.poll(after, poll.respond), null);
  await settle(r.t, () => poll.answered);
  return poll;
}

const join = (nick: string, extra: Record<string, unknown> = {}): string => JSON.stringify({ type: 'join', nick, ...extra });
const say = (id: string, text: string): string => JSON.stringify({ type: 'message', id, text });

describe('doorRoute', () => {
  test('the door paths, the lobby at /http, and nothing else', () => {
    assert.deepEqual(doorRoute('/r/team/http'), { room: 'team', action: 'open', session: null });
    assert.deepEqual(doorRoute('/http'), { room: 'lobby', action: 'open', session: null });
    assert.deepEqual(doorRoute('/r/team/http/abc/events'), { room: 'team', action: 'events', session: 'abc' });
    assert.deepEqual(doorRoute('/r/team/http/abc/send'), { room: 'team', action: 'send', session: 'abc' });
    assert.deepEqual(doorRoute('/r/team/http/abc/close'), { room: 'team', action: 'close', session: 'abc' });
    assert.deepEqual(doorRoute('/r/bad room/http'), { room: null, action: 'open', session: null });
    for (const other of ['/', '/r/team', '/r/http', '/healthz', '/r/team/http/abc', '/r/team/http/abc/other', '/r/team/https', '/assets/http']) {
      assert.equal(doorRoute(other), null, other);
    }
  });

  test('pollBody frames the events as encoded, with the close when there is one', () => {
    assert.equal(pollBody({ next: 0, events: [], close: null }), '{"next":0,"events":[]}');
    const body = pollBody({ next: 7, events: ['{"type":"ack","id":"a"}', '{"type":"members","members":[]}'], close: { code: 4001, reason: 'x' } });
    assert.deepEqual(JSON.parse(body), {
      next: 7,
      events: [{ type: 'ack', id: 'a' }, { type: 'members', members: [] }],
      close: { code: 4001, reason: 'x' },
    });
  });
});

describe('a door session', () => {
  test('join by POST lines, events by poll: numbered, in the member order, acks before their broadcast', async () => {
    const r = rig();
    const session = r.open();
    session.receive([join('alice'), say('m1', 'hello')]);
    await settle(r.t);
    const first = await pollNow(r, session, 0);
    const events = first.events();
    assert.deepEqual(
      events.map((e) => (e.type === 'ack' ? `ack ${e.id} ${e.seq}` : e.type === 'message' ? `message ${e.seq}` : e.type)),
      ['welcome', 'members', 'ack m1 2', 'message 2'],
    );
    assert.equal(first.answer.next, 4);
    assert.equal(first.answer.close, null);
    assert.equal(session.member?.nick, 'alice');
  });

  test('a held poll is answered once, with the events sent together, when they come', async () => {
    const r = rig();
    const session = r.open();
    const poll = new Poll();
    session.poll(0, poll.respond);
    assert.equal(session.polling, true);
    session.receive([join('alice')]);
    await settle(r.t, () => poll.answered);
    assert.equal(poll.answers.length, 1);
    assert.deepEqual(
      poll.events().map((e) => e.type),
      ['welcome', 'members'],
      'the welcome and the member list in one answer',
    );
    assert.equal(session.polling, false);
  });

  test('a held poll with nothing to say is answered empty after pollMs', async () => {
    const r = rig();
    const session = r.open();
    const poll = new Poll();
    session.poll(0, poll.respond);
    r.t.clock.advance(POLL_MS - 1);
    assert.equal(poll.answered, false);
    r.t.clock.advance(1);
    assert.deepEqual(poll.answer, { next: 0, events: [], close: null });
  });

  test('what a poll confirms is forgotten; an answer lost on the way is sent again; a cursor out of range is refused', async () => {
    const r = rig();
    const session = r.open();
    session.receive([join('alice')]);
    await settle(r.t);
    const first = await pollNow(r, session, 0);
    assert.equal(first.answer.next, 2);
    session.receive([say('m1', 'one')]);
    await settle(r.t);
    // The client never got `first` (a proxy cut it): it polls with the old cursor and gets it all again.
    const again = await pollNow(r, session, 0);
    assert.deepEqual(again.answer.events.slice(0, 2), first.answer.events);
    assert.equal(again.answer.next, 4);
    // Now it confirms 2: only the later events come.
    const later = await pollNow(r, session, 2);
    assert.deepEqual(
      later.events().map((e) => e.type),
      ['ack', 'message'],
    );
    assert.equal(session.poll(5, new Poll().respond), 'ahead');
    assert.equal(session.poll(1, new Poll().respond), 'behind', 'events up to 2 were confirmed and dropped');
    assert.ok(session.queuedBytes > 0);
    await pollNow(r, session, 4).then(() => undefined, assert.fail);
  });

  test('a second poll answers the one it replaces (one poll at a time)', () => {
    const r = rig();
    const session = r.open();
    const old = new Poll();
    const fresh = new Poll();
    session.poll(0, old.respond);
    session.poll(0, fresh.respond);
    assert.deepEqual(old.answer, { next: 0, events: [], close: null });
    assert.equal(fresh.answered, false);
    assert.equal(session.polling, true);
  });

  test('liveness: a client that stops polling is away after livenessMs, and its session forgotten', async () => {
    const r = rig();
    const watcher = await r.t.join('watcher', { room: 'test' });
    const session = r.open();
    session.receive([join('alice')]);
    await settle(r.t);
    await pollNow(r, session, 0);
    watcher.conn.clear();
    // Polling keeps it alive, however long.
    for (let i = 0; i < 5; i++) {
      const poll = new Poll();
      session.poll(2, poll.respond);
      r.t.clock.advance(POLL_MS);
      assert.deepEqual(poll.answer.events, []);
      r.t.clock.advance(LIVENESS_MS - 1);
    }
    assert.equal(session.closeInfo, null);
    assert.deepEqual(r.forgotten, []);
    // Then it vanishes.
    r.t.clock.advance(1);
    await settle(r.t, () => watcher.conn.of('members').length > 0);
    assert.deepEqual(session.closeInfo, { code: 1006, reason: 'no poll in time' });
    assert.deepEqual(r.forgotten, [session]);
    assert.deepEqual(watcher.conn.last('members').members.find((m) => m.nick === 'alice'), { nick: 'alice', away: true });
  });

  test('a held poll cut by the client starts the liveness clock; a new poll stops it', () => {
    const r = rig();
    const session = r.open();
    const poll = new Poll();
    session.poll(0, poll.respond);
    r.t.clock.advance(POLL_MS - 1);
    session.cancelPoll(poll.respond);
    r.t.clock.advance(LIVENESS_MS - 1);
    session.poll(0, new Poll().respond);
    r.t.clock.advance(1);
    assert.equal(session.closeInfo, null);
    session.cancelPoll(() => undefined); // not the held one: nothing happens
    assert.equal(session.polling, true);
  });

  test('no join within the deadline: closed with 4002, told on the next poll', async () => {
    const r = rig();
    const session = r.open();
    const poll = new Poll();
    // Keep it alive by polling until the join deadline.
    for (let at = 0; at < JOIN_TIMEOUT_MS; at += POLL_MS) {
      session.poll(0, poll.respond);
      r.t.clock.advance(POLL_MS);
    }
    const last = await pollNow(r, session, 0);
    assert.deepEqual(last.answer.close, { code: 4002, reason: 'join timed out' });
  });

  test('/quit: its ack, then the close 1000, in one answer', async () => {
    const r = rig();
    const watcher = await r.t.join('watcher', { room: 'test' });
    const session = r.open();
    session.receive([join('alice')]);
    await settle(r.t);
    await pollNow(r, session, 0);
    const poll = new Poll();
    session.poll(2, poll.respond);
    session.receive([say('q', '/quit')]);
    await settle(r.t, () => poll.answered);
    assert.deepEqual(
      poll.events().map((e) => e.type),
      ['ack'],
    );
    assert.deepEqual(poll.answer.close, { code: 1000, reason: 'bye' });
    await settle(r.t, () => watcher.conn.of('notice').some((n) => n.event === 'leave'));
    assert.equal(watcher.conn.of('notice').find((n) => n.event === 'leave')?.text, 'alice left');
    // Lines after the close are ignored.
    session.receive([say('late', 'too late')]);
    await settle(r.t);
    assert.ok(!watcher.conn.of('message').some((m) => m.text === 'too late'));
  });

  test('the client closes: held poll answered, member away (not gone), session forgotten', async () => {
    const r = rig();
    const watcher = await r.t.join('watcher', { room: 'test' });
    const session = r.open();
    session.receive([join('alice')]);
    await settle(r.t);
    await pollNow(r, session, 0);
    const poll = new Poll();
    session.poll(2, poll.respond);
    watcher.conn.clear();
    session.clientClosed();
    assert.deepEqual(poll.answer.close, { code: 1000, reason: 'closed by the client' });
    assert.deepEqual(r.forgotten, [session]);
    await settle(r.t, () => watcher.conn.of('members').length > 0);
    assert.deepEqual(watcher.conn.last('members').members.find((m) => m.nick === 'alice'), { nick: 'alice', away: true });
  });

  test('a reader too slow: over the high-water mark it is closed with 1008 and its queue freed', async () => {
    const r = rig({ highWaterMark: 4096, hub: { rateLimit: { burst: 1000, perSecond: 1000 } } });
    const session = r.open();
    session.receive([join('slow')]);
    await pollNow(r, session, 0);
    const talker = await r.t.join('talker', { room: 'test' });
    for (let i = 0; i < 20 && session.closeInfo === null; i++) await talker.member.input('x'.repeat(400), `m${i}`);
    await settle(r.t);
    assert.deepEqual(session.closeInfo, { code: 1008, reason: 'too slow to keep up' });
    assert.equal(session.queuedBytes, 0);
    const poll = await pollNow(r, session, 2);
    assert.deepEqual(poll.answer.events, []);
    assert.deepEqual(poll.answer.close, { code: 1008, reason: 'too slow to keep up' });
  });

  test('bad lines are answered as on the WebSocket door, with strikes', async () => {
    const r = rig();
    const session = r.open();
    session.receive(['not json', '{"type":"nope"}', join('alice')]);
    await settle(r.t);
    const poll = await pollNow(r, session, 0);
    const errors = poll.events().filter((e) => e.type === 'error');
    assert.deepEqual(
      errors.map((e) => (e.type === 'error' ? e.code : '')),
      ['BAD_JSON', 'UNKNOWN_TYPE'],
    );
    assert.ok(poll.events().some((e) => e.type === 'welcome'));
  });

  test('shutdown answers the held poll with what the hub closed it with', async () => {
    const r = rig();
    const session = r.open();
    session.receive([join('alice')]);
    await settle(r.t);
    await pollNow(r, session, 0);
    const poll = new Poll();
    session.poll(2, poll.respond);
    session.member?.closeConnection(1001, 'server shutting down');
    session.shutdown();
    assert.deepEqual(poll.answer.close, { code: 1001, reason: 'server shutting down' });
  });
});

// ---------------------------------------------------------------------------
// The HTTP side

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  port: number,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.chunks) for (const chunk of options.chunks) req.write(chunk);
    req.end(options.body);
  });
}

describe('the door over HTTP (under /chat)', () => {
  let t: TestHub;
  let door: HttpDoor;
  let http: Server;
  let port: number;
  const base = '/chat/r/room/http';

  before(async () => {
    t = makeHub();
    door = new HttpDoor({
      hub: t.hub,
      clock: t.clock,
      originAllowed: (origin, host) => originAllowed(origin, host, ['https://allowed.example']),
      pollMs: POLL_MS,
      livenessMs: LIVENESS_MS,
      maxBodyBytes: 1000,
      maxLines: 3,
      maxSessions: 4,
    });
    http = createServer(createHttpHandler({ basePath: '/chat', door: (req, res, pathname, url) => door.handle(req, res, pathname, url) }));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as AddressInfo).port;
  });
  after(async () => {
    door.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  });

  async function openSession(room = 'room'): Promise<string> {
    const reply = await call(port, 'POST', `/chat/r/${room}/http`);
    assert.equal(reply.status, 201, reply.body);
    const body = JSON.parse(reply.body) as { protocol: string; session: string; pollMs: number; maxBody: number; maxLines: number };
    assert.equal(body.protocol, 'wschat.v1');
    assert.equal(body.pollMs, POLL_MS);
    assert.equal(body.maxBody, 1000);
    assert.equal(body.maxLines, 3);
    assert.match(body.session, /^[A-Za-z0-9_-]{32}$/, '192 bits, base64url');
    return body.session;
  }

  test('open, send, poll: the session id ties them; ids are unguessable and distinct', async () => {
    const sid = await openSession();
    const other = await openSession();
    assert.notEqual(sid, other);
    const sent = await call(port, 'POST', `${base}/${sid}/send`, { body: `${join('alice')}\n` });
    assert.equal(sent.status, 204);
    assert.equal(sent.body, '');
    await settle(t, () => (door.session(sid)?.queuedBytes ?? 0) > 0);
    const poll = await call(port, 'GET', `${base}/${sid}/events?after=0`);
    assert.equal(poll.status, 200);
    assert.equal(poll.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(poll.headers['cache-control'], 'no-store');
    const answer = JSON.parse(poll.body) as { next: number; events: ServerEvent[] };
    assert.equal(answer.events[0]?.type, 'welcome');
    assert.equal(answer.next, answer.events.length);
    door.session(sid)?.clientClosed();
    door.session(other)?.clientClosed();
  });

  test('a held poll ends when its request is cut, and the session stays for the next one', async () => {
    const sid = await openSession();
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: `${base}/${sid}/events?after=0` });
    req.on('error', () => undefined);
    req.end();
    await settle(t, () => door.session(sid)?.polling === true);
    req.destroy();
    await new Promise<void>((resolve) => {
      const check = () => (door.session(sid)?.polling === false ? resolve() : setImmediate(check));
      check();
    });
    assert.ok(door.session(sid), 'still there: it has livenessMs to poll again');
    const close = await call(port, 'POST', `${base}/${sid}/close`);
    assert.equal(close.status, 204);
    assert.equal(door.session(sid), undefined);
    assert.equal((await call(port, 'GET', `${base}/${sid}/events?after=0`)).status, 404);
  });

  test('refusals: room, Origin, method, unknown session, session of another room, cursor', async () => {
    assert.equal((await call(port, 'POST', '/chat/r/bad%20room/http')).status, 404);
    const evil = await call(port, 'POST', `${base}`, { headers: { Origin: 'http://evil.example' } });
    assert.equal(evil.status, 403);
    assert.match(JSON.parse(evil.body).error, /Origin http:\/\/evil\.example is not allowed/);
    const get = await call(port, 'GET', base);
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, 'POST, OPTIONS');
    assert.equal((await call(port, 'GET', `${base}/nope/events?after=0`)).status, 404);
    const sid = await openSession();
    assert.equal((await call(port, 'GET', `/chat/r/elsewhere/http/${sid}/events?after=0`)).status, 404, 'a session belongs to its room');
    assert.equal((await call(port, 'POST', `${base}/${sid}/events?after=0`)).status, 405);
    for (const bad of ['', '?after=', '?after=-1', '?after=1.5', '?after=x']) {
      assert.equal((await call(port, 'GET', `${base}/${sid}/events${bad}`)).status, 400, bad);
    }
    const ahead = await call(port, 'GET', `${base}/${sid}/events?after=9`);
    assert.equal(ahead.status, 409);
    // The door's paths outside the base path are not the door's.
    assert.equal((await call(port, 'POST', '/r/room/http')).status, 404);
    door.session(sid)?.clientClosed();
  });

  test('an allowed other origin gets CORS headers and its preflight', async () => {
    const origin = 'https://allowed.example';
    const preflight = await call(port, 'OPTIONS', base, { headers: { Origin: origin, 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], origin);
    assert.equal(preflight.headers['access-control-allow-methods'], 'POST');
    const opened = await call(port, 'POST', base, { headers: { Origin: origin } });
    assert.equal(opened.status, 201);
    assert.equal(opened.headers['access-control-allow-origin'], origin);
    assert.equal(opened.headers.vary, 'Origin');
    door.session((JSON.parse(opened.body) as { session: string }).session)?.clientClosed();
  });

  test('limits: body size (declared and streamed), lines per request, UTF-8, sessions', async () => {
    const sid = await openSession();
    const declared = await call(port, 'POST', `${base}/${sid}/send`, { body: 'x'.repeat(1001) });
    assert.equal(declared.status, 413);
    const streamed = await call(port, 'POST', `${base}/${sid}/send`, {
      headers: { 'Transfer-Encoding': 'chunked' },
      chunks: [Buffer.alloc(600, 32), Buffer.alloc(600, 32)],
    });
    assert.equal(streamed.status, 413);
    const lines = await call(port, 'POST', `${base}/${sid}/send`, { body: [1, 2, 3, 4].map((i) => say(`m${i}`, 'x')).join('\n') });
    assert.equal(lines.status, 413);
    assert.match(lines.body, /at most 3 messages/);
    const latin1 = await call(port, 'POST', `${base}/${sid}/send`, { body: Buffer.from([0xff, 0xfe]) });
    assert.equal(latin1.status, 400);
    // Up to maxSessions (4) at once, counting this one.
    const more = [await openSession(), await openSession(), await openSession()];
    const full = await call(port, 'POST', base);
    assert.equal(full.status, 503);
    assert.equal(full.headers['retry-after'], '10');
    for (const id of [sid, ...more]) door.session(id)?.clientClosed();
    assert.equal(door.sessionCount, 0);
  });

  test('other paths go on to the web handler', async () => {
    assert.equal((await call(port, 'GET', '/chat/healthz')).status, 200);
    assert.equal((await call(port, 'POST', '/chat/r/room')).status, 405);
  });
});
