/**
 * WebSockets over HTTP/2 (RFC 8441) through WebSocketServer attached to
 * `http2.createSecureServer({ allowHTTP1: true })`: every MUST of RFC 8441
 * checked with byte vectors (a raw HTTP/2 client, h2-raw.ts) or header
 * vectors (Node's HTTP/2 client), then the sans-I/O core driven over HTTP/2
 * streams on both sides: many WebSockets multiplexed on one TLS connection,
 * permessage-deflate, orderly and abnormal closes, and HTTP/1.1 WebSockets
 * from the same server.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../../src/websocket/node/client.js';
import { WebSocket } from '../../../src/websocket/node/connection.js';
import { WebSocketServer, type WebSocketServerOptions } from '../../../src/websocket/node/server.js';
import { parseExtensionHeader } from '../../../src/websocket/protocol/extension.js';
import type { ValidatedRequest } from '../../../src/websocket/protocol/handshake.js';
import { acceptServerResponse } from '../../../src/websocket/protocol/permessage-deflate.js';
import { Protocol } from '../../../src/websocket/protocol/protocol.js';
import { selfSignedCertificate } from '../../support/tls.js';
import { Flag, FrameType, parseSettings, RawHttp2Client } from './h2-raw.js';

const T = { timeout: 15_000 };
const { cert, key } = selfSignedCertificate();
/** RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL. */
const SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8;
/** RFC 9113 §7: error codes. */
const PROTOCOL_ERROR = 0x1;
const CANCEL = 0x8;

interface Server {
  h2: http2.Http2SecureServer;
  wss: WebSocketServer;
  port: number;
  seen: Array<{ ws: WebSocket; request: ValidatedRequest }>;
}

const servers: Server[] = [];
const sessions = new Set<ClientHttp2Session>();
after(async () => {
  for (const session of sessions) session.destroy();
  for (const { h2, wss } of servers) {
    for (const client of wss.clients) client.terminate();
    await wss.close();
    h2.close();
  }
});

/**
 * An HTTP/2 server (HTTP/1.1 allowed) with a page handler, and our
 * WebSocketServer on it echoing every message. `settings` as the
 * application wrote them (enableConnectProtocol on unless told otherwise).
 */
async function start(options: WebSocketServerOptions = {}, settings: http2.Settings = { enableConnectProtocol: true }): Promise<Server> {
  const h2 = http2.createSecureServer({ cert, key, allowHTTP1: true, settings }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`page over HTTP/${req.httpVersion}`);
  });
  const wss = new WebSocketServer({ server: h2, ...options });
  const seen: Server['seen'] = [];
  wss.on('connection', (ws, request) => {
    seen.push({ ws, request });
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
  h2.listen(0, '127.0.0.1');
  await once(h2, 'listening');
  const server = { h2, wss, port: (h2.address() as AddressInfo).port, seen };
  servers.push(server);
  return server;
}

/** A Node HTTP/2 session to the server, once the server's SETTINGS are in. */
async function session(port: number): Promise<ClientHttp2Session> {
  const s = http2.connect(`https://localhost:${port}`, { ca: cert });
  sessions.add(s);
  s.on('error', () => {});
  if (!s.remoteSettings?.enableConnectProtocol) await once(s, 'remoteSettings');
  return s;
}

/** RFC 8441 §5 request headers, with changes (null removes a field). */
function connectHeaders(port: number, path = '/chat', changes: Record<string, string | null> = {}): Record<string, string> {
  const headers: Record<string, string | null> = {
    ':method': 'CONNECT',
    ':protocol': 'websocket',
    ':scheme': 'https',
    ':path': path,
    ':authority': `localhost:${port}`,
    'sec-websocket-version': '13',
    ...changes,
  };
  return Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== null));
}

/** Send an extended CONNECT; resolve with the stream and the response headers. */
async function request(s: ClientHttp2Session, headers: Record<string, string>): Promise<{ stream: ClientHttp2Stream; response: IncomingHttpHeaders }> {
  const stream = s.request(headers, { endStream: false });
  stream.on('error', () => {});
  const [response] = (await once(stream, 'response')) as [IncomingHttpHeaders];
  return { stream, response };
}

/**
 * A WebSocket client over an HTTP/2 stream: the same sans-I/O core and Node
 * adapter as over TCP, the stream standing for the TCP connection (RFC 8441 §5).
 */
