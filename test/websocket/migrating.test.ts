/**
 * docs/migrating-from-ws.md, row by row: each test is named after its row
 * (S = server, C = client, W = WebSocket) and shows the row's "ours" working.
 * The last test checks that every row of the table has a test here.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import {
  connect,
  HandshakeError,
  type ValidatedRequest,
  WebSocket,
  WebSocketServer,
  type WebSocketServerOptions,
  ZLIB_CONCURRENCY,
} from '../../src/websocket/index.js';
import { selfSignedCertificate } from '../support/tls.js';

const HOST = '127.0.0.1';
const T = { timeout: 15_000 };
const tested: string[] = [];

type Handle = WebSocketServer | http.Server | net.Server | net.Socket | WebSocket;
const handles = new Set<Handle>();
function track<H extends Handle>(handle: H): H {
  handles.add(handle);
  return handle;
}
after(async () => {
  for (const handle of handles) {
    if (handle instanceof WebSocket) handle.terminate();
    else if (handle instanceof net.Socket) handle.destroy();
  }
  for (const handle of handles) {
    if (handle instanceof WebSocketServer) {
      for (const client of handle.clients) client.terminate();
      await handle.close();
    } else if (handle instanceof http.Server) {
      handle.closeAllConnections();
      handle.close();
    } else if (handle instanceof net.Server) handle.close();
  }
});

/** A test for one row of the table. */
function row(id: string, name: string, fn: () => Promise<void> | void): void {
  tested.push(id);
  test(`${id} ${name}`, T, fn);
}

async function listening(options: WebSocketServerOptions = {}): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = track(new WebSocketServer({ port: 0, host: HOST, ...options }));
  await wss.ready();
  return { wss, url: `ws://${HOST}:${wss.address()!.port}/` };
}

function echo(wss: WebSocketServer): void {
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
}

async function roundTrip(ws: WebSocket, data: string): Promise<string | Buffer> {
  const reply = once(ws, 'message');
  ws.send(data);
  return ((await reply) as [string | Buffer])[0];
}

