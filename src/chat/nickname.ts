import { codePointLength } from './text.js';

/**
 * Nicknames: 1-24 characters after NFC normalisation; letters of any script
 * (Korean included), digits, marks, punctuation and symbols; single inner
 * spaces; nothing invisible. Uniqueness within a room is decided on a fold
 * key, so "Alice", "ALICE" and the full-width "Ａｌｉｃｅ" are the same person.
 */

export const NICK_MAX_LENGTH = 24;

/** Shown as the sender of console broadcasts; nobody may take it. */
export const ADMINISTRATOR = 'Administrator';

/** Raw input longer than this is refused before normalisation (bounds the work). */
const RAW_LIMIT = 256;

// Control (Cc), format (Cf: bidi overrides, zero-width joiners...), surrogates,
// private use, unassigned, line/paragraph separators, and default-ignorable code
// points (Hangul fillers U+115F/U+1160/U+3164/U+FFA0, variation selectors...),
// all of which render as nothing or as something else than they are.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u;
// Any space other than U+0020 (no-break, ideographic, en/em spaces...).
const OTHER_SPACE = /[^\S ]/u;
const VISIBLE_CORE = /[\p{L}\p{N}]/u;

/** The outcome of checking a nickname: the normalised nick and its fold key. */
export type NickCheck = { ok: true; nick: string; key: string } | { ok: false; code: 'NICK_INVALID'; message: string };

/** The case- and compatibility-insensitive key two equal nicknames share. */
export function nicknameKey(nick: string): string {
  // NFKC folds compatibility forms (full-width letters, ligatures); upper then
  // lower approximates Unicode case folding (ß -> ss, final sigma -> sigma).
  return nick.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC');
}

const ADMINISTRATOR_KEY = nicknameKey(ADMINISTRATOR);

/** Checks and normalises a nickname. Never throws. */
export function checkNickname(raw: unknown): NickCheck {
  if (typeof raw !== 'string') return invalid('nickname must be text');
  if (raw.length > RAW_LIMIT) return invalid(`nickname is longer than ${NICK_MAX_LENGTH} characters`);
  const nick = raw.normalize('NFC');
  if (nick.length === 0) return invalid('nickname is empty');
  if (INVISIBLE.test(nick)) return invalid('nickname contains control or invisible characters');
  if (OTHER_SPACE.test(nick)) return invalid('nickname may only contain plain spaces');
  if (nick.startsWith(' ') || nick.endsWith(' ')) return invalid('nickname must not start or end with a space');
  if (nick.includes('  ')) return invalid('nickname must not contain consecutive spaces');
  if (codePointLength(nick) > NICK_MAX_LENGTH) return invalid(`nickname is longer than ${NICK_MAX_LENGTH} characters`);
  if (!VISIBLE_CORE.test(nick)) return invalid('nickname needs at least one letter or digit');
  const key = nicknameKey(nick);
  if (key === ADMINISTRATOR_KEY) return invalid(`"${ADMINISTRATOR}" is reserved`);
  return { ok: true, nick, key };
}

/**
 * A nickname derived from a peer address ("ip:port"), as the seed-style plain
 * clients start with. Long IPv6 addresses keep their tail so the result stays
 * within NICK_MAX_LENGTH.
 */
export function addressNickname(address: string, port: number): string {
  const full = `${address.includes(':') ? `[${address}]` : address}:${port}`;
  return codePointLength(full) <= NICK_MAX_LENGTH ? full : `…${full.slice(full.length - (NICK_MAX_LENGTH - 1))}`;
}

function invalid(message: string): NickCheck {
  return { ok: false, code: 'NICK_INVALID', message };
}
