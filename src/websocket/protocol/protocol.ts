/**
 * The sans-I/O WebSocket protocol (RFC 6455 §5-§8, RFC 7692 §6): bytes in,
 * events and bytes out. It knows no socket and no timer, so it can be driven
 * byte by byte from a test; the Node adapters in ../node move bytes between a
 * socket and this object and own every timer.
 *
 *   receiveData(bytes) / receiveEof()      bytes from the peer
 *   eventsReceived()                       messages, pings, pongs, close, errors
 *   sendText() / sendBinary() / sendPing() / sendClose() / fail()
 *   dataToSend()                           bytes for the peer; an empty buffer means "close TCP now"
 *   closeExpected()                        true when the adapter should expect, and time, the TCP close
 *
 * The opening handshake is done before this object is made (handshake.ts).
 */
import { type Bytes, toBuffer } from './bytes.js';
import { encodeClosePayload, parseClosePayload } from './close.js';
import { ProtocolError } from './errors.js';
import { encodeFrame, encodeTextFrame, MAX_CONTROL_PAYLOAD, Opcode, RSV1 } from './frame.js';
import { MaskKeyPool } from './mask.js';
import { type FrameHandler, type FrameHeader, FrameParser } from './parser.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import type { PreparedMessage } from './prepared.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

export type Side = 'server' | 'client';

/** Connection states, numbered like the WebSocket API's readyState. */
export const State = {
  CONNECTING: 0,
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
export type State = (typeof State)[keyof typeof State];

/** Default limit on a message's size, after decompression: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/**
 * Default cap on the frames of one message. A 4 MiB message sent in 64-byte
 * fragments (a case real conformance suites send) needs 65,536 frames; the
 * cap stops endless empty fragments from keeping a message open forever.
 */
export const DEFAULT_MAX_FRAGMENTS = 131_072;

export interface ProtocolOptions {
  /** Largest message accepted, in bytes, counted before and after inflation (RFC 6455 §10.4). */
  maxMessageSize?: number;
  /** Most frames one message may be split into. */
  maxFragments?: number;
  /** The negotiated permessage-deflate, if any (RFC 7692). */
  deflate?: PerMessageDeflate | null;
  /**
   * Where client masking keys come from. For tests only (deterministic
   * bytes); the Node client does not expose it. Default: a
   * crypto.randomFillSync pool (RFC 6455 §5.3).
   */
  maskKey?: () => Uint8Array;
}

export type ProtocolEvent =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Buffer }
  | { type: 'ping'; data: Buffer }
  | { type: 'pong'; data: Buffer }
  /** A close frame arrived (the code is 1005 when it had no payload). */
  | { type: 'close'; code: number; reason: string }
  /** The peer broke the protocol; a close frame with `error.closeCode` has been queued. */
  | { type: 'error'; error: ProtocolError };

/** The marker `dataToSend()` returns when the TCP connection should be closed. */
export const SEND_EOF: Buffer = Buffer.alloc(0);

const EMPTY = Buffer.alloc(0);
const defaultMaskKeys = new MaskKeyPool();

/** Thrown by send methods when the connection may no longer send data (RFC 6455 §5.5.1). */
export class InvalidStateError extends Error {
  readonly code = 'INVALID_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStateError';
  }
}

export class Protocol implements FrameHandler {
  readonly side: Side;
  readonly deflate: PerMessageDeflate | null;
  readonly maxMessageSize: number;
  readonly maxFragments: number;

  /** OPEN until a close frame is sent or received; CLOSED once TCP is gone. */
  state: State = State.OPEN;
  /** The close frame received from the peer, if any. */
  closeReceived: { code: number; reason: string } | null = null;
  /** The close frame sent to the peer, if any. */
  closeSent: { code: number; reason: string } | null = null;
  /** The error that failed the connection, if it failed. */
  failure: ProtocolError | null = null;

