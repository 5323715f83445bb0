/**
 * A message encoded once for many connections (broadcast). On the server
 * side, frames are not masked (RFC 6455 §5.1), so the same bytes can be
 * written to every connection. With permessage-deflate, connections that
 * compress without context takeover and with the same settings share one
 * compressed frame, made by the first connection that needs it and cached
 * here for the others.
 */
import { type Bytes, toBuffer } from './bytes.js';
import { encodeFrame, encodeTextFrame, Opcode, RSV1 } from './frame.js';
import type { PerMessageDeflate } from './permessage-deflate.js';

type FrameCallback = (error: Error | null, frame: Buffer | null) => void;

/** One compressed variant: done (frame, or null when not worth compressing) or still waiting. */
interface Variant {
  done: boolean;
  error: Error | null;
  frame: Buffer | null;
  waiting: FrameCallback[];
}

export class PreparedMessage {
  readonly opcode: number;
  /** The message payload (UTF-8 for text). */
  readonly payload: Buffer;
  /** The unmasked, uncompressed frame: header and payload. */
  readonly frame: Buffer[];
  readonly #compressed = new Map<string, Variant>();

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

  /**
   * The compressed frame for connections whose deflate `shareKey` is `key`,
   * or null when compression does not apply (the caller sends `frame`).
   * Compressed once per key, by `deflate`, the first time it is asked for;
   * `done` may be called before this returns (the frame was made already).
   */
  compressedFrame(key: string, deflate: PerMessageDeflate, done: FrameCallback): void {
    let variant = this.#compressed.get(key);
    if (variant === undefined) {
      const made: Variant = { done: false, error: null, frame: null, waiting: [done] };
      variant = made;
      this.#compressed.set(key, made);
      deflate.compress(this.payload, (error, payload) => {
        made.done = true;
        made.error = error;
        made.frame = payload ? Buffer.concat(encodeFrame(this.opcode, payload, { rsv: RSV1 })) : null;
        for (const callback of made.waiting.splice(0)) callback(made.error, made.frame);
      });
      return;
    }
    if (variant.done) done(variant.error, variant.frame);
    else variant.waiting.push(done);
  }
}
