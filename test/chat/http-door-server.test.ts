/**
 * The HTTP door in the real chat server, over real HTTP (Node's fetch):
 * the same rooms as the WebSocket, plain and TCP doors; resume after a
 * dropped poll and after a lost session with nothing missed or doubled;
 * idempotent resends; the rate limit with retryAfter; the Origin policy; a
 * client that vanishes becoming away and then leaving; and ChatSession over
 * HttpSocket delivering 200 lines queued offline, once each, in order.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AckEvent, EntryEvent, ErrorEvent, ServerEvent, WelcomeEvent } from '../../src/chat/messages.js';
import type { ChatServer } from '../../src/chat/server.js';
import { type HttpFetch, httpSocketFactory } from '../../src/client/http-socket.js';
import { ChatSession, type EndReason } from '../../src/client/session.js';
import { JsonClient, Mailbox, PlainClient, startTestServer, TcpClient, within, wsUrl } from './support/clients.js';

const T = { timeout: 30_000 };

function httpBase(server: ChatServer, room: string): string {
  return `http://127.0.0.1:${server.port}/r/${encodeURIComponent(room)}/http`;
}

/** A client of the door speaking its HTTP directly: one session, a poll loop filling `inbox`. */
class DoorClient {
  readonly inbox = new Mailbox<ServerEvent>();
  cursor = 0;
  /** Poll answers received. */
  polls = 0;
  close: { code: number; reason: string } | null = null;
  #polling = false;
  #abort: AbortController | null = null;
  #loop: Promise<void> = Promise.resolve();

  private constructor(
    readonly base: string,
    readonly session: string,
    readonly headers: Record<string, string>,
  ) {}

  /** Opens a session and starts polling. @throws AssertionError when the door refuses. */
  static async open(base: string, headers: Record<string, string> = {}): Promise<DoorClient> {
    const response = await fetch(base, { method: 'POST', headers });
    assert.equal(response.status, 201, await response.clone().text());
    const body = (await response.json()) as { session: string };
    const client = new DoorClient(base, body.session, headers);
    client.startPolling();
    return client;
  }

  /** Opens and joins; the welcome. */
  static async joined(base: string, nick: string, extra: Record<string, unknown> = {}): Promise<{ client: DoorClient; welcome: WelcomeEvent }> {
    const client = await DoorClient.open(base);
    const welcome = await client.join(nick, extra);
    return { client, welcome };
  }