  private readonly parser: FrameParser;
  private readonly maskKey: (() => Uint8Array) | null;
  private events: ProtocolEvent[] = [];
  private output: Buffer[] = [];
  private eofSent = false;
  /**
   * A close reply or failure held back until the application has seen the
   * messages that arrived before it (see `deferIfMessagesPending`).
   */
  private deferred: (() => void) | null = null;

  // The message being received (RFC 6455 §5.4).
  private messageOpcode = 0;
  private messageCompressed = false;
  private messageSize = 0;
  private messageFragments = 0;
  private frameFin = false;
  private pieces: Buffer[] = [];
  private readonly validator = new Utf8Validator();
  /** True once text of the current message went through the incremental validator. */
  private streamed = false;

  // The message being sent in fragments, if any.
  private sendingOpcode = 0;

  constructor(side: Side, options: ProtocolOptions = {}) {
    this.side = side;
    this.deflate = options.deflate ?? null;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFragments = options.maxFragments ?? DEFAULT_MAX_FRAGMENTS;
    this.maskKey = side === 'client' ? (options.maskKey ?? (() => defaultMaskKeys.next())) : null;
    this.parser = new FrameParser(this, {
      // RFC 6455 §5.1: frames from a client are masked, frames from a server are not.
      expectMasked: side === 'server',
      // RFC 7692 §6: permessage-deflate gives RSV1 a meaning; nothing else is negotiated.
      allowedRsv: this.deflate ? RSV1 : 0,
    });
  }

  // ---- input ----

  /**
   * Feed bytes received from the peer. Takes ownership of `data` (masked
   * payloads are unmasked in place). Protocol violations do not throw: they
   * queue an `error` event and the close frame, and further input is ignored.
   */
  receiveData(data: Buffer): void {
    try {
      this.parser.push(data);
    } catch (error) {
      this.failWith(error);
    }
  }

  /** The peer closed the TCP connection (or it broke). */
  receiveEof(): void {
    this.runDeferred();
    if (this.state === State.CLOSED) return;
    this.state = State.CLOSED;
    this.parser.stop();
    this.pieces = [];
  }

  /** Events since the last call, in order. */
  eventsReceived(): ProtocolEvent[] {
    const events = this.events;
    if (events.length === 0) return events;
    this.events = [];
    return events;
  }

  /** Bytes to write since the last call; a zero-length buffer (SEND_EOF) means close TCP. */
  dataToSend(): Buffer[] {
    this.runDeferred();
    const output = this.output;
    if (output.length === 0) return output;
    this.output = [];
    return output;
  }

  /**
   * True when the adapter should expect the TCP connection to close soon and
   * enforce a timeout: a close frame has been sent or received.
   */
  closeExpected(): boolean {
    return (
      this.state !== State.CLOSED &&
      (this.closeSent !== null || this.closeReceived !== null || this.failure !== null)
    );
  }

  /** True once close frames have gone both ways (RFC 6455 §7.1.4 "the closing handshake is complete"). */
  get closingHandshakeDone(): boolean {
    return this.closeSent !== null && this.closeReceived !== null;
  }

  // ---- output ----

  /**
   * Send a text message (or its first fragment when `fin` is false).
   * Returns the frame's size in bytes (0 when the connection is closing TCP).
   * @throws InvalidStateError after a close frame was sent, or while another fragmented message is being sent.
   */
  sendText(data: string | Bytes, fin = true): number {
    return this.sendData(Opcode.TEXT, data, fin);
  }

  /**
   * Send a binary message (or its first fragment when `fin` is false).
   * Returns the frame's size in bytes, as sendText.
   * @throws InvalidStateError as sendText.
   */
  sendBinary(data: Bytes, fin = true): number {
    return this.sendData(Opcode.BINARY, data, fin);
  }