async function httpServer(handler?: http.RequestListener): Promise<{ server: http.Server; port: number }> {
  const server = track(http.createServer(handler));
  server.listen(0, HOST);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

function closed(ws: WebSocket): Promise<[number, string, boolean]> {
  return new Promise((resolve) => ws.once('close', (...args) => resolve(args)));
}

/** A server that answers no handshake: the connection stays in its handshake. */
async function silentServer(): Promise<string> {
  const server = track(net.createServer((socket) => socket.on('error', () => {})));
  server.listen(0, HOST);
  await once(server, 'listening');
  return `ws://${HOST}:${(server.address() as AddressInfo).port}/`;
}

describe('WebSocketServer', () => {
  row('S1', 'new WebSocketServer({ port }), then await ready()', async () => {
    const wss = track(new WebSocketServer({ port: 0 }));
    await wss.ready();
    assert.ok(wss.address()!.port > 0);
  });

  row('S2', 'option host', async () => {
    const { wss } = await listening({ host: HOST });
    assert.equal(wss.address()!.address, HOST);
  });

  row('S3', 'option server: an http server', async () => {
    const { server, port } = await httpServer();
    const wss = track(new WebSocketServer({ server }));
    echo(wss);
    const ws = track(await connect(`ws://${HOST}:${port}/`));
    assert.equal(await roundTrip(ws, 'via http'), 'via http');
  });

  row('S4', 'noServer: no port, no server, handleUpgrade', async () => {
    const wss = track(new WebSocketServer());
    echo(wss);
    const { server, port } = await httpServer();
    server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head));
    const ws = track(await connect(`ws://${HOST}:${port}/`));
    assert.equal(await roundTrip(ws, 'no server'), 'no server');
  });

  row('S5', 'option path: other paths get 404', async () => {
    const { url } = await listening({ path: '/chat' });
    const error = await connect(`${url}other`).catch((e: unknown) => e);
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 404);
    track(await connect(`${url}chat`));
  });

  row('S6', 'backlog: give it to your own server', async () => {
    const server = track(http.createServer());
    server.listen({ port: 0, host: HOST, backlog: 1024 });
    await once(server, 'listening');
    const wss = track(new WebSocketServer({ server }));
    echo(wss);
    const ws = track(await connect(`ws://${HOST}:${(server.address() as AddressInfo).port}/`));
    assert.equal(await roundTrip(ws, 'backlog'), 'backlog');
  });

  row('S7', 'clientTracking: wss.clients always', async () => {
    const { wss, url } = await listening();
    const ws = track(await connect(url));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(wss.clients.size, 1);
    ws.close();
    await closed(ws);
  });

  row('S8', 'handleProtocols -> selectProtocol', async () => {
    const { url } = await listening({ selectProtocol: (offered) => (offered.includes('chat') ? 'chat' : null) });
    const ws = track(await connect(url, { protocols: ['superchat', 'chat'] }));
    assert.equal(ws.protocol, 'chat');
    const none = track(await connect(url, { protocols: ['other'] }));
    assert.equal(none.protocol, '');
  });

  row('S9', 'maxPayload -> maxMessageSize: over it closes with 1009', async () => {
    const { url } = await listening({ maxMessageSize: 1000 });
    const ws = track(await connect(url));
    const done = closed(ws);
    ws.send('x'.repeat(1001));
    assert.equal((await done)[0], 1009);
  });

  row('S10', 'perMessageDeflate, with the same parameter names', async () => {
    const { wss, url } = await listening({ perMessageDeflate: { threshold: 0, serverNoContextTakeover: true } });
    echo(wss);
    const ws = track(await connect(url, { perMessageDeflate: true }));
    assert.match(ws.extensions, /^permessage-deflate; server_no_context_takeover/);
    assert.equal(await roundTrip(ws, 'squeeze '.repeat(100)), 'squeeze '.repeat(100));
    assert.ok(ZLIB_CONCURRENCY >= 1, 'the process-wide zlib concurrency (ws: concurrencyLimit)');
  });

  row('S11', 'no skipUTF8Validation: invalid UTF-8 always closes with 1007', async () => {
    const { url } = await listening();
    const ws = track(await connect(url));
    const done = closed(ws);
    ws.socket.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28]));
    assert.equal((await done)[0], 1007);
  });

  row('S12', 'verifyClient -> accept', async () => {
    const { url } = await listening({ accept: ({ origin }) => origin === 'https://example.com' });
    track(await connect(url, { origin: 'https://example.com' }));
    const error = await connect(url, { origin: 'https://evil.example' }).catch((e: unknown) => e);
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, 403);
  });

  row('S13', 'option autoPong', async () => {
    const { wss, url } = await listening({ autoPong: false });
    const pinged = new Promise<WebSocket>((resolve) => wss.on('connection', (ws) => ws.on('ping', () => resolve(ws))));
    const ws = track(await connect(url));
    let ponged = false;
    ws.on('pong', () => {
      ponged = true;
    });
    ws.ping('x');
    const serverSide = await pinged;
    // Nothing answered it; the application does.
    assert.equal(ponged, false);
    serverSide.pong('mine');
    assert.deepEqual(await once(ws, 'pong'), [Buffer.from('mine')]);
  });

  row('S14', 'allowSynchronousEvents: events come one at a time, as parsed', async () => {
    const { wss, url } = await listening();
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      wss.on('connection', (ws) =>
        ws.on('message', (data) => {
          got.push(String(data));
          if (got.length === 3) resolve();
        }),
      ),
    );
    const ws = track(await connect(url));
    for (const m of ['a', 'b', 'c']) ws.send(m);
    await all;
    assert.deepEqual(got, ['a', 'b', 'c']);
  });

  row('S15', 'option WebSocket: wrap the connection instead', async () => {
    const { wss, url } = await listening();
    const wrapped = new Promise<{ ws: WebSocket; joined: number }>((resolve) => wss.on('connection', (ws) => resolve({ ws, joined: 1 })));
    track(await connect(url));
    assert.equal((await wrapped).joined, 1);
  });

  row('S16', 'maxBackpressure: a reader that does not read is closed with 1008', async () => {
    const { wss, url } = await listening({ maxBackpressure: 1 << 20, closeTimeout: 200 });
    const accepted = once(wss, 'connection');
    const ws = track(await connect(url));
    ws.pause(); // this client stops reading
    const [serverSide] = (await accepted) as [WebSocket];
    const done = closed(serverSide);
    const chunk = Buffer.alloc(256 * 1024);
    for (let i = 0; i < 400 && serverSide.readyState === WebSocket.OPEN; i++) serverSide.send(chunk);
    assert.notEqual(serverSide.readyState, WebSocket.OPEN, 'failed before 100 MiB were queued');
    assert.ok(serverSide.bufferedAmount < 1.5 * (1 << 20) + (4 << 20), 'memory stayed near the limit');
    assert.equal((await done)[0], 1008);
  });

  row('S17', 'heartbeat: a peer that does not answer pings is dropped', async () => {
    const { wss, url } = await listening({ heartbeat: { interval: 30, timeout: 60 } });
    const accepted = once(wss, 'connection');
    track(await connect(url, { autoPong: false }));
    const [serverSide] = (await accepted) as [WebSocket];
    assert.equal((await closed(serverSide))[0], 1006);
  });

  row('S18', "event 'connection' (ws, request): the validated handshake", async () => {
    const { wss, url } = await listening();
    const accepted = once(wss, 'connection');
    track(await connect(`${url}room?x=1`, { origin: 'https://example.com' }));
    const [, request] = (await accepted) as [WebSocket, ValidatedRequest];
    assert.equal(request.path, '/room');
    assert.equal(request.query, 'x=1');
    assert.equal(request.origin, 'https://example.com');
    assert.equal(request.headers.get('sec-websocket-version'), '13');
  });

  row('S19', "event 'headers': add a header to the 101", async () => {
    const { wss, url } = await listening();
    wss.on('headers', (headers) => headers.push(['Set-Cookie', 'session=abc']));
    const socket = track(net.connect(new URL(url).port as unknown as number, HOST));
    await once(socket, 'connect');
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${HOST}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    let head = '';
    while (!head.includes('\r\n\r\n')) head += String((await once(socket, 'data'))[0]);
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /\r\nSet-Cookie: session=abc\r\n/);
  });

  row('S20', "event 'listening'", async () => {
    const wss = track(new WebSocketServer({ port: 0, host: HOST }));
    await once(wss, 'listening');
  });

  row('S21', "event 'error'", async () => {
    const { wss } = await listening();
    const taken = wss.address()!.port;
    const second = track(new WebSocketServer({ port: taken, host: HOST }));
    const [error] = (await once(second, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'EADDRINUSE');
  });

  row('S22', "wsClientError -> 'rejected' (already answered)", async () => {
    const { wss, url } = await listening();
    const rejected = once(wss, 'rejected');
    const socket = track(net.connect(Number(new URL(url).port), HOST));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [error] = (await rejected) as [HandshakeError];
    assert.equal(error.code, 'UPGRADE_REQUIRED');
    assert.equal(error.status, 426);
  });

  row('S23', "event 'close'", async () => {
    const { wss } = await listening();
    const done = once(wss, 'close');
    await wss.close();
    await done;
  });

  row('S24', 'wss.address()', async () => {
    const { wss } = await listening();
    assert.equal(typeof wss.address()!.port, 'number');
  });

  row('S25', 'wss.clients is a Set of the connections', async () => {
    const { wss, url } = await listening();
    const accepted = once(wss, 'connection');
    track(await connect(url));
    const [serverSide] = (await accepted) as [WebSocket];
    assert.ok(wss.clients instanceof Set);
    assert.ok(wss.clients.has(serverSide));
  });

  row('S26', 'await wss.close() also closes the connections with 1001', async () => {
    const { wss, url } = await listening();
    const ws = track(await connect(url));
    const done = closed(ws);
    await wss.close();
    assert.equal((await done)[0], 1001);
  });

  row('S27', 'handleUpgrade(req, socket, head, callback)', async () => {
    const wss = track(new WebSocketServer());
    let emitted = 0;
    wss.on('connection', () => emitted++);
    const { server, port } = await httpServer();
    const got = new Promise<[WebSocket, ValidatedRequest]>((resolve) =>
      server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws, request) => resolve([ws, request]))),
    );
    track(await connect(`ws://${HOST}:${port}/cb`));
    const [ws, request] = await got;
    assert.equal(request.path, '/cb');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(emitted, 0, "with a callback there is no 'connection' event");
  });

  row('S28', 'wss.shouldHandle(req)', () => {
    const wss = track(new WebSocketServer({ path: '/chat' }));
    assert.equal(wss.shouldHandle({ url: '/chat?x=1' }), true);
    assert.equal(wss.shouldHandle({ url: '/other' }), false);
  });

  row('S29', 'wss.broadcast(data, options): one frame for all', async () => {
    const { wss, url } = await listening();
    const a = track(await connect(url));
    const b = track(await connect(url));
    await new Promise((resolve) => setImmediate(resolve));
    const got = Promise.all([once(a, 'message'), once(b, 'message')]);
    assert.equal(wss.broadcast('news', { maxBackpressure: 1 << 20 }), 2);
    assert.deepEqual(
      (await got).map(([data]) => data),
      ['news', 'news'],
    );
    // The earlier signature: the connections as second argument.
    const first = [...wss.clients][0]!;
    const only = once(a, 'message');
    assert.equal(wss.broadcast(Buffer.from([1]), [first]), 1);
    assert.deepEqual(await only, [Buffer.from([1]), true]);
  });
});

