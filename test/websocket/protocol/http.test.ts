import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { HandshakeError } from '../../../src/websocket/protocol/errors.js';
import {
  Headers,
  HttpRequestParser,
  HttpResponseParser,
  isValidFieldValue,
  type ParsedHead,
  splitList,
} from '../../../src/websocket/protocol/http.js';

const REQUEST = Buffer.from(
  'GET /chat?room=1 HTTP/1.1\r\n' +
    'Host: server.example.com\r\n' +
    'Upgrade: websocket\r\n' +
    'Connection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Sec-WebSocket-Protocol: chat\r\n' +
    'sec-websocket-protocol:  superchat \t\r\n' +
    'Sec-WebSocket-Version: 13\r\n' +
    '\r\n',
  'latin1',
);

function parseRequest(bytes: Buffer | string, maxHeadBytes?: number) {
  const parser = new HttpRequestParser(maxHeadBytes === undefined ? {} : { maxHeadBytes });
  const result = parser.push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  assert.ok(result, 'head should be complete');
  return result;
}

/** Feed `bytes` split at the given offsets; returns the result of the push that completed the head. */
function feed<T>(parser: { push(chunk: Buffer): ParsedHead<T> | null }, bytes: Buffer, cuts: number[]) {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  let start = 0;
  for (const end of [...points, bytes.length]) {
    const result = parser.push(bytes.subarray(start, end));
    if (result) return { result, consumed: end };
    start = end;
  }
  return null;
}

