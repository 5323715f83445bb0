import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SIMD_BLOCK, simdMasker } from '../../../src/websocket/protocol/mask-simd.js';

describe('the WebAssembly SIMD masker', () => {
  test('is available on the Node versions we support (>= 20), so large payloads take the fast path', () => {
    assert.ok(simdMasker, 'WebAssembly SIMD did not instantiate');
  });

  test('XORs every 4-byte group of a block with the little-endian key word and nothing past n', () => {
    const masker = simdMasker!;
    const n = 4096;
    masker.heap.fill(0xaa, 0, n + 64);
    masker.xor(n, 0x3d21fa37); // key bytes 37 fa 21 3d
    const key = [0x37, 0xfa, 0x21, 0x3d];
    for (let i = 0; i < n; i++) assert.equal(masker.heap[i], 0xaa ^ key[i & 3]!, `byte ${i}`);
    for (let i = n; i < n + 64; i++) assert.equal(masker.heap[i], 0xaa, `byte ${i} past the block`);
  });

  test('a block fits the module memory and keeps the key phase (a multiple of 64)', () => {
    assert.ok(simdMasker!.heap.length >= SIMD_BLOCK);
    assert.equal(SIMD_BLOCK % 64, 0);
  });
});
