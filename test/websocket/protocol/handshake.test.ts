import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../../src/websocket/protocol/errors.js';
import {
  acceptKey,
  acceptRequest,
  type ClientHandshakeOptions,
  clientRequest,
  errorResponse,
  generateKey,
  rejectResponse,
  serializeResponse,
  validateRequest,
  validateResponse,
  WEBSOCKET_GUID,
} from '../../../src/websocket/protocol/handshake.js';
import {
  Headers,
  HttpRequestParser,
  type HttpResponseHead,
  HttpResponseParser,
} from '../../../src/websocket/protocol/http.js';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** RFC 6455 §1.3: the example client handshake. */
const RFC_REQUEST =
  'GET /chat HTTP/1.1\r\n' +
  'Host: server.example.com\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  `Sec-WebSocket-Key: ${KEY}\r\n` +
  'Origin: http://example.com\r\n' +
  'Sec-WebSocket-Protocol: chat, superchat\r\n' +
  'Sec-WebSocket-Version: 13\r\n' +
  '\r\n';

/** RFC 6455 §1.3: the example server handshake. */
const RFC_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\n' +
  'Upgrade: websocket\r\n' +
  'Connection: Upgrade\r\n' +
  `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
  'Sec-WebSocket-Protocol: chat\r\n' +
  '\r\n';

const BASE_HEADERS: Array<[string, string]> = [
  ['Host', 'server.example.com'],
  ['Upgrade', 'websocket'],
  ['Connection', 'Upgrade'],
  ['Sec-WebSocket-Key', KEY],
  ['Sec-WebSocket-Version', '13'],
];

/** A request from the base headers, with `changes` replacing (or, when null, removing) them by name. */
function request(
  changes: Record<string, string | string[] | null> = {},
  line: { method?: string; target?: string; httpVersion?: string } = {},
) {
  const lower = new Map(Object.entries(changes).map(([k, v]) => [k.toLowerCase(), v]));
  const raw: Array<[string, string]> = [];
  for (const [name, value] of BASE_HEADERS) {
    if (!lower.has(name.toLowerCase())) raw.push([name, value]);
  }
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) raw.push([name, v]);
  }
  return {
    method: line.method ?? 'GET',
    target: line.target ?? '/chat',
    httpVersion: line.httpVersion ?? '1.1',
    headers: new Headers(raw),
  };
}

function parseHead(bytes: Buffer) {
  const result = new HttpResponseParser().push(bytes);
  assert.ok(result, 'the serialized response should parse');
  return { head: result.head, body: result.rest.toString('utf8') };
}

/** Run validateRequest, expect a HandshakeError, and return what goes on the wire for it. */
function rejection(req: ReturnType<typeof request>) {
  let caught: unknown;
  try {
    validateRequest(req);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError, got ${String(caught)}`);
  const { head, body } = parseHead(serializeResponse(errorResponse(caught)));
  assert.equal(head.status, caught.status);
  assert.equal(body, caught.message);
  assert.equal(head.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(head.headers.get('content-length'), String(Buffer.byteLength(body)));
  return { code: caught.code, status: head.status, reason: head.reason, headers: head.headers, body };
}

function assertHandshakeError(fn: () => unknown, code: string, status: number) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    return true;
  });
}

