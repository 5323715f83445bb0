import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { applyMask, applyMaskScalar, MaskKeyPool } from '../../../src/websocket/protocol/mask.js';
import { hex } from '../../support/bytes.js';

function naiveMask(data: Uint8Array, key: Uint8Array, phase: number): Buffer {
  const out = Buffer.from(data);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! ^ key[(i + phase) & 3]!;
  return out;
}

describe('applyMask (and its JavaScript loop)', () => {
  test('masks "Hello" as in RFC 6455 §5.7', () => {
    const data = Buffer.from('Hello');
    applyMask(data, hex('37 fa 21 3d'));
    assert.deepEqual(data, hex('7f 9f 4d 51 58'));
  });

  test('equals the byte-wise definition for any alignment, phase and length', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1200 }),
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
          const scalar = Buffer.from(bytes);
          applyMaskScalar(scalar, key, phase);
          assert.deepEqual(scalar, naiveMask(bytes, key, phase));
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

describe('applyMask on large ranges (the WebAssembly SIMD path)', () => {
  test('equals the byte-wise definition for any alignment, phase, range and length up to 200 KiB', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200_000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.nat(7),
        fc.nat(3),
        fc.nat(100),
        fc.nat(100),
        fc.integer(),
        (length, key, offset, phase, before, after, seed) => {
          const bytes = Buffer.allocUnsafe(length);
          for (let i = 0; i < length; i++) bytes[i] = (seed + i * 2654435761) >>> 24;
          // The range [before, length - after) of a view at an arbitrary offset.
          const backing = Buffer.alloc(length + 8);
          const view = backing.subarray(offset, offset + length);
          view.set(bytes);
          const start = Math.min(before, length);
          const end = Math.max(start, length - after);
          applyMask(view, key, phase, start, end);
          const expected = Buffer.from(bytes);
          expected.set(naiveMask(bytes.subarray(start, end), key, phase), start);
          assert.deepEqual(view, expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  test('agrees with the JavaScript loop, piece by piece across the 64 KiB block size', () => {
    const key = hex('37 fa 21 3d');
    const data = Buffer.allocUnsafe(3 * 65536 + 77);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131) & 0xff;
    const simd = Buffer.from(data);
    const scalar = Buffer.from(data);
    const cuts = [0, 1, 513, 65536, 65600, 140_001, data.length];
    for (let c = 1; c < cuts.length; c++) {
      applyMask(simd, key, cuts[c - 1]!, cuts[c - 1], cuts[c]);
      applyMaskScalar(scalar, key, cuts[c - 1]!, cuts[c - 1], cuts[c]);
    }
    assert.deepEqual(simd, scalar);
    assert.deepEqual(simd, naiveMask(data, key, 0));
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
