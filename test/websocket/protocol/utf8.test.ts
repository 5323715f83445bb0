import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isValidUtf8, Utf8Validator } from '../../../src/websocket/protocol/utf8.js';
import { hex } from '../../support/bytes.js';

const valid = [
  '',
  '48 65 6c 6c 6f', // Hello
  'ce ba e1 bd b9 cf 83 ce bc ce b5', // κόσμε
  'c2 80', // U+0080
  'df bf', // U+07FF
  'e0 a0 80', // U+0800
  'ed 9f bf', // U+D7FF
  'ee 80 80', // U+E000
  'ef bf bf', // U+FFFF
  'f0 90 80 80', // U+10000
  'f4 8f bf bf', // U+10FFFF
];
const invalid = [
  'c0 80', // overlong NUL
  'c1 bf', // overlong
  'e0 9f bf', // overlong 3-byte
  'ed a0 80', // UTF-16 surrogate U+D800
  'ed bf bf', // surrogate U+DFFF
  'f0 8f bf bf', // overlong 4-byte
  'f4 90 80 80', // above U+10FFFF
  'f5 80 80 80', // F5 never appears
  'ff', // FF never appears
  '80', // lone continuation
  'ce', // truncated sequence at the end
  'e1 bd', // truncated sequence at the end
  'ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64', // Autobahn 6.4.1-style
];

describe('UTF-8 validation', () => {
  for (const v of valid) {
    test(`accepts ${v || '(empty)'}`, () => {
      assert.equal(isValidUtf8(hex(v)), true);
      const validator = new Utf8Validator();
      assert.equal(validator.push(hex(v)), true);
      assert.equal(validator.complete, true);
    });
  }
  for (const v of invalid) {
    test(`rejects ${v}`, () => {
      assert.equal(isValidUtf8(hex(v)), false);
      const validator = new Utf8Validator();
      const ok = validator.push(hex(v)) && validator.complete;
      assert.equal(ok, false);
    });
  }

  test('fails at the first byte that cannot continue, before the sequence ends', () => {
    // F4 90 can never start a valid sequence: the failure is on the 2nd byte.
    const validator = new Utf8Validator();
    assert.equal(validator.push(hex('f4')), true);
    assert.equal(validator.push(hex('90')), false);
  });

  test('a sequence split across pieces is accepted', () => {
    const validator = new Utf8Validator();
    for (const b of hex('f0 90 80 80')) assert.equal(validator.push(Buffer.from([b])), true);
    assert.equal(validator.complete, true);
  });

  test('agrees with the native validator on any input and any split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(64), (bytes, cut) => {
        const data = Buffer.from(bytes);
        const validator = new Utf8Validator();
        const at = Math.min(cut, data.length);
        const ok = validator.push(data, 0, at) && validator.push(data, at) && validator.complete;
        assert.equal(ok, isValidUtf8(data));
      }),
    );
  });

  test('agrees on valid strings of any code points', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const validator = new Utf8Validator();
        assert.equal(validator.push(Buffer.from(s)) && validator.complete, true);
      }),
    );
  });
});