describe('Client', () => {
  let url: string;
  let wss: WebSocketServer;
  const seen: ValidatedRequest[] = [];
  const ready = (async () => {
    ({ wss, url } = await listening({ perMessageDeflate: true, selectProtocol: (o) => o[0] ?? null }));
    wss.on('connection', (ws, request) => {
      seen.push(request);
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  })();

  row('C1', 'new WebSocket(url, protocols) -> await connect(url, { protocols })', async () => {
    await ready;
    const ws = track(await connect(url, { protocols: ['chat'] }));
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(ws.protocol, 'chat');
  });

  row('C2', "'open' -> await connect()", async () => {
    await ready;
    const ws = track(await connect(url));
    assert.equal(await roundTrip(ws, 'opened'), 'opened');
  });

  row('C3', 'handshakeTimeout', async () => {
    const error = await connect(await silentServer(), { handshakeTimeout: 100 }).catch((e: unknown) => e);
    assert.equal((error as HandshakeError).code, 'HANDSHAKE_TIMEOUT');
  });

  row('C4', 'followRedirects, maxRedirects; credentials stay with their origin', async () => {
    await ready;
    const target = new URL(url);
    const hops: Array<string | undefined> = [];
    const { port } = await httpServer((req, res) => {
      hops.push(req.headers.authorization);
      const n = Number(req.url?.slice(1) || 0);
      // Two hops on this origin, then to the WebSocket server (127.0.0.1 vs localhost: another origin).
      res.writeHead(302, { Location: n < 2 ? `/${n + 1}` : `ws://localhost:${target.port}/landed` });
      res.end();
    });
    const start = `ws://${HOST}:${port}/0`;
    const ws = track(await connect(start, { followRedirects: true, headers: { Authorization: 'Bearer t' } }));
    assert.equal(seen.at(-1)!.path, '/landed');
    assert.equal(seen.at(-1)!.headers.get('authorization'), undefined, 'not sent to another origin');
    assert.deepEqual(hops, ['Bearer t', 'Bearer t', 'Bearer t']);
    assert.equal(ws.url, `ws://localhost:${target.port}/landed`);
    const error = await connect(start, { followRedirects: true, maxRedirects: 1 }).catch((e: unknown) => e);
    assert.equal((error as HandshakeError).code, 'TOO_MANY_REDIRECTS');
    const unfollowed = await connect(start).catch((e: unknown) => e);
    assert.equal((unfollowed as HandshakeError).status, 302);
  });

  row('C5', "'redirect' -> the error's headers.location", async () => {
    const { port } = await httpServer((_req, res) => {
      res.writeHead(301, { Location: 'ws://example.invalid/' });
      res.end();
    });
    const error = (await connect(`ws://${HOST}:${port}/`).catch((e: unknown) => e)) as HandshakeError;
    assert.equal(error.headers.location, 'ws://example.invalid/');
  });

  row('C6', "'unexpected-response' -> HandshakeError UNEXPECTED_STATUS", async () => {
    const { port } = await httpServer((_req, res) => {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic' });
      res.end();
    });
    const error = (await connect(`ws://${HOST}:${port}/`).catch((e: unknown) => e)) as HandshakeError;
    assert.equal(error.code, 'UNEXPECTED_STATUS');
    assert.equal(error.status, 401);
    assert.equal(error.headers['www-authenticate'], 'Basic');
  });

  row('C7', "'upgrade' -> ws.protocol and ws.extensions", async () => {
    await ready;
    const ws = track(await connect(url, { protocols: ['p1'], perMessageDeflate: true }));
    assert.equal(ws.protocol, 'p1');
    assert.match(ws.extensions, /^permessage-deflate/);
  });

  row('C8', 'maxPayload -> maxMessageSize', async () => {
    await ready;
    const ws = track(await connect(url, { maxMessageSize: 100 }));
    const done = closed(ws);
    ws.send('x'.repeat(101)); // echoed back: too big for this client
    assert.equal((await done)[0], 1009);
  });

  row('C9', 'origin', async () => {
    await ready;
    track(await connect(url, { origin: 'https://example.com' }));
    assert.equal(seen.at(-1)!.origin, 'https://example.com');
  });

  row('C10', 'headers', async () => {
    await ready;
    track(await connect(url, { headers: { 'X-Trace': 'abc' } }));
    assert.equal(seen.at(-1)!.headers.get('x-trace'), 'abc');
  });

  row('C11', 'perMessageDeflate: off unless asked', async () => {
    await ready;
    assert.equal(track(await connect(url)).extensions, '');
    assert.match(track(await connect(url, { perMessageDeflate: true })).extensions, /permessage-deflate/);
  });

  row('C12', 'createConnection', async () => {
    await ready;
    let made = 0;
    const ws = track(
      await connect(url, {
        createConnection: (options) => {
          made++;
          return net.connect(options.port, options.host);
        },
      }),
    );
    assert.equal(made, 1);
    assert.equal(await roundTrip(ws, 'custom'), 'custom');
  });

  row('C13', 'agent', async () => {
    await ready;
    const agent = new http.Agent();
    let used = 0;
    const original = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof original>) => {
      used++;
      return original(...args);
    }) as typeof agent.createConnection;
    const ws = track(await connect(url, { agent, perMessageDeflate: true }));
    assert.equal(used, 1);
    assert.match(ws.extensions, /permessage-deflate/);
    assert.equal(await roundTrip(ws, 'through the agent'), 'through the agent');
    agent.destroy();
  });

  row('C14', 'credentials in the URL -> Basic authentication', async () => {
    await ready;
    const withCredentials = url.replace('ws://', 'ws://al%20ice:s3cr%3At@');
    track(await connect(withCredentials));
    assert.equal(seen.at(-1)!.headers.get('authorization'), `Basic ${Buffer.from('al ice:s3cr:t').toString('base64')}`);
    assert.equal(seen.at(-1)!.host, new URL(url).host, 'no credentials in Host');
  });

  row('C15', 'autoPong', async () => {
    await ready;
    const ws = track(await connect(url, { autoPong: false }));
    // The server pings; this client reports it and does not answer by itself.
    const serverSide = [...wss.clients].at(-1)!;
    let ponged = false;
    serverSide.on('pong', () => {
      ponged = true;
    });
    const pinged = once(ws, 'ping');
    serverSide.ping('x');
    await pinged;
    assert.equal(ponged, false);
  });

  row('C16', 'signal: an AbortSignal cancels the attempt', async () => {
    const controller = new AbortController();
    const attempt = connect(await silentServer(), { signal: controller.signal });
    controller.abort(new Error('changed my mind'));
    await assert.rejects(attempt, /changed my mind/);
    const already = AbortSignal.abort();
    await assert.rejects(connect(url, { signal: already }), { name: 'AbortError' });
  });

  row('C17', 'heartbeat: a server that does not answer pings is dropped', async () => {
    const { url: mute } = await listening({ autoPong: false });
    const ws = track(await connect(mute, { heartbeat: { interval: 30, timeout: 60 } }));
    assert.equal((await closed(ws))[0], 1006);
  });

  row('C18', 'maxBackpressure', async () => {
    const { wss: other, url: otherUrl } = await listening();
    other.on('connection', (ws) => ws.pause()); // the server stops reading
    const ws = track(await connect(otherUrl, { maxBackpressure: 1 << 20, closeTimeout: 200 }));
    const done = closed(ws);
    for (let i = 0; i < 400 && ws.readyState === WebSocket.OPEN; i++) ws.send(Buffer.alloc(256 * 1024));
    assert.notEqual(ws.readyState, WebSocket.OPEN);
    assert.equal((await done)[0], 1008);
  });

  row('C19', 'no generateMask: keys from crypto', async () => {
    await ready;
    const ws = track(await connect(url));
    assert.equal(await roundTrip(ws, 'masked'), 'masked');
  });

  row('C20', 'protocolVersion: 13 only', async () => {
    await ready;
    track(await connect(url));
    assert.equal(seen.at(-1)!.headers.get('sec-websocket-version'), '13');
  });

  row('C21', 'no skipUTF8Validation: the client validates too', async () => {
    const { wss: bad, url: badUrl } = await listening();
    bad.on('connection', (ws) => ws.socket.write(Buffer.from([0x81, 0x02, 0xc3, 0x28])));
    const ws = track(await connect(badUrl));
    assert.equal((await closed(ws))[0], 1007);
  });

  row('C22', 'finishRequest -> headers', async () => {
    await ready;
    track(await connect(url, { headers: { 'X-Request-Id': '42' } }));
    assert.equal(seen.at(-1)!.headers.get('x-request-id'), '42');
  });

  row('C23', 'TLS options under tls', async () => {
    const { cert, key } = selfSignedCertificate();
    const { wss: secure } = await listening({ tls: { cert, key } });
    echo(secure);
    const ws = track(await connect(`wss://localhost:${secure.address()!.port}/`, { tls: { ca: cert } }));
    assert.equal(await roundTrip(ws, 'secure'), 'secure');
  });
});

