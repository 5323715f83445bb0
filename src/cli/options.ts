/** Parsing of command-line values, with messages that name the option. */

/** @throws Error naming the option when `text` is not an integer in [min, max]. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new Error(`${option} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The longest delay a Node.js timer can wait (2^31-1 ms, about 24.8 days).
 * A longer one fires after 1 ms instead, so durations that become timers are
 * capped here.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * "90s", "30m", "24h", "7d", "1500ms" or plain milliseconds, at most `max` ms.
 * @throws Error naming the option when `text` is not such a duration or is over `max`.
 */
export function parseDuration(option: string, text: string, max: number = Number.MAX_SAFE_INTEGER): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`${option} must be a duration such as 90s, 30m, 24h or 7d, got "${text}"`);
  const value = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  // A huge number of digits would otherwise become Infinity (or an imprecise float).
  if (!Number.isSafeInteger(value) || value > max) {
    const days = max >= UNITS.d! ? ` (about ${Math.floor(max / UNITS.d!)} days)` : '';
    throw new Error(`${option} must be at most ${max} ms${days}, got "${text}"`);
  }
  return value;
}