  /**
   * Send the next fragment of a message started with `fin = false` (RFC 6455 §5.4).
   * @throws InvalidStateError when no fragmented message is in progress.
   */
  sendContinuation(data: string | Bytes, fin: boolean): void {
    this.checkCanSend();
    if (this.sendingOpcode === 0) throw new InvalidStateError('no fragmented message in progress');
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    this.pushFrame(Opcode.CONTINUATION, payload, fin, 0);
    if (fin) this.sendingOpcode = 0;
  }

  /**
   * Send a message prepared once for many connections (broadcast). A server
   * writes the same frame bytes to every connection; compressed variants are
   * cached on the prepared message per compression setting.
   * @throws InvalidStateError as sendText.
   */
  sendPrepared(message: PreparedMessage): void {
    this.checkCanSend();
    if (this.sendingOpcode !== 0) throw new InvalidStateError('a fragmented message is being sent');
    if (this.side === 'client') {
      this.sendData(message.opcode, message.payload, true);
      return;
    }
    const deflate = this.deflate;
    if (deflate) {
      const key = deflate.shareKey;
      if (key === null) {
        this.sendData(message.opcode, message.payload, true);
        return;
      }
      const frame = message.compressedFrame(key, deflate);
      if (frame) {
        this.output.push(frame);
        return;
      }
    }
    for (const chunk of message.frame) this.output.push(chunk);
  }

  /**
   * Send a ping (RFC 6455 §5.5.2) with at most 125 bytes of application data.
   * @throws RangeError for a longer payload; InvalidStateError after close.
   */
  sendPing(data: Bytes = EMPTY): void {
    this.checkCanSend();
    this.sendControl(Opcode.PING, toBuffer(data));
  }

  /**
   * Send an unsolicited pong (RFC 6455 §5.5.3: it serves as a heartbeat).
   * @throws RangeError for a payload over 125 bytes; InvalidStateError after close.
   */
  sendPong(data: Bytes = EMPTY): void {
    this.checkCanSend();
    this.sendControl(Opcode.PONG, toBuffer(data));
  }

  /**
   * Start (or complete) the closing handshake (RFC 6455 §5.5.1, §7.1.2).
   * Does nothing if a close frame was already sent.
   * @throws RangeError for a code that may not be sent (1005, 1006, 1015 and
   *   the reserved ones, RFC 6455 §7.4) or a reason over 123 bytes.
   */
  sendClose(code = 1000, reason = ''): void {
    const payload = encodeClosePayload(code, reason);
    if (this.closeSent || this.state === State.CLOSED) return;
    this.closeSent = { code, reason };
    this.pushFrame(Opcode.CLOSE, payload, true, 0);
    if (this.closeReceived) this.handshakeComplete();
    else this.state = State.CLOSING;
  }

  /**
   * Fail the connection (RFC 6455 §7.1.7): send a close frame with `code`
   * unless one was sent, stop processing input, and (server side) close TCP.
   * Used by the adapter for timeouts and by the application (e.g. 1008).
   */
  fail(code: number, reason = ''): void {
    if (!this.closeSent && this.state !== State.CLOSED) {
      this.closeSent = { code, reason };
      this.pushFrame(Opcode.CLOSE, encodeClosePayload(code, reason), true, 0);
    }
    this.state = this.state === State.CLOSED ? State.CLOSED : State.CLOSING;
    this.parser.stop();
    this.pieces = [];
    // RFC 6455 §7.1.1: the server closes the TCP connection first; a client
    // waits for it (the adapter bounds the wait).
    if (this.side === 'server') this.sendEof();
  }

  // ---- FrameHandler: called by the parser ----

