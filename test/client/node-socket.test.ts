/**
 * The chat session over our own Node client and server: a stand-in chat
 * server (just enough of wschat.v1) checks that nodeSocketFactory carries the
 * session's traffic, reports closes, and that recovery works over real sockets.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { describeFailure, nodeSocketFactory } from '../../src/client/node-socket.js';
import type { ConnectFailure } from '../../src/client/socket.js';
import { HandshakeError } from '../../src/websocket/protocol/errors.js';
import { ChatSession, type SessionEvents } from '../../src/client/session.js';
import type { WebSocket } from '../../src/websocket/node/connection.js';
import { WebSocketServer } from '../../src/websocket/node/server.js';

const log: EntryEvent[] = [];
const joins: Record<string, unknown>[] = [];
const clients = new Set<WebSocket>();
let server: WebSocketServer;
let plainServer: WebSocketServer;

function port(s: WebSocketServer): number {
  return (s.address() as AddressInfo).port;
}

before(async () => {
  server = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    selectProtocol: (offered) => (offered.includes('wschat.v1') ? 'wschat.v1' : null),
  });
  await server.ready();
  server.on('connection', (ws) => {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      if (m.type === 'join') {
        joins.push(m);
        clients.add(ws);
        ws.on('close', () => clients.delete(ws));
        const after = typeof m.lastSeq === 'number' ? m.lastSeq : 0;
        ws.send(
          JSON.stringify({
            type: 'welcome',
            room: 'r',
            nick: m.nick,
            resumeToken: 'resume-token-0123456789',
            resumed: m.resumeToken !== undefined,
            reset: false,
            members: [{ nick: m.nick, away: false }],
            history: log.filter((e) => e.seq > after),
            lastSeq: log.length,
            more: false,
            maxMessage: 4000,
          }),
        );
      } else if (m.type === 'message') {
        const entry: EntryEvent = { type: 'message', seq: log.length + 1, ts: Date.now(), nick: 'n', text: String(m.text) };
        log.push(entry);
        ws.send(JSON.stringify({ type: 'ack', id: m.id, seq: entry.seq }));
        for (const c of clients) c.send(JSON.stringify(entry));
      }
    });
  });
  plainServer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await plainServer.ready();
});

after(async () => {
  await server.close();
  await plainServer.close();
});

/** Resolves with the arguments of the next `type` event that passes `check`. */
function next<K extends keyof SessionEvents>(
  session: ChatSession,
  type: K,
  check: (...args: SessionEvents[K]) => boolean = () => true,
): Promise<SessionEvents[K]> {
  return new Promise((resolve) => {
    const off = session.on(type, (...args) => {
      if (!check(...args)) return;
      off();
      resolve(args);
    });
  });
}

test('a session goes online, sends, gets its ack and entry, and recovers after the connection is cut', async () => {
  const session = new ChatSession({
    url: `ws://127.0.0.1:${port(server)}/r/r`,
    nick: 'ann',
    socketFactory: nodeSocketFactory(),
    random: () => 0,
  });
  const seen: number[] = [];
  session.on('entry', (e) => seen.push(e.seq));
  const welcomed = next(session, 'welcome');
  session.start();
  await welcomed;
  assert.equal(session.state, 'online');

  const acked = next(session, 'acked');
  const entry = next(session, 'entry');
  session.send('one');
  const [item, seq] = await acked;
  assert.equal(item.text, 'one');
  assert.equal((await entry)[0].seq, seq);

  // Cut the connection without a close frame, then add an entry while away.
  const offline = next(session, 'state', (s) => s === 'offline');
  for (const c of clients) c.terminate();
  const [, detail] = await offline;
  assert.equal(detail.code, 1006);
  log.push({ type: 'message', seq: log.length + 1, ts: Date.now(), nick: 'bob', text: 'while away' });
  const caughtUp = next(session, 'caughtUp');
  await caughtUp;
  assert.deepEqual(joins.at(-1), { type: 'join', nick: 'ann', resumeToken: 'resume-token-0123456789', lastSeq: 1 });
  assert.deepEqual(seen, [1, 2]);
  session.close();
});

test('a server that does not select wschat.v1 is treated as a failed connection', async () => {
  const session = new ChatSession({
    url: `ws://127.0.0.1:${port(plainServer)}/r/r`,
    nick: 'ann',
    socketFactory: nodeSocketFactory(),
  });
  const offline = next(session, 'state', (s) => s === 'offline');
  session.start();
  const [, detail] = await offline;
  assert.equal(detail.code, 1006);
  assert.match(detail.reason ?? '', /subprotocol/);
  session.close();
});

