/**
 * Incremental frame parser (RFC 6455 §5.2). It resumes at any chunk
 * boundary: an explicit state and "do I have N bytes?" guards, so the same
 * frames come out whether the input arrives whole or one byte at a time.
 *
 * Data frame payloads are handed on piece by piece as they arrive (unmasked
 * in place, without copying), so that a text message can be validated as its
 * bytes come in and a limit can be enforced before anything is buffered.
 * Control frames (at most 125 bytes) are handed on whole.
 */
import { ProtocolError } from './errors.js';
import { isControlOpcode, isKnownOpcode, MAX_CONTROL_PAYLOAD } from './frame.js';
import { applyMask } from './mask.js';

export interface FrameHeader {
  fin: boolean;
  /** RSV1-3 as they sit in the first byte (0x40 | 0x20 | 0x10). */
  rsv: number;
  opcode: number;
  masked: boolean;
  length: number;
}

export interface FrameHandler {
  /** A text, binary or continuation frame begins. May throw ProtocolError. */
  onDataFrameStart(header: FrameHeader): void;
  /** A piece of the current data frame's payload, unmasked; `last` marks the frame's end (an empty frame gives one empty piece). May throw. */
  onDataFramePayload(data: Buffer, last: boolean): void;
  /** A whole control frame (close, ping, pong), unmasked. May throw. */
  onControlFrame(header: FrameHeader, payload: Buffer): void;
}

export interface FrameParserOptions {
  /** RFC 6455 §5.1: a server MUST fail on unmasked frames, a client on masked ones. */
  expectMasked: boolean;
  /** RSV bits an extension negotiated for this connection (RFC 6455 §5.2). */
  allowedRsv?: number;
}

enum ParserState {
  HEADER,
  LENGTH16,
  LENGTH64,
  MASK,
  PAYLOAD,
  STOPPED,
}

const EMPTY = Buffer.alloc(0);
/** The chunk queue while empty: shared, so an idle connection holds no array of its own. */
const NO_CHUNKS: Buffer[] = [];
/** Bytes left over in a read (part of the next header) below this are copied, releasing the read's buffer. */
const LEFTOVER_COPY = 16;

export class FrameParser {
  /** RSV bits that may be set; others fail the connection. */
  allowedRsv: number;
  private readonly expectMasked: boolean;
  private readonly handler: FrameHandler;

  private chunks: Buffer[] = NO_CHUNKS;
  /** Where the unread bytes of chunks[0] start (bytes before it are consumed): no view made per step. */
  private pos = 0;
  /** Unread bytes in all chunks. */
  private buffered = 0;
  private state = ParserState.HEADER;

  private header: FrameHeader = { fin: false, rsv: 0, opcode: 0, masked: false, length: 0 };
  /** Allocated at the first masked frame: an idle connection carries none (from the pool: no backing store of its own). */
  private maskKey: Buffer | null = null;
  /** Payload bytes of the current frame already handed on. */
  private done = 0;

  constructor(handler: FrameHandler, options: FrameParserOptions) {
    this.handler = handler;
    this.expectMasked = options.expectMasked;
    this.allowedRsv = options.allowedRsv ?? 0;
  }

  /** Stop parsing: everything pushed from now on is discarded. */
  stop(): void {
    this.state = ParserState.STOPPED;
    this.chunks = NO_CHUNKS;
    this.pos = 0;
    this.buffered = 0;
  }

  get stopped(): boolean {
    return this.state === ParserState.STOPPED;
  }

