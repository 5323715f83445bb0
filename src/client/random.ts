/**
 * Random ids from the platform's CSPRNG (`globalThis.crypto`, present in
 * browsers and in Node 20), for client message ids and new room ids.
 */

/** The 64 URL-safe characters (RFC 4648 §5 base64url alphabet). */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Fills a byte array with random values (the signature of `crypto.getRandomValues`). */
export type RandomFill = (bytes: Uint8Array) => Uint8Array;

const platformFill: RandomFill = (bytes) => globalThis.crypto.getRandomValues(bytes);

/**
 * `length` characters of A-Za-z0-9_-, 6 random bits each. 256 is a multiple
 * of 64, so taking the low 6 bits of a byte is unbiased.
 * @throws RangeError when `length` is not a positive integer.
 */
export function randomId(length = 16, fill: RandomFill = platformFill): string {
  if (!Number.isSafeInteger(length) || length < 1) throw new RangeError('length must be a positive integer');
  const bytes = fill(new Uint8Array(length));
  let out = '';
  for (const byte of bytes) out += ALPHABET[byte & 63];
  return out;
}
