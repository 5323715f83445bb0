/**
 * The browser client's pure logic: no DOM, no globals, so that it runs (and
 * is tested) in Node too. Everything that decides *what* to show lives here;
 * ./room.ts only puts it on the page.
 */

/**
 * Room names, as the server's rule (src/chat/room-name.ts) has them: the
 * NFC form, 1-64 letters, digits or combining marks of any script, "-" or
 * "_", no compatibility forms, nothing invisible, no mark first. The
 * server also refuses names that mix scripts (UTS #39): that part needs
 * Unicode's script data, which the page does not carry; the server's page
 * for such a name says why (a `wschat-bad-room` meta element).
 */
export const ROOM_NAME_MAX = 64;
export const ROOM_NAME_HELP = '1 to 64 letters or digits (in any script: 우리방 works), “-” or “_”; no spaces.';
const ROOM_CHAR = /^[\p{L}\p{M}\p{Nd}_-]$/u;
const ROOM_MARK = /^\p{M}$/u;
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;

/** Length of the ids "New room" makes: 16 characters, 96 bits. */
export const NEW_ROOM_ID_LENGTH = 16;

/** What is wrong with a room name (as typed or from a URL, decoded), or null when it is fine. */
export function roomNameProblem(raw: string): string | null {
  if (raw === '') return 'A room name cannot be empty.';
  const chars = Array.from(raw.normalize('NFC'));
  if (chars.length > ROOM_NAME_MAX) return `A room name has at most ${ROOM_NAME_MAX} characters; this one has ${chars.length}.`;
  for (const char of chars) {
    if (!ROOM_CHAR.test(char) || IGNORABLE.test(char)) return `${describeChar(char)} cannot be part of a room name.`;
    if (char.normalize('NFKC') !== char) return `${describeChar(char)} cannot be part of a room name: type “${char.normalize('NFKC')}” instead.`;
  }
  if (ROOM_MARK.test(chars[0] ?? '')) return 'A room name cannot start with a combining mark.';
  return null;
}

/** The name a room goes by (NFC), or null when it is not valid. */
export function normalizeRoomName(raw: string): string | null {
  return roomNameProblem(raw) === null ? raw.normalize('NFC') : null;
}

export function isValidRoomName(name: string): boolean {
  return normalizeRoomName(name) === name;
}

/**
 * A valid name close to a bad one, to offer instead: what is not allowed
 * becomes "-" ("bad room" -> "bad-room"), compatibility forms their plain
 * form; null when nothing usable is left.
 */
export function suggestRoomName(raw: string): string | null {
  const chars = Array.from(raw.normalize('NFKC')).map((c) => (ROOM_CHAR.test(c) && !IGNORABLE.test(c) ? c : '-'));
  const name = chars.join('').replace(/-{2,}/g, '-').replace(/^[-\p{M}]+|-+$/gu, '');
  const cut = Array.from(name).slice(0, ROOM_NAME_MAX).join('');
  return cut !== '' && normalizeRoomName(cut) === cut && /[\p{L}\p{Nd}]/u.test(cut) ? cut : null;
}

/** “x” for a visible character, U+0020 (a space) and the like for the others. */
function describeChar(char: string): string {
  const code = `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^\p{Zs}$/u.test(char)) return `A space (${code})`;
  if (/^[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}]$/u.test(char)) return `An invisible character (${code})`;
  return `“${char}”`;
}

/** The page a path shows: the landing, a room, or a room name that is not valid (with why). */
export type Route = { page: 'landing' } | { page: 'room'; room: string } | { page: 'bad-room'; name: string; reason: string };

/**
 * The server's path prefix from the page's `<meta name="wschat-base">`
 * ("" at the root, else like "/chat"); anything malformed counts as none.
 */
export function basePathFrom(content: string | null | undefined): string {
  return typeof content === 'string' && /^(?:\/[A-Za-z0-9._~-]+)+$/.test(content) ? content : '';
}

/** Reads `BASE/` and `BASE/r/<name>` (a trailing slash is tolerated). */
export function routeFor(fullPath: string, base = ''): Route {
  let pathname = fullPath;
  if (base !== '') {
    if (pathname === base) pathname = '/';
    else if (pathname.startsWith(`${base}/`)) pathname = pathname.slice(base.length);
    else return { page: 'landing' };
  }
  if (pathname === '/' || pathname === '') return { page: 'landing' };
  const match = /^\/r\/([^/]*)\/?$/.exec(pathname);
  if (!match) return { page: 'landing' };
  const raw = match[1] ?? '';
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    return { page: 'bad-room', name: raw, reason: 'The address is not valid (a broken “%” escape).' };
  }
  const problem = roomNameProblem(name);
  return problem === null ? { page: 'room', room: name.normalize('NFC') } : { page: 'bad-room', name, reason: problem };
}

/** The room's WebSocket URL: same host, `BASE/r/<room>`, `wss:` when the page came over https. */
export function socketUrl(location: { protocol: string; host: string }, room: string, base = ''): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${roomPath(room, base)}`;
}

