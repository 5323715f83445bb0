/**
 * The transport rule (src/client/fallback.ts) with a real ChatSession on fake
 * sockets and fake timers: when the session falls back to the HTTP door,
 * when it stays there, when it tries WebSocket again, and how a probe moves
 * it back without a visible absence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SWITCH_REASON, type TransportKind, TransportFallback } from '../../src/client/fallback.js';
import { ChatSession, type EndReason } from '../../src/client/session.js';
import type { SocketFactory } from '../../src/client/socket.js';
import { FakeSocket, FakeTimers, welcome } from './fakes.js';

const URL = 'ws://chat.test/r/team';
const OPEN_TIMEOUT = 5000;
const PROBE_EVERY = 60_000;
const PROBE_TIMEOUT = 3000;

/** An HTTP door socket double: it can be abandoned, as HttpSocket can. */
class FakeHttpSocket extends FakeSocket {
  abandoned: string | null = null;

  abandon(reason: string): void {
    this.abandoned = reason;
    queueMicrotask(() => this.drop(1006, reason));
  }
}

interface Made {
  kind: TransportKind;
  socket: FakeSocket;
}

function setup() {
  const timers = new FakeTimers();
  const made: Made[] = [];
  const websocket: SocketFactory = (url, protocol) => {
    const socket = new FakeSocket(url, protocol);
    made.push({ kind: 'websocket', socket });
    return socket;
  };
  const http: SocketFactory = (url, protocol) => {
    const socket = new FakeHttpSocket(url, protocol);
    made.push({ kind: 'http', socket });
    return socket;
  };
  const fallback = new TransportFallback({
    websocket,
    http,
    timers,
    openTimeoutMs: OPEN_TIMEOUT,
    probeIntervalMs: PROBE_EVERY,
    probeTimeoutMs: PROBE_TIMEOUT,
  });
  // The session's own attempts, told apart from the probes the fallback makes.
  const attempts: Made[] = [];
  const socketFactory: SocketFactory = (url, protocol) => {
    const socket = fallback.factory(url, protocol);
    const inner = made.at(-1);
    assert.ok(inner);
    attempts.push(inner);
    return socket;
  };
  // random 0: every reconnect is due at once (advance(0)).
  const session = new ChatSession({ url: URL, nick: 'alice', socketFactory, timers, random: () => 0, joinTimeoutMs: 15_000 });
  const transports: TransportKind[] = [];
  const probes: boolean[] = [];
  const ended: EndReason[] = [];
  fallback.on('transport', (kind) => transports.push(kind));
  fallback.on('probe', (ok) => probes.push(ok));
  session.on('ended', (reason) => ended.push(reason));
  fallback.follow(session);
  /** The session's current connection attempt (not a probe). */
  const attempt = (): Made => {
    const m = attempts.at(-1);
    assert.ok(m, 'no attempt made');
    return m;
  };
  /** The last probe made. */
  const probe = (): Made => {
    const m = made.filter((x) => !attempts.includes(x)).at(-1);
    assert.ok(m, 'no probe made');
    return m;
  };
  const probeCount = (): number => made.length - attempts.length;
  /** Lets microtasks run, then fires timers due now (an immediate reconnect). */
  const tick = async (ms = 0): Promise<void> => {
    await Promise.resolve();
    await Promise.resolve();
    timers.advance(ms);
  };
  /** The current attempt fails without ever opening, and the session retries. */
  const failAttempt = async (): Promise<Made> => {
    const m = attempt();
    m.socket.drop(1006);
    await tick();
    return m;
  };
  /** The current attempt opens and is welcomed. */
  const welcomeAttempt = async (): Promise<Made> => {
    const m = attempt();
    m.socket.open();
    m.socket.receive(welcome());
    await tick();
    return m;
  };
  /** Falls back: two WebSocket failures, an HTTP welcome, and the confirmation probe refused. */
  const fallBack = async (): Promise<Made> => {
    session.start();
    await failAttempt();
    await failAttempt();
    const http = await welcomeAttempt();
    assert.equal(http.kind, 'http');
    probe().socket.drop(1006);
    return http;
  };
  return { timers, made, fallback, session, transports, probes, ended, attempt, probe, probeCount, tick, failAttempt, welcomeAttempt, fallBack };
}

