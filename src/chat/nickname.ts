import { randomBytes } from 'node:crypto';
import { codePointLength } from './text.js';
import { MAX_TRIPCODE_SECRET, splitTripcode } from './tripcode.js';
import { skeleton } from './unicode/confusables.js';
import { contextOAllowed, enforceNickname, freeformProperty, nicknameComparisonForm } from './unicode/precis.js';
import { meetsLevel, type RestrictionLevel, restrictionLevel } from './unicode/scripts.js';

/**
 * Nicknames, as RFC 8266 (the PRECIS Nickname profile) prepares, enforces
 * and compares them, with the protections of Unicode Technical Standard #39
 * on top:
 *
 * - Enforcement (RFC 8266 §2.3): spaces of any kind become U+0020, are
 *   trimmed and collapsed; NFKC (so full-width "Ａｌｉｃｅ" is "Alice").
 *   Every code point must then be allowed by the FreeformClass (RFC 8264 §8):
 *   no controls, no unassigned or private-use code points, no
 *   default-ignorable ones (zero-width characters, bidi controls, Hangul
 *   fillers); ZWJ/ZWNJ (CONTEXTJ) are refused outright: they are invisible.
 * - Beyond RFC 8266: 1-24 characters; starts with a letter or a digit; none of
 *   the characters the chat's line formats use as delimiters, nor any look-alike
 *   of them (`: [ ] < > * ! #`), so that a nickname cannot draw another
 *   sender's line; no blank-looking characters (U+2800); at most 4 combining
 *   marks on one character and never the same one twice (UTS #39 §5.4); and
 *   scripts mixed at most as UTS #39 §5.2 "Moderately Restrictive" allows
 *   (Latin with one other Recommended script except Cyrillic and Greek; Latin
 *   with Han and Japanese kana, Bopomofo or Hangul; or one script).
 * - Comparison: the key of a nickname is the UTS #39 §4 skeleton of its
 *   RFC 8266 comparison form (case-mapped), folded again until stable, so
 *   "Alice", "ALICE", "аlice" (Cyrillic а) and "ａｌｉｃｅ" share one key,
 *   as do "rn" and "m". The capital I, which Unicode lists as a look-alike
 *   of l, becomes i under case mapping, so the key also folds i into l.
 * - `alice#secret` asks for a tripcode: the part after the first "#" is a
 *   secret, returned separately (see tripcode.ts); the nickname is "alice".
 */

export const NICK_MAX_LENGTH = 24;

/** Shown as the sender of console broadcasts; nobody may take it. */
export const ADMINISTRATOR = 'Administrator';

/** Names nobody may take, nor anything that looks like them (compared by key). */
export const RESERVED_NICKNAMES: readonly string[] = [
  ADMINISTRATOR,
  'admin',
  'root',
  'server',
  'system',
  'wschat',
  'moderator',
  'operator',
  'owner',
];

/** The strictest mix of scripts a nickname may use (UTS #39 §5.2). */
export const NICK_RESTRICTION_LEVEL: RestrictionLevel = 'moderately-restrictive';

/** Raw input longer than this is refused before normalisation (bounds the work). */
const RAW_LIMIT = 256;

/** Most combining marks in a row on one base character (UTS #39 §5.4 suggests 4). */
const MAX_COMBINING_MARKS = 4;

/**
 * The characters the line formats use to mark who speaks (plain: `nick ::`,
 * TCP: `[nick]`, terminal: `<nick>`, console `***`, tripcode `!`, tripcode
 * secret `#`). A nickname with any of them, or a
 * character whose skeleton contains one, could draw someone else's line.
 */
const DELIMITERS = /[:[\]<>*!#]/;

/** Characters that show as nothing although the FreeformClass allows them. */
const BLANK = /[\u2800]/u;

/** What the plain door names its clients with `--plain-names address`: "203.0.113.9:51234", "[::1]:5555", "...:7334]:5555". */
const ADDRESS_NICK = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\]|\.\.\.[0-9a-f:.]*\]?):\d{1,5}(?:-\d+)?$/i;

const LETTER_OR_DIGIT = /^[\p{L}\p{N}]/u;
const COMBINING_MARK = /^[\p{Mn}\p{Me}]$/u;

/**
 * The outcome of checking a nickname: the enforced nickname, its comparison
 * key, and the tripcode secret typed after "#" (null when none).
 */
export type NickCheck =
  | { ok: true; nick: string; key: string; secret: string | null }
  | { ok: false; code: 'NICK_INVALID'; message: string };

/** Folds a string to its skeleton, lower case, i merged into l, until stable (bounded). */
function fold(input: string): string {
  let current = input;
  for (let round = 0; round < 4; round++) {
    const next = skeleton(current).toLowerCase().replaceAll('i', 'l').normalize('NFD');
    if (next === current) return next;
    current = next;
  }
  return current;
}

