/**
 * Frame layout and encoding (RFC 6455 §5.2).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-------+-+-------------+-------------------------------+
 *  |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 *  |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 *  |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 *  | |1|2|3|       |K|             |                               |
 *  +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 */
import { toBuffer } from './bytes.js';
import { applyMask } from './mask.js';

/** Opcodes (RFC 6455 §5.2, §11.8). 3-7 and 0xB-0xF are reserved. */
export const Opcode = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** RFC 6455 §5.5: control frames have the high bit of the opcode set. */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** RSV1, used by permessage-deflate (RFC 7692 §6). */
export const RSV1 = 0x40;
export const RSV2 = 0x20;
export const RSV3 = 0x10;

/** RFC 6455 §5.5: control frame payloads are at most 125 bytes. */
export const MAX_CONTROL_PAYLOAD = 125;

/** Bytes of header for a payload of `length` bytes, with or without a mask. */
export function headerLength(length: number, masked: boolean): number {
  // RFC 6455 §5.2: the minimal number of bytes MUST be used for the length.
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Write a frame header into `target` at `offset`; returns the offset after it.
 * `firstByte` is FIN | RSV | opcode, ready made.
 */
export function writeHeader(
  target: Buffer,
  offset: number,
  firstByte: number,
  length: number,
  maskKey: Uint8Array | null,
): number {
  target[offset++] = firstByte;
  const maskBit = maskKey ? 0x80 : 0;
  if (length < 126) {
    target[offset++] = maskBit | length;
  } else if (length < 0x10000) {
    target[offset++] = maskBit | 126;
    target.writeUInt16BE(length, offset);
    offset += 2;
  } else {
    target[offset++] = maskBit | 127;
    // RFC 6455 §5.2: the most significant bit MUST be 0. JavaScript lengths
    // stay below 2^53, so the high word is at most 2^21.
    target.writeUInt32BE(Math.floor(length / 0x100000000), offset);
    target.writeUInt32BE(length >>> 0, offset + 4);
    offset += 8;
  }
  if (maskKey) {
    target[offset++] = maskKey[0]!;
    target[offset++] = maskKey[1]!;
    target[offset++] = maskKey[2]!;
    target[offset++] = maskKey[3]!;
  }
  return offset;
}

/** Payloads up to this size are copied next to their header: one buffer, one write. */
const COPY_THRESHOLD = 1024;

export interface EncodeOptions {
  fin?: boolean;
  rsv?: number;
  /** Masking key: required for client frames, absent for server frames (RFC 6455 §5.1). */
  maskKey?: Uint8Array | null;
}

/**
 * Encode one frame as one or two buffers (header and payload). The caller's
 * payload is never modified: with a mask the payload is masked into a copy
 * (RFC 6455 §5.3); without one, a large payload is passed through untouched.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, options: EncodeOptions = {}): Buffer[] {
  const fin = options.fin ?? true;
  const maskKey = options.maskKey ?? null;
  const firstByte = (fin ? 0x80 : 0) | (options.rsv ?? 0) | opcode;
  const length = payload.length;
  const head = headerLength(length, maskKey !== null);
  if (maskKey || length <= COPY_THRESHOLD) {
    const frame = Buffer.allocUnsafe(head + length);
    writeHeader(frame, 0, firstByte, length, maskKey);
    frame.set(payload, head);
    if (maskKey) applyMask(frame, maskKey, 0, head, head + length);
    return [frame];
  }
  const header = Buffer.allocUnsafe(head);
  writeHeader(header, 0, firstByte, length, null);
  return [header, toBuffer(payload)];
}

/**
 * Encode a text frame straight from a string: the UTF-8 bytes are written
 * once, into the frame buffer, with no intermediate Buffer.
 */
export function encodeTextFrame(text: string, options: EncodeOptions = {}): Buffer {
  const fin = options.fin ?? true;
  const maskKey = options.maskKey ?? null;
  const firstByte = (fin ? 0x80 : 0) | (options.rsv ?? 0) | Opcode.TEXT;
  const length = Buffer.byteLength(text, 'utf8');
  const head = headerLength(length, maskKey !== null);
  const frame = Buffer.allocUnsafe(head + length);
  writeHeader(frame, 0, firstByte, length, maskKey);
  frame.write(text, head, 'utf8');
  if (maskKey) applyMask(frame, maskKey, 0, head, head + length);
  return frame;
}