async function openWebSocket(
  s: ClientHttp2Session,
  port: number,
  options: { path?: string; protocols?: string[]; deflate?: boolean } = {},
): Promise<{ ws: WebSocket; stream: ClientHttp2Stream; response: IncomingHttpHeaders }> {
  const changes: Record<string, string> = {};
  if (options.protocols) changes['sec-websocket-protocol'] = options.protocols.join(', ');
  if (options.deflate) changes['sec-websocket-extensions'] = 'permessage-deflate; client_max_window_bits';
  const { stream, response } = await request(s, connectHeaders(port, options.path, changes));
  assert.equal(response[':status'], 200);
  const agreed = response['sec-websocket-extensions'];
  const deflate = agreed ? acceptServerResponse(parseExtensionHeader(String(agreed)), {}) : null;
  const ws = new WebSocket(stream, new Protocol('client', { deflate }), {
    protocol: String(response['sec-websocket-protocol'] ?? ''),
    extensions: deflate?.header ?? '',
  });
  return { ws, stream, response };
}

async function echo(ws: WebSocket, data: string | Buffer): Promise<string | Buffer> {
  const reply = once(ws, 'message');
  ws.send(data);
  return ((await reply) as [string | Buffer])[0];
}

function closeOf(ws: WebSocket): Promise<[number, string, boolean]> {
  return new Promise((resolve) => ws.once('close', (...args) => resolve(args)));
}

/** The response headers without the date (and Node's symbol keys), for exact comparison. */
function withoutDate(headers: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => name !== 'date'));
}