/**
 * The key two nicknames share when they must not be in one room together:
 * equal under RFC 8266 comparison or confusable under UTS #39. Never throws;
 * meant for nicknames that passed `checkNickname`.
 */
export function nicknameKey(nick: string): string {
  return fold(nicknameComparisonForm(nick) ?? nick.toLowerCase());
}

/**
 * The keys a nickname is checked against the reserved names with: the
 * comparison key, and the skeleton taken before case mapping (which sees the
 * capital Greek Η as H, where its lower case η looks like n).
 */
function reservedKeys(nick: string): string[] {
  return [nicknameKey(nick), fold(nick)];
}

const RESERVED_KEYS: ReadonlySet<string> = new Set(RESERVED_NICKNAMES.flatMap(reservedKeys));

/** Checks, enforces and keys a nickname (optionally `nick#secret`). Never throws. */
export function checkNickname(raw: unknown): NickCheck {
  if (typeof raw !== 'string') return invalid('nickname must be text');
  if (raw.length > RAW_LIMIT) return invalid(`nickname is longer than ${NICK_MAX_LENGTH} characters`);
  const { nick: name, secret } = splitTripcode(raw);
  if (secret === '') return invalid('the tripcode secret after "#" is empty');
  if (secret !== null && secret.length > MAX_TRIPCODE_SECRET) return invalid('the tripcode secret is too long');
  const enforced = enforceNickname(name);
  if (enforced === null) return invalid('nickname does not settle under normalisation');
  if (enforced.length === 0) return invalid('nickname is empty');
  if (codePointLength(enforced) > NICK_MAX_LENGTH) return invalid(`nickname is longer than ${NICK_MAX_LENGTH} characters`);
  const problem = characterProblem(enforced);
  if (problem !== null) return invalid(problem);
  const key = nicknameKey(enforced);
  if (reservedKeys(enforced).some((k) => RESERVED_KEYS.has(k))) return invalid(`the nickname ${enforced} is reserved`);
  return { ok: true, nick: enforced, key, secret };
}

/** The first rule an enforced nickname breaks, or null. */
function characterProblem(nick: string): string | null {
  const chars = [...nick];
  for (let i = 0; i < chars.length; i++) {
    const char = chars[i] as string;
    const property = freeformProperty(char.codePointAt(0) as number);
    if (property === 'UNASSIGNED') return 'nickname contains unassigned characters';
    if (property === 'DISALLOWED' || property === 'CONTEXTJ' || BLANK.test(char)) {
      return 'nickname contains control or invisible characters';
    }
    if (property === 'CONTEXTO' && !contextOAllowed(chars, i)) {
      return `nickname uses U+${(char.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')} where it is not allowed`;
    }
  }
  if (ADDRESS_NICK.test(nick)) return null;
  if (!LETTER_OR_DIGIT.test(nick)) return 'nickname must start with a letter or a digit';
  if (chars.some((char) => DELIMITERS.test(char) || DELIMITERS.test(skeleton(char)))) {
    return 'nickname must not contain : [ ] < > * ! # or characters that look like them';
  }
  if (!marksBounded(nick)) return `nickname has more than ${MAX_COMBINING_MARKS} or repeated combining marks on one character`;
  if (!meetsLevel(restrictionLevel(nick), NICK_RESTRICTION_LEVEL)) {
    return 'nickname mixes scripts that look alike (such as Latin with Cyrillic or Greek)';
  }
  return null;
}

/** UTS #39 §5.4: no more than MAX_COMBINING_MARKS nonspacing marks in a row, and none twice in one run (in NFD). */
function marksBounded(nick: string): boolean {
  let run: string[] = [];
  for (const char of nick.normalize('NFD')) {
    if (!COMBINING_MARK.test(char)) {
      run = [];
      continue;
    }
    if (run.includes(char)) return false;
    run.push(char);
    if (run.length > MAX_COMBINING_MARKS) return false;
  }
  return true;
}

/**
 * A nickname derived from a peer address ("ip:port"), as the plain door
 * names its clients with `--plain-names address`. Long IPv6 addresses keep
 * their tail behind "..." so the result stays within NICK_MAX_LENGTH.
 */
export function addressNickname(address: string, port: number): string {
  const full = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  return codePointLength(full) <= NICK_MAX_LENGTH ? full : `...${full.slice(full.length - (NICK_MAX_LENGTH - 3))}`;
}

/**
 * A fresh "guest-XXXX" nickname (4 random hex digits), as the plain door
 * names its clients until they send `/nick`; no trace of the address.
 */
export function guestNickname(): string {
  return `guest-${randomBytes(2).toString('hex')}`;
}

function invalid(message: string): NickCheck {
  return { ok: false, code: 'NICK_INVALID', message };
}
