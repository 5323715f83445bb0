import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HandshakeError } from '../../../src/websocket/protocol/errors.js';
import { type ExtensionOffer, formatExtension, parseExtensionHeader } from '../../../src/websocket/protocol/extension.js';
import { isToken } from '../../../src/websocket/protocol/http.js';

describe('parseExtensionHeader: valid values', () => {
  const cases: Array<[string, ExtensionOffer[]]> = [
    ['', []],
    ['   ', []],
    ['permessage-deflate', [{ name: 'permessage-deflate', params: [] }]],
    [
      'permessage-deflate; client_max_window_bits',
      [{ name: 'permessage-deflate', params: [['client_max_window_bits', true]] }],
    ],
    [
      'permessage-deflate;client_max_window_bits=10;server_no_context_takeover',
      [
        {
          name: 'permessage-deflate',
          params: [
            ['client_max_window_bits', '10'],
            ['server_no_context_takeover', true],
          ],
        },
      ],
    ],
    // RFC 2616 implied *LWS: whitespace around ";" and "=" and ",".
    [
      ' permessage-deflate \t; server_max_window_bits = 10 ,\tfoo ',
      [
        { name: 'permessage-deflate', params: [['server_max_window_bits', '10']] },
        { name: 'foo', params: [] },
      ],
    ],
    // Names are case-insensitive tokens: lowercased. Values keep their case.
    ['Permessage-Deflate; Server_Max_Window_Bits=AbC', [{ name: 'permessage-deflate', params: [['server_max_window_bits', 'AbC']] }]],
    // Quoted values are unquoted (RFC 6455 §9.1), escapes included.
    ['foo; a="10"; b="x\\y"', [{ name: 'foo', params: [['a', '10'], ['b', 'xy']] }]],
    // RFC 7230 §7: empty list elements are ignored.
    [
      ', permessage-deflate,, ,x-webkit-deflate-frame,',
      [
        { name: 'permessage-deflate', params: [] },
        { name: 'x-webkit-deflate-frame', params: [] },
      ],
    ],
    // Order and duplicates are kept: the extension decides what they mean.
    [
      'permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate',
      [
        {
          name: 'permessage-deflate',
          params: [
            ['server_no_context_takeover', true],
            ['server_no_context_takeover', true],
          ],
        },
        { name: 'permessage-deflate', params: [] },
      ],
    ],
    ["a; !#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~", [{ name: 'a', params: [["!#$%&'*+-.^_`|~", "!#$%&'*+-.^_`|~"]] }]],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => {
      assert.deepEqual(parseExtensionHeader(input), expected);
    });
  }

  test('several header lines are joined as a list', () => {
    assert.deepEqual(parseExtensionHeader(['permessage-deflate; client_max_window_bits', 'foo']), [
      { name: 'permessage-deflate', params: [['client_max_window_bits', true]] },
      { name: 'foo', params: [] },
    ]);
  });
});

describe('parseExtensionHeader: invalid values', () => {
  const cases = [
    'permessage-deflate;',
    'permessage-deflate; ',
    'permessage-deflate;; a',
    '; a',
    'permessage-deflate; a=',
    'permessage-deflate; a= ;b',
    'permessage-deflate; =1',
    'permessage-deflate a',
    'permessage-deflate; a b',
    'permessage-deflate; a=1 2',
    'permessage-deflate; a=1=2',
    'perm/essage',
    'permessage-deflate; a="1',
    'permessage-deflate; a=""',
    'permessage-deflate; a="1 0"',
    'permessage-deflate; a="1,0"',
    'permessage-deflate; a="\\"x"',
    'permessage-deflate; a="x\u0001"',
    'permessage-deflate; a="x\\\u0001"',
    'permessage-deflate; a=x"',
    'permessage-deflate; a=\u00e9',
    'permessage-\u00e9',
    'permessage-deflate\u0000',
    'permessage-deflate\r\n; a',
  ];
  for (const input of cases) {
    test(JSON.stringify(input), () => {
      assert.throws(
        () => parseExtensionHeader(input),
        (err: unknown) =>
          err instanceof HandshakeError && err.code === 'INVALID_EXTENSION_HEADER' && err.status === 400,
      );
    });
  }
});

describe('formatExtension', () => {
  test('writes names and values in order', () => {
    assert.equal(
      formatExtension({
        name: 'permessage-deflate',
        params: [
          ['server_no_context_takeover', true],
          ['server_max_window_bits', '10'],
        ],
      }),
      'permessage-deflate; server_no_context_takeover; server_max_window_bits=10',
    );
    assert.equal(formatExtension({ name: 'foo', params: [] }), 'foo');
  });

  test('round-trips through the parser', () => {
    const offer: ExtensionOffer = { name: 'x', params: [['a', true], ['b', '1'], ['a', 'z']] };
    assert.deepEqual(parseExtensionHeader(formatExtension(offer)), [offer]);
  });

  test('refuses what is not a token', () => {
    assert.throws(() => formatExtension({ name: 'a b', params: [] }), TypeError);
    assert.throws(() => formatExtension({ name: 'a', params: [['b;', true]] }), TypeError);
    assert.throws(() => formatExtension({ name: 'a', params: [['b', '1 0']] }), TypeError);
    assert.throws(() => formatExtension({ name: 'a', params: [['b', '']] }), TypeError);
  });
});

test('isToken', () => {
  assert.equal(isToken('permessage-deflate'), true);
  assert.equal(isToken(''), false);
  assert.equal(isToken('a=b'), false);
  assert.equal(isToken('"a"'), false);
  assert.equal(isToken('\u00e9'), false);
});