  /**
   * Parse as much of `chunk` (plus what was left over) as possible. The chunk
   * is owned by the parser from now on: masked payloads are unmasked in it.
   * @throws ProtocolError on any framing violation; the parser is then stopped.
   */
  push(chunk: Buffer): void {
    if (this.state === ParserState.STOPPED || chunk.length === 0) return;
    if (this.chunks === NO_CHUNKS) this.chunks = [chunk];
    else this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      this.run();
    } catch (error) {
      this.stop();
      throw error;
    }
    const buffered = this.buffered;
    if (buffered === 0) {
      this.chunks = NO_CHUNKS;
      this.pos = 0;
    } else if (buffered < LEFTOVER_COPY && this.chunks.length === 1) {
      // A few bytes of the next frame's header would otherwise keep the
      // whole read (up to 64 KiB) alive until the rest arrives.
      const rest = this.chunks[0]!;
      if (rest.buffer.byteLength > buffered * 4) {
        this.chunks[0] = Buffer.from(rest.subarray(this.pos));
        this.pos = 0;
      }
    }
  }

  private run(): void {
    for (;;) {
      switch (this.state) {
        case ParserState.HEADER:
          if (this.buffered < 2) return;
          this.readHeader();
          break;
        case ParserState.LENGTH16:
          if (this.buffered < 2) return;
          this.readLength16();
          break;
        case ParserState.LENGTH64:
          if (this.buffered < 8) return;
          this.readLength64();
          break;
        case ParserState.MASK:
          if (this.buffered < 4) return;
          this.maskKey ??= Buffer.allocUnsafe(4);
          this.consumeInto(this.maskKey, 4);
          this.startPayload();
          break;
        case ParserState.PAYLOAD:
          if (!this.readPayload()) return;
          break;
        case ParserState.STOPPED:
          return;
      }
    }
  }

  private readHeader(): void {
    const b0 = this.byteAt(0);
    const b1 = this.byteAt(1);
    this.skip(2);
    const opcode = b0 & 0x0f;
    const h = this.header;
    h.fin = (b0 & 0x80) !== 0;
    h.rsv = b0 & 0x70;
    h.opcode = opcode;
    h.masked = (b1 & 0x80) !== 0;
    h.length = b1 & 0x7f;
    // RFC 6455 §5.2: RSV1-3 MUST be 0 unless an extension defines them.
    if ((h.rsv & ~this.allowedRsv) !== 0) throw new ProtocolError('RSV_NOT_NEGOTIATED');
    // RFC 6455 §5.2: an unknown opcode MUST fail the connection.
    if (!isKnownOpcode(opcode)) throw new ProtocolError('RESERVED_OPCODE', String(opcode));
    if (isControlOpcode(opcode)) {
      // RFC 6455 §5.5: control frames MUST NOT be fragmented and MUST have a
      // payload of 125 bytes or less (so the 7-bit length always suffices).
      if (!h.fin) throw new ProtocolError('CONTROL_FRAME_FRAGMENTED');
      if (h.length > MAX_CONTROL_PAYLOAD) throw new ProtocolError('CONTROL_FRAME_TOO_LONG');
    }
    // RFC 6455 §5.1: client-to-server frames MUST be masked, server-to-client
    // frames MUST NOT be; the receiver MUST fail the connection otherwise.
    if (h.masked !== this.expectMasked) {
      throw new ProtocolError(this.expectMasked ? 'MASK_REQUIRED' : 'MASK_FORBIDDEN');
    }
    if (h.length === 126) this.state = ParserState.LENGTH16;
    else if (h.length === 127) this.state = ParserState.LENGTH64;
    else this.afterLength();
  }

  private readLength16(): void {
    const length = (this.byteAt(0) << 8) | this.byteAt(1);
    this.skip(2);
    // RFC 6455 §5.2's "the minimal number of bytes MUST be used to encode the
    // length" binds the sender (ours does, frame.ts); a longer encoding is
    // unambiguous, and ws, python-websockets and uWebSockets accept it too.
    this.header.length = length;
    this.afterLength();
  }

  private readLength64(): void {
    const bytes = Buffer.allocUnsafe(8);
    this.consumeInto(bytes, 8);
    const high = bytes.readUInt32BE(0);
    const low = bytes.readUInt32BE(4);
    // RFC 6455 §5.2: the most significant bit MUST be 0.
    if (high & 0x80000000) throw new ProtocolError('LENGTH_HIGH_BIT');
    // Lengths beyond 2^53 - 1 cannot be represented exactly: refuse them.
    if (high > 0x1fffff) throw new ProtocolError('LENGTH_TOO_LARGE');
    // A non-minimal length is accepted, as in readLength16.
    this.header.length = high * 0x100000000 + low;
    this.afterLength();
  }

  private afterLength(): void {
    if (this.header.masked) this.state = ParserState.MASK;
    else this.startPayload();
  }

  private startPayload(): void {
    this.done = 0;
    this.state = ParserState.PAYLOAD;
    // The handler sees the header (and may refuse it on size) before any
    // payload byte is buffered.
    if (!isControlOpcode(this.header.opcode)) this.handler.onDataFrameStart(this.header);
  }

  /** Returns false when more input is needed. */
  private readPayload(): boolean {
    const h = this.header;
    if (isControlOpcode(h.opcode)) {
      if (this.buffered < h.length) return false;
      const payload = h.length === 0 ? EMPTY : Buffer.allocUnsafe(h.length);
      this.consumeInto(payload, h.length);
      if (h.masked) applyMask(payload, this.maskKey!);
      this.state = ParserState.HEADER;
      this.handler.onControlFrame(h, payload);
      return true;
    }
    if (h.length === 0) {
      this.state = ParserState.HEADER;
      this.handler.onDataFramePayload(EMPTY, true);
      return true;
    }
    // Hand on what is here without copying: a piece of the first chunk.
    while (this.done < h.length) {
      if (this.buffered === 0) return false;
      const first = this.chunks[0]!;
      const pos = this.pos;
      const available = first.length - pos;
      const take = Math.min(available, h.length - this.done);
      const piece = take === first.length ? first : first.subarray(pos, pos + take);
      this.advance(first, take);
      if (h.masked) applyMask(piece, this.maskKey!, this.done & 3);
      this.done += take;
      const last = this.done === h.length;
      if (last) this.state = ParserState.HEADER;
      this.handler.onDataFramePayload(piece, last);
      if (this.state === ParserState.STOPPED) return false;
    }
    return true;
  }

  /** Mark `n` bytes of `first` (chunks[0], from pos) as read; drop the chunk once it is all read. */
  private advance(first: Buffer, n: number): void {
    this.buffered -= n;
    const pos = this.pos + n;
    if (pos === first.length) {
      this.chunks.shift();
      this.pos = 0;
    } else this.pos = pos;
  }

  private byteAt(index: number): number {
    const chunks = this.chunks;
    let i = index + this.pos;
    for (let c = 0; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    throw new RangeError('byteAt past the buffered data');
  }

  private skip(n: number): void {
    let left = n;
    while (left > 0) {
      const first = this.chunks[0]!;
      const take = Math.min(first.length - this.pos, left);
      this.advance(first, take);
      left -= take;
    }
  }

  /** Copy the next `n` buffered bytes into `target` and drop them. */
  private consumeInto(target: Buffer, n: number): void {
    let copied = 0;
    while (copied < n) {
      const first = this.chunks[0]!;
      const pos = this.pos;
      const take = Math.min(first.length - pos, n - copied);
      if (take === 4 && n === 4) {
        // The masking key, the usual case: four bytes, no copy call.
        target[0] = first[pos]!;
        target[1] = first[pos + 1]!;
        target[2] = first[pos + 2]!;
        target[3] = first[pos + 3]!;
      } else first.copy(target, copied, pos, pos + take);
      copied += take;
      this.advance(first, take);
    }
  }
}
