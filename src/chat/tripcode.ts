/**
 * Tripcodes, as hack.chat has them: identity without accounts. Joining as
 * `alice#secret` shows `alice` with a short code derived from the secret and
 * a server salt, so the same secret gives the same code every time and
 * nobody without the secret can show that code.
 *
 * code = first TRIPCODE_LENGTH characters of base64url(HMAC-SHA256(salt, NFC(secret)))
 *
 * 8 base64url characters are 48 bits: guessing a secret for a given code
 * online is hopeless, and without the salt (which stays on the server) it
 * cannot be tried offline. The salt must be kept across restarts, and shared
 * by every node, or codes change.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Characters in a tripcode. */
export const TRIPCODE_LENGTH = 8;

/** Longest secret accepted, in UTF-16 units (a nickname request is bounded anyway). */
export const MAX_TRIPCODE_SECRET = 200;

/** Bytes of a fresh salt. */
const SALT_BYTES = 32;

/** A new random server salt (keep it: a new salt changes every code). */
export function newTripcodeSalt(): Buffer {
  return randomBytes(SALT_BYTES);
}

/**
 * The tripcode of `secret` under `salt`. The secret is NFC-normalised, so
 * the same text typed on different keyboards gives the same code. HMAC's
 * running time does not depend on the secret's content.
 * @throws RangeError if the secret is empty or longer than MAX_TRIPCODE_SECRET, or the salt is empty.
 */
export function deriveTripcode(secret: string, salt: Uint8Array): string {
  if (secret.length === 0 || secret.length > MAX_TRIPCODE_SECRET) {
    throw new RangeError(`a tripcode secret is 1-${MAX_TRIPCODE_SECRET} characters`);
  }
  if (salt.length === 0) throw new RangeError('the tripcode salt is empty');
  return createHmac('sha256', salt).update(secret.normalize('NFC'), 'utf8').digest('base64url').slice(0, TRIPCODE_LENGTH);
}

/**
 * Splits a join nickname at its first "#": `alice#secret` is the nickname
 * `alice` and the secret `secret`; without "#" the secret is null. The
 * nickname part is not checked here (see `checkNickname`, which does this
 * split itself and returns the secret).
 */
export function splitTripcode(raw: string): { nick: string; secret: string | null } {
  const hash = raw.indexOf('#');
  return hash === -1 ? { nick: raw, secret: null } : { nick: raw.slice(0, hash), secret: raw.slice(hash + 1) };
}

/** True if `code` has the form of a tripcode (TRIPCODE_LENGTH base64url characters). */
export function isTripcode(code: string): boolean {
  return code.length === TRIPCODE_LENGTH && /^[A-Za-z0-9_-]+$/.test(code);
}

/**
 * Compares two tripcodes in time that does not depend on where they differ
 * (for bans and claims by tripcode, where a timing leak would let a peer
 * learn a code byte by byte). Codes of different lengths are unequal.
 */
export function tripcodesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  if (left.length !== right.length) return false;
  return timingSafeEqual(left, right);
}