test('a refused connection is reported as close 1006 with the reason, worth retrying', async () => {
  const factory = nodeSocketFactory();
  const socket = factory('ws://127.0.0.1:1/r/x', 'wschat.v1');
  const [code, reason, failure] = await new Promise<[number, string, ConnectFailure | undefined]>((resolve) => {
    socket.onclose = (c, r, f) => resolve([c, r, f]);
  });
  assert.equal(code, 1006);
  assert.equal(reason, 'Nothing is listening on 127.0.0.1:1 (connection refused).');
  assert.deepEqual(failure, { permanent: false, message: reason, kind: 'network' });
});

test('describeFailure: what retrying can fix and what it cannot', () => {
  const url = 'wss://chat.example:8443/r/x';
  const system = (code: string, message: string) => Object.assign(new Error(message), { code });
  const cases: Array<[unknown, boolean, string | undefined, RegExp]> = [
    [new HandshakeError('UNEXPECTED_STATUS', 404, 'The server answered 404 instead of 101: no such room'), true, 'http', /^The server answered 404 instead of 101: no such room\.$/],
    [new HandshakeError('UNEXPECTED_STATUS', 403, 'The server answered 403 instead of 101'), true, 'http', /403/],
    [new HandshakeError('UNEXPECTED_STATUS', 503, 'The server answered 503 instead of 101'), false, 'http', /503/],
    [new HandshakeError('UNEXPECTED_STATUS', 429, 'The server answered 429 instead of 101'), false, 'http', /429/],
    [new HandshakeError('UNEXPECTED_STATUS', 408, 'The server answered 408 instead of 101'), false, 'http', /408/],
    [new HandshakeError('HANDSHAKE_TIMEOUT', 0, 'The opening handshake timed out'), false, 'network', /^chat\.example:8443: the opening handshake timed out\.$/],
    [new HandshakeError('CONNECTION_CLOSED', 0, 'The server closed the connection during the handshake'), false, 'network', /closed the connection/],
    [new HandshakeError('INVALID_ACCEPT', 101, 'Bad Sec-WebSocket-Accept'), true, 'http', /^chat\.example:8443 is not a WebSocket server, or something in between is not: bad Sec-WebSocket-Accept\.$/],
    [system('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), true, 'certificate', /^The certificate of chat\.example:8443 is not trusted: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)\.$/],
    [system('CERT_HAS_EXPIRED', 'certificate has expired'), true, 'certificate', /expired/],
    [system('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), true, 'certificate', /altnames/],
    [system('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'), true, 'tls', /^The TLS handshake with chat\.example:8443 failed: wrong version number \(ERR_SSL_WRONG_VERSION_NUMBER\)\.$/],
    [system('ECONNREFUSED', 'connect ECONNREFUSED'), false, 'network', /^Nothing is listening on chat\.example:8443 \(connection refused\)\.$/],
    [system('ECONNRESET', 'read ECONNRESET'), false, 'network', /^Cannot reach chat\.example:8443: read ECONNRESET\.$/],
    [system('ENETUNREACH', 'connect ENETUNREACH'), false, 'network', /ENETUNREACH/],
    [system('EAI_AGAIN', 'getaddrinfo EAI_AGAIN chat.example'), false, 'network', /EAI_AGAIN/],
    [system('ENOTFOUND', 'getaddrinfo ENOTFOUND chat.example'), true, 'network', /^The host of wss:\/\/chat\.example:8443\/r\/x was not found/],
    [new TypeError('Invalid URL'), true, 'network', /^Cannot connect to wss:\/\/chat\.example:8443\/r\/x: Invalid URL\.$/],
  ];
  for (const [error, permanent, kind, message] of cases) {
    const failure = describeFailure(error, url);
    assert.equal(failure.permanent, permanent, String(error));
    assert.equal(failure.kind, kind, String(error));
    assert.match(failure.message, message);
  }
});

test('close() before the connection opens reports one close and leaves nothing open', async () => {
  const socket = nodeSocketFactory()(`ws://127.0.0.1:${port(server)}/r/r`, 'wschat.v1');
  let opened = false;
  socket.onopen = () => {
    opened = true;
  };
  const closed = new Promise<number>((resolve) => {
    socket.onclose = (code) => resolve(code);
  });
  socket.close();
  assert.equal(await closed, 1006);
  assert.equal(opened, false);
});