describe('keys', () => {
  test('acceptKey matches RFC 6455 §1.3', () => {
    assert.equal(WEBSOCKET_GUID, '258EAFA5-E914-47DA-95CA-C5AB0DC85B11');
    assert.equal(acceptKey(KEY), ACCEPT);
  });

  test('generateKey gives 16 fresh random bytes in base64', () => {
    const a = generateKey();
    const b = generateKey();
    assert.match(a, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(Buffer.from(a, 'base64').length, 16);
    assert.notEqual(a, b);
  });
});

describe('server handshake', () => {
  test('RFC 6455 §1.3 request bytes give the exact 101 response bytes', () => {
    const parsed = new HttpRequestParser().push(Buffer.from(RFC_REQUEST));
    assert.ok(parsed);
    const req = validateRequest(parsed.head);
    assert.equal(req.path, '/chat');
    assert.equal(req.query, '');
    assert.equal(req.host, 'server.example.com');
    assert.equal(req.origin, 'http://example.com');
    assert.equal(req.key, KEY);
    assert.deepEqual(req.protocols, ['chat', 'superchat']);
    assert.deepEqual(req.extensions, []);
    const offered: string[][] = [];
    const { response, protocol, deflate } = acceptRequest(req, {
      selectProtocol: (protocols) => {
        offered.push(protocols);
        return protocols[0];
      },
    });
    assert.deepEqual(offered, [['chat', 'superchat']]);
    assert.equal(protocol, 'chat');
    assert.equal(deflate, null);
    assert.equal(serializeResponse(response).toString('latin1'), RFC_RESPONSE);
  });

  test("node's IncomingMessage.headers record is accepted", () => {
    const req = validateRequest({
      method: 'GET',
      target: '/chat?room=general&x=1',
      httpVersion: '1.1',
      headers: {
        host: 'localhost:8080',
        upgrade: 'websocket',
        connection: 'keep-alive, Upgrade',
        'sec-websocket-key': KEY,
        'sec-websocket-version': '13',
        'set-cookie': ['a=1', 'b=2'],
        'x-absent': undefined,
      },
    });
    assert.equal(req.host, 'localhost:8080');
    assert.equal(req.path, '/chat');
    assert.equal(req.query, 'room=general&x=1');
    assert.equal(req.origin, undefined);
    assert.deepEqual(req.protocols, []);
  });

  test('Upgrade and Connection are comma lists compared case-insensitively', () => {
    const req = validateRequest(request({ Upgrade: 'foo/2, WebSocket', Connection: 'keep-alive,  UPGRADE ' }));
    assert.equal(req.key, KEY);
  });

  test('absolute-form targets are accepted (RFC 9112 §3.2.2)', () => {
    const req = validateRequest(request({}, { target: 'ws://server.example.com/chat?a=b' }));
    assert.equal(req.path, '/chat');
    assert.equal(req.query, 'a=b');
    assert.equal(validateRequest(request({}, { target: 'http://server.example.com' })).path, '/');
  });

  test('HTTP versions later than 1.1 are accepted (RFC 6455 §4.2.1 item 1)', () => {
    assert.equal(validateRequest(request({}, { httpVersion: '1.2' })).httpVersion, '1.2');
  });

  test('405 with Allow: GET for another method', () => {
    const r = rejection(request({}, { method: 'POST' }));
    assert.equal(r.code, 'METHOD_NOT_ALLOWED');
    assert.equal(r.status, 405);
    assert.equal(r.reason, 'Method Not Allowed');
    assert.equal(r.headers.get('allow'), 'GET');
    assert.equal(r.headers.get('connection'), 'close');
    assert.equal(r.body, 'A WebSocket handshake must use the GET method');
  });

  test('400 for HTTP/1.0', () => {
    const r = rejection(request({}, { httpVersion: '1.0' }));
    assert.equal(r.code, 'UNSUPPORTED_HTTP_VERSION');
    assert.equal(r.status, 400);
    assert.equal(r.body, 'A WebSocket handshake requires HTTP/1.1 or later');
  });

  test('400 for a target that is not a path', () => {
    for (const target of ['*', 'chat', 'server.example.com:80']) {
      const r = rejection(request({}, { target }));
      assert.equal(r.code, 'INVALID_TARGET');
      assert.equal(r.status, 400);
      assert.equal(r.body, 'The request target must be an absolute path such as /chat');
    }
  });

  test('400 for a target with a fragment (RFC 6455 §3)', () => {
    const r = rejection(request({}, { target: '/chat#top' }));
    assert.equal(r.code, 'INVALID_TARGET');
    assert.equal(r.body, 'The request target must not contain a fragment');
  });

  test('400 for a missing Host', () => {
    const r = rejection(request({ Host: null }));
    assert.equal(r.code, 'INVALID_HOST');
    assert.equal(r.status, 400);
    assert.equal(r.reason, 'Bad Request');
    assert.equal(r.body, 'The request must have exactly one Host header');
  });

  test('400 for two Host lines (RFC 9112 §3.2)', () => {
    const r = rejection(request({ Host: ['a.example', 'b.example'] }));
    assert.equal(r.code, 'INVALID_HOST');
    assert.equal(r.body, 'The request must have exactly one Host header');
  });

  test('400 for an invalid or empty Host value', () => {
    for (const host of ['', 'a b', 'a/b', 'user@host']) {
      const r = rejection(request({ Host: host }));
      assert.equal(r.code, 'INVALID_HOST');
      assert.equal(r.body, 'The Host header must be a host name with an optional port');
    }
    assert.equal(validateRequest(request({ Host: '[::1]:8080' })).host, '[::1]:8080');
  });

  test('426 with Upgrade: websocket when the request is not an upgrade', () => {
    for (const upgrade of [null, 'h2c', 'websockets']) {
      const r = rejection(request({ Upgrade: upgrade }));
      assert.equal(r.code, 'UPGRADE_REQUIRED');
      assert.equal(r.status, 426);
      assert.equal(r.reason, 'Upgrade Required');
      assert.equal(r.headers.get('upgrade'), 'websocket');
      assert.equal(r.headers.get('connection'), 'Upgrade, close');
      assert.equal(r.body, 'This resource requires a WebSocket upgrade (Upgrade: websocket)');
    }
  });

  test('400 when Connection lacks the upgrade token', () => {
    for (const connection of [null, 'keep-alive', 'upgraded']) {
      const r = rejection(request({ Connection: connection }));
      assert.equal(r.code, 'INVALID_CONNECTION_HEADER');
      assert.equal(r.status, 400);
      assert.equal(r.body, 'The Connection header must include the token "Upgrade"');
    }
  });

  test('426 with Sec-WebSocket-Version: 13 for another or no version (RFC 6455 §4.4)', () => {
    for (const version of [null, '8', '13, 8', ['13', '13'], '']) {
      const r = rejection(request({ 'Sec-WebSocket-Version': version }));
      assert.equal(r.code, 'UNSUPPORTED_WEBSOCKET_VERSION');
      assert.equal(r.status, 426);
      assert.equal(r.headers.get('sec-websocket-version'), '13');
      assert.equal(r.headers.get('upgrade'), 'websocket');
      assert.equal(r.body, 'Sec-WebSocket-Version must be 13');
    }
  });

  test('400 for a Sec-WebSocket-Key that is missing, repeated, or not 16 bytes of base64', () => {
    const bad = [
      null,
      [KEY, KEY],
      Buffer.alloc(15).toString('base64'),
      Buffer.alloc(17).toString('base64'),
      'dGhlIHNhbXBsZSBub25jZQ', // no padding
      'dGhlIHNhbXBsZSBub25jZQ=',
      'dGhlIHNhbXBsZSBub25jZ$==',
      'dGhlIHNhbXBsZSBub25jZQ-_', // base64url
      '',
    ];
    for (const key of bad) {
      const r = rejection(request({ 'Sec-WebSocket-Key': key }));
      assert.equal(r.code, 'INVALID_WEBSOCKET_KEY', `key ${String(key)}`);
      assert.equal(r.status, 400);
      assert.equal(r.body, 'Sec-WebSocket-Key must be 16 bytes, base64-encoded, sent once');
    }
  });

  test('400 for a repeated Origin', () => {
    const r = rejection(request({ Origin: ['https://a.example', 'https://b.example'] }));
    assert.equal(r.code, 'INVALID_ORIGIN_HEADER');
    assert.equal(r.status, 400);
    assert.equal(r.body, 'The Origin header must not be repeated');
  });

  test('400 for a Sec-WebSocket-Protocol that is not a list of tokens', () => {
    for (const value of ['chat, super chat', 'ch@t', '"chat"']) {
      const r = rejection(request({ 'Sec-WebSocket-Protocol': value }));
      assert.equal(r.code, 'INVALID_SUBPROTOCOL_HEADER');
      assert.equal(r.status, 400);
      assert.equal(r.body, 'Sec-WebSocket-Protocol must be a comma-separated list of tokens');
    }
  });

  test('Sec-WebSocket-Protocol over several lines, with empty elements, is one list', () => {
    const req = validateRequest(request({ 'Sec-WebSocket-Protocol': ['chat, ', 'superchat'] }));
    assert.deepEqual(req.protocols, ['chat', 'superchat']);
  });

  test('400 for a Sec-WebSocket-Extensions syntax error', () => {
    const r = rejection(request({ 'Sec-WebSocket-Extensions': 'permessage-deflate; =1' }));
    assert.equal(r.code, 'INVALID_EXTENSION_HEADER');
    assert.equal(r.status, 400);
    assert.match(r.body, /Sec-WebSocket-Extensions/);
  });

  test('a malformed Sec-WebSocket-Extensions is ignored when no extension is enabled, as ws does (issue 10, 1.6)', () => {
    const req = validateRequest(request({ 'Sec-WebSocket-Extensions': 'permessage-deflate; =1' }), { extensions: false });
    assert.deepEqual(req.extensions, []);
    const { response, deflate } = acceptRequest(req);
    assert.equal(deflate, null);
    assert.equal(response.status, 101);
  });

  test('400 for a request with a body: Transfer-Encoding, or a Content-Length other than 0 (issue 10, 1.6)', () => {
    const bodies: Array<Record<string, string | string[]>> = [
      { 'Transfer-Encoding': 'chunked' },
      { 'Content-Length': '5' },
      { 'Content-Length': ['0', '3'] },
    ];
    for (const changes of bodies) {
      const r = rejection(request(changes));
      assert.equal(r.code, 'UNEXPECTED_BODY');
      assert.equal(r.status, 400);
    }
    // An empty body is no body.
    assert.equal(validateRequest(request({ 'Content-Length': '0' })).path, '/chat');
  });

  test("selectProtocol returning '' means no subprotocol (issue 10, 1.6)", () => {
    const { response, protocol } = acceptRequest(validateRequest(request({ 'Sec-WebSocket-Protocol': 'chat' })), {
      selectProtocol: () => '',
    });
    assert.equal(protocol, '');
    assert.equal(
      response.headers.some(([name]) => name === 'Sec-WebSocket-Protocol'),
      false,
    );
  });

  test('selectProtocol is not called when nothing was offered; none selected means no header', () => {
    let called = false;
    const { response, protocol } = acceptRequest(validateRequest(request()), {
      selectProtocol: () => {
        called = true;
        return 'chat';
      },
    });
    assert.equal(called, false);
    assert.equal(protocol, '');
    assert.equal(
      response.headers.some(([name]) => name === 'Sec-WebSocket-Protocol'),
      false,
    );
    const declined = acceptRequest(validateRequest(request({ 'Sec-WebSocket-Protocol': 'chat' })), {
      selectProtocol: () => null,
    });
    assert.equal(declined.protocol, '');
    assert.equal(
      declined.response.headers.some(([name]) => name === 'Sec-WebSocket-Protocol'),
      false,
    );
  });

  test('selectProtocol returning an unoffered subprotocol is a TypeError', () => {
    const req = validateRequest(request({ 'Sec-WebSocket-Protocol': 'chat' }));
    assert.throws(() => acceptRequest(req, { selectProtocol: () => 'superchat' }), TypeError);
  });

  test('permessage-deflate is negotiated; unknown extensions are declined', () => {
    const req = validateRequest(
      request({ 'Sec-WebSocket-Extensions': 'x-webkit-foo; a=1, permessage-deflate; client_max_window_bits' }),
    );
    assert.deepEqual(
      req.extensions.map((e) => e.name),
      ['x-webkit-foo', 'permessage-deflate'],
    );
    const { response, deflate } = acceptRequest(req, { perMessageDeflate: {} });
    assert.ok(deflate);
    assert.equal(
      serializeResponse(response).toString('latin1'),
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\n` +
        `Sec-WebSocket-Extensions: ${deflate.header}\r\n` +
        '\r\n',
    );
    assert.match(deflate.header, /^permessage-deflate/);
  });

  test('permessage-deflate disabled, or only unknown extensions offered: no extension header', () => {
    const offered = validateRequest(request({ 'Sec-WebSocket-Extensions': 'permessage-deflate' }));
    for (const options of [{}, { perMessageDeflate: false as const }]) {
      const { response, deflate } = acceptRequest(offered, options);
      assert.equal(deflate, null);
      assert.equal(
        response.headers.some(([name]) => name === 'Sec-WebSocket-Extensions'),
        false,
      );
    }
    const unknown = validateRequest(request({ 'Sec-WebSocket-Extensions': 'x-unknown' }));
    assert.equal(acceptRequest(unknown, { perMessageDeflate: {} }).deflate, null);
  });

  test('the 101 response may be edited before serialization', () => {
    const { response } = acceptRequest(validateRequest(request()));
    response.headers.push(['Set-Cookie', 'session=1']);
    const { head, body } = parseHead(serializeResponse(response));
    assert.equal(head.status, 101);
    assert.equal(head.headers.get('set-cookie'), 'session=1');
    assert.equal(head.headers.get('content-length'), undefined);
    assert.equal(body, '');
  });
});

describe('responses', () => {
  test('rejectResponse gives a plain-text response with its reason phrase', () => {
    const res = rejectResponse(403, 'Origin not allowed', [['X-Reason', 'origin']]);
    assert.deepEqual(res, {
      status: 403,
      reason: 'Forbidden',
      headers: [['X-Reason', 'origin']],
      body: 'Origin not allowed',
    });
    assert.equal(
      serializeResponse(res).toString('latin1'),
      'HTTP/1.1 403 Forbidden\r\n' +
        'X-Reason: origin\r\n' +
        'Connection: close\r\n' +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        'Content-Length: 18\r\n' +
        '\r\n' +
        'Origin not allowed',
    );
  });

  test('Content-Length counts UTF-8 bytes; caller-set headers are kept', () => {
    const res = rejectResponse(400, 'é', [
      ['Content-Type', 'text/html'],
      ['Connection', 'close'],
    ]);
    const { head, body } = parseHead(serializeResponse(res));
    assert.equal(body, 'é');
    assert.equal(head.headers.get('content-length'), '2');
    assert.equal(head.headers.get('content-type'), 'text/html');
    assert.equal(head.headers.get('connection'), 'close');
  });

  test('an empty body has Content-Length: 0 and no Content-Type', () => {
    const { head } = parseHead(serializeResponse(rejectResponse(404, '')));
    assert.equal(head.headers.get('content-length'), '0');
    assert.equal(head.headers.has('content-type'), false);
  });

  test('unknown statuses serialize with an empty reason phrase', () => {
    assert.match(serializeResponse(rejectResponse(499, 'x')).toString('latin1'), /^HTTP\/1\.1 499 \r\n/);
  });

  test('response splitting and other invalid responses are refused', () => {
    assert.throws(() => serializeResponse(rejectResponse(400, 'x', [['X', 'a\r\nSet-Cookie: evil=1']])), TypeError);
    assert.throws(() => serializeResponse(rejectResponse(400, 'x', [['Bad Name', 'a']])), TypeError);
    assert.throws(() => serializeResponse({ status: 101, reason: 'Switching Protocols', headers: [], body: 'x' }), TypeError);
    assert.throws(() => serializeResponse({ status: 99, reason: '', headers: [], body: '' }), TypeError);
    assert.throws(() => serializeResponse({ status: 400, reason: 'a\nb', headers: [], body: '' }), TypeError);
  });
});

describe('client handshake', () => {
  const OPTIONS: ClientHandshakeOptions = {
    host: 'server.example.com',
    target: '/chat',
    key: KEY,
    origin: 'http://example.com',
    protocols: ['chat', 'superchat'],
  };

  function response(lines: Array<[string, string]>, status = 101): HttpResponseHead {
    return { httpVersion: '1.1', status, reason: '', headers: new Headers(lines) };
  }
  const GOOD: Array<[string, string]> = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', ACCEPT],
  ];
  function without(name: string, extra: Array<[string, string]> = []): Array<[string, string]> {
    return [...GOOD.filter(([n]) => n !== name), ...extra];
  }

  test('clientRequest writes the RFC 6455 §1.3 request', () => {
    const { bytes, key } = clientRequest(OPTIONS);
    assert.equal(key, KEY);
    assert.equal(
      bytes.toString('latin1'),
      'GET /chat HTTP/1.1\r\n' +
        'Host: server.example.com\r\n' +
        'Upgrade: websocket\r\n' +
        'Connection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        'Origin: http://example.com\r\n' +
        'Sec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Protocol: chat, superchat\r\n' +
        '\r\n',
    );
  });

  test('clientRequest generates a key, adds extra headers and the deflate offer; the server accepts it', () => {
    const { bytes, key } = clientRequest({
      host: 'localhost:9000',
      target: '/ws?room=1',
      headers: { Authorization: 'Bearer t' },
      perMessageDeflate: {},
    });
    assert.match(key, /^[A-Za-z0-9+/]{22}==$/);
    const parsed = new HttpRequestParser().push(bytes);
    assert.ok(parsed);
    assert.equal(parsed.head.headers.get('authorization'), 'Bearer t');
    const req = validateRequest(parsed.head);
    assert.equal(req.key, key);
    assert.deepEqual(
      req.extensions.map((e) => e.name),
      ['permessage-deflate'],
    );
    assert.equal(req.query, 'room=1');
  });

  test('client and server agree end to end, permessage-deflate included', () => {
    const opts: ClientHandshakeOptions = { host: 'h', target: '/', protocols: ['a', 'b'], perMessageDeflate: {} };
    const { bytes, key } = clientRequest(opts);
    const parsed = new HttpRequestParser().push(bytes);
    assert.ok(parsed);
    const server = acceptRequest(validateRequest(parsed.head), {
      selectProtocol: (offered) => offered[1],
      perMessageDeflate: {},
    });
    const res = new HttpResponseParser().push(serializeResponse(server.response));
    assert.ok(res);
    const client = validateResponse(res.head, key, opts);
    assert.equal(client.protocol, 'b');
    assert.ok(client.deflate);
    assert.ok(server.deflate);
    assert.deepEqual(client.deflate.params, server.deflate.params);
  });

  test('clientRequest refuses invalid options', () => {
    const base = { host: 'h', target: '/' };
    assert.throws(() => clientRequest({ ...base, target: 'chat' }), TypeError);
    assert.throws(() => clientRequest({ ...base, target: '/a b' }), TypeError);
    assert.throws(() => clientRequest({ ...base, target: '/a#b' }), TypeError);
    assert.throws(() => clientRequest({ ...base, host: 'h\r\nX: y' }), TypeError);
    assert.throws(() => clientRequest({ ...base, key: 'short' }), TypeError);
    assert.throws(() => clientRequest({ ...base, protocols: ['a b'] }), TypeError);
    assert.throws(() => clientRequest({ ...base, protocols: ['a', 'a'] }), TypeError);
    assert.throws(() => clientRequest({ ...base, headers: { 'Sec-WebSocket-Key': KEY } }), TypeError);
    assert.throws(() => clientRequest({ ...base, headers: { 'X-A': 'a\nb' } }), TypeError);
    assert.throws(() => clientRequest({ ...base, headers: { 'X A': 'a' } }), TypeError);
  });

  test('validateResponse accepts the RFC 6455 §1.3 response', () => {
    const parsed = new HttpResponseParser().push(Buffer.from(RFC_RESPONSE));
    assert.ok(parsed);
    assert.deepEqual(validateResponse(parsed.head, KEY, OPTIONS), { protocol: 'chat', deflate: null });
  });

  test('tokens and values are compared case-insensitively; no subprotocol is allowed', () => {
    const res = response([
      ['upgrade', 'WebSocket'],
      ['connection', 'keep-alive, upgrade'],
      ['sec-websocket-accept', ACCEPT],
    ]);
    assert.deepEqual(validateResponse(res, KEY, OPTIONS), { protocol: '', deflate: null });
  });

  test('UNEXPECTED_STATUS for a status other than 101, with the response headers', () => {
    assert.throws(
      () => validateResponse(response([['Location', 'https://elsewhere/']], 302), KEY, OPTIONS),
      (error: unknown) => {
        assert.ok(error instanceof HandshakeError);
        assert.equal(error.code, 'UNEXPECTED_STATUS');
        assert.equal(error.status, 302);
        assert.deepEqual(error.headers, { location: 'https://elsewhere/' });
        return true;
      },
    );
    assertHandshakeError(() => validateResponse(response(GOOD, 200), KEY, OPTIONS), 'UNEXPECTED_STATUS', 200);
  });

  test('INVALID_UPGRADE_HEADER for a missing or wrong Upgrade', () => {
    assertHandshakeError(
      () => validateResponse(response(without('Upgrade')), KEY, OPTIONS),
      'INVALID_UPGRADE_HEADER',
      101,
    );
    assertHandshakeError(
      () => validateResponse(response(without('Upgrade', [['Upgrade', 'websocket, h2c']])), KEY, OPTIONS),
      'INVALID_UPGRADE_HEADER',
      101,
    );
  });

  test('INVALID_CONNECTION_HEADER for a missing or wrong Connection', () => {
    assertHandshakeError(
      () => validateResponse(response(without('Connection')), KEY, OPTIONS),
      'INVALID_CONNECTION_HEADER',
      101,
    );
    assertHandshakeError(
      () => validateResponse(response(without('Connection', [['Connection', 'close']])), KEY, OPTIONS),
      'INVALID_CONNECTION_HEADER',
      101,
    );
  });

  test('INVALID_ACCEPT for a missing, wrong or repeated Sec-WebSocket-Accept', () => {
    const wrong = acceptKey(generateKey());
    for (const lines of [
      without('Sec-WebSocket-Accept'),
      without('Sec-WebSocket-Accept', [['Sec-WebSocket-Accept', wrong]]),
      [...GOOD, ['Sec-WebSocket-Accept', ACCEPT] as [string, string]],
    ]) {
      assertHandshakeError(() => validateResponse(response(lines), KEY, OPTIONS), 'INVALID_ACCEPT', 101);
    }
  });

  test('UNEXPECTED_SUBPROTOCOL for a subprotocol that was not offered', () => {
    const chose = (p: string) => response([...GOOD, ['Sec-WebSocket-Protocol', p]]);
    assertHandshakeError(() => validateResponse(chose('other'), KEY, OPTIONS), 'UNEXPECTED_SUBPROTOCOL', 101);
    assertHandshakeError(() => validateResponse(chose('chat, superchat'), KEY, OPTIONS), 'UNEXPECTED_SUBPROTOCOL', 101);
    assertHandshakeError(
      () => validateResponse(chose('chat'), KEY, { ...OPTIONS, protocols: [] }),
      'UNEXPECTED_SUBPROTOCOL',
      101,
    );
    assert.equal(validateResponse(chose('superchat'), KEY, OPTIONS).protocol, 'superchat');
  });

  test('UNEXPECTED_EXTENSION for an extension that was not offered', () => {
    const ext = (value: string) => response([...GOOD, ['Sec-WebSocket-Extensions', value]]);
    assertHandshakeError(() => validateResponse(ext('permessage-deflate'), KEY, OPTIONS), 'UNEXPECTED_EXTENSION', 101);
    assertHandshakeError(
      () => validateResponse(ext('permessage-deflate'), KEY, { ...OPTIONS, perMessageDeflate: false }),
      'UNEXPECTED_EXTENSION',
      101,
    );
    assertHandshakeError(
      () => validateResponse(ext('x-other'), KEY, { ...OPTIONS, perMessageDeflate: {} }),
      'UNEXPECTED_EXTENSION',
      101,
    );
  });

  test('an invalid Sec-WebSocket-Extensions response fails with the status received', () => {
    const ext = (value: string) => response([...GOOD, ['Sec-WebSocket-Extensions', value]]);
    const opts = { ...OPTIONS, perMessageDeflate: {} };
    assertHandshakeError(() => validateResponse(ext('permessage-deflate;;'), KEY, opts), 'INVALID_EXTENSION_HEADER', 101);
    assertHandshakeError(
      () => validateResponse(ext('permessage-deflate; unknown_param'), KEY, opts),
      'INVALID_EXTENSION_RESPONSE',
      101,
    );
  });

  test('permessage-deflate accepted by the server when offered; absent when the server declines', () => {
    const opts = { ...OPTIONS, perMessageDeflate: {} };
    const accepted = validateResponse(
      response([...GOOD, ['Sec-WebSocket-Extensions', 'permessage-deflate; server_no_context_takeover']]),
      KEY,
      opts,
    );
    assert.ok(accepted.deflate);
    assert.equal(accepted.deflate.params.serverNoContextTakeover, true);
    assert.equal(validateResponse(response(GOOD), KEY, opts).deflate, null);
  });
});
