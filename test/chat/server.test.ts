/**
 * The chat server as a whole: three doors into one room, broadcast encoded
 * once per format, the handshake policy (room paths, Origin), the
 * administrator's console, /healthz counts, and graceful shutdown.
 */
import assert from 'node:assert/strict';
import { get as httpsGet } from 'node:https';
import { createServer, connect as netConnect } from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, mock, test } from 'node:test';
import WsWebSocket from 'ws';
import { ManualClock } from '../../src/chat/clock.js';
import { ChatCloseCode } from '../../src/chat/messages.js';
import { roomFromPath } from '../../src/chat/server.js';
import { connect, HandshakeError, PerMessageDeflate, type PreparedMessage, WebSocket } from '../../src/websocket/index.js';
import { selfSignedCertificate } from '../support/tls.js';
import { JsonClient, Mailbox, PlainClient, startTestServer, TcpClient, within, wsUrl } from './support/clients.js';

const T = { timeout: 20_000 };

/** A port nothing listens on, found by binding and releasing it. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Sends raw request bytes and resolves with the status line of the answer. */
function rawStatusLine(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1', () => socket.write(request));
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      received += chunk;
      const end = received.indexOf('\r\n');
      if (end !== -1) {
        socket.destroy();
        resolve(received.slice(0, end));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without a status line: ${JSON.stringify(received)}`)));
  });
}

/** A WebSocket upgrade request with the given request line version and headers. */
function upgradeRequest(version: string, headers: Record<string, string>): string {
  const lines = [
    `GET /r/lobby HTTP/${version}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The HandshakeError a refused connect rejects with. */
async function refused(url: string, options: Parameters<typeof connect>[1] = {}): Promise<HandshakeError> {
  try {
    const ws = await connect(url, options);
    ws.terminate();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    return error;
  }
  assert.fail(`${url} was accepted`);
}

describe('helpers', () => {
  test('roomFromPath: / is the lobby, /r/<name> a room, anything else nothing', () => {
    assert.equal(roomFromPath('/'), 'lobby');
    assert.equal(roomFromPath('/r/abc_DEF-123'), 'abc_DEF-123');
    assert.equal(roomFromPath(`/r/${'a'.repeat(64)}`), 'a'.repeat(64));
    // Percent-encoded UTF-8, as browsers send it; NFC-normalised.
    assert.equal(roomFromPath('/r/%EC%9A%B0%EB%A6%AC%EB%B0%A9'), '우리방');
    assert.equal(roomFromPath('/r/cafe%CC%81'), 'café');
    assert.equal(roomFromPath('/chat/r/%EC%9A%B0%EB%A6%AC%EB%B0%A9', '/chat'), '우리방');
    for (const bad of ['/r/', `/r/${'a'.repeat(65)}`, '/r/bad%20name', '/r/a/b', '/x', '/lobby', '/r/..', '/r/%E0%A4%A', '/r/%7Bx%7D', '/r/a%2Fb']) {
      assert.equal(roomFromPath(bad), null, bad);
    }
  });
});

describe('three doors, one room', () => {
  test('wschat.v1, plain WebSocket and raw TCP lines each see the others in their own format', T, async () => {
    const server = await startTestServer({ tcpPort: 0 });
    try {
      assert.equal(typeof server.tcpPort, 'number');
      const tcp = await TcpClient.open(server.tcpPort ?? 0);
      await tcp.login('terry'); // TCP logins land in the lobby
      const json = await JsonClient.joined(wsUrl(server, '/r/lobby'), 'jason');
      const plain = await PlainClient.open(wsUrl(server, '/'));
      const plainNick = await plain.welcomed();
      plain.send('/nick Plato');
      await plain.line('You are now known as Plato');
      // Everyone has seen everyone arrive.
      await tcp.line(`${plainNick} is now known as Plato`);
      await json.expect('notice', (n) => n.event === 'rename');

      await json.say('from json');
      plain.send('from plain');
      await json.expect('message', (m) => m.nick === 'Plato');
      tcp.send('from tcp');

      const fromTcp = await json.expect('message', (m) => m.nick === 'terry');
      assert.equal(fromTcp.text, 'from tcp');
      assert.equal(await plain.line(/^jason ::/), 'jason :: from json');
      assert.equal(await plain.line(/^terry ::/), 'terry :: from tcp');
      assert.equal(await tcp.line(/^\[jason\]/), '[jason] from json');
      assert.equal(await tcp.line(/^\[Plato\]/), '[Plato] from plain');
      assert.equal(await tcp.line(/^\[terry\]/), '[terry] from tcp');
      // The same entries, in the same order, everywhere.
      const seqs = json.all('message').map((m) => `${m.nick}:${m.text}`);
      assert.deepEqual(seqs, ['jason:from json', 'Plato:from plain', 'terry:from tcp']);

      // /who from TCP lists all three doors.
      tcp.send('/who');
      assert.equal(await tcp.line(/members in lobby/), '3 members in lobby: terry (owner), jason, Plato');
      tcp.close();
      await json.close();
      await plain.close();
    } finally {
      await server.close();
    }
  });
});

describe('broadcast', () => {
  test('encodes each event once per format and writes the same frame to every member of that format', T, async () => {
    const server = await startTestServer();
    const sendPrepared = mock.method(WebSocket.prototype, 'sendPrepared');
    try {
      const path = '/r/fanout';
      const jsons = [];
      for (let i = 0; i < 4; i++) jsons.push(await JsonClient.joined(wsUrl(server, path), `j${i}`));
      const plains = [];
      for (let i = 0; i < 3; i++) {
        const p = await PlainClient.open(wsUrl(server, path));
        await p.welcomed();
        plains.push(p);
      }
      const marker = 'encode-once-marker';
      await jsons[0]?.say(marker);
      await Promise.all(plains.map((p) => p.line(/encode-once-marker$/)));
      await Promise.all(jsons.map((j) => j.expect('message', (m) => m.text === marker)));

      const calls = sendPrepared.mock.calls.filter((c) => (c.arguments[0] as PreparedMessage).payload.includes(marker));
      assert.equal(calls.length, 7, 'one write per member');
      assert.equal(new Set(calls.map((c) => c.this)).size, 7, 'to seven distinct connections');
      const prepared = new Set(calls.map((c) => c.arguments[0] as PreparedMessage));
      assert.equal(prepared.size, 2, 'one encoding for wschat.v1, one for plain text');
      const payloads = [...prepared].map((p) => p.payload.toString()).sort();
      assert.equal(payloads[0], 'j0 :: encode-once-marker');
      assert.match(payloads[1] ?? '', /^\{"type":"message",.*"text":"encode-once-marker"\}$/);
      for (const client of [...jsons, ...plains]) await client.close();
    } finally {
      sendPrepared.mock.restore();
      await server.close();
    }
  });
});

describe('broadcast with permessage-deflate', () => {
  test('compresses a broadcast once for every member with the same deflate settings', T, async () => {
    const server = await startTestServer();
    const compress = mock.method(PerMessageDeflate.prototype, 'compress');
    const peers: WsWebSocket[] = [];
    try {
      const path = '/r/deflate';
      const received: Mailbox<string>[] = [];
      for (let i = 0; i < 3; i++) {
        // The ws package offers permessage-deflate by default.
        const ws = new WsWebSocket(wsUrl(server, path), 'wschat.v1');
        const inbox = new Mailbox<string>();
        ws.on('message', (data) => inbox.push(String(data)));
        await within(new Promise((resolve) => ws.once('open', resolve)), 'ws open');
        assert.match(ws.extensions, /permessage-deflate/);
        ws.send(JSON.stringify({ type: 'join', nick: `z${i}` }));
        await inbox.take((m) => m.startsWith('{"type":"welcome"'), 'welcome');
        peers.push(ws);
        received.push(inbox);
      }
      const sender = await JsonClient.joined(wsUrl(server, path), 'sender');
      const text = `squeeze ${'me '.repeat(500)}`.trimEnd();
      await sender.say(text);
      await Promise.all(received.map((inbox) => inbox.take((m) => m.includes(text), 'the compressed broadcast')));
      const calls = compress.mock.calls.filter((c) => Buffer.from(c.arguments[0] as Uint8Array).includes(text));
      assert.equal(calls.length, 1, 'one compression for three deflate members');
      await sender.close();
    } finally {
      compress.mock.restore();
      for (const ws of peers) ws.close();
      await server.close();
    }
  });
});

describe('slow readers', () => {
  test('a member that stops reading is closed (1008) once its backlog passes the high-water mark; the room goes on', T, async () => {
    const highWaterMark = 64 * 1024;
    const server = await startTestServer({ highWaterMark, hub: { maxMessage: 30_000, rateLimit: { burst: 100_000 } } });
    const original = WebSocket.prototype.close;
    let slowClosed: (backlog: number) => void = () => undefined;
    const closedForSlowness = new Promise<number>((resolve) => {
      slowClosed = resolve;
    });
    const close = mock.method(WebSocket.prototype, 'close', function (this: WebSocket, code?: number, reason?: string) {
      if (code === 1008 && reason === 'too slow to keep up') slowClosed(this.bufferedAmount);
      original.call(this, code, reason);
    });
    try {
      const url = wsUrl(server, '/r/slow');
      const slow = await JsonClient.joined(url, 'slow');
      const fast = await JsonClient.joined(url, 'fast');
      slow.ws.socket.pause(); // stops reading: the kernel buffers fill, then the server's
      const text = 'x'.repeat(30_000);
      let sent = 0;
      let backlog: number | null = null;
      void closedForSlowness.then((b) => {
        backlog = b;
      });
      // Keep talking until the server gives up on the slow reader (kernel buffers take a few MB first).
      while (backlog === null) {
        assert.ok(sent < 5000, 'the slow reader was never closed');
        for (let i = 0; i < 20; i++) fast.send({ type: 'message', id: `m${sent + i}`, text });
        sent += 20;
        assert.equal((await fast.answer(`m${sent - 1}`)).type, 'ack');
      }
      // What the server holds for it is bounded: the mark plus the message that crossed it.
      assert.ok(backlog > highWaterMark && backlog < highWaterMark + 2 * text.length, `backlog ${backlog}`);
      // The fast member got every one of its messages back, in order.
      const mine = await fast.expect('message', (m) => m.seq === (fast.all('ack').at(-1)?.seq ?? -1));
      assert.equal(mine.text, text);
      assert.equal(fast.all('message').length, sent);
      // Once the slow client reads again it finds the close frame at the end of its backlog.
      slow.ws.socket.resume();
      assert.deepEqual(await within(slow.closed, 'the slow client closed', 10_000), { code: 1008, reason: 'too slow to keep up' });
      const away = await fast.expect('members', (m) => m.members.some((x) => x.nick === 'slow' && x.away));
      assert.ok(away);
      await fast.close();
    } finally {
      close.mock.restore();
      await server.close();
    }
  });
});

describe('handshake policy', () => {
  test('Origin: same origin and no Origin are accepted, other sites get 403, allowedOrigins adds one', T, async () => {
    const server = await startTestServer({ allowedOrigins: ['https://app.example'] });
    try {
      const url = wsUrl(server, '/r/origins');
      const evil = await refused(url, { protocols: ['wschat.v1'], origin: 'https://evil.example' });
      assert.equal(evil.status, 403);
      assert.equal((await refused(url, { origin: 'null' })).status, 403);
      assert.equal((await refused(url, { origin: `http://127.0.0.1:${server.port + 1}` })).status, 403);
      let n = 0;
      for (const origin of [`http://127.0.0.1:${server.port}`, 'https://app.example', undefined]) {
        const client = await JsonClient.open(url, origin === undefined ? {} : { origin });
        assert.equal((await client.join(`n${++n}`)).type, 'welcome', `origin ${origin}`);
        await client.close();
      }
    } finally {
      await server.close();
    }
  });

  test('attack: DNS rebinding (Host: evil.example:PORT, Origin: http://evil.example:PORT) gets 421 for HTTP and WebSocket', T, async () => {
    const server = await startTestServer({ allowedHosts: ['chat.example'] });
    try {
      const evilHost = `evil.example:${server.port}`;
      const evilOrigin = `http://${evilHost}`;
      assert.match(await rawStatusLine(server.port, `GET / HTTP/1.1\r\nHost: ${evilHost}\r\n\r\n`), /^HTTP\/1\.1 421 /);
      assert.match(await rawStatusLine(server.port, `GET /healthz HTTP/1.1\r\nHost: ${evilHost}\r\n\r\n`), /^HTTP\/1\.1 421 /);
      const upgrade = upgradeRequest('1.1', { Host: evilHost, Origin: evilOrigin, 'Sec-WebSocket-Protocol': 'wschat.v1' });
      assert.match(await rawStatusLine(server.port, upgrade), /^HTTP\/1\.1 421 /);
      // The names it does answer to: loopback, localhost, an --allowed-host name (any port).
      for (const host of [`127.0.0.1:${server.port}`, `localhost:${server.port}`, `chat.example:${server.port}`, 'chat.example']) {
        assert.match(await rawStatusLine(server.port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`), /^HTTP\/1\.1 200 /, host);
      }
      const same = upgradeRequest('1.1', { Host: `chat.example:${server.port}`, Origin: `http://chat.example:${server.port}` });
      assert.match(await rawStatusLine(server.port, same), /^HTTP\/1\.1 101 /);
    } finally {
      await server.close();
    }
  });

  test('attack: an https:// or ftp:// Origin with the right host and port gets 403 (scheme counts)', T, async () => {
    const server = await startTestServer();
    try {
      const url = wsUrl(server, '/r/origins');
      for (const scheme of ['https', 'ftp', 'ws']) {
        const error = await refused(url, { protocols: ['wschat.v1'], origin: `${scheme}://127.0.0.1:${server.port}` });
        assert.equal(error.status, 403, scheme);
      }
    } finally {
      await server.close();
    }
  });

  test('attack: an HTTP/2.0 request line on the HTTP/1.1 port gets 505, for pages and upgrades', T, async () => {
    const server = await startTestServer();
    try {
      const host = `127.0.0.1:${server.port}`;
      assert.match(await rawStatusLine(server.port, `GET / HTTP/2.0\r\nHost: ${host}\r\n\r\n`), / 505 /);
      assert.match(await rawStatusLine(server.port, upgradeRequest('2.0', { Host: host })), / 505 /);
      assert.match(await rawStatusLine(server.port, `GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`), / 200 /);
    } finally {
      await server.close();
    }
  });

  test('attack: a WebSocket that never joins is closed after the join deadline (4002); joined ones stay', T, async () => {
    const clock = new ManualClock();
    const server = await startTestServer({ clock, joinTimeoutMs: 60_000 });
    try {
      const url = wsUrl(server, '/r/deadline');
      const idle = await JsonClient.open(url);
      const member = await JsonClient.joined(url, 'joiner');
      const plain = await PlainClient.open(url);
      await plain.welcomed();
      clock.advance(59_000);
      assert.equal((await idle.tryJoin('late-but-in-time')).type, 'welcome', 'a join before the deadline counts');
      const idle2 = await JsonClient.open(url);
      clock.advance(60_000);
      assert.deepEqual(await within(idle2.closed, 'the idle connection closed'), { code: 4002, reason: 'join timed out' });
      // The joined ones stay: they still chat.
      assert.equal((await member.say('still here')).type, 'ack');
      await plain.line('joiner :: still here');
      await idle.close();
      await member.close();
      await plain.close();
    } finally {
      await server.close();
    }
  });

  test('invalid room paths get 404, and the server keeps serving', T, async () => {
    const server = await startTestServer();
    try {
      for (const path of ['/r/bad name', '/x', '/r/', `/r/${'a'.repeat(65)}`, '/r/a/b', '/r/a%7Bb%7D', '/r/p%D0%B0ypal']) {
        const error = await refused(wsUrl(server, path), { protocols: ['wschat.v1'] });
        assert.equal(error.status, 404, path);
      }
      const client = await JsonClient.joined(wsUrl(server, '/r/fine?x=1'), 'still-ok');
      assert.equal(client.all('welcome')[0]?.room, 'fine');
      await client.close();
    } finally {
      await server.close();
    }
  });

  test('a subprotocol other than wschat.v1 gets the plain door', T, async () => {
    const server = await startTestServer();
    try {
      const ws = await connect(wsUrl(server, '/r/other'), { protocols: ['chat.v9'] });
      assert.equal(ws.protocol, '');
      const lines = new Mailbox<string>();
      ws.on('message', (data) => lines.push(String(data)));
      await lines.take((l) => /^You are guest-[0-9a-f]{4} in /.test(l), 'the plain welcome');
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.close(1000, '');
      assert.equal(await within(closed, 'close'), 1000);
    } finally {
      await server.close();
    }
  });
});

describe('administrator console', () => {
  test('a console line reaches every door; /rooms, /say and /kick work', T, async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const replies = new Mailbox<string>();
    let buffered = '';
    output.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) replies.push(line);
    });
    const server = await startTestServer({ tcpPort: 0, console: { input, output } });
    try {
      const json = await JsonClient.joined(wsUrl(server, '/r/lobby'), 'jason');
      const plain = await PlainClient.open(wsUrl(server, '/'));
      await plain.welcomed();
      const tcp = await TcpClient.open(server.tcpPort ?? 0);
      await tcp.login('terry');
      const other = await JsonClient.joined(wsUrl(server, '/r/elsewhere'), 'olga');

      input.write('Restart at 18:00\n');
      assert.equal(await replies.take((l) => l.startsWith('sent'), 'the console reply'), 'sent to 2 rooms');
      const admin = await json.expect('admin');
      assert.deepEqual([admin.nick, admin.text], ['Administrator', 'Restart at 18:00']);
      assert.equal((await other.expect('admin')).text, 'Restart at 18:00');
      assert.equal(await plain.line(/^\*\*\*/), '*** Administrator :: Restart at 18:00');
      assert.equal(await tcp.line(/^\*\*\* \[Admin/), '*** [Administrator] Restart at 18:00');

      input.write('/rooms\n');
      assert.match(await replies.take((l) => l.startsWith('elsewhere'), '/rooms'), /^elsewhere\s+1 member, last seq \d+$/);
      assert.match(await replies.take((l) => l.startsWith('lobby'), '/rooms'), /^lobby\s+3 members, last seq \d+$/);

      input.write('/say elsewhere only here\n');
      assert.equal(await replies.take((l) => l.startsWith('sent'), '/say'), 'sent to elsewhere');
      assert.equal((await other.expect('admin')).text, 'only here');

      input.write('/kick lobby jason\n');
      assert.equal(await replies.take((l) => l.endsWith('kicked'), '/kick'), 'jason was kicked');
      assert.equal((await within(json.closed, 'kicked')).code, ChatCloseCode.POLICY_VIOLATION);
      assert.equal(await plain.line(/kicked/), 'jason was kicked by Administrator');
      assert.equal(json.all('admin').length, 1, 'the lobby did not get /say elsewhere');

      await plain.close();
      tcp.close();
      await other.close();
    } finally {
      await server.close();
    }
  });
});

describe('lifecycle', () => {
  test('url, /healthz counts, and graceful close: every door is told (1001) and nothing is accepted after', T, async () => {
    const server = await startTestServer({ tcpPort: 0, healthDetails: true });
    assert.equal(server.url, `http://127.0.0.1:${server.port}`);
    const json = await JsonClient.joined(wsUrl(server, '/r/bye'), 'jason');
    const plain = await PlainClient.open(wsUrl(server, '/r/bye'));
    await plain.welcomed();
    const tcp = await TcpClient.open(server.tcpPort ?? 0);
    await tcp.login('terry');
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
    assert.deepEqual(health, { status: 'ok', rooms: 2, connections: 3 });

    await within(server.close(), 'server.close()');
    assert.deepEqual(await within(json.closed, 'json closed'), { code: 1001, reason: 'server shutting down' });
    assert.deepEqual(await within(plain.closed, 'plain closed'), { code: 1001, reason: 'server shutting down' });
    await within(tcp.closed, 'tcp closed');
    assert.match(tcp.text, /\*\*\* Disconnected: server shutting down\.\r\n$/);
    // No "left" notices on the way out: members come back after a restart.
    assert.equal(json.all('notice').filter((n) => n.event === 'leave').length, 0);
    await assert.rejects(connect(wsUrl(server, '/r/bye')), /ECONNREFUSED/);
    await assert.rejects(TcpClient.open(server.tcpPort ?? 0), /ECONNREFUSED/);
    await within(server.close(), 'a second close()');
  });

  test('with a certificate: https:// for the page and /healthz, wss:// for both WebSocket doors', T, async () => {
    const { cert, key } = selfSignedCertificate();
    const server = await startTestServer({ tls: { cert, key } });
    try {
      assert.equal(server.url, `https://127.0.0.1:${server.port}`);
      const health = await new Promise<string>((resolve, reject) => {
        httpsGet(`${server.url}/healthz`, { ca: cert }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      assert.equal(JSON.parse(health).status, 'ok');
      const url = `wss://127.0.0.1:${server.port}/r/secure`;
      const json = await JsonClient.open(url, { tls: { ca: cert }, origin: server.url });
      await json.join('alice');
      const plain = await PlainClient.open(url, { tls: { ca: cert } });
      const nick = await plain.welcomed();
      plain.send('over TLS');
      assert.equal((await json.expect('message')).text, 'over TLS');
      assert.equal(await plain.line(/::/), `${nick} :: over TLS`);
      await assert.rejects(PlainClient.open(url), /self[- ]signed|certificate/i);
      await json.close();
      await plain.close();
    } finally {
      await server.close();
    }
  });

  test('when a port cannot be bound, startChatServer rejects and releases what it opened', T, async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    try {
      const port = await freePort();
      await assert.rejects(startTestServer({ port, tcpPort: taken }), /EADDRINUSE/);
      // The HTTP port was released: a server can start on it now.
      const again = await startTestServer({ port });
      assert.equal(again.port, port);
      await again.close();
      await assert.rejects(startTestServer({ port: taken }), /EADDRINUSE/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