describe('WebSocket', () => {
  let url: string;
  let wss: WebSocketServer;
  const ready = (async () => {
    ({ wss, url } = await listening({ perMessageDeflate: { threshold: 0 } }));
    echo(wss);
  })();

  row('W1', 'send(data, { binary, compress, fin }, callback)', async () => {
    await ready;
    const ws = track(await connect(url, { perMessageDeflate: true }));
    const written = new Promise<Error | null | undefined>((resolve) => ws.send('as bytes', { binary: true, compress: false }, resolve));
    const [data, isBinary] = await once(ws, 'message');
    assert.equal(isBinary, true);
    assert.deepEqual(data, Buffer.from('as bytes'));
    assert.equal(await written, null);
    ws.send('frag', { fin: false });
    ws.send('ment', { fin: false });
    ws.send('ed', { fin: true });
    assert.deepEqual(await once(ws, 'message'), ['fragmented', false]);
    // Bytes sent as text must be UTF-8.
    assert.throws(() => ws.send(Buffer.from([0xc3, 0x28]), { binary: false }), TypeError);
    const late = await new Promise<Error | null | undefined>((resolve) => {
      ws.close();
      ws.send('too late', resolve);
    });
    assert.equal((late as { code?: string }).code, 'INVALID_STATE');
  });

  row('W2', 'typed arrays, ArrayBuffer, DataView, Blob and numbers, by byte length', async () => {
    await ready;
    const ws = track(await connect(url));
    const floats = new Float32Array([1.5, 2.5]);
    const reply = once(ws, 'message');
    ws.send(floats);
    assert.deepEqual((await reply)[0], Buffer.from(floats.buffer));
    assert.equal(await roundTrip(ws, 7 as unknown as string), '7');
  });

  row('W3', 'ping(data)', async () => {
    await ready;
    const ws = track(await connect(url));
    ws.ping('are you there');
    assert.deepEqual(await once(ws, 'pong'), [Buffer.from('are you there')]);
  });

  row('W4', 'pong(data)', async () => {
    await ready;
    const accepted = once(wss, 'connection');
    const ws = track(await connect(url));
    const [serverSide] = (await accepted) as [WebSocket];
    const got = once(serverSide, 'pong');
    ws.pong();
    assert.deepEqual(await got, [Buffer.alloc(0)]);
  });

  row('W5', 'close(code, reason); close() sends 1000', async () => {
    await ready;
    const accepted = once(wss, 'connection');
    const ws = track(await connect(url));
    const [serverSide] = (await accepted) as [WebSocket];
    const seenByServer = closed(serverSide);
    ws.close(4000, 'bye');
    assert.deepEqual(await seenByServer, [4000, 'bye', true]);
    const accepted2 = once(wss, 'connection');
    const ws2 = track(await connect(url));
    const [serverSide2] = (await accepted2) as [WebSocket];
    const seen2 = closed(serverSide2);
    ws2.close();
    assert.equal((await seen2)[0], 1000);
  });

  row('W6', 'terminate()', async () => {
    await ready;
    const ws = track(await connect(url));
    const done = closed(ws);
    ws.terminate();
    assert.deepEqual(await done, [1006, '', false]);
  });

  row('W7', 'pause(), resume(), isPaused', async () => {
    await ready;
    const { wss: paused, url: pausedUrl } = await listening();
    const accepted = once(paused, 'connection');
    const ws = track(await connect(pausedUrl));
    const [serverSide] = (await accepted) as [WebSocket];
    const got: string[] = [];
    serverSide.on('message', (data) => got.push(String(data)));
    serverSide.pause();
    assert.equal(serverSide.isPaused, true);
    ws.send('a');
    ws.send('b');
    // A round trip on another connection: the server's loop has turned with
    // these bytes in its socket buffer, and delivered nothing.
    const other = track(await connect(url));
    await roundTrip(other, 'tick');
    assert.deepEqual(got, []);
    const both = new Promise<void>((resolve) => serverSide.on('message', () => got.length === 2 && resolve()));
    serverSide.resume();
    await both;
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(serverSide.isPaused, false);
  });

  row('W8', 'readyState and the constants', async () => {
    await ready;
    const ws = track(await connect(url));
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.deepEqual([WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED], [0, 1, 2, 3]);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    await closed(ws);
    assert.equal(ws.readyState, WebSocket.CLOSED);
  });

  row('W9', 'bufferedAmount', async () => {
    await ready;
    const ws = track(await connect(url));
    ws.send('x'.repeat(1000));
    assert.ok(ws.bufferedAmount >= 1000);
  });

  row('W10', 'protocol, extensions, url', async () => {
    await ready;
    const ws = track(await connect(url, { perMessageDeflate: true }));
    assert.equal(ws.protocol, '');
    assert.match(ws.extensions, /^permessage-deflate/);
    assert.equal(ws.url, url);
  });

  row('W11', "'message' (data, isBinary): text as a string, binary as a Buffer", async () => {
    await ready;
    const ws = track(await connect(url));
    assert.equal(await roundTrip(ws, 'text'), 'text');
    const reply = once(ws, 'message');
    ws.send(Buffer.from('bytes'));
    assert.deepEqual(await reply, [Buffer.from('bytes'), true]);
  });

  row('W12', "'close' (code, reason: string, wasClean)", async () => {
    await ready;
    const ws = track(await connect(url));
    const done = closed(ws);
    ws.close(1000, 'done');
    const [code, reason, wasClean] = await done;
    assert.equal(code, 1000);
    assert.equal(typeof reason, 'string');
    assert.equal(wasClean, true);
  });

  row('W13', "'error', only when listened to", async () => {
    const { wss: bad, url: badUrl } = await listening();
    bad.on('connection', (ws) => ws.socket.write(Buffer.from([0x83, 0x00]))); // reserved opcode
    const quiet = track(await connect(badUrl));
    assert.equal((await closed(quiet))[0], 1002, 'no listener, no crash');
    const loud = track(await connect(badUrl));
    const [error] = (await once(loud, 'error')) as [{ code: string }];
    assert.equal(error.code, 'RESERVED_OPCODE');
  });

  row('W14', "'ping' and 'pong'", async () => {
    await ready;
    const accepted = once(wss, 'connection');
    const ws = track(await connect(url));
    const [serverSide] = (await accepted) as [WebSocket];
    const pinged = once(serverSide, 'ping');
    const ponged = once(ws, 'pong');
    ws.ping('p');
    assert.deepEqual(await pinged, [Buffer.from('p')]);
    assert.deepEqual(await ponged, [Buffer.from('p')]);
  });

  row('W15', "'drain' after send() returned false", async () => {
    await ready;
    const ws = track(await connect(url));
    let sent = 0;
    while (ws.send(Buffer.alloc(64 * 1024))) sent++;
    await once(ws, 'drain');
    assert.ok(sent < 1000);
  });

  row('W16', 'binaryType: binary is always a Buffer', async () => {
    await ready;
    const ws = track(await connect(url));
    const reply = once(ws, 'message');
    ws.send(new Uint8Array([1, 2]));
    const [data] = (await reply) as [Buffer];
    assert.ok(Buffer.isBuffer(data));
    assert.deepEqual([...new Uint8Array(data)], [1, 2]);
  });

  row('W17', 'addEventListener / onmessage -> on()', async () => {
    await ready;
    const ws = track(await connect(url));
    const got = new Promise((resolve) => ws.on('message', resolve));
    ws.send('on');
    assert.equal(await got, 'on');
  });

  row('W18', 'createWebSocketStream -> the events', async () => {
    await ready;
    const ws = track(await connect(url));
    const chunks: string[] = [];
    const done = new Promise<void>((resolve) =>
      ws.on('message', (data) => {
        chunks.push(String(data));
        if (chunks.length === 2) resolve();
      }),
    );
    ws.send('one');
    ws.send('two');
    await done;
    assert.deepEqual(chunks, ['one', 'two']);
  });
});

test('every row of docs/migrating-from-ws.md has a test', () => {
  const doc = readFileSync(new URL('../../docs/migrating-from-ws.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| ([SCW]\d+) \|/gm)].map((m) => m[1]!);
  assert.ok(rows.length >= 60, `the table has ${rows.length} rows`);
  assert.deepEqual([...rows].sort(), [...tested].sort());
});
