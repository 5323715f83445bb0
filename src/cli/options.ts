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

/** "90s", "30m", "24h", "7d", "1500ms" or plain milliseconds. @throws Error naming the option. */
export function parseDuration(option: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new Error(`${option} must be a duration such as 90s, 30m, 24h or 7d, got "${text}"`);
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
}
