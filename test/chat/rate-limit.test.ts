import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/chat/clock.js';
import { RateLimiter, TokenBucket } from '../../src/chat/rate-limit.js';

describe('TokenBucket', () => {
  test('allows a burst, then refills at the configured rate', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(3, 2, clock);
    assert.deepEqual([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
    clock.advance(499);
    assert.equal(bucket.take(), false);
    clock.advance(1);
    assert.equal(bucket.take(), true);
    clock.advance(60_000);
    assert.equal(bucket.tokens, 3, 'never above capacity');
  });

  test('msUntilToken: 0 with a token, the exact wait without, null when it never refills', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket(1, 3, clock);
    assert.equal(bucket.msUntilToken(), 0);
    bucket.take();
    assert.equal(bucket.msUntilToken(), 334);
    clock.advance(300);
    assert.equal(bucket.msUntilToken(), 34);
    clock.advance(34);
    assert.equal(bucket.take(), true);
    const never = new TokenBucket(1, 0, clock);
    never.take();
    assert.equal(never.msUntilToken(), null);
  });

  test('refuses nonsense', () => {
    const clock = new ManualClock();
    assert.throws(() => new TokenBucket(0, 1, clock), RangeError);
    assert.throws(() => new TokenBucket(1, -1, clock), RangeError);
  });
});

describe('RateLimiter', () => {
  const options = { burst: 2, perSecond: 1, maxStrikes: 3, strikeDecayPerSecond: 1 };

  test('over the limit is "limited", persistent flooding is "flood"', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(options, clock);
    const verdicts = Array.from({ length: 6 }, () => limiter.check());
    assert.deepEqual(verdicts, ['ok', 'ok', 'limited', 'limited', 'limited', 'flood']);
  });

  test('typing slightly too fast is never flooding: strikes decay', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(options, clock);
    const verdicts = new Set<string>();
    // 2 inputs per second against a refill of 1 per second, for a minute.
    for (let i = 0; i < 120; i++) {
      verdicts.add(limiter.check());
      clock.advance(500);
    }
    assert.ok(verdicts.has('limited'));
    assert.ok(!verdicts.has('flood'));
  });

  test('retryAfterMs: when the next input will be accepted, at least 1 ms', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(options, clock);
    assert.equal(limiter.retryAfterMs(), 1, 'a token is there: resend at once');
    limiter.check();
    limiter.check();
    assert.equal(limiter.check(), 'limited');
    assert.equal(limiter.retryAfterMs(), 1000);
    clock.advance(1000);
    assert.equal(limiter.check(), 'ok');
    assert.equal(new RateLimiter({ ...options, perSecond: 0, burst: 1 }, clock).retryAfterMs(), 1);
  });

  test('strike() counts misbehaviour without consuming tokens', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(options, clock);
    assert.deepEqual([limiter.strike(), limiter.strike(), limiter.strike(), limiter.strike()], ['limited', 'limited', 'limited', 'flood']);
    assert.equal(limiter.check(), 'ok');
  });
});
