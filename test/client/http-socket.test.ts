/**
 * `HttpSocket` (src/client/http-socket.ts) against a fake `fetch` that the
 * test answers request by request, on fake timers: opening, polling with the
 * cursor, sending in order one POST at a time, closing, and every way the
 * connection can fail.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { doorUrl, type HttpRequestInit, type HttpResponseLike, HttpSocket } from '../../src/client/http-socket.js';
import type { ConnectFailure } from '../../src/client/socket.js';
import { FakeTimers } from './fakes.js';

const URL_WS = 'ws://chat.test/r/team';
const DOOR = 'http://chat.test/r/team/http';
const SID = 'S'.repeat(32);

interface Call {
  url: string;
  init: HttpRequestInit;
  settled: boolean;
  reply(status: number, body?: unknown): void;
  fail(error?: Error): void;
}

/** A fetch whose every call waits for the test to answer it. */
class FakeFetch {
  readonly calls: Call[] = [];
  readonly fetch = (url: string, init: HttpRequestInit): Promise<HttpResponseLike> =>
    new Promise((resolve, reject) => {
      const call: Call = {
        url,
        init,
        settled: false,
        reply(status, body = '') {
          if (call.settled) return;
          call.settled = true;
          const text = typeof body === 'string' ? body : JSON.stringify(body);
          resolve({ status, text: () => Promise.resolve(text) });
        },
        fail(error = new TypeError('fetch failed')) {
          if (call.settled) return;
          call.settled = true;
          reject(error);
        },
      };
      init.signal?.addEventListener('abort', () => call.fail(new Error('aborted')));
      this.calls.push(call);
    });

  /** The oldest unanswered call whose URL ends with `suffix`. */
  pending(suffix: string): Call {
    const call = this.calls.find((c) => !c.settled && c.url.endsWith(suffix));
    assert.ok(call, `no pending request to …${suffix}; calls: ${this.calls.map((c) => `${c.init.method} ${c.url}${c.settled ? ' (done)' : ''}`).join(', ')}`);
    return call;
  }

  count(suffix: string): number {
    return this.calls.filter((c) => c.url.endsWith(suffix)).length;
  }
}

