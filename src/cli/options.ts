/**
 * Parsing of command-line values, with messages that name the option, and
 * the two kinds of failure the CLI reports: a bad command line (UsageError,
 * exit status 2) and anything that went wrong running it (any other error,
 * exit status 1).
 */

/** The command line itself is wrong: unknown command or option, bad value, conflicting options. Exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** True for errors about the command line: ours, and node:util parseArgs's (unknown option, missing value...). */
export function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** "no such file", "permission denied"...: a file error in words, with its code. */
export function describeFileError(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
  };
  if (typeof code === 'string' && words[code] !== undefined) return `${words[code]} (${code})`;
  return error instanceof Error ? error.message : String(error);
}

/** @throws UsageError naming the option when `text` is not an integer in [min, max]. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got "${text}"`);
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
 * @throws UsageError naming the option when `text` is not such a duration or is over `max`.
 */
export function parseDuration(option: string, text: string, max: number = Number.MAX_SAFE_INTEGER): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`${option} must be a duration such as 90s, 30m, 24h or 7d, got "${text}"`);
  const value = Math.round(Number(match[1]) * UNITS[match[2] ?? 'ms']!);
  // A huge number of digits would otherwise become Infinity (or an imprecise float).
  if (!Number.isSafeInteger(value) || value > max) {
    const days = max >= UNITS.d! ? ` (about ${Math.floor(max / UNITS.d!)} days)` : '';
    throw new UsageError(`${option} must be at most ${max} ms${days}, got "${text}"`);
  }
  return value;
}

/**
 * An origin for --allowed-origin: scheme, host and port only, as browsers
 * send it in the Origin header ("https://chat.example.com"); a trailing "/"
 * is accepted. Returns the serialised origin.
 * @throws UsageError for anything else (a path, a query, no scheme, not http(s)).
 */
export function parseOrigin(option: string, text: string): string {
  const refuse = (why: string) =>
    new UsageError(`${option} must be an origin such as https://chat.example.com (${why}), got "${text}"`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refuse('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw refuse('http: or https: only');
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || url.pathname !== '/') {
    throw refuse('no path, query or user');
  }
  return url.origin;
}