  startPolling(): void {
    if (this.#polling) return;
    this.#polling = true;
    this.#loop = (async () => {
      while (this.#polling && this.close === null) {
        this.#abort = new AbortController();
        let text: string;
        try {
          const response = await fetch(`${this.base}/${this.session}/events?after=${this.cursor}`, { signal: this.#abort.signal, headers: this.headers });
          text = await response.text();
          assert.equal(response.status, 200, text);
        } catch (error) {
          if (!this.#polling) return;
          this.inbox.end(`polling failed: ${String(error)}`);
          return;
        }
        const answer = JSON.parse(text) as { next: number; events: ServerEvent[]; close?: { code: number; reason: string } };
        assert.equal(answer.next - answer.events.length, this.cursor, 'each poll starts right after the last');
        this.cursor = answer.next;
        this.polls++;
        for (const event of answer.events) this.inbox.push(event);
        if (answer.close) {
          this.close = answer.close;
          this.inbox.end(`closed with ${answer.close.code} ${answer.close.reason}`);
        }
      }
    })();
  }

  /** Stops polling (cutting the poll held now) without telling the server: the client vanished. */
  async vanish(): Promise<void> {
    this.#polling = false;
    this.#abort?.abort();
    await this.#loop;
  }

  async post(...messages: unknown[]): Promise<number> {
    const response = await fetch(`${this.base}/${this.session}/send`, {
      method: 'POST',
      headers: this.headers,
      body: messages.map((m) => JSON.stringify(m)).join('\n'),
    });
    await response.arrayBuffer();
    return response.status;
  }

  async join(nick: string, extra: Record<string, unknown> = {}): Promise<WelcomeEvent> {
    assert.equal(await this.post({ type: 'join', nick, ...extra }), 204);
    const answer = await this.inbox.take((e) => e.type === 'welcome' || (e.type === 'error' && e.id === undefined), `the answer to join ${nick}`);
    assert.equal(answer.type, 'welcome', JSON.stringify(answer));
    return answer as WelcomeEvent;
  }

  async answer(id: string): Promise<AckEvent | ErrorEvent> {
    return (await this.inbox.take((e) => (e.type === 'ack' || e.type === 'error') && e.id === id, `the answer to ${id}`)) as AckEvent | ErrorEvent;
  }

  async say(text: string, id: string = randomUUID()): Promise<AckEvent> {
    assert.equal(await this.post({ type: 'message', id, text }), 204);
    const answer = await this.answer(id);
    assert.equal(answer.type, 'ack', JSON.stringify(answer));
    return answer as AckEvent;
  }

  /** Entries received so far (live, in welcomes and history pages), in arrival order. */
  entries(): EntryEvent[] {
    return this.inbox.items.flatMap((e): EntryEvent[] =>
      e.type === 'welcome' ? e.history : e.type === 'history' ? e.entries : 'seq' in e && e.type !== 'ack' ? [e as EntryEvent] : [],
    );
  }

  async quit(): Promise<void> {
    const id = randomUUID();
    await this.post({ type: 'message', id, text: '/quit' });
    await this.inbox.take((e) => e.type === 'ack' && e.id === id, 'the /quit ack').catch(() => undefined);
    await this.vanish();
  }
}

function seqs(entries: readonly EntryEvent[]): number[] {
  return entries.map((e) => e.seq);
}

describe('the HTTP door in the chat server', () => {
  let server: ChatServer;
  before(async () => {
    server = await startTestServer({
      tcpPort: 0,
      allowedOrigins: ['https://friend.example'],
      httpDoor: { pollMs: 2000, livenessMs: 10_000 },
      hub: { graceMs: 10_000 },
    });
  });
  after(async () => {
    await server.close();
  });

  test('one room for every door: the HTTP member chats with WebSocket JSON, plain WebSocket and TCP members', T, async () => {
    const tcp = await TcpClient.open(server.tcpPort ?? 0);
    await tcp.login('terry');
    const json = await JsonClient.joined(wsUrl(server, '/r/lobby'), 'jason');
    const plain = await PlainClient.open(wsUrl(server, '/'));
    const plainNick = await plain.welcomed();
    const { client: door, welcome } = await DoorClient.joined(httpBase(server, 'lobby'), 'harriet');
    assert.deepEqual(welcome.members.map((m) => m.nick).sort(), ['harriet', 'jason', plainNick, 'terry'].sort());
    assert.deepEqual(welcome.rateLimit, { burst: 20, perSecond: 5 }, 'the welcome advertises the limits, as on the WebSocket door');

    const ack = await door.say('from http');
    const seen = await json.expect('message', (m) => m.nick === 'harriet');
    assert.equal(seen.text, 'from http');
    assert.equal(seen.seq, ack.seq);
    assert.equal(await plain.line(/^harriet ::/), 'harriet :: from http');
    assert.equal(await tcp.line(/^\[harriet\]/), '[harriet] from http');

    await json.say('from json');
    plain.send('from plain');
    tcp.send('from tcp');
    for (const [nick, text] of [['jason', 'from json'], [plainNick, 'from plain'], ['terry', 'from tcp']]) {
      const entry = await door.inbox.take((e) => e.type === 'message' && e.nick === nick, `${nick}'s line`);
      assert.equal(entry.type === 'message' && entry.text, text);
    }
    // /who from the door lists all four.
    const id = randomUUID();
    await door.post({ type: 'message', id, text: '/who' });
    const info = await door.inbox.take((e) => e.type === 'info' && e.id === id, 'the /who answer');
    assert.match(info.type === 'info' ? info.text : '', /^4 members in lobby: /);
    await door.quit();
    await json.expect('notice', (n) => n.event === 'leave' && n.nick === 'harriet');
    tcp.close();
    await plain.close();
    await json.close();
  });

  test('a room named in Korean works on every door: URLs percent-encoded, TCP /join, NFC', T, async () => {
    const room = '우리방';
    const json = await JsonClient.joined(wsUrl(server, `/r/${encodeURIComponent(room)}`), '민수');
    assert.equal(json.all('welcome')[0]?.room, room);
    // The decomposed form (conjoining jamo) names the same room.
    const plain = await PlainClient.open(wsUrl(server, `/r/${encodeURIComponent(room.normalize('NFD'))}`));
    const plainNick = await plain.welcomed();
    const { client: door, welcome } = await DoorClient.joined(httpBase(server, room), '철수');
    assert.equal(welcome.room, room);
    const tcp = await TcpClient.open(server.tcpPort ?? 0);
    await tcp.login('tina');
    tcp.send(`/join ${room}`);
    assert.equal(await tcp.line(/^\*\*\* You are tina in 우리방/), `*** You are tina in ${room}. Also here: 민수, ${plainNick}, 철수.`);

    await door.say('안녕하세요');
    assert.equal((await json.expect('message', (m) => m.nick === '철수')).text, '안녕하세요');
    assert.equal(await plain.line(/^철수 ::/), '철수 :: 안녕하세요');
    assert.equal(await tcp.line(/^\[철수\]/), '[철수] 안녕하세요');
    tcp.send('/join 우리.방');
    assert.match(await tcp.line(/^Error: /), /“\.” is not allowed/);
    await door.quit();
    tcp.close();
    await plain.close();
    await json.close();
  });

  test('a dropped poll resumes from its cursor: every event once, none missed', T, async () => {
    const room = 'dropped-poll';
    const watcher = await JsonClient.joined(wsUrl(server, `/r/${room}`), 'watcher');
    const { client: door } = await DoorClient.joined(httpBase(server, room), 'dora');
    await door.vanish(); // the poll held now is cut, as a proxy or a network change would
    for (let i = 1; i <= 5; i++) await watcher.say(`while cut ${i}`);
    door.startPolling();
    for (let i = 1; i <= 5; i++) await door.inbox.take((e) => e.type === 'message' && e.text === `while cut ${i}`, `line ${i}`);
    await watcher.say('after');
    await door.inbox.take((e) => e.type === 'message' && e.text === 'after', 'the line after');
    const got = seqs(door.entries());
    assert.deepEqual(got, [...new Set(got)].sort((a, b) => a - b), `in order, no duplicate: ${got.join(',')}`);
    assert.equal(got.at(-1), (await watcher.expect('message', (m) => m.text === 'after')).seq);
    await door.quit();
    await watcher.close();
  });

  test('a lost session resumes on a new one by token and lastSeq: no gap, no duplicate; resends are idempotent', T, async () => {
    const room = 'lost-session';
    const watcher = await JsonClient.joined(wsUrl(server, `/r/${room}`), 'watcher');
    const { client: first, welcome } = await DoorClient.joined(httpBase(server, room), 'dora');
    const acked = await first.say('before', 'msg-1');
    await first.inbox.take((e) => e.type === 'message' && e.text === 'before', 'own line');
    const lastSeq = Math.max(...seqs(first.entries()));
    await first.vanish();
    for (let i = 1; i <= 3; i++) await watcher.say(`missed ${i}`);
    // A new session (the old one is still alive on the server: it gets 4001).
    const second = await DoorClient.open(httpBase(server, room));
    const again = await second.join('dora', { resumeToken: welcome.resumeToken, lastSeq });
    assert.equal(again.resumed, true);
    assert.deepEqual(
      again.history.map((e) => (e.type === 'message' ? e.text : e.type)),
      ['missed 1', 'missed 2', 'missed 3'],
      'exactly what was missed',
    );
    assert.equal(again.history[0]?.seq, lastSeq + 1);
    // The old session is told it was replaced.
    first.startPolling();
    await within(
      new Promise<void>((resolve) => {
        const check = () => (first.close ? resolve() : setTimeout(check, 20));
        check();
      }),
      'the old session to be closed',
    );
    assert.deepEqual(first.close, { code: 4001, reason: 'resumed on another connection' });
    // The message resent with its id is acknowledged with its first seq and stored once.
    const resent = await second.say('before', 'msg-1');
    assert.equal(resent.seq, acked.seq);
    await second.say('after');
    await watcher.expect('message', (m) => m.text === 'after');
    assert.equal(watcher.all('message').filter((m) => m.text === 'before').length, 1);
    assert.ok(!watcher.all('notice').some((n) => n.nick === 'dora' && n.event !== 'join'), 'nobody saw dora leave');
    await second.quit();
    await watcher.close();
  });

  test('the rate limit answers RATE_LIMITED with retryAfter, as on the WebSocket door', T, async () => {
    const limited = await startTestServer({ hub: { rateLimit: { burst: 3, perSecond: 1 } } });
    try {
      const { client: door, welcome } = await DoorClient.joined(httpBase(limited, 'limits'), 'rita');
      assert.deepEqual(welcome.rateLimit, { burst: 3, perSecond: 1 });
      const ids = [1, 2, 3, 4, 5].map((i) => `r${i}`);
      assert.equal(await door.post(...ids.map((id) => ({ type: 'message', id, text: id }))), 204);
      const answers = await Promise.all(ids.map((id) => door.answer(id)));
      assert.deepEqual(
        answers.map((a) => a.type),
        ['ack', 'ack', 'ack', 'error', 'error'],
      );
      for (const refused of answers.slice(3)) {
        assert.equal(refused.type === 'error' && refused.code, 'RATE_LIMITED');
        assert.ok(refused.type === 'error' && typeof refused.retryAfter === 'number' && refused.retryAfter > 0 && refused.retryAfter <= 1000);
      }
      await door.vanish();
    } finally {
      await limited.close();
    }
  });

  test('Origin: another site is refused (403) on every request; an allowed origin gets CORS', T, async () => {
    const base = httpBase(server, 'origins');
    const evil = { Origin: 'http://evil.example' };
    const refused = await fetch(base, { method: 'POST', headers: evil });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: string }).error, /not allowed/);
    const door = await DoorClient.open(base);
    const poll = await fetch(`${base}/${door.session}/events?after=0`, { headers: evil });
    assert.equal(poll.status, 403);
    await poll.arrayBuffer();
    const send = await fetch(`${base}/${door.session}/send`, { method: 'POST', headers: evil, body: '{"type":"join","nick":"mallory"}' });
    assert.equal(send.status, 403);
    await send.arrayBuffer();
    await door.vanish();
    // Its own origin and a configured one are fine.
    const own = await DoorClient.open(base, { Origin: `http://127.0.0.1:${server.port}` });
    await own.join('owen');
    const friend = await DoorClient.open(base, { Origin: 'https://friend.example' });
    await friend.join('fran');
    const opened = await fetch(base, { method: 'POST', headers: { Origin: 'https://friend.example' } });
    assert.equal(opened.headers.get('access-control-allow-origin'), 'https://friend.example');
    await opened.arrayBuffer();
    await own.quit();
    await friend.quit();
  });
});