/** Lets promise chains run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

interface Rig {
  fetch: FakeFetch;
  timers: FakeTimers;
  socket: HttpSocket;
  opened: number;
  messages: unknown[];
  closes: { code: number; reason: string; failure?: ConnectFailure }[];
}

function rig(protocol = 'wschat.v1', url = URL_WS): Rig {
  const fetch = new FakeFetch();
  const timers = new FakeTimers();
  const socket = new HttpSocket(url, protocol, { fetch: fetch.fetch, timers, pollRetries: 2, retryDelayMs: 100, pollMarginMs: 1000 });
  const r: Rig = { fetch, timers, socket, opened: 0, messages: [], closes: [] };
  socket.onopen = () => r.opened++;
  socket.onmessage = (text) => r.messages.push(JSON.parse(text));
  socket.onclose = (code, reason, failure) => r.closes.push(failure === undefined ? { code, reason } : { code, reason, failure });
  return r;
}

const OPENED = { protocol: 'wschat.v1', session: SID, pollMs: 2000, maxBody: 200, maxLines: 3 };

async function opened(): Promise<Rig> {
  const r = rig();
  r.fetch.pending('/http').reply(201, OPENED);
  await flush();
  assert.equal(r.opened, 1);
  return r;
}

const ev = (n: number) => ({ type: 'ack', id: `m${n}` });

describe('doorUrl', () => {
  test('ws: and wss: URLs become the door beside the room; others are refused', () => {
    assert.equal(doorUrl('ws://h:8080/r/team'), 'http://h:8080/r/team/http');
    assert.equal(doorUrl('wss://h/chat/r/team'), 'https://h/chat/r/team/http');
    assert.equal(doorUrl('ws://h/'), 'http://h/http');
    assert.equal(doorUrl('ws://h/chat/'), 'http://h/chat/http');
    assert.equal(doorUrl('https://h/r/x?y#z'), 'https://h/r/x/http');
    assert.throws(() => doorUrl('ftp://h/r/x'), TypeError);
    assert.throws(() => doorUrl('not a url'), TypeError);
  });
});

describe('HttpSocket', () => {
  test('opens with a POST, then polls from 0 and on from each answer’s next, delivering events in order', async () => {
    const r = rig();
    const open = r.fetch.pending('/http');
    assert.equal(open.url, DOOR);
    assert.equal(open.init.method, 'POST');
    assert.equal(r.opened, 0);
    open.reply(201, OPENED);
    await flush();
    assert.equal(r.opened, 1);
    const first = r.fetch.pending(`/${SID}/events?after=0`);
    assert.equal(first.init.method, 'GET');
    first.reply(200, { next: 2, events: [ev(1), ev(2)] });
    await flush();
    assert.deepEqual(r.messages, [ev(1), ev(2)]);
    assert.equal(r.socket.cursor, 2);
    r.fetch.pending('/events?after=2').reply(200, { next: 2, events: [] });
    await flush();
    r.fetch.pending('/events?after=2').reply(200, { next: 3, events: [ev(3)] });
    await flush();
    assert.deepEqual(r.messages, [ev(1), ev(2), ev(3)]);
    assert.deepEqual(r.closes, []);
  });

  test('events that come twice are delivered once; a gap loses the connection', async () => {
    const r = await opened();
    r.fetch.pending('after=0').reply(200, { next: 2, events: [ev(1), ev(2)] });
    await flush();
    // A proxy replayed an answer that overlaps: 1-3 when we have 1-2.
    r.fetch.pending('after=2').reply(200, { next: 3, events: [ev(1), ev(2), ev(3)] });
    await flush();
    assert.deepEqual(r.messages, [ev(1), ev(2), ev(3)]);
    r.fetch.pending('after=3').reply(200, { next: 6, events: [ev(6)] });
    await flush();
    assert.deepEqual(r.messages.length, 3);
    assert.deepEqual(r.closes, [{ code: 1006, reason: 'events were lost between the server and this client' }]);
  });

  test('sends go one POST at a time, in order, batched by the server’s limits, keepalive when small', async () => {
    const r = await opened();
    r.socket.send('{"a":1}');
    r.socket.send('{"a":2}');
    r.socket.send('{"a":3}');
    r.socket.send('{"a":4}');
    r.socket.send('x'.repeat(150));
    const firstPost = r.fetch.pending('/send');
    assert.equal(firstPost.init.body, '{"a":1}');
    assert.equal(firstPost.init.keepalive, true);
    assert.equal(r.fetch.count('/send'), 1, 'the next waits for this one');
    firstPost.reply(204);
    await flush();
    // maxLines 3, maxBody 200 bytes: two lines of 8 bytes, then the long one does not fit.
    assert.equal(r.fetch.pending('/send').init.body, '{"a":2}\n{"a":3}\n{"a":4}');
    r.fetch.pending('/send').reply(204);
    await flush();
    assert.equal(r.fetch.pending('/send').init.body, 'x'.repeat(150));
    r.fetch.pending('/send').reply(204);
    await flush();
    assert.equal(r.fetch.count('/send'), 3);
    assert.deepEqual(r.closes, []);
  });

  test('a POST that fails loses the connection (the session resends by id)', async () => {
    const r = await opened();
    r.socket.send('{"a":1}');
    r.fetch.pending('/send').fail();
    await flush();
    assert.equal(r.closes[0]?.code, 1006);
    assert.match(r.closes[0]?.reason ?? '', /sending failed/);
    r.socket.send('{"a":2}');
    assert.equal(r.fetch.count('/send'), 1, 'nothing is sent once closed');
  });

  test('close(): the poll is aborted, the server told (keepalive), onclose once, from a later task', async () => {
    const r = await opened();
    const poll = r.fetch.pending('after=0');
    r.socket.close(1000, 'bye');
    assert.deepEqual(r.closes, [], 'not inside the call');
    await flush();
    assert.deepEqual(r.closes, [{ code: 1000, reason: 'bye' }]);
    assert.equal(poll.settled, true, 'aborted');
    const told = r.fetch.pending(`/${SID}/close`);
    assert.equal(told.init.keepalive, true);
    r.socket.close();
    r.socket.abandon('again');
    await flush();
    assert.equal(r.closes.length, 1);
  });

  test('the server closes: events first, then onclose with its code; the server is not told again', async () => {
    const r = await opened();
    r.fetch.pending('after=0').reply(200, { next: 1, events: [ev(1)], close: { code: 4001, reason: 'resumed on another connection' } });
    await flush();
    assert.deepEqual(r.messages, [ev(1)]);
    assert.deepEqual(r.closes, [{ code: 4001, reason: 'resumed on another connection' }]);
    assert.equal(r.fetch.count('/close'), 0);
    assert.equal(r.fetch.count('/events?after=1'), 0, 'no poll after the close');
  });

  test('failed polls are retried with the same cursor; too many in a row lose the connection', async () => {
    const r = await opened();
    r.fetch.pending('after=0').fail();
    await flush();
    r.timers.advance(100);
    await flush();
    r.fetch.pending('after=0').reply(503, { error: 'busy' });
    await flush();
    r.timers.advance(200);
    await flush();
    // A success resets the count.
    r.fetch.pending('after=0').reply(200, { next: 1, events: [ev(1)] });
    await flush();
    r.fetch.pending('after=1').fail();
    await flush();
    r.timers.advance(100);
    await flush();
    r.fetch.pending('after=1').fail();
    await flush();
    r.timers.advance(200);
    await flush();
    assert.equal(r.closes.length, 0);
    r.fetch.pending('after=1').fail();
    await flush();
    assert.equal(r.closes.length, 1);
    assert.equal(r.closes[0]?.code, 1006);
    assert.equal(r.closes[0]?.failure, undefined, 'lost, not refused: the session reconnects');
    assert.deepEqual(r.messages, [ev(1)]);
  });

  test('a poll with no answer within the hold time plus the margin is aborted and tried again', async () => {
    const r = await opened();
    const poll = r.fetch.pending('after=0');
    r.timers.advance(2000 + 999);
    assert.equal(poll.settled, false);
    r.timers.advance(1);
    await flush();
    assert.equal(poll.settled, true);
    r.timers.advance(100);
    await flush();
    assert.equal(r.fetch.count('after=0'), 2);
  });

  test('a session the server forgot (404) is lost, not refused; other 4xx too', async () => {
    const r = await opened();
    r.fetch.pending('after=0').reply(404, { error: 'no such session' });
    await flush();
    assert.deepEqual(r.closes, [{ code: 1006, reason: 'the server no longer knows this HTTP session' }]);
    const s = await opened();
    s.fetch.pending('after=0').reply(409, { error: 'events up to after=0 were already confirmed' });
    await flush();
    assert.deepEqual(s.closes, [{ code: 1006, reason: 'polling failed: HTTP 409 events up to after=0 were already confirmed' }]);
  });

  test('opening fails: 4xx is permanent with the server’s words, 5xx and the network are not', async () => {
    const forbidden = rig();
    forbidden.fetch.pending('/http').reply(403, { error: 'Origin http://x is not allowed (see --allowed-origin)' });
    await flush();
    assert.deepEqual(forbidden.closes, [
      {
        code: 1006,
        reason: 'The server refused the HTTP connection: 403 Origin http://x is not allowed (see --allowed-origin)',
        failure: {
          permanent: true,
          message: 'The server refused the HTTP connection: 403 Origin http://x is not allowed (see --allowed-origin)',
          kind: 'http',
        },
      },
    ]);
    const busy = rig();
    busy.fetch.pending('/http').reply(503, '<html>Bad gateway</html>');
    await flush();
    assert.equal(busy.closes[0]?.failure?.permanent, false);
    assert.match(busy.closes[0]?.reason ?? '', /503 <html>Bad gateway<\/html>/);
    const down = rig();
    down.fetch.pending('/http').fail(new TypeError('fetch failed'));
    await flush();
    assert.deepEqual(down.closes[0]?.failure, { permanent: false, message: 'Cannot reach chat.test over HTTP: fetch failed.', kind: 'network' });
    const stranger = rig();
    stranger.fetch.pending('/http').reply(200, '<html>captive portal</html>');
    await flush();
    assert.equal(stranger.closes[0]?.failure?.permanent, true);
    assert.match(stranger.closes[0]?.reason ?? '', /not as a wschat HTTP door/);
    for (const r of [forbidden, busy, down, stranger]) assert.equal(r.opened, 0);
  });

  test('another subprotocol or an invalid URL fails at once (permanent), without a request', async () => {
    const plain = rig('chat');
    const bad = rig('wschat.v1', 'nonsense');
    await flush();
    assert.equal(plain.closes[0]?.failure?.permanent, true);
    assert.equal(bad.closes[0]?.failure?.permanent, true);
    assert.equal(plain.fetch.calls.length + bad.fetch.calls.length, 0);
  });

  test('closed while opening: the open request is aborted; onopen never fires, onclose once', async () => {
    const r = rig();
    const open = r.fetch.pending('/http');
    r.socket.close(1000);
    await flush();
    assert.equal(open.settled, true);
    assert.equal(r.opened, 0);
    assert.deepEqual(r.closes, [{ code: 1000, reason: '' }]);
    assert.equal(r.fetch.calls.length, 1, 'no session to tell');
  });

  test('abandon(): onclose(1006) and no word to the server', async () => {
    const r = await opened();
    r.socket.abandon('moving to WebSocket');
    await flush();
    assert.deepEqual(r.closes, [{ code: 1006, reason: 'moving to WebSocket' }]);
    assert.equal(r.fetch.count('/close'), 0);
  });
});