describe('RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL', () => {
  test('the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL = 1 (bytes 00 08 00 00 00 01 in its SETTINGS)', T, async () => {
    const { port } = await start();
    const raw = await RawHttp2Client.connect(port, cert);
    const settings = raw.frames.find((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0)!;
    assert.ok(settings.payload.toString('hex').match(/^(?:.{12})*000800000001/), settings.payload.toString('hex'));
    assert.equal(parseSettings(settings.payload).get(SETTINGS_ENABLE_CONNECT_PROTOCOL), 1);
    raw.close();
  });

  test('WebSocketServer turns it on when the application did not (no extended CONNECT without it)', T, async () => {
    const { port } = await start({}, {});
    const s = await session(port);
    assert.equal(s.remoteSettings.enableConnectProtocol, true);
    const { ws } = await openWebSocket(s, port);
    assert.equal(await echo(ws, 'enabled'), 'enabled');
  });
});

describe('RFC 8441 §4: the extended CONNECT', () => {
  let server: Server;
  before(async () => {
    server = await start();
  });
  const base = (port: number): Array<[string, string]> => [
    [':method', 'CONNECT'],
    [':protocol', 'websocket'],
    [':scheme', 'https'],
    [':path', '/chat'],
    [':authority', `localhost:${port}`],
    ['sec-websocket-version', '13'],
  ];

  for (const missing of [':path', ':scheme']) {
    test(`without ${missing} ("MUST also be included"): malformed, RST_STREAM PROTOCOL_ERROR (bytes 00 00 00 01)`, T, async () => {
      const raw = await RawHttp2Client.connect(server.port, cert);
      raw.request(1, base(server.port).filter(([name]) => name !== missing));
      const rst = await raw.next((f) => f.type === FrameType.RST_STREAM && f.stream === 1);
      assert.deepEqual([...rst.payload], [0x00, 0x00, 0x00, PROTOCOL_ERROR]);
      raw.close();
      assert.ok(!server.seen.some((c) => c.request.path === '/chat' && c.request.headers.get(':scheme') === undefined));
    });
  }

  test('a well-formed one on the raw connection is answered with HEADERS on its stream, not reset', T, async () => {
    const raw = await RawHttp2Client.connect(server.port, cert);
    raw.request(1, base(server.port));
    const headers = await raw.next((f) => f.stream === 1 && (f.type === FrameType.HEADERS || f.type === FrameType.RST_STREAM));
    assert.equal(headers.type, FrameType.HEADERS);
    assert.equal(headers.flags & Flag.END_STREAM, 0, 'the stream stays open: it is the WebSocket');
    raw.close();
  });

  test(':authority names a host we never connect to: the server is not a tunnel (§4 "MUST NOT create a tunnel")', T, async () => {
    const s = await session(server.port);
    const { stream, response } = await request(s, connectHeaders(server.port, '/elsewhere', { ':authority': 'example.invalid:9' }));
    assert.equal(response[':status'], 200);
    const { request: seen } = server.seen.at(-1)!;
    assert.equal(seen.host, 'example.invalid:9');
    assert.equal(seen.path, '/elsewhere');
    stream.close();
  });
});

describe('RFC 8441 §5: the WebSocket handshake over HTTP/2', () => {
  let server: Server;
  before(async () => {
    server = await start({ perMessageDeflate: true, selectProtocol: (offered) => (offered.includes('chat') ? 'chat' : null) });
  });

  test('accepted with 200 (MUST), no Sec-WebSocket-Accept, no Upgrade or Connection; subprotocol and extension negotiated', T, async () => {
    const s = await session(server.port);
    const { response, stream } = await request(
      s,
      connectHeaders(server.port, '/chat', {
        'sec-websocket-protocol': 'superchat, chat',
        'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits',
        origin: 'https://example.com',
      }),
    );
    assert.deepEqual(withoutDate(response), {
      ':status': 200,
      'sec-websocket-protocol': 'chat',
      // client_max_window_bits offered without a value and not limited by the server: not in the answer.
      'sec-websocket-extensions': 'permessage-deflate',
    });
    const { request: seen } = server.seen.at(-1)!;
    assert.equal(seen.method, 'CONNECT');
    assert.equal(seen.httpVersion, '2.0');
    assert.equal(seen.headers.get(':protocol'), 'websocket');
    assert.equal(seen.key, '');
    assert.equal(seen.origin, 'https://example.com');
    stream.close();
  });

  test('a Sec-WebSocket-Key is not processed: no Sec-WebSocket-Accept comes back', T, async () => {
    const s = await session(server.port);
    const { response, stream } = await request(s, connectHeaders(server.port, '/chat', { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' }));
    assert.equal(response[':status'], 200);
    assert.equal(response['sec-websocket-accept'], undefined);
    stream.close();
  });

  test('sec-websocket-version missing or not 13: 400 with sec-websocket-version: 13, stream ended', T, async () => {
    const s = await session(server.port);
    for (const version of [null, '8']) {
      const { response, stream } = await request(s, connectHeaders(server.port, '/chat', { 'sec-websocket-version': version }));
      assert.equal(response[':status'], 400);
      assert.equal(response['sec-websocket-version'], '13');
      let body = '';
      for await (const chunk of stream) body += String(chunk);
      assert.match(body, /sec-websocket-version must be 13/);
    }
  });

  test('the stream carries WebSocket frames as the TCP connection would (RFC 6455 §5.7 "Hello", both ways)', T, async () => {
    const s = await session(server.port);
    const { stream } = await request(s, connectHeaders(server.port));
    // A masked "Hello" from RFC 6455 §5.7, written raw into the stream.
    stream.write(Buffer.from('8185 37fa213d 7f9f4d5158'.replace(/ /g, ''), 'hex'));
    const [echoed] = (await once(stream, 'data')) as [Buffer];
    // The unmasked "Hello" of the same section comes back.
    assert.equal(echoed.toString('hex'), '810548656c6c6f');
    stream.close();
  });

  test('orderly closure is END_STREAM both ways (no RST_STREAM): close frames, then the stream ends; clean on both sides', T, async () => {
    const s = await session(server.port);
    const { ws, stream } = await openWebSocket(s, server.port);
    const serverSide = server.seen.at(-1)!.ws;
    const [clientClose, serverClose] = [closeOf(ws), closeOf(serverSide)];
    let ended = false;
    stream.on('end', () => {
      ended = true;
    });
    ws.close(1000, 'done');
    // The server echoes the code (RFC 6455 §5.5.1), without the reason.
    assert.deepEqual(await clientClose, [1000, '', true]);
    assert.deepEqual(await serverClose, [1000, 'done', true]);
    assert.equal(ended, true, 'the server ended its side with END_STREAM');
    if (!stream.closed) await once(stream, 'close');
    assert.equal(stream.rstCode, http2.constants.NGHTTP2_NO_ERROR);
  });

  test('terminate() resets the stream: RST_STREAM with CANCEL (bytes 00 00 00 08), as a TCP reset (§5)', T, async () => {
    const raw = await RawHttp2Client.connect(server.port, cert);
    raw.request(1, [
      [':method', 'CONNECT'],
      [':protocol', 'websocket'],
      [':scheme', 'https'],
      [':path', '/reset-me'],
      [':authority', `localhost:${server.port}`],
      ['sec-websocket-version', '13'],
    ]);
    await raw.next((f) => f.type === FrameType.HEADERS && f.stream === 1);
    const serverSide = server.seen.at(-1)!;
    assert.equal(serverSide.request.path, '/reset-me');
    const serverClose = closeOf(serverSide.ws);
    serverSide.ws.terminate();
    const rst = await raw.next((f) => f.type === FrameType.RST_STREAM && f.stream === 1);
    assert.deepEqual([...rst.payload], [0x00, 0x00, 0x00, CANCEL]);
    assert.equal((await serverClose)[0], 1006);
    raw.close();
  });

  test('a client that resets its stream: the server sees 1006; the other streams of the connection go on', T, async () => {
    const s = await session(server.port);
    const { ws } = await openWebSocket(s, server.port);
    const serverClose = closeOf(server.seen.at(-1)!.ws);
    ws.terminate();
    assert.equal((await serverClose)[0], 1006);
    const { ws: next } = await openWebSocket(s, server.port);
    assert.equal(await echo(next, 'still here'), 'still here');
    next.close();
  });

  test('an accept hook refuses with its status and a plain-text body; the headers event adds headers', T, async () => {
    const guarded = await start({ accept: ({ request }) => (request.path === '/open' ? true : { status: 403, message: 'not here' }) });
    guarded.wss.on('headers', (headers) => headers.push(['set-cookie', 'session=h2']));
    const s = await session(guarded.port);
    const refused = await request(s, connectHeaders(guarded.port, '/closed'));
    assert.equal(refused.response[':status'], 403);
    let body = '';
    for await (const chunk of refused.stream) body += String(chunk);
    assert.equal(body, 'not here');
    const accepted = await request(s, connectHeaders(guarded.port, '/open'));
    assert.equal(accepted.response[':status'], 200);
    assert.deepEqual(accepted.response['set-cookie'], ['session=h2']);
    accepted.stream.close();
  });
});

describe('the same server, both HTTP versions, many WebSockets on one connection', () => {
  let server: Server;
  before(async () => {
    server = await start({ perMessageDeflate: { threshold: 0 } });
  });

  test('20 WebSockets multiplexed on one TLS connection, all echoing at once', T, async () => {
    const s = await session(server.port);
    const before = server.seen.length;
    const opened = await Promise.all(Array.from({ length: 20 }, () => openWebSocket(s, server.port)));
    const replies = await Promise.all(opened.map(({ ws }, i) => echo(ws, `stream ${i} `.repeat(i + 1))));
    assert.deepEqual(
      replies,
      opened.map((_, i) => `stream ${i} `.repeat(i + 1)),
    );
    const serverSides = server.seen.slice(before).map((c) => c.ws);
    assert.equal(serverSides.length, 20);
    // One TCP/TLS socket under all of them.
    assert.equal(new Set(serverSides.map((ws) => ws.socket)).size, 1);
    assert.equal(new Set(serverSides.map((ws) => ws.transport)).size, 20);
    for (const { ws } of opened) ws.close();
  });

  test('permessage-deflate over HTTP/2: negotiated, frames compressed (RSV1), 1 MiB each way', T, async () => {
    const s = await session(server.port);
    const { ws, stream } = await openWebSocket(s, server.port, { deflate: true });
    assert.match(ws.extensions, /^permessage-deflate/);
    const big = 'compressible text, '.repeat(55_000);
    let firstByte = -1;
    stream.once('data', (chunk: Buffer) => {
      firstByte = chunk[0]!;
    });
    assert.equal(await echo(ws, big), big);
    assert.equal(firstByte, 0xc1, 'FIN + RSV1 + text: the echo came compressed');
    ws.close();
  });

  test('an HTTP/1.1 WebSocket and a page on the same server; the request says which HTTP version', T, async () => {
    const ws = await connect(`wss://localhost:${server.port}/one-one`, { tls: { ca: cert } });
    assert.equal(await echo(ws, 'over 1.1'), 'over 1.1');
    assert.equal(server.seen.at(-1)!.request.httpVersion, '1.1');
    ws.close();
    const s = await session(server.port);
    const page = s.request({ ':path': '/' });
    let body = '';
    for await (const chunk of page) body += String(chunk);
    assert.equal(body, 'page over HTTP/2.0');
  });

  test('CONNECT without :protocol websocket is not ours: 405, as Node answers it', T, async () => {
    const s = await session(server.port);
    for (const headers of [
      { ':method': 'CONNECT', ':authority': 'example.com:443' },
      connectHeaders(server.port, '/x', { ':protocol': 'not-websocket' }),
    ]) {
      const { response, stream } = await request(s, headers);
      assert.equal(response[':status'], 405);
      stream.close();
    }
  });

  test('server.close() closes the HTTP/2 WebSockets with 1001', T, async () => {
    const own = await start();
    const s = await session(own.port);
    const { ws } = await openWebSocket(s, own.port);
    const closed = closeOf(ws);
    await own.wss.close();
    assert.equal((await closed)[0], 1001);
  });
});
