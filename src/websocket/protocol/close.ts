/**
 * Close frame payloads (RFC 6455 §5.5.1, §7.4).
 */
import { ProtocolError } from './errors.js';
import { isValidUtf8 } from './utf8.js';

/**
 * Codes a peer may put on the wire (RFC 6455 §7.4.1, §7.4.2 and the IANA
 * registry): 1000-1003, 1007-1014, 3000-4999. 1004 is reserved, 1005, 1006
 * and 1015 MUST NOT be sent, the rest of 0-2999 is reserved for the protocol
 * and 5000 and up are not defined.
 */
export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
  );
}

/** RFC 6455 §5.5: a control frame payload is at most 125 bytes, 2 of them the code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A close frame as received: 1005 (no status) when the payload was empty. */
export interface ClosePayload {
  code: number;
  reason: string;
}

/**
 * Parse a received close payload.
 * @throws ProtocolError CLOSE_PAYLOAD_TOO_SHORT (1 byte), INVALID_CLOSE_CODE,
 *   INVALID_CLOSE_REASON (not UTF-8).
 */
export function parseClosePayload(payload: Buffer): ClosePayload {
  // RFC 6455 §5.5.1: the body, if any, MUST start with a 2-byte code.
  if (payload.length === 0) return { code: 1005, reason: '' };
  if (payload.length === 1) throw new ProtocolError('CLOSE_PAYLOAD_TOO_SHORT');
  const code = payload.readUInt16BE(0);
  if (!isValidCloseCode(code)) throw new ProtocolError('INVALID_CLOSE_CODE', String(code));
  const reason = payload.subarray(2);
  // RFC 6455 §5.5.1: the reason is UTF-8; §8.1 makes invalid UTF-8 a failure.
  if (!isValidUtf8(reason)) throw new ProtocolError('INVALID_CLOSE_REASON');
  return { code, reason: reason.toString('utf8') };
}

/**
 * Build a close payload to send: 1000, 3000-4999 and the other codes valid on
 * the wire. 1005 only reports a close frame that had no code (RFC 6455
 * §7.4.1: it MUST NOT be sent); answering such a frame with an empty one is
 * the protocol's business, not a code the application can ask for.
 * @throws RangeError for a code that may not be sent or a reason over 123 bytes.
 */
export function encodeClosePayload(code: number, reason = ''): Buffer {
  if (!isValidCloseCode(code)) throw new RangeError(`close code ${code} may not be sent (RFC 6455 §7.4)`);
  const length = Buffer.byteLength(reason);
  if (length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason is ${length} bytes, at most ${MAX_CLOSE_REASON_BYTES} allowed`);
  }
  const payload = Buffer.allocUnsafe(2 + length);
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}