describe('a client that vanishes', () => {
  test('is away within the liveness time, then leaves after the grace period', T, async () => {
    const server = await startTestServer({ httpDoor: { pollMs: 400, livenessMs: 1500 }, hub: { graceMs: 500 } });
    try {
      const watcher = await JsonClient.joined(wsUrl(server, '/r/vanish'), 'watcher');
      const { client: door } = await DoorClient.joined(httpBase(server, 'vanish'), 'ghost');
      await watcher.expect('members', (m) => m.members.some((x) => x.nick === 'ghost' && !x.away));
      // Polling through several hold periods (empty answers after 400 ms each) keeps it present.
      const polled = door.polls;
      await within(
        new Promise<void>((resolve) => {
          const check = () => (door.polls >= polled + 4 ? resolve() : setTimeout(check, 20));
          check();
        }),
        'four more polls',
      );
      assert.ok(!watcher.all('members').some((m) => m.members.some((x) => x.nick === 'ghost' && x.away)), 'present while polling');
      const vanished = Date.now();
      await door.vanish();
      await watcher.expect('members', (m) => m.members.some((x) => x.nick === 'ghost' && x.away), 10_000);
      const left = await watcher.expect('notice', (n) => n.event === 'leave' && n.nick === 'ghost', 10_000);
      assert.equal(left.reason, 'lost');
      assert.equal(left.text, 'ghost left (connection lost)');
      // Timers may fire a millisecond or so early by Date.now(): a margin.
      assert.ok(Date.now() - vanished >= 1500 + 500 - 50, 'not before the liveness time and the grace period');
      await watcher.close();
    } finally {
      await server.close();
    }
  });
});

