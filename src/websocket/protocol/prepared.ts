/**
 * A message encoded once for many connections (broadcast). On the server
 * side, frames are not masked (RFC 6455 §5.1), so the same bytes can be
 * written to every connection. With permessage-deflate, connections that
 * compress without context takeover and with the same settings share one
 * compressed frame, computed on first use and cached here.
 */
import { type Bytes, toBuffer } from './bytes.js';
import { encodeFrame, encodeTextFrame, Opcode, RSV1 } from './frame.js';
import type { PerMessageDeflate } from './permessage-deflate.js';

export class PreparedMessage {
  readonly opcode: number;
  /** The message payload (UTF-8 for text). */
  readonly payload: Buffer;
  /** The unmasked, uncompressed frame: header and payload. */
  readonly frame: Buffer[];
  private readonly compressed = new Map<string, Buffer | null>();

  /** `data` is text (a string) or bytes (any view of memory, by byte length); `binary` overrides the type. */
  constructor(data: string | Bytes, binary = typeof data !== 'string') {
    this.opcode = binary ? Opcode.BINARY : Opcode.TEXT;
    if (typeof data === 'string') {
      const frame = encodeTextFrame(data);
      if (binary) frame[0] = 0x80 | Opcode.BINARY;
      this.frame = [frame];
      this.payload = frame.subarray(frame.length - Buffer.byteLength(data));
    } else {
      this.payload = toBuffer(data);
      this.frame = encodeFrame(this.opcode, this.payload);
    }
  }

  /** Total bytes of the uncompressed frame. */
  get frameLength(): number {
    let n = 0;
    for (const chunk of this.frame) n += chunk.length;
    return n;
  }

  /**
   * The compressed frame for connections whose deflate `shareKey` is `key`,
   * or null when compression does not apply (the caller sends `frame`).
   */
  compressedFrame(key: string, deflate: PerMessageDeflate): Buffer | null {
    let frame = this.compressed.get(key);
    if (frame === undefined) {
      const payload = deflate.compress(this.payload);
      frame = payload ? Buffer.concat(encodeFrame(this.opcode, payload, { rsv: RSV1 })) : null;
      this.compressed.set(key, frame);
    }
    return frame;
  }
}