/** The path of a room's page (and WebSocket endpoint). */
export function roomPath(room: string, base = ''): string {
  return `${base}/r/${encodeURIComponent(room)}`;
}

/** Number of Unicode code points (what the server counts as characters). */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** What to do with the composer's text when the user presses Enter. */
export type DraftCheck = { ok: true } | { ok: false; reason: 'empty' } | { ok: false; reason: 'too-long'; length: number };

export function checkDraft(text: string, maxMessage: number | undefined): DraftCheck {
  if (text.trim() === '') return { ok: false, reason: 'empty' };
  const length = codePointLength(text);
  if (maxMessage !== undefined && length > maxMessage) return { ok: false, reason: 'too-long', length };
  return { ok: true };
}

/** The parts of a keyboard event the composer looks at. */
export interface KeyInfo {
  key: string;
  shiftKey: boolean;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  isComposing?: boolean;
  keyCode?: number;
}

/**
 * Enter sends; Shift+Enter (or Alt+Enter) is a new line; Enter that confirms
 * an IME composition (Korean, Japanese, Chinese input) does neither: it
 * belongs to the input method. `null`: let the browser handle the key.
 */
export function enterAction(event: KeyInfo): 'send' | null {
  if (event.key !== 'Enter') return null;
  // keyCode 229: some browsers' signal that an IME is processing the key.
  if (event.isComposing || event.keyCode === 229) return null;
  if (event.shiftKey || event.altKey) return null;
  return 'send';
}

/**
 * A hue (0-359) for a nickname: FNV-1a over its case-folded UTF-16 code
 * units, so every client colours the same person the same way.
 */
export function nickHue(nick: string): number {
  const key = nick.normalize('NFKC').toLowerCase();
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 360;
}

/** Whether a scroll container is at (or within `slack` px of) its bottom. */
export function isNearBottom(
  metrics: { scrollTop: number; clientHeight: number; scrollHeight: number },
  slack = 48,
): boolean {
  return metrics.scrollHeight - metrics.scrollTop - metrics.clientHeight <= slack;
}

/** The document title: the unread count first, so it shows in a narrow tab. */
export function pageTitle(room: string | null, unread: number): string {
  const base = room === null ? 'wschat' : `${room} · wschat`;
  if (unread <= 0) return base;
  return `(${unread > 99 ? '99+' : unread}) ${base}`;
}

/** Options shared by the time formatters; `timeZone` is for tests. */
export interface TimeOptions {
  locale?: string;
  timeZone?: string;
}

/** Formatters are costly to build and a page formats thousands of times: keep them. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function fmt(options: Intl.DateTimeFormatOptions, t: TimeOptions): Intl.DateTimeFormat {
  const key = JSON.stringify([t.locale, t.timeZone, options]);
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(t.locale, t.timeZone === undefined ? options : { ...options, timeZone: t.timeZone });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** The local calendar day of a timestamp, e.g. "2024-03-05". */
export function dayKey(ts: number, t: TimeOptions = {}): string {
  // en-CA formats dates as YYYY-MM-DD whatever the user's locale.
  return fmt({ year: 'numeric', month: '2-digit', day: '2-digit' }, { ...t, locale: 'en-CA' }).format(ts);
}

/** "14:05" (or "2:05 PM", as the locale has it). */
export function formatTime(ts: number, t: TimeOptions = {}): string {
  return fmt({ hour: 'numeric', minute: '2-digit' }, t).format(ts);
}