  onDataFrameStart(header: FrameHeader): void {
    if (header.opcode === Opcode.CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame only continues a message in progress.
      if (this.messageOpcode === 0) throw new ProtocolError('UNEXPECTED_CONTINUATION');
      // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
      if (header.rsv & RSV1) throw new ProtocolError('RSV1_ON_CONTINUATION');
    } else {
      // RFC 6455 §5.4: fragments of one message MUST NOT be interleaved with another message's.
      if (this.messageOpcode !== 0) throw new ProtocolError('EXPECTED_CONTINUATION');
      this.messageOpcode = header.opcode;
      this.messageCompressed = (header.rsv & RSV1) !== 0;
      this.messageSize = 0;
      this.messageFragments = 0;
      this.streamed = false;
    }
    if (++this.messageFragments > this.maxFragments) throw new ProtocolError('TOO_MANY_FRAGMENTS');
    // RFC 6455 §10.4: refuse a message over the limit from its declared
    // length, before buffering any of it.
    if (this.messageSize + header.length > this.maxMessageSize) {
      throw new ProtocolError('MESSAGE_TOO_BIG', `${this.messageSize + header.length} > ${this.maxMessageSize}`);
    }
    this.frameFin = header.fin;
  }

  onDataFramePayload(data: Buffer, last: boolean): void {
    this.messageSize += data.length;
    const isText = this.messageOpcode === Opcode.TEXT && !this.messageCompressed;
    if (last && this.frameFin && this.pieces.length === 0 && !this.streamed) {
      // The whole message is this one piece: validate it in one native pass.
      this.deliver(data, isText && !isValidUtf8(data));
      return;
    }
    if (isText) {
      // RFC 6455 §8.1: fail as soon as an invalid byte arrives, mid-frame included.
      this.streamed = true;
      if (!this.validator.push(data)) {
        this.validator.reset();
        throw new ProtocolError('INVALID_UTF8');
      }
    }
    if (data.length > 0) this.pieces.push(data);
    if (last && this.frameFin) {
      const payload = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.messageSize);
      this.pieces = [];
      let invalid = false;
      if (isText) {
        invalid = !this.validator.complete;
        this.validator.reset();
      }
      this.deliver(payload, invalid);
    }
  }

  onControlFrame(header: FrameHeader, payload: Buffer): void {
    // RFC 6455 §5.2 / RFC 7692 §6.1: no extension defines RSV bits on control frames.
    if (header.rsv !== 0) throw new ProtocolError('RSV_NOT_NEGOTIATED');
    switch (header.opcode) {
      case Opcode.PING:
        this.events.push({ type: 'ping', data: payload });
        // RFC 6455 §5.5.2: answer with a pong carrying the same application
        // data, unless a close frame was already sent.
        if (!this.closeSent) this.pushFrame(Opcode.PONG, payload, true, 0);
        break;
      case Opcode.PONG:
        // RFC 6455 §5.5.3: a pong may be unsolicited; it is only reported.
        this.events.push({ type: 'pong', data: payload });
        break;
      case Opcode.CLOSE:
        this.receiveClose(payload);
        break;
    }
  }

  // ---- internals ----

  private deliver(payload: Buffer, invalidUtf8: boolean): void {
    if (invalidUtf8) throw new ProtocolError('INVALID_UTF8');
    const opcode = this.messageOpcode;
    let data = payload;
    if (this.messageCompressed) {
      // RFC 7692 §7.2.2: inflate the whole message; the limit applies to the
      // inflated size too, checked while inflating.
      data = this.deflate!.decompress(payload, this.maxMessageSize);
      if (opcode === Opcode.TEXT && !isValidUtf8(data)) throw new ProtocolError('INVALID_UTF8');
    }
    this.messageOpcode = 0;
    this.messageCompressed = false;
    if (opcode === Opcode.TEXT) this.events.push({ type: 'text', data: data.toString('utf8') });
    else this.events.push({ type: 'binary', data });
  }

  private receiveClose(payload: Buffer): void {
    const { code, reason } = parseClosePayload(payload);
    this.closeReceived = { code, reason };
    this.events.push({ type: 'close', code, reason });
    // RFC 6455 §5.5.1: after a close frame, the peer sends nothing more; any
    // message in progress is abandoned.
    this.parser.stop();
    this.pieces = [];
    this.deferIfMessagesPending(() => this.replyToClose(code));
  }

  private replyToClose(code: number): void {
    if (!this.closeSent) {
      // RFC 6455 §5.5.1: reply with a close frame, typically echoing the code.
      this.closeSent = { code, reason: '' };
      this.pushFrame(Opcode.CLOSE, code === 1005 ? EMPTY : encodeClosePayload(code), true, 0);
    }
    this.handshakeComplete();
  }

  private handshakeComplete(): void {
    this.state = State.CLOSING;
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    if (this.side === 'server') this.sendEof();
  }

  private failWith(error: unknown): void {
    const protocolError =
      error instanceof ProtocolError ? error : new ProtocolError('INTERNAL_ERROR', String(error));
    this.failure = protocolError;
    this.events.push({ type: 'error', error: protocolError });
    // RFC 6455 §7.1.7: no more data is processed after a failure.
    this.parser.stop();
    this.pieces = [];
    this.deferIfMessagesPending(() => this.fail(protocolError.closeCode, protocolError.closeReason));
  }

  /**
   * Messages that arrived in the same read as a close frame (or a fatal
   * frame) were sent before it: the application must be able to answer them.
   * So the close reply waits until the application has taken the events and
   * asks for the bytes to send (`dataToSend`), which puts its answers on the
   * wire ahead of the close frame, in the order a peer expects.
   */
  private deferIfMessagesPending(action: () => void): void {
    const pending = this.events.some((e) => e.type === 'text' || e.type === 'binary');
    if (!pending) {
      action();
      return;
    }
    const previous = this.deferred;
    this.deferred = previous
      ? () => {
          previous();
          action();
        }
      : action;
  }

  private runDeferred(): void {
    const action = this.deferred;
    if (action === null) return;
    this.deferred = null;
    action();
  }

  private sendEof(): void {
    if (this.eofSent) return;
    this.eofSent = true;
    this.output.push(SEND_EOF);
  }

  private checkCanSend(): void {
    // RFC 6455 §5.5.1: after sending a close frame, no more data frames.
    if (this.closeSent || this.state === State.CLOSED) {
      throw new InvalidStateError('the connection is closing or closed');
    }
  }

  /** Queues the frame; returns its size on the wire (so adapters need not measure strings again). */
  private sendData(opcode: number, data: string | Bytes, fin: boolean): number {
    this.checkCanSend();
    if (this.sendingOpcode !== 0) throw new InvalidStateError('a fragmented message is being sent');
    if (!fin) this.sendingOpcode = opcode;
    const deflate = this.deflate;
    if (deflate && fin) {
      // RFC 7692 §6: compress whole messages; RSV1 marks the first (here only) frame.
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
      // compress() returns null below the size threshold and when this side may not compress.
      const compressed = deflate.compress(bytes);
      if (compressed) return this.pushFrame(opcode, compressed, true, RSV1);
      return this.pushFrame(opcode, bytes, true, 0);
    }
    if (typeof data === 'string') {
      const frame = encodeTextFrame(data, { fin, maskKey: this.maskKey ? this.maskKey() : null });
      this.output.push(frame);
      return frame.length;
    }
    return this.pushFrame(opcode, toBuffer(data), fin, 0);
  }

  private sendControl(opcode: number, data: Uint8Array): void {
    if (data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`control frame payload is ${data.length} bytes, at most 125 allowed (RFC 6455 §5.5)`);
    }
    this.pushFrame(opcode, data, true, 0);
  }

  /** Returns the bytes queued (0 once TCP is being closed). */
  private pushFrame(opcode: number, payload: Uint8Array, fin: boolean, rsv: number): number {
    if (this.eofSent) return 0;
    const maskKey = this.maskKey ? this.maskKey() : null;
    let size = 0;
    // Control frames may go out between the fragments of a data message (RFC 6455 §5.4).
    for (const chunk of encodeFrame(opcode, payload, { fin, rsv, maskKey })) {
      this.output.push(chunk);
      size += chunk.length;
    }
    return size;
  }
}
