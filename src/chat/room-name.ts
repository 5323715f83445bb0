import { randomBytes } from 'node:crypto';
import { meetsLevel, restrictionLevel } from './unicode/scripts.js';

/**
 * Room names. A room is named by its URL (`/r/우리방`), by `/join` on the TCP
 * door and by the console, so a name must read the same in an address bar,
 * a terminal and a log, and must not pass for another one. The rule:
 *
 * - NFC first: `/r/` followed by the decomposed form of a name (as some
 *   keyboards and file systems produce it) is the same room as the composed
 *   form. Everything below applies to the NFC form, which is the room's name.
 * - 1-64 characters (code points), each a letter (`\p{L}`), a decimal digit
 *   (`\p{Nd}`), a combining mark (`\p{M}`, which Indic and other scripts
 *   need inside words, never first), `_` or `-`. So no separators (spaces,
 *   `/`, `.`, `#`, `?`, `%`), no symbols or punctuation, and never `{` or `}`,
 *   which delimit the Redis Cluster hash tag of a room's keys.
 * - No character that NFKC changes (fullwidth `Ａ`, ligatures, `ｶ`): they are
 *   compatibility variants of other characters, and `/r/Ａ` next to `/r/A`
 *   would be two rooms that look alike.
 * - No default-ignorable characters, though some are letters by category
 *   (the Hangul fillers U+115F, U+1160, U+3164, U+FFA0 are `Lo`): invisible.
 * - At most UTS #39 §5.2 "Moderately Restrictive" in scripts, as nicknames
 *   (nickname.ts): one script, or Latin with Han and kana or Hangul or
 *   Bopomofo, or Latin with one other Recommended script but Cyrillic and
 *   Greek. `pаypal` with a Cyrillic `а` is refused, `우리방`, `team-우리`,
 *   `東京2025`, `проект`, `ελληνικά` are fine.
 *
 * What this does not prevent: two single-script names that look alike
 * (Latin `xoxo` and Cyrillic `хохо`), and case differences (`Team` and
 * `team` are two rooms, since random room ids are mixed case). Room names
 * are not identities (nobody owns a name; a room's owner holds its key), so
 * a look-alike room is at worst a link to the wrong room, which its members
 * and topic show at once. ASCII names are exactly as before: 1-64 of
 * `A-Za-z0-9_-`.
 */

/** The room of `/` for the seed-style clients and of raw TCP logins. */
export const DEFAULT_ROOM = 'lobby';

/** Random room ids are this many base64url characters. */
export const ROOM_ID_LENGTH = 16;

/** The longest room name, in code points. */
export const ROOM_NAME_MAX = 64;

/** The rule in a few words, for error messages. */
export const ROOM_NAME_RULE = 'room names are 1-64 letters or digits (of any script), "-" or "_", with no spaces';

const ALLOWED = /^[\p{L}\p{M}\p{Nd}_-]$/u;
const MARK = /^\p{M}$/u;
const IGNORABLE = /^\p{Default_Ignorable_Code_Point}$/u;

export type RoomNameCheck = { ok: true; name: string } | { ok: false; message: string };

/**
 * Checks a room name as typed or taken from a URL (already percent-decoded)
 * and gives its normal form. Never throws.
 */
export function checkRoomName(raw: unknown): RoomNameCheck {
  if (typeof raw !== 'string' || raw === '') return { ok: false, message: 'a room name cannot be empty' };
  // Bounded before normalising: NFC of a huge string is work for nothing.
  if (raw.length > ROOM_NAME_MAX * 4) return { ok: false, message: `${ROOM_NAME_RULE}; this one is too long` };
  const name = raw.normalize('NFC');
  const chars = Array.from(name);
  if (chars.length > ROOM_NAME_MAX) return { ok: false, message: `${ROOM_NAME_RULE}; this one has ${chars.length} characters` };
  for (const char of chars) {
    if (!ALLOWED.test(char) || IGNORABLE.test(char)) {
      return { ok: false, message: `${ROOM_NAME_RULE}; ${describeChar(char)} is not allowed` };
    }
    if (char.normalize('NFKC') !== char) {
      return { ok: false, message: `${ROOM_NAME_RULE}; ${describeChar(char)} is a compatibility form of ${JSON.stringify(char.normalize('NFKC'))}: use that` };
    }
  }
  if (MARK.test(chars[0] as string)) return { ok: false, message: `${ROOM_NAME_RULE}; a name cannot start with a combining mark` };
  if (!meetsLevel(restrictionLevel(name), 'moderately-restrictive')) {
    return { ok: false, message: 'a room name cannot mix these scripts (it could pass for another name); use one script, or Latin with one other' };
  }
  return { ok: true, name };
}

/** The normal form of a valid room name, or null. */
export function roomName(raw: unknown): string | null {
  const check = checkRoomName(raw);
  return check.ok ? check.name : null;
}

/** Whether `name` is a valid room name in its normal form (what a room is called). */
export function isValidRoomName(name: unknown): name is string {
  return typeof name === 'string' && roomName(name) === name;
}

/** "U+0020 (a space)", "“/”": a character named in an error message, visible whatever it is. */
function describeChar(char: string): string {
  const cp = char.codePointAt(0) ?? 0;
  const code = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^\p{Zs}$/u.test(char)) return `${code} (a space)`;
  if (/^[\p{Cc}\p{Cf}\p{Z}\p{Default_Ignorable_Code_Point}]$/u.test(char)) return `${code} (invisible)`;
  return `“${char}”`;
}

/**
 * A new unguessable room id: 12 bytes (96 bits) from the CSPRNG, which is
 * exactly 16 URL-safe base64 characters.
 */
export function newRoomId(): string {
  return randomBytes((ROOM_ID_LENGTH * 3) / 4).toString('base64url');
}