function assertHandshakeError(fn: () => unknown, code: string, status: number, message?: RegExp) {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('Headers', () => {
  test('names are case-insensitive and repeated lines join with ", " (RFC 9110 §5.3)', () => {
    const headers = new Headers([
      ['Accept', 'a'],
      ['X-One', '1'],
      ['accept', 'b'],
    ]);
    assert.equal(headers.get('ACCEPT'), 'a, b');
    assert.deepEqual(headers.getAll('accept'), ['a', 'b']);
    assert.equal(headers.get('x-one'), '1');
    assert.equal(headers.has('X-ONE'), true);
    assert.equal(headers.has('missing'), false);
    assert.equal(headers.get('missing'), undefined);
    assert.deepEqual(headers.getAll('missing'), []);
    assert.deepEqual(headers.raw, [
      ['Accept', 'a'],
      ['X-One', '1'],
      ['accept', 'b'],
    ]);
    assert.deepEqual([...headers], [
      ['accept', 'a, b'],
      ['x-one', '1'],
    ]);
    assert.deepEqual(headers.toRecord(), { accept: 'a, b', 'x-one': '1' });
  });

  test('from() takes a node-style record, arrays becoming separate lines', () => {
    const headers = Headers.from({ host: 'h', 'set-cookie': ['a=1', 'b=2'], absent: undefined });
    assert.deepEqual(headers.raw, [
      ['host', 'h'],
      ['set-cookie', 'a=1'],
      ['set-cookie', 'b=2'],
    ]);
    assert.deepEqual(headers.getAll('Set-Cookie'), ['a=1', 'b=2']);
    assert.equal(headers.has('absent'), false);
    assert.equal(Headers.from(headers), headers);
  });

  test('getAll returns a copy', () => {
    const headers = new Headers([['a', '1']]);
    headers.getAll('a').push('2');
    assert.deepEqual(headers.getAll('a'), ['1']);
  });
});

describe('splitList and isValidFieldValue', () => {
  test('splitList trims elements and drops empty ones (RFC 9110 §5.6.1)', () => {
    assert.deepEqual(splitList(' a ,b,, \t,c\t'), ['a', 'b', 'c']);
    assert.deepEqual(splitList(''), []);
  });

  test('isValidFieldValue allows SP, HTAB, VCHAR and obs-text only', () => {
    assert.equal(isValidFieldValue('a b\tc~\u00e9'), true);
    assert.equal(isValidFieldValue('a\r\nb'), false);
    assert.equal(isValidFieldValue('a\u0000'), false);
    assert.equal(isValidFieldValue('\u007f'), false);
    assert.equal(isValidFieldValue('\u0100'), false);
  });
});

describe('HttpRequestParser', () => {
  test('parses a request head in one chunk', () => {
    const { head, rest } = parseRequest(REQUEST);
    assert.equal(head.method, 'GET');
    assert.equal(head.target, '/chat?room=1');
    assert.equal(head.httpVersion, '1.1');
    assert.equal(head.headers.get('host'), 'server.example.com');
    assert.equal(head.headers.get('sec-websocket-protocol'), 'chat, superchat');
    assert.deepEqual(head.headers.raw[5], ['sec-websocket-protocol', 'superchat']);
    assert.equal(head.headers.raw.length, 7);
    assert.equal(rest.length, 0);
  });

  test('rest carries the bytes after the head, as a view of the last chunk', () => {
    const frames = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const chunk = Buffer.concat([REQUEST, frames]);
    const { rest } = parseRequest(chunk);
    assert.deepEqual(rest, frames);
    assert.equal(rest.buffer, chunk.buffer);
  });

  test('rest is right when CRLF CRLF is split across chunks', () => {
    const parser = new HttpRequestParser();
    const cut = REQUEST.length - 3;
    assert.equal(parser.push(REQUEST.subarray(0, cut)), null);
    const result = parser.push(Buffer.concat([REQUEST.subarray(cut), Buffer.from('next')]));
    assert.ok(result);
    assert.equal(result.rest.toString(), 'next');
    assert.equal(result.head.headers.get('sec-websocket-version'), '13');
  });

  test('one byte at a time gives the same head and null until the last byte', () => {
    const expected = parseRequest(REQUEST).head;
    const parser = new HttpRequestParser();
    for (let i = 0; i < REQUEST.length - 1; i++) assert.equal(parser.push(REQUEST.subarray(i, i + 1)), null);
    const result = parser.push(REQUEST.subarray(REQUEST.length - 1));
    assert.ok(result);
    assert.deepEqual(result.head, expected);
    assert.equal(result.rest.length, 0);
  });

  test('random splits give the same head and rest (property)', () => {
    const expected = parseRequest(REQUEST).head;
    const tail = Buffer.from('tail bytes');
    const bytes = Buffer.concat([REQUEST, tail]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 }), (cuts) => {
        const fed = feed(new HttpRequestParser(), bytes, cuts);
        assert.ok(fed);
        assert.deepEqual(fed.result.head, expected);
        // The completing chunk's remainder plus any later chunks is everything after the head.
        const after = Buffer.concat([fed.result.rest, bytes.subarray(fed.consumed)]);
        assert.deepEqual(after, tail);
      }),
    );
  });

  test('random valid heads round-trip through serialization at random splits (property)', () => {
    const tchar = fc.constantFrom(...'!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
    const token = fc.string({ unit: tchar, minLength: 1, maxLength: 12 });
    const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
    const value = fc
      .string({ unit: fc.oneof(vchar, fc.constant(' '), fc.constant('\t')), maxLength: 30 })
      .map((v) => v.replace(/^[ \t]+|[ \t]+$/g, ''));
    const target = fc.string({ unit: vchar, maxLength: 30 }).map((t) => `/${t}`);
    fc.assert(
      fc.property(
        token,
        target,
        fc.array(fc.tuple(token, value), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 2000 }), { maxLength: 20 }),
        (method, path, fields, cuts) => {
          let text = `${method} ${path} HTTP/1.1\r\n`;
          for (const [name, v] of fields) text += `${name}:${v}\r\n`;
          const bytes = Buffer.from(`${text}\r\n`, 'latin1');
          const fed = feed(new HttpRequestParser(), bytes, cuts);
          assert.ok(fed);
          assert.equal(fed.result.head.method, method);
          assert.equal(fed.result.head.target, path);
          assert.deepEqual(fed.result.head.headers.raw, fields);
        },
      ),
    );
  });

  test('HTTP/1.0 parses (the handshake decides what to do with it)', () => {
    assert.equal(parseRequest('GET / HTTP/1.0\r\n\r\n').head.httpVersion, '1.0');
  });

  test('an empty line before the request line is ignored (RFC 9112 §2.2)', () => {
    const { head } = parseRequest('\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n');
    assert.equal(head.target, '/');
    assert.equal(head.headers.get('host'), 'a');
  });

  test('a head of exactly maxHeadBytes is accepted', () => {
    const start = 'GET / HTTP/1.1\r\nX: ';
    const filler = 'a'.repeat(8192 - start.length - 4);
    const bytes = Buffer.from(`${start}${filler}\r\n\r\n`);
    assert.equal(bytes.length, 8192);
    assert.equal(parseRequest(bytes).head.headers.get('x'), filler);
  });

  test('431 for a head over 8 KiB arriving in tiny chunks, as soon as byte 8193 arrives', () => {
    const start = 'GET / HTTP/1.1\r\nX: ';
    const bytes = Buffer.from(`${start}${'a'.repeat(8192 - start.length - 4)}\r\nY: b\r\n\r\n`);
    const parser = new HttpRequestParser();
    let i = 0;
    for (; i < 8192; i += 3) assert.equal(parser.push(bytes.subarray(i, Math.min(i + 3, 8192))), null);
    assertHandshakeError(() => parser.push(bytes.subarray(8192, 8193)), 'HEAD_TOO_LARGE', 431, /8192 bytes/);
  });

  test('431 for a long header line that never ends, one byte at a time', () => {
    const parser = new HttpRequestParser({ maxHeadBytes: 100 });
    const bytes = Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(200)}`);
    for (let i = 0; i < 100; i++) assert.equal(parser.push(bytes.subarray(i, i + 1)), null);
    assertHandshakeError(() => parser.push(bytes.subarray(100, 101)), 'HEAD_TOO_LARGE', 431);
  });

  test('431 for a single huge chunk without CRLF CRLF', () => {
    const parser = new HttpRequestParser();
    assertHandshakeError(() => parser.push(Buffer.alloc(1 << 20, 0x61)), 'HEAD_TOO_LARGE', 431);
  });

  test('bytes after the head do not count against the limit', () => {
    const bytes = Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(100, 1)]);
    const { rest } = parseRequest(bytes, 20);
    assert.equal(rest.length, 100);
  });

  test('maxHeadBytes must be a positive integer', () => {
    assert.throws(() => new HttpRequestParser({ maxHeadBytes: 0 }), RangeError);
    assert.throws(() => new HttpRequestParser({ maxHeadBytes: 1.5 }), RangeError);
  });

  test('pushing after the head is complete is a programming error', () => {
    const parser = new HttpRequestParser();
    assert.ok(parser.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    assert.throws(() => parser.push(Buffer.from('x')), /already complete/);
  });

  const malformed: Array<[string, string, RegExp]> = [
    ['obs-fold (RFC 9112 §5.2)', 'GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n', /folded/],
    ['whitespace before the first header line', 'GET / HTTP/1.1\r\n X: a\r\n\r\n', /folded/],
    ['whitespace before the colon (RFC 9112 §5.1)', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', /followed by whitespace/],
    ['tab before the colon', 'GET / HTTP/1.1\r\nHost\t: a\r\n\r\n', /followed by whitespace/],
    ['missing colon', 'GET / HTTP/1.1\r\nHost a\r\n\r\n', /colon/],
    ['empty header name', 'GET / HTTP/1.1\r\n: a\r\n\r\n', /tokens/],
    ['bad token character in a name', 'GET / HTTP/1.1\r\nHo(st: a\r\n\r\n', /tokens/],
    ['control character in a value', 'GET / HTTP/1.1\r\nX: a\u0000b\r\n\r\n', /control/],
    ['bare CR in a value', 'GET / HTTP/1.1\r\nX: a\rb\r\n\r\n', /control/],
    ['bare LF', 'GET / HTTP/1.1\nHost: a\r\n\r\n', /CRLF/],
    ['bare LF ending the head', 'GET / HTTP/1.1\r\nHost: a\r\n\n', /CRLF/],
    ['request line with two spaces', 'GET  / HTTP/1.1\r\n\r\n', /request line/],
    ['request line without version', 'GET /\r\n\r\n', /request line/],
    ['method that is not a token', 'G(T / HTTP/1.1\r\n\r\n', /method/],
    ['non-ASCII target', 'GET /\u00e9 HTTP/1.1\r\n\r\n', /target/],
    ['lower-case HTTP name (RFC 9112 §2.3)', 'GET / http/1.1\r\n\r\n', /version/],
    ['two-digit version', 'GET / HTTP/1.10\r\n\r\n', /version/],
  ];
  for (const [name, text, message] of malformed) {
    test(`400 for ${name}`, () => {
      assertHandshakeError(() => parseRequest(text), 'MALFORMED_HTTP', 400, message);
    });
  }

  test('the error comes as soon as the bad line is complete', () => {
    const parser = new HttpRequestParser();
    assertHandshakeError(() => parser.push(Buffer.from('GET / HTTP/1.1\r\nbad line\r\n')), 'MALFORMED_HTTP', 400);
  });

  test('505 for an HTTP major version other than 1', () => {
    assertHandshakeError(() => parseRequest('GET / HTTP/2.0\r\n\r\n'), 'HTTP_VERSION_NOT_SUPPORTED', 505);
    assertHandshakeError(() => parseRequest('GET / HTTP/0.9\r\n\r\n'), 'HTTP_VERSION_NOT_SUPPORTED', 505);
  });
});

describe('HttpResponseParser', () => {
  const RESPONSE = Buffer.from(
    'HTTP/1.1 101 Switching Protocols\r\n' +
      'Upgrade: websocket\r\n' +
      'Connection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n' +
      '\r\n',
  );

  function parseResponse(text: string | Buffer, maxHeadBytes?: number) {
    const parser = new HttpResponseParser(maxHeadBytes === undefined ? {} : { maxHeadBytes });
    const result = parser.push(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
    assert.ok(result);
    return result;
  }

  test('parses a 101 response and keeps the frames after it', () => {
    const { head, rest } = parseResponse(Buffer.concat([RESPONSE, Buffer.from([0x81, 0x00])]));
    assert.equal(head.httpVersion, '1.1');
    assert.equal(head.status, 101);
    assert.equal(head.reason, 'Switching Protocols');
    assert.equal(head.headers.get('sec-websocket-accept'), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    assert.deepEqual(rest, Buffer.from([0x81, 0x00]));
  });

  test('random splits give the same head (property)', () => {
    const expected = parseResponse(RESPONSE).head;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: RESPONSE.length - 1 }), { maxLength: 30 }), (cuts) => {
        const fed = feed(new HttpResponseParser(), RESPONSE, cuts);
        assert.ok(fed);
        assert.deepEqual(fed.result.head, expected);
      }),
    );
  });

  test('an empty reason phrase, with or without the SP', () => {
    assert.equal(parseResponse('HTTP/1.1 101 \r\n\r\n').head.reason, '');
    const { head } = parseResponse('HTTP/1.1 404\r\n\r\n');
    assert.equal(head.status, 404);
    assert.equal(head.reason, '');
  });

  test('obs-fold is replaced with SP, as RFC 9112 §5.2 asks of a user agent', () => {
    const { head } = parseResponse('HTTP/1.1 101 OK\r\nX: a\r\n  b\r\n\tc\r\n\r\n');
    assert.equal(head.headers.get('x'), 'a b c');
  });

  test('malformed status lines fail with status 0 (there is nothing to answer)', () => {
    for (const line of ['HTTP/1.1 1010 X', 'HTTP/1.1  101', 'HTTP/1.1', 'HTTP/1.1 abc', 'ICY 200 OK']) {
      assertHandshakeError(() => parseResponse(`${line}\r\n\r\n`), 'MALFORMED_HTTP', 0);
    }
    assertHandshakeError(() => parseResponse('HTTP/1.1 101 A\u0001B\r\n\r\n'), 'MALFORMED_HTTP', 0);
  });

  test('whitespace before the colon is refused', () => {
    assertHandshakeError(() => parseResponse('HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n'), 'MALFORMED_HTTP', 0);
  });

  test('HTTP/2 is refused', () => {
    assertHandshakeError(() => parseResponse('HTTP/2.0 101 OK\r\n\r\n'), 'HTTP_VERSION_NOT_SUPPORTED', 0);
  });

  test('default limit is 16 KiB', () => {
    const start = 'HTTP/1.1 101 OK\r\nX: ';
    const ok = Buffer.from(`${start}${'a'.repeat(16384 - start.length - 4)}\r\n\r\n`);
    assert.equal(ok.length, 16384);
    assert.ok(new HttpResponseParser().push(ok));
    const tooBig = Buffer.from(`${start}${'a'.repeat(16384 - start.length - 3)}\r\n\r\n`);
    assertHandshakeError(() => new HttpResponseParser().push(tooBig), 'HEAD_TOO_LARGE', 0, /Status line/);
  });
});
