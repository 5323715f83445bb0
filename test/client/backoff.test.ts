import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from '../../src/client/backoff.js';

test('the ceiling doubles from 500 ms and stops at 30 s', () => {
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7, 100, 5000].map((a) => backoffCeiling(a)),
    [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000],
  );
  assert.equal(DEFAULT_BACKOFF.maxMs, 30_000);
});

test('full jitter: every delay is a whole number of ms in [0, ceiling), whatever the attempt', () => {
  fc.assert(
    fc.property(fc.nat(10_000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, r) => {
      const delay = backoffDelay(attempt, DEFAULT_BACKOFF, () => r);
      assert.ok(Number.isInteger(delay));
      assert.ok(delay >= 0 && delay < backoffCeiling(attempt), `${delay}`);
      assert.ok(delay < 30_000);
    }),
  );
});

test('the delay spans the whole range: 0 at random 0, just under the ceiling near 1', () => {
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0), 0);
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999999), 3999);
  assert.equal(backoffDelay(3, DEFAULT_BACKOFF, () => 0.5), 2000);
  // A random source that wrongly returns 1 still stays below the ceiling.
  assert.equal(backoffDelay(20, DEFAULT_BACKOFF, () => 1), 29_999);
});

test('delays drawn with Math.random spread over the range (jitter, not lockstep)', () => {
  const delays = Array.from({ length: 2000 }, () => backoffDelay(10));
  const low = delays.filter((d) => d < 15_000).length;
  // Uniform on [0, 30000): about half below 15 s; 40-60 % leaves a wide margin.
  assert.ok(low > 800 && low < 1200, `${low} of 2000 below 15 s`);
  assert.ok(new Set(delays).size > 1500);
});

test('custom base and cap', () => {
  const options = { baseMs: 100, maxMs: 1000 };
  assert.equal(backoffCeiling(0, options), 100);
  assert.equal(backoffCeiling(3, options), 800);
  assert.equal(backoffCeiling(4, options), 1000);
});
