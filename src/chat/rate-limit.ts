import type { Clock } from './clock.js';

/**
 * Per-connection input limits: a token bucket decides whether one input is
 * accepted; rejected inputs add "strikes" that decay over time, and a
 * connection whose strikes pass `maxStrikes` is flooding and gets closed
 * (1008). Slightly-too-fast typing only ever sees "slow down"; a client that
 * keeps hammering is cut off.
 */
export interface RateLimitOptions {
  /** Inputs that may arrive at once (bucket capacity). */
  burst: number;
  /** Sustained inputs per second (refill rate). */
  perSecond: number;
  /** Strikes tolerated before the connection counts as flooding. */
  maxStrikes: number;
  /** Strikes forgiven per second. */
  strikeDecayPerSecond: number;
}

/** Generous enough for an offline outbox flushed at reconnect, tight enough for scripts. */
export const DEFAULT_RATE_LIMIT: Readonly<RateLimitOptions> = {
  burst: 20,
  perSecond: 5,
  maxStrikes: 10,
  strikeDecayPerSecond: 1,
};

/** A classic token bucket: `capacity` tokens, refilled continuously at `refillPerSecond`. */
export class TokenBucket {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;

  /** @throws RangeError if capacity < 1 or the refill rate is negative. */
  constructor(capacity: number, refillPerSecond: number, clock: Clock) {
    if (!(capacity >= 1)) throw new RangeError('bucket capacity must be at least 1');
    if (!(refillPerSecond >= 0)) throw new RangeError('refill rate must not be negative');
    this.#capacity = capacity;
    this.#refillPerMs = refillPerSecond / 1000;
    this.#clock = clock;
    this.#tokens = capacity;
    this.#at = clock.now();
  }

  /** Tokens available now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Whether the bucket is full (nothing to remember about it). */
  get full(): boolean {
    return this.tokens >= this.#capacity;
  }

  /**
   * Milliseconds until a whole token is available (0 when one is now), or
   * null when the bucket never refills (a rate of 0).
   */
  msUntilToken(): number | null {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    if (this.#refillPerMs === 0) return null;
    // The epsilon keeps float noise (0.996000001 tokens) from adding a millisecond.
    return Math.ceil((1 - this.#tokens) / this.#refillPerMs - 1e-9);
  }

  /** Takes one token if there is one. */
  take(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#at);
    this.#at = now;
    this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#refillPerMs);
  }
}

/** What to do with one input. */
export type RateVerdict = 'ok' | 'limited' | 'flood';

/** The token bucket plus the decaying strike counter described above. */
export class RateLimiter {
  readonly #bucket: TokenBucket;
  readonly #options: RateLimitOptions;
  readonly #clock: Clock;
  #strikes = 0;
  #strikesAt: number;

  /** @throws RangeError on invalid options (see TokenBucket). */
  constructor(options: RateLimitOptions, clock: Clock) {
    this.#options = options;
    this.#clock = clock;
    this.#bucket = new TokenBucket(options.burst, options.perSecond, clock);
    this.#strikesAt = clock.now();
  }

  /** Accounts for one input. */
  check(): RateVerdict {
    if (this.#bucket.take()) return 'ok';
    return this.strike();
  }

  /**
   * When a refused input may be sent again: milliseconds until the bucket
   * holds a token (at least 1), or null when it never refills.
   */
  retryAfterMs(): number | null {
    const ms = this.#bucket.msUntilToken();
    return ms === null ? null : Math.max(1, ms);
  }

  /** Records one misbehaviour (a rejected input, malformed data) without consuming a token. */
  strike(): 'limited' | 'flood' {
    const now = this.#clock.now();
    const decayed = ((now - this.#strikesAt) / 1000) * this.#options.strikeDecayPerSecond;
    this.#strikes = Math.max(0, this.#strikes - decayed) + 1;
    this.#strikesAt = now;
    return this.#strikes > this.#options.maxStrikes ? 'flood' : 'limited';
  }
}
