import { randomBytes } from 'node:crypto';

/** Room names: 1-64 of A-Za-z0-9_- (case-sensitive, since random ids are mixed case). */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** The room of `/` for the seed-style clients and of raw TCP logins. */
export const DEFAULT_ROOM = 'lobby';

/** Random room ids are this many base64url characters. */
export const ROOM_ID_LENGTH = 16;

/** Whether `name` is a valid room name. */
export function isValidRoomName(name: unknown): name is string {
  return typeof name === 'string' && ROOM_NAME_PATTERN.test(name);
}

/**
 * A new unguessable room id: 12 bytes (96 bits) from the CSPRNG, which is
 * exactly 16 URL-safe base64 characters.
 */
export function newRoomId(): string {
  return randomBytes((ROOM_ID_LENGTH * 3) / 4).toString('base64url');
}
