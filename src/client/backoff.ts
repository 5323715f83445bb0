/**
 * Reconnection delays: exponential backoff with "full jitter" (a uniformly
 * random delay between 0 and the exponential ceiling), so that a room full of
 * clients cut off by one server restart does not come back in lockstep.
 */

export interface BackoffOptions {
  /** Ceiling of the first retry, ms. */
  baseMs: number;
  /** No delay is ever longer than this, ms. */
  maxMs: number;
}

/** Defaults: 0.5 s, 1 s, 2 s, ... then 30 s from the seventh attempt on. */
export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** The largest delay for a 0-based `attempt`: min(maxMs, baseMs * 2^attempt). */
export function backoffCeiling(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF): number {
  // 2 ** attempt is Infinity for huge attempts, which Math.min handles.
  return Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));
}

/**
 * The delay before retry number `attempt` (0-based): a whole number of ms in
 * [0, ceiling). `random` returns a number in [0, 1), like Math.random.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = backoffCeiling(attempt, options);
  // Clamp in case an injected random source returns exactly 1.
  return Math.min(Math.floor(random() * ceiling), Math.max(0, ceiling - 1));
}