// ---------------------------------------------------------------------------
// ChatSession over HttpSocket

/** Node's fetch as the session's, with a switch that makes every request fail (the network is gone). */
function switchableFetch(): { fetch: HttpFetch; cut(on: boolean): void } {
  let cut = false;
  return {
    fetch: (url, init) => (cut ? Promise.reject(new TypeError('network is down')) : fetch(url, init)),
    cut(on) {
      cut = on;
    },
  };
}

interface Run {
  session: ChatSession;
  acked: string[];
  failed: string[];
  entries: EntryEvent[];
  ended: Promise<EndReason>;
  welcomes: number;
}

function run(url: string, nick: string, fetchImpl: HttpFetch): Run {
  const session = new ChatSession({ url, nick, socketFactory: httpSocketFactory({ fetch: fetchImpl }), backoff: { baseMs: 100, maxMs: 500 } });
  const r: Run = {
    session,
    acked: [],
    failed: [],
    entries: [],
    welcomes: 0,
    ended: new Promise((resolve) => session.on('ended', (reason) => resolve(reason))),
  };
  session.on('acked', (item) => r.acked.push(item.text));
  session.on('failed', (item, error) => r.failed.push(`${item.text}: ${error.code}`));
  session.on('entry', (entry) => r.entries.push(entry));
  session.on('welcome', () => r.welcomes++);
  return r;
}

