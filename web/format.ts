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
 * Nickname colours: a palette of NICK_COLOURS colours per theme
 * (styles.css, `--nick-0` ... `--nick-11`), each readable on every
 * background of its theme (WCAG AA, 4.5:1) and apart from the others
 * (test/web/palette.test.ts checks both). Colour i has the same hue in both
 * themes, so a person keeps their colour when the theme changes.
 */
export const NICK_COLOURS = 12;

/**
 * A nickname's colour, 0 to NICK_COLOURS - 1: FNV-1a over its case-folded,
 * NFKC form (so "Alice" and "ＡＬＩＣＥ" are one person, one colour),
 * then the avalanche step of MurmurHash3 (fmix32), so that names one letter
 * apart ("민수", "민서"; "user1", "user2") land on unrelated colours instead
 * of neighbouring ones. Every client computes the same colour.
 */
export function nickColour(nick: string): number {
  const key = nick.normalize('NFKC').toLowerCase();
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  // The high bits, scaled (Lemire's "fastrange"), rather than a remainder of the low ones.
  return Math.floor(((hash >>> 0) * NICK_COLOURS) / 2 ** 32);
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

/**
 * What the status indicator shows. Besides the session's states: `idle`
 * before the first join (the nickname dialog is waiting for the user, not
 * for the network) and `waiting` when the server asked for another
 * nickname or the room's password.
 */
export type StatusState = 'idle' | 'waiting' | 'connecting' | 'online' | 'offline';

/** "Offline · retrying in 12 s" and friends, for the status indicator. */
export function statusText(state: StatusState, retryAt: number | null, now: number): string {
  switch (state) {
    case 'idle':
      return 'Not joined yet';
    case 'waiting':
      return 'Waiting for you';
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

/** The status in a few characters, for a phone's one-row header: "Online", "Offline", "12 s". */
export function statusShort(state: StatusState, retryAt: number | null, now: number): string {
  if (state !== 'offline' || retryAt === null) return state === 'connecting' ? '…' : state === 'online' ? 'Online' : state === 'offline' ? 'Offline' : 'Join';
  const seconds = Math.max(0, Math.ceil((retryAt - now) / 1000));
  return seconds === 0 ? 'Retrying' : `Retry ${seconds} s`;
}

/** Members sorted for display: by nickname, in the user's collation, case-insensitively. */
export function sortMembers<T extends { nick: string }>(members: readonly T[], locale?: string): T[] {
  const collator = new Intl.Collator(locale, { sensitivity: 'base', numeric: true });
  return [...members].sort((a, b) => collator.compare(a.nick, b.nick));
}

/** A message this long or longer is shown collapsed, with "Show more". */
export const COLLAPSE_LINES = 12;
export const COLLAPSE_CHARS = 800;

/** Whether a message takes so much room that it is shown collapsed at first. */
export function shouldCollapse(text: string): boolean {
  if (text.length > COLLAPSE_CHARS && codePointLength(text) > COLLAPSE_CHARS) return true;
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) if (++lines > COLLAPSE_LINES) return true;
  return false;
}

/** A message's first words, for a reply's quote or a notification: one line, at most `max` characters. */
export function snippet(text: string, max = 80): string {
  const line = text.replace(/\s+/g, ' ').trim();
  const chars = Array.from(line);
  return chars.length <= max ? line : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/** How long an author may edit or delete a message (the server's EDIT_WINDOW_MS; it decides). */
export const EDIT_WINDOW_MS = 15 * 60_000;

/** Whether an own entry of time `ts` may still be edited or deleted at `now`. */
export function editable(ts: number, now: number): boolean {
  return now - ts < EDIT_WINDOW_MS;
}

/**
 * The `/help` answer as rows, for a two-column layout (the server aligns
 * its columns with spaces, for terminals; a proportional font would not
 * keep them): "Commands:", then "  /usage  what it does" lines, then any
 * closing lines. Null when the text is not that list.
 */
export function parseHelp(text: string): { title: string; rows: { usage: string; help: string }[]; notes: string[] } | null {
  const lines = text.split('\n');
  const title = lines[0] ?? '';
  if (!/^Commands:?$/.test(title)) return null;
  const rows: { usage: string; help: string }[] = [];
  let i = 1;
  for (; i < lines.length; i++) {
    const match = /^\s+(\/\S.*?)\s{2,}(\S.*)$/.exec(lines[i] ?? '');
    if (match === null) break;
    rows.push({ usage: match[1] ?? '', help: match[2] ?? '' });
  }
  if (rows.length === 0) return null;
  return { title, rows, notes: lines.slice(i).filter((l) => l.trim() !== '') };
}

/** A join or leave notice, as a run of them is summed up. */
export interface PresenceNotice {
  nick: string;
  event: 'join' | 'leave';
}

/** "alice", "alice and bob", "alice, bob and carol", "alice, bob, carol and 2 others". */
export function nameList(names: readonly string[], shown = 3): string {
  if (names.length <= 1) return names[0] ?? '';
  if (names.length <= shown) return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  const rest = names.length - shown;
  return `${names.slice(0, shown).join(', ')} and ${rest} ${rest === 1 ? 'other' : 'others'}`;
}

/**
 * A run of join and leave notices in one line: each person once, by what
 * the run did to them, in the order they first appear: "alice and bob
 * joined; carol left; dave joined and left; erin left and came back".
 */
export function summarizePresence(notices: readonly PresenceNotice[]): string {
  const firstLast = new Map<string, { first: PresenceNotice['event']; last: PresenceNotice['event'] }>();
  for (const n of notices) {
    const seen = firstLast.get(n.nick);
    if (seen === undefined) firstLast.set(n.nick, { first: n.event, last: n.event });
    else seen.last = n.event;
  }
  const groups: [string, string[]][] = [
    ['joined', []],
    ['left', []],
    ['joined and left', []],
    ['left and came back', []],
  ];
  for (const [nick, { first, last }] of firstLast) {
    const index = first === 'join' ? (last === 'join' ? 0 : 2) : last === 'leave' ? 1 : 3;
    groups[index]?.[1].push(nick);
  }
  return groups
    .filter(([, names]) => names.length > 0)
    .map(([verb, names]) => `${nameList(names)} ${verb}`)
    .join('; ');
}

/** "alice is typing…", "alice and bob are typing…", "Several people are typing…". */
export function typingText(nicks: readonly string[]): string {
  if (nicks.length === 0) return '';
  if (nicks.length > 3) return 'Several people are typing…';
  return `${nameList(nicks)} ${nicks.length === 1 ? 'is' : 'are'} typing…`;
}

/**
 * Nickname completion in the composer: the word before the caret (from
 * the last space, or the start), without a leading "@", and the members
 * whose nickname starts with it (case-insensitively; not ourselves), best
 * first. Null when the caret is not after a word that could be a name.
 */
export function completionAt(
  value: string,
  caret: number,
  nicks: readonly string[],
  me: string,
): { start: number; prefix: string; at: boolean; matches: string[] } | null {
  const before = value.slice(0, caret);
  const match = /(^|\s)(@?)([^\s@]*)$/u.exec(before);
  if (match === null) return null;
  const at = match[2] === '@';
  const prefix = match[3] ?? '';
  if (!at && prefix === '') return null;
  const start = caret - prefix.length - (at ? 1 : 0);
  const wanted = prefix.toLocaleLowerCase();
  const matches = nicks
    .filter((n) => n !== me && n.toLocaleLowerCase().startsWith(wanted))
    .sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
  return { start, prefix, at, matches };
}

/** The composer's text with the word at `start..caret` replaced by a mention of `nick`; and the new caret. */
export function insertMention(value: string, start: number, caret: number, nick: string): { value: string; caret: number } {
  const after = value.slice(caret);
  const mention = `@${nick}${after.startsWith(' ') ? '' : ' '}`;
  const next = value.slice(0, start) + mention + after;
  return { value: next, caret: start + mention.length };
}