/** The full date and time, for a tooltip. */
export function formatFullTime(ts: number, t: TimeOptions = {}): string {
  return fmt({ dateStyle: 'full', timeStyle: 'medium' }, t).format(ts);
}

/** A day separator: "Today", "Yesterday", or the date. */
export function dayLabel(ts: number, now: number, t: TimeOptions = {}): string {
  const day = dayKey(ts, t);
  const today = dayKey(now, t);
  if (day === today) return 'Today';
  if (day === previousDay(today)) return 'Yesterday';
  const sameYear = day.slice(0, 4) === today.slice(0, 4);
  return fmt(
    sameYear
      ? { weekday: 'long', month: 'long', day: 'numeric' }
      : { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' },
    t,
  ).format(ts);
}

/**
 * The calendar day before a YYYY-MM-DD key, by date arithmetic: subtracting
 * 24 h from a timestamp would be wrong next to a daylight-saving change.
 */
function previousDay(key: string): string {
  const [y = 1970, m = 1, d = 1] = key.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d - 1)).toISOString().slice(0, 10);
}

/** A piece of message text: plain, or a link to render as an anchor. */
export type Segment = { text: string; href?: undefined } | { text: string; href: string };

const URL_CANDIDATE = /\bhttps?:\/\/[^\s<>"'`]+/giu;
const TRAILING_PUNCTUATION = /[.,;:!?'"’”]+$/u;

/**
 * Splits text into plain segments and http(s) links. Only absolute http and
 * https URLs become links (never javascript:, data: ...); the caller renders
 * every segment as text.
 */
export function linkify(text: string): Segment[] {
  const out: Segment[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_CANDIDATE)) {
    const start = match.index ?? 0;
    let candidate = match[0].replace(TRAILING_PUNCTUATION, '');
    // A closing bracket belongs to the URL only if it opened one: "(see http://x/a_(b))".
    while (/[)\]]$/.test(candidate) && !balanced(candidate)) candidate = candidate.slice(0, -1);
    let href: string;
    try {
      const url = new URL(candidate);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      href = url.href;
    } catch {
      continue;
    }
    if (start > last) out.push({ text: text.slice(last, start) });
    out.push({ text: candidate, href });
    last = start + candidate.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}

function balanced(s: string): boolean {
  const close = s.at(-1) === ')' ? ')' : ']';
  const open = close === ')' ? '(' : '[';
  let depth = 0;
  for (const c of s) {
    if (c === open) depth++;
    else if (c === close) depth--;
  }
  return depth >= 0;
}

/** Whether `text` mentions `nick` as a whole word (case-insensitive). */
export function mentions(text: string, nick: string): boolean {
  if (nick === '') return false;
  const haystack = text.toLocaleLowerCase();
  const needle = nick.toLocaleLowerCase();
  let from = 0;
  for (;;) {
    const at = haystack.indexOf(needle, from);
    if (at < 0) return false;
    const before = haystack.slice(0, at);
    const after = haystack.slice(at + needle.length);
    if (!/[\p{L}\p{N}_]$/u.test(before) && !/^[\p{L}\p{N}_]/u.test(after)) return true;
    from = at + 1;
  }
}

/** How an own message waiting for its ack reads: `/me x` as an action, `//x` as "/x". */
export function pendingText(text: string): { action: boolean; text: string } {
  if (/^\/me(?:\s|$)/i.test(text)) return { action: true, text: text.replace(/^\/me\s?/i, '') };
  if (text.startsWith('//')) return { action: false, text: text.slice(1) };
  return { action: false, text };
}

/** "Offline · retrying in 12 s" and friends, for the status indicator. */
export function statusText(state: 'connecting' | 'online' | 'offline', retryAt: number | null, now: number): string {
  switch (state) {
    case 'connecting':
      return 'Connecting…';
    case 'online':
      return 'Online';
    case 'offline': {
      if (retryAt === null) return 'Offline';
      const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000));
      return seconds === 0 ? 'Offline · retrying…' : `Offline · retrying in ${seconds} s`;
    }
  }
}

/** Members sorted for display: by nickname, in the user's collation, case-insensitively. */
export function sortMembers<T extends { nick: string }>(members: readonly T[], locale?: string): T[] {
  const collator = new Intl.Collator(locale, { sensitivity: 'base', numeric: true });
  return [...members].sort((a, b) => collator.compare(a.nick, b.nick));
}
