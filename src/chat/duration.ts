/**
 * Durations as people type them in commands and options: "90s", "30m",
 * "24h", "7d", "1500ms" (or plain milliseconds).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The duration in ms, or null when `text` is not one (or is not a safe integer of ms). */
export function parseDuration(text: string): number | null {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return null;
  const value = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  return Number.isSafeInteger(value) ? value : null;
}

/** "1h", "10m", "45s", "2d": the largest unit that divides it, else minutes or seconds rounded. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', UNITS.d!],
    ['h', UNITS.h!],
    ['m', UNITS.m!],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  if (ms >= UNITS.h!) return `${Math.round(ms / UNITS.m!)}m`;
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}
