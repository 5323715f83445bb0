/**
 * What the browser remembers. Storage can be unavailable (private modes,
 * disabled cookies) or full: every access is allowed to fail quietly.
 *
 * - localStorage `wschat.nick`: the last nickname, offered again on the next join.
 * - sessionStorage `wschat.resume.<room>`: this tab's nickname and resume
 *   token, so a reload resumes the seat (no "left"/"joined" notices) instead
 *   of joining again. Per tab, because two tabs are two members.
 * - localStorage `wschat.owner.<room>`: the room's owner key, given to the
 *   browser that created the room (or proved with `/op KEY`): every tab of
 *   this browser joins as an owner.
 * - localStorage `wschat.seen.<room>`: the last seq the user saw in the
 *   room, and its epoch, for the "New since your last visit" line.
 * - localStorage `wschat.notify`, `wschat.sound`: mention notifications
 *   and sound turned on (notify.ts).
 */

const NICK_KEY = 'wschat.nick';
const resumeKey = (room: string) => `wschat.resume.${room}`;
const ownerKeyKey = (room: string) => `wschat.owner.${room}`;
const seenKey = (room: string) => `wschat.seen.${room}`;

export interface ResumeState {
  nick: string;
  token: string;
}

function read(storage: () => Storage, key: string): string | null {
  try {
    return storage().getItem(key);
  } catch {
    return null;
  }
}

function write(storage: () => Storage, key: string, value: string | null): void {
  try {
    if (value === null) storage().removeItem(key);
    else storage().setItem(key, value);
  } catch {
    // Unavailable or full: the next visit just asks again.
  }
}

export function lastNick(): string | null {
  return read(() => localStorage, NICK_KEY);
}

export function saveNick(nick: string): void {
  write(() => localStorage, NICK_KEY, nick);
}

export function loadResume(room: string): ResumeState | null {
  const raw = read(() => sessionStorage, resumeKey(room));
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value === 'object' && value !== null) {
      const { nick, token } = value as Record<string, unknown>;
      if (typeof nick === 'string' && typeof token === 'string') return { nick, token };
    }
  } catch {
    // Corrupt: ignore it.
  }
  return null;
}

export function saveResume(room: string, state: ResumeState | null): void {
  write(() => sessionStorage, resumeKey(room), state === null ? null : JSON.stringify(state));
}

export function loadOwnerKey(room: string): string | null {
  return read(() => localStorage, ownerKeyKey(room));
}

export function saveOwnerKey(room: string, key: string): void {
  write(() => localStorage, ownerKeyKey(room), key);
}

/** How far the user has read a room: a seq of an epoch. */
export interface Seen {
  epoch: string;
  seq: number;
}

export function loadSeen(room: string): Seen | null {
  const raw = read(() => localStorage, seenKey(room));
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value === 'object' && value !== null) {
      const { epoch, seq } = value as Record<string, unknown>;
      if (typeof epoch === 'string' && typeof seq === 'number' && Number.isSafeInteger(seq)) return { epoch, seq };
    }
  } catch {
    // Corrupt: as if never seen.
  }
  return null;
}

export function saveSeen(room: string, seen: Seen): void {
  write(() => localStorage, seenKey(room), JSON.stringify(seen));
}
