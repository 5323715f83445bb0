import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { applyMask, MaskKeyPool } from '../../../src/websocket/protocol/mask.js';
import { hex } from '../../support/bytes.js';

function naiveMask(data: Uint8Array, key: Uint8Array, phase: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key[(i + phase) & 3]!;
  return out;
}

describe('applyMask', () => {
  test('masks "Hello" as in RFC 6455 §5.7', () => {
    const data = Buffer.from('Hello');
    applyMask(data, hex('37 fa 21 3d'));
    assert.deepEqual(data, hex('7f 9f 4d 51 58'));
  });

  test('equals the byte-wise definition for any alignment, phase and length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(3),
        (bytes, key, offset, phase) => {
          // Place the data at an arbitrary offset so every alignment of the word loop is exercised.
          const backing = Buffer.alloc(bytes.length + 8);
          const view = backing.subarray(offset, offset + bytes.length);
          view.set(bytes);
          applyMask(view, key, phase);
          assert.deepEqual(view, naiveMask(bytes, key, phase));
        },
      ),
    );
  });

  test('masking piece by piece with the running phase equals one pass', () => {
    const key = hex('01 02 03 04');
    const data = Buffer.from('The quick brown fox jumps over the lazy dog');
    const whole = Buffer.from(data);
    applyMask(whole, key);
    const pieces = Buffer.from(data);
    applyMask(pieces, key, 0, 0, 5);
    applyMask(pieces, key, 5, 5, 18);
    applyMask(pieces, key, 18, 18, pieces.length);
    assert.deepEqual(pieces, whole);
  });
});

describe('MaskKeyPool', () => {
  test('gives 4-byte keys that differ and are copies', () => {
    const pool = new MaskKeyPool(16);
    const keys = Array.from({ length: 20 }, () => pool.next());
    for (const k of keys) assert.equal(k.length, 4);
    assert.ok(new Set(keys.map((k) => k.toString('hex'))).size > 15);
    const first = keys[0]!;
    const copy = Buffer.from(first);
    pool.next();
    assert.deepEqual(first, copy);
  });
});
