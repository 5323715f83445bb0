/**
 * The chat session over our own Node client and server: a stand-in chat
 * server (just enough of wschat.v1) checks that nodeSocketFactory carries the
 * session's traffic, reports closes, and that recovery works over real sockets.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { nodeSocketFactory } from '../../src/client/node-socket.js';
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

test('a refused connection is reported as close 1006 with the reason', async () => {
  const factory = nodeSocketFactory();
  const socket = factory('ws://127.0.0.1:1/r/x', 'wschat.v1');
  const [code, reason] = await new Promise<[number, string]>((resolve) => {
    socket.onclose = (c, r) => resolve([c, r]);
  });
  assert.equal(code, 1006);
  assert.match(reason, /ECONNREFUSED/);
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
