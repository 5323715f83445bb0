/**
 * UTF-8 validation (RFC 6455 §5.6, §8.1; RFC 3629 §4).
 *
 * Text messages must hold valid UTF-8, and an endpoint must fail the
 * connection as soon as it sees an invalid sequence, even in the middle of a
 * fragment (RFC 6455 §8.1 "fail the WebSocket connection"). A whole message
 * that arrives in one piece is checked by Node's native `isUtf8`; a message
 * that arrives in pieces goes through `Utf8Validator`, which keeps the state
 * of an unfinished sequence between pieces and rejects the first byte that
 * cannot continue a valid sequence.
 */
import { isUtf8 } from 'node:buffer';

/** True when `data` is entirely valid UTF-8 (no partial sequence at the end). */
export function isValidUtf8(data: Uint8Array): boolean {
  return data.length === 0 || isUtf8(data);
}

/**
 * Incremental validator. RFC 3629 §4 lists the well-formed byte sequences;
 * the bounds on the second byte exclude overlong forms (E0, F0), UTF-16
 * surrogates (ED) and code points above U+10FFFF (F4).
 */
export class Utf8Validator {
  /** Continuation bytes still expected for the current sequence. */
  private need = 0;
  /** Allowed range of the next continuation byte. */
  private lo = 0x80;
  private hi = 0xbf;

  /** Validate `data[start..end)`; false at the first invalid byte. */
  push(data: Uint8Array, start = 0, end = data.length): boolean {
    let need = this.need;
    let lo = this.lo;
    let hi = this.hi;
    for (let i = start; i < end; i++) {
      const b = data[i]!;
      if (need === 0) {
        if (b < 0x80) continue;
        if (b >= 0xc2 && b <= 0xdf) {
          need = 1;
          lo = 0x80;
          hi = 0xbf;
        } else if (b >= 0xe0 && b <= 0xef) {
          need = 2;
          lo = b === 0xe0 ? 0xa0 : 0x80;
          hi = b === 0xed ? 0x9f : 0xbf;
        } else if (b >= 0xf0 && b <= 0xf4) {
          need = 3;
          lo = b === 0xf0 ? 0x90 : 0x80;
          hi = b === 0xf4 ? 0x8f : 0xbf;
        } else {
          return false;
        }
      } else {
        if (b < lo || b > hi) return false;
        need--;
        lo = 0x80;
        hi = 0xbf;
      }
    }
    this.need = need;
    this.lo = lo;
    this.hi = hi;
    return true;
  }

  /** True when no sequence is left unfinished: the message may end here. */
  get complete(): boolean {
    return this.need === 0;
  }

  reset(): void {
    this.need = 0;
    this.lo = 0x80;
    this.hi = 0xbf;
  }
}