describe('TransportFallback', () => {
  test('two WebSocket attempts that pass nothing, then the HTTP door; once it works and a probe fails, HTTP it is', async () => {
    const t = setup();
    t.session.start();
    assert.equal(t.attempt().kind, 'websocket');
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'websocket', 'one failure is not enough (a server restart looks the same)');
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'http');
    assert.equal(t.fallback.blocked, false, 'not until HTTP worked');
    assert.equal(t.probeCount(), 0);
    await t.welcomeAttempt();
    assert.equal(t.session.state, 'online');
    assert.deepEqual(t.transports, ['http']);
    assert.equal(t.fallback.transport, 'http');
    // At once, a probe: were the failures a restart rather than the network?
    assert.equal(t.probeCount(), 1);
    t.probe().socket.drop(1006);
    assert.deepEqual(t.probes, [false]);
    assert.equal(t.fallback.blocked, true);
    // A dropped HTTP connection reconnects over HTTP: no more WebSocket attempts.
    t.attempt().socket.drop(1006);
    await t.tick();
    assert.equal(t.attempt().kind, 'http');
  });

  test('the WebSocket failures were a server restart: the first probe succeeds and the session is back on WebSocket', async () => {
    const t = setup();
    t.session.start();
    await t.failAttempt();
    await t.failAttempt();
    const http = await t.welcomeAttempt();
    const probe = t.probe();
    probe.socket.open();
    probe.socket.receive({ type: 'error', code: 'NOT_JOINED', message: 'join a room first', id: 'probe' });
    await t.tick();
    assert.equal((http.socket as FakeHttpSocket).abandoned, SWITCH_REASON);
    await t.welcomeAttempt();
    assert.equal(t.attempt().kind, 'websocket');
    assert.deepEqual(t.transports, ['http', 'websocket']);
    assert.equal(t.fallback.blocked, false);
  });

  test('a WebSocket that opened but passed nothing (the join timed out) counts as a failure', async () => {
    const t = setup();
    t.session.start();
    const silent = t.attempt();
    silent.socket.open();
    t.timers.advance(15_000); // the session's join timeout drops it and tries again at once
    assert.ok(silent.socket.closedWith, 'the session closed it');
    silent.socket.drop(1006); // the browser reports the close (the session no longer listens)
    await t.tick();
    assert.notEqual(t.attempt(), silent);
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'http');
  });

  test('a WebSocket handshake held open is given up after openTimeoutMs', async () => {
    const t = setup();
    t.session.start();
    const held = t.attempt();
    t.timers.advance(OPEN_TIMEOUT - 1);
    assert.equal(held.socket.closedWith, null);
    t.timers.advance(1);
    assert.deepEqual(held.socket.closedWith, { code: 1000, reason: undefined });
  });

  test('a WebSocket that worked and dropped is no failure: the next attempt is a WebSocket', async () => {
    const t = setup();
    t.session.start();
    await t.failAttempt();
    await t.welcomeAttempt();
    assert.deepEqual(t.transports, ['websocket']);
    t.attempt().socket.drop(1006);
    await t.tick();
    assert.equal(t.attempt().kind, 'websocket');
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'websocket', 'the count restarted at the welcome');
    assert.equal(t.probeCount(), 0);
  });

  test('HTTP failing too means the server is down: WebSocket next, then HTTP again after one more failure', async () => {
    const t = setup();
    t.session.start();
    await t.failAttempt();
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'http');
    // Refused for good (the HTTP door says 4xx): not the end of the session here.
    t.attempt().socket.onclose?.(1006, 'refused', { permanent: true, message: 'refused', kind: 'http' });
    await t.tick();
    assert.deepEqual(t.ended, [], 'an HTTP failure never ends the session');
    assert.equal(t.attempt().kind, 'websocket');
    await t.failAttempt();
    assert.equal(t.attempt().kind, 'http');
  });

  test('on HTTP, a probe every probeIntervalMs; a WebSocket that answers moves the session back, silently', async () => {
    const t = setup();
    const http = await t.fallBack();
    const before = t.probeCount();
    t.timers.advance(PROBE_EVERY - 1);
    assert.equal(t.probeCount(), before, 'no probe yet');
    t.timers.advance(1);
    const probe = t.probe();
    assert.equal(t.probeCount(), before + 1);
    assert.equal(probe.kind, 'websocket');
    probe.socket.open();
    assert.deepEqual(probe.socket.sent, [{ type: 'history', id: 'probe', afterSeq: 0 }], 'a request any server answers without a join');
    probe.socket.receive({ type: 'error', code: 'NOT_JOINED', message: 'join a room first', id: 'probe' });
    assert.deepEqual(t.probes, [false, true]);
    assert.deepEqual(probe.socket.closedWith, { code: 1000, reason: 'probe done' });
    assert.equal((http.socket as FakeHttpSocket).abandoned, SWITCH_REASON, 'the HTTP session is let go, not closed');
    assert.equal(http.socket.closedWith, null);
    await t.tick();
    // The session reconnected at once, over WebSocket, resuming with its token.
    const ws = t.attempt();
    assert.equal(ws.kind, 'websocket');
    ws.socket.open();
    assert.equal(ws.socket.sentOfType('join')[0]?.resumeToken, 'token-0123456789abcdef');
    ws.socket.receive(welcome({ resumed: true }));
    assert.deepEqual(t.transports, ['http', 'websocket']);
    assert.equal(t.fallback.blocked, false);
    assert.equal(t.session.state, 'online');
  });

  test('a probe that fails (closed, or no answer in time) leaves the session on HTTP and comes again', async () => {
    const t = setup();
    const http = await t.fallBack();
    t.timers.advance(PROBE_EVERY);
    const refused = t.probe();
    refused.socket.drop(1006);
    t.timers.advance(PROBE_EVERY);
    const silent = t.probe();
    assert.notEqual(silent, refused);
    silent.socket.open();
    t.timers.advance(PROBE_TIMEOUT);
    assert.deepEqual(t.probes, [false, false, false]);
    assert.equal(t.attempt(), http);
    assert.equal((http.socket as FakeHttpSocket).abandoned, null);
    assert.equal(t.session.state, 'online');
    // probeNow (the network changed) probes at once.
    t.fallback.probeNow();
    const now = t.probe();
    assert.notEqual(now, silent);
    assert.equal(now.kind, 'websocket');
  });

  test('no probing once the session has ended', async () => {
    const t = setup();
    await t.fallBack();
    t.session.close();
    const before = t.made.length;
    t.timers.advance(PROBE_EVERY * 3);
    assert.equal(t.made.length, before);
    assert.equal(t.timers.pending.length, 0, 'no timer left behind');
  });
});