/** Resolves when `pred()` holds, checked at each session event that can change it. */
function until(session: ChatSession, pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const offs: (() => void)[] = [];
  return within(
    new Promise<void>((resolve) => {
      const check = () => {
        if (pred()) resolve();
      };
      offs.push(session.on('state', check), session.on('acked', check), session.on('failed', check), session.on('entry', check));
      check();
    }),
    what,
    timeoutMs,
  ).finally(() => {
    for (const off of offs) off();
  });
}

describe('ChatSession over the HTTP door', () => {
  let server: ChatServer;
  before(async () => {
    server = await startTestServer({ hub: { rateLimit: { burst: 20, perSecond: 50 }, graceMs: 30_000 }, httpDoor: { pollMs: 2000, livenessMs: 2000 } });
  });
  after(async () => {
    await server.close();
  });

  test('200 lines queued offline arrive once each, in order, with no 1008', { timeout: 60_000 }, async () => {
    const watcher = await JsonClient.joined(wsUrl(server, '/r/pace-http'), 'watcher');
    const r = run(wsUrl(server, '/r/pace-http'), 'typist', (url, init) => fetch(url, init));
    const texts = Array.from({ length: 200 }, (_, i) => `offline ${i + 1}`);
    for (const text of texts) r.session.send(text);
    r.session.start();
    const seen: string[] = [];
    while (seen.length < 200) seen.push((await watcher.expect('message', (m) => m.nick === 'typist', 30_000)).text);
    assert.deepEqual(seen, texts, 'the other member sees each line once, in order');
    await until(r.session, () => r.session.outbox.length === 0, 'the outbox to drain');
    assert.deepEqual(r.acked, texts);
    assert.deepEqual(r.failed, []);
    assert.equal(r.session.ended, undefined, 'never closed (no 1008)');
    assert.ok(!watcher.all('notice').some((n) => n.event === 'leave'), 'nobody was disconnected');
    r.session.send('/quit');
    assert.equal(await within(r.ended, 'the end after /quit'), 'quit');
    await watcher.expect('notice', (n) => n.event === 'leave' && n.nick === 'typist' && n.reason === 'quit');
    await watcher.close();
  });

  test('the network goes away and comes back: the session resumes, with every entry once, in order', { timeout: 60_000 }, async () => {
    const watcher = await JsonClient.joined(wsUrl(server, '/r/cut-http'), 'watcher');
    const net = switchableFetch();
    const r = run(wsUrl(server, '/r/cut-http'), 'nomad', net.fetch);
    r.session.start();
    await until(r.session, () => r.session.state === 'online', 'online');
    r.session.send('first');
    await until(r.session, () => r.acked.includes('first'), 'the first ack');
    net.cut(true);
    // Offline: the door's session expires (livenessMs) and the member is away; the room goes on.
    await watcher.expect('members', (m) => m.members.some((x) => x.nick === 'nomad' && x.away), 10_000);
    for (let i = 1; i <= 3; i++) await watcher.say(`while away ${i}`);
    r.session.send('queued while away');
    net.cut(false);
    r.session.retryNow();
    await until(r.session, () => r.acked.includes('queued while away'), 'the queued line acked');
    await watcher.say('back');
    await until(r.session, () => r.entries.some((e) => e.type === 'message' && e.text === 'back'), 'the line after');
    const got = r.entries.map((e) => e.seq);
    const first = got[0] ?? 0;
    assert.deepEqual(got, Array.from({ length: got.length }, (_, i) => first + i), `every seq once, in order: ${got.join(',')}`);
    assert.ok(r.welcomes >= 2, 'it reconnected');
    assert.ok(!watcher.all('notice').some((n) => n.nick === 'nomad' && n.event === 'leave'), 'resumed within the grace period: nobody saw it leave');
    r.session.leave();
    assert.equal(await within(r.ended, 'the end after leave()'), 'quit');
    await watcher.close();
  });
});

describe('the HTTP door and the limits per address', () => {
  test('a session counts as a connection of its address: over the limit, 429 with Retry-After; a closed one frees its place', T, async () => {
    const server = await startTestServer({ hub: { addressLimits: { connections: 2 } } });
    try {
      const base = httpBase(server, 'limited');
      const first = await DoorClient.open(base);
      const websocket = await JsonClient.open(wsUrl(server, '/r/limited'));
      const refused = await fetch(base, { method: 'POST' });
      assert.equal(refused.status, 429);
      assert.match(refused.headers.get('retry-after') ?? '', /^\d+$/);
      assert.match(((await refused.json()) as { error: string }).error, /too many connections from your address/);
      await first.vanish();
      await fetch(`${base}/${first.session}/close`, { method: 'POST' });
      const again = await DoorClient.open(base);
      await again.vanish();
      await websocket.close();
    } finally {
      await server.close();
    }
  });
});
