/**
 * The sans-I/O WebSocket protocol (RFC 6455 §5-§8, RFC 7692 §6): bytes in,
 * events and bytes out. It knows no socket and no timer, so it can be driven
 * byte by byte from a test; the Node adapters in ../node move bytes between a
 * transport and this object and own every timer.
 *
 *   receiveData(bytes) / receiveEof()      bytes from the peer
 *   nextEvent() / eventsReceived()         messages, pings, pongs, close, errors
 *   sendText() / sendBinary() / sendPing() / sendClose() / fail()
 *   dataToSend()                           bytes for the peer; SEND_EOF (empty) means "close the transport now"
 *   closeExpected()                        true when the adapter should expect, and time, the transport's close
 *
 * The opening handshake is done before this object is made (handshake.ts).
 *
 * Causal order. The protocol's own replies (the pong to a ping, the close
 * frame answering a close or failing the connection) are queued when the
 * adapter takes the event they answer, not when the frame is parsed. An
 * adapter hands each event to the application before taking the next, so
 * whatever the application sends in answer to a message goes out before the
 * pong to a ping that came after that message, and before the close reply:
 * the peer sees its frames answered in the order it sent them (ws does the
 * same).
 *
 * permessage-deflate (RFC 7692) is the one asynchronous step: inflating a
 * received message and deflating one to send run on zlib streams (see
 * permessage-deflate.ts). Events after a message being inflated wait behind
 * it, frames queued after a message being deflated wait behind it, so order
 * is kept both ways; `onReady` tells the adapter when waiting events or
 * bytes become available. The frame parser itself stays synchronous.
 */
import { type Bytes, toBuffer } from './bytes.js';
import { encodeClosePayload, parseClosePayload } from './close.js';
import { ProtocolError } from './errors.js';
import { encodeFrame, encodeTextFrame, MAX_CONTROL_PAYLOAD, Opcode, RSV1 } from './frame.js';
import { MaskKeyPool } from './mask.js';
import { MessageBuffer } from './message-buffer.js';
import { type FrameHandler, type FrameHeader, FrameParser } from './parser.js';
import type { PerMessageDeflate } from './permessage-deflate.js';
import type { PreparedMessage } from './prepared.js';
import { isValidUtf8, Utf8Validator } from './utf8.js';

/** Which end of the connection a Protocol is. */
export type Side = 'server' | 'client';

/**
 * Connection states, numbered like the WebSocket API's readyState (there is
 * no CONNECTING: a Protocol exists only once the handshake is done).
 */
export const State = {
  OPEN: 1,
  CLOSING: 2,
  CLOSED: 3,
} as const;
export type State = (typeof State)[keyof typeof State];

/** Default limit on a message's size, after decompression: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024;
/**
 * Default cap on the frames of one message: one fragment per 64 bytes of
 * the size limit (262,144 for 16 MiB; a 4 MiB message in 64-byte fragments,
 * a case real conformance suites send, needs 65,536), and at least 1,024.
 * Fragments cost no memory of their own (message-buffer.ts); the cap bounds
 * the work a peer can make with empty fragments that never end a message.
 */
export function defaultMaxFragments(maxMessageSize: number): number {
  return Math.max(1024, Math.ceil(maxMessageSize / 64));
}
/** The cap for the default message size limit. */
export const DEFAULT_MAX_FRAGMENTS = defaultMaxFragments(DEFAULT_MAX_MESSAGE_SIZE);

/**
 * Compressed messages waiting to be inflated past which `canReceive` turns
 * false: the adapter then stops reading until zlib catches up, so a fast
 * peer cannot queue unbounded compressed data.
 */
const MAX_PENDING_INFLATE_BYTES = 1024 * 1024;

export interface ProtocolOptions {
  /** Largest message accepted, in bytes, counted before and after inflation (RFC 6455 §10.4). */
  maxMessageSize?: number;
  /** Most frames one message may be split into. Default: `defaultMaxFragments(maxMessageSize)`. */
  maxFragments?: number;
  /** The negotiated permessage-deflate, if any (RFC 7692). */
  deflate?: PerMessageDeflate | null;
  /** Answer pings with pongs (RFC 6455 §5.5.2). Default true; false leaves it to the application. */
  autoPong?: boolean;
  /**
   * Called when events or bytes to send became available later than the
   * call that caused them (after zlib finished a message). Never called from
   * inside a method of this object.
   */
  onReady?: () => void;
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
  /** The peer broke the protocol; taking this event queues a close frame with `error.closeCode`. */
  | { type: 'error'; error: ProtocolError };

/** The marker `dataToSend()` returns when the transport should be closed. */
export const SEND_EOF: Buffer = Buffer.alloc(0);

const EMPTY = Buffer.alloc(0);
const defaultMaskKeys = new MaskKeyPool();
const NO_EVENTS: EventEntry[] = [];
const NO_OUTPUT: OutputEntry[] = [];
const NO_MARKERS: OutputMarker[] = [];

/** Thrown by send methods when the connection may no longer send data (RFC 6455 §5.5.1). */
export class InvalidStateError extends Error {
  readonly code = 'INVALID_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStateError';
  }
}

/** A received message still being inflated: its place in the event queue. */
interface PendingEvent {
  type: 'pending';
  /** The compressed size, counted against MAX_PENDING_INFLATE_BYTES. */
  size: number;
  event: ProtocolEvent | null;
}

/** A message still being deflated: its place in the output queue. */
interface PendingOutput {
  chunks: Buffer[] | null;
  /** Counted in `bufferedAmount` meanwhile. */
  size: number;
}

/**
 * An opaque token carried in the output in order (see `mark`); the adapter
 * gets it back when the bytes before it have been taken.
 */
export type OutputMarker = (error?: Error | null) => void;

interface MarkerEntry {
  marker: OutputMarker;
}

type EventEntry = ProtocolEvent | PendingEvent;
type OutputEntry = Buffer | PendingOutput | MarkerEntry;

export class Protocol implements FrameHandler {
  readonly side: Side;
  readonly deflate: PerMessageDeflate | null;
  readonly maxMessageSize: number;
  readonly maxFragments: number;
  readonly autoPong: boolean;

  /** The close frame received from the peer, if any. */
  closeReceived: { code: number; reason: string } | null = null;
  /** The close frame sent to the peer, if any. */
  closeSent: { code: number; reason: string } | null = null;
  /** The error that failed the connection, if it failed. */
  failure: ProtocolError | null = null;

  #state: State = State.OPEN;
  readonly #parser: FrameParser;
  readonly #maskKey: (() => Uint8Array) | null;
  /**
   * Called when events or bytes to send became available later than the
   * call that caused them (zlib finished a message). Never called from inside
   * a method of this object. Set by the adapter (or the `onReady` option).
   */
  onReady: (() => void) | null;
  /**
   * Like `onReady`, for an adapter that would rather not hold a closure per
   * connection: its `protocolReady()` is called instead.
   */
  readyTarget: { protocolReady(): void } | null = null;
  // Queues are the shared empty sentinels while empty (most connections,
  // most of the time, are idle: no array of their own).
  #events: EventEntry[] = NO_EVENTS;
  #output: OutputEntry[] = NO_OUTPUT;
  #markersTaken: OutputMarker[] = NO_MARKERS;
  /** Bytes in #output (a pending message counts its uncompressed size). */
  #outputBytes = 0;
  /** Compressed bytes waiting to be inflated. */
  #pendingInflate = 0;
  #eofSent = false;
  /** Set by the adapter while the transport's send buffer is full (see `congested`). */
  #congested = false;
  /** The last ping's payload, answered once the congestion clears (RFC 6455 §5.5.3). */
  #heldPong: Buffer | null = null;

  // The message being received (RFC 6455 §5.4).
  #messageOpcode = 0;
  #messageCompressed = false;
  #messageFragments = 0;
  #frameFin = false;
  /** Made at the first message that arrives in more than one piece. */
  #message: MessageBuffer | null = null;
  /** Made at the first text message that arrives in more than one piece. */
  #validator: Utf8Validator | null = null;
  /** True once text of the current message went through the incremental validator. */
  #streamed = false;

  // The message being sent in fragments, if any.
  #sendingOpcode = 0;

  constructor(side: Side, options: ProtocolOptions = {}) {
    this.side = side;
    this.deflate = options.deflate ?? null;
    this.maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
    this.maxFragments = options.maxFragments ?? defaultMaxFragments(this.maxMessageSize);
    this.autoPong = options.autoPong ?? true;
    this.onReady = options.onReady ?? null;
    this.#maskKey = side === 'client' ? (options.maskKey ?? (() => defaultMaskKeys.next())) : null;
    this.#parser = new FrameParser(this, {
      // RFC 6455 §5.1: frames from a client are masked, frames from a server are not.
      expectMasked: side === 'server',
      // RFC 7692 §6: permessage-deflate gives RSV1 a meaning; nothing else is negotiated.
      allowedRsv: this.deflate ? RSV1 : 0,
    });
  }

  /** OPEN until a close frame is sent or received; CLOSED once the transport is gone. */
  get state(): State {
    return this.#state;
  }

  // ---- input ----

  /**
   * Feed bytes received from the peer. Takes ownership of `data` (masked
   * payloads are unmasked in place). Protocol violations do not throw: they
   * queue an `error` event (the close frame follows when it is taken), and
   * further input is ignored.
   */
  receiveData(data: Buffer): void {
    try {
      this.#parser.push(data);
    } catch (error) {
      this.#failWith(error);
    }
  }

  /** The peer closed the transport (or it broke). Messages already complete are still delivered. */
  receiveEof(): void {
    if (this.#state === State.CLOSED) return;
    this.#state = State.CLOSED;
    this.#parser.stop();
    this.#message?.clear();
    this.deflate?.close();
  }

  /**
   * False while so many compressed messages wait for zlib that the adapter
   * should stop reading; it resumes when `onReady` reports progress.
   */
  get canReceive(): boolean {
    return this.#pendingInflate < MAX_PENDING_INFLATE_BYTES;
  }

  /** True while received messages are being inflated (their events, and those after them, are not ready yet). */
  get eventsPending(): boolean {
    const head = this.#events[0];
    return head !== undefined && head.type === 'pending';
  }

  /**
   * The next event, or null when there is none ready. Taking an event queues
   * the protocol's reply to it: a pong for a ping (with `autoPong`), the
   * close frame answering a close (RFC 6455 §5.5.1), the close frame failing
   * the connection for an error (RFC 6455 §7.1.7).
   */
  nextEvent(): ProtocolEvent | null {
    const events = this.#events;
    const head = events[0];
    if (head === undefined || head.type === 'pending') return null;
    if (events.length === 1) this.#events = NO_EVENTS;
    else events.shift();
    // Once the transport is gone there is no one to answer.
    if (this.#state === State.CLOSED) return head;
    switch (head.type) {
      case 'ping':
        // RFC 6455 §5.5.2: answer with a pong carrying the same application
        // data, unless a close frame was already sent.
        if (this.autoPong && !this.closeSent && !this.#eofSent) this.#answerPing(head.data);
        break;
      case 'close':
        this.#replyToClose(head.code);
        break;
      case 'error':
        this.fail(head.error.closeCode, head.error.closeReason);
        break;
    }
    return head;
  }

  /** Every event ready now, in order, each taken as `nextEvent` takes it. */
  eventsReceived(): ProtocolEvent[] {
    const events: ProtocolEvent[] = [];
    for (let event = this.nextEvent(); event !== null; event = this.nextEvent()) events.push(event);
    return events;
  }

  /**
   * Bytes to write since the last call, in order, up to a message still
   * being compressed; a zero-length buffer (SEND_EOF) means close the
   * transport.
   */
  dataToSend(): Buffer[] {
    const output = this.#output;
    if (output.length === 0) return [];
    let ready = 0;
    let markers = false;
    for (; ready < output.length; ready++) {
      const entry = output[ready]!;
      if (Buffer.isBuffer(entry)) continue;
      if ('marker' in entry) markers = true;
      else break;
    }
    const all = ready === output.length;
    const taken = all ? output : output.splice(0, ready);
    if (all) this.#output = NO_OUTPUT;
    if (!markers) {
      if (this.#output.length === 0) this.#outputBytes = 0;
      else for (const chunk of taken as Buffer[]) this.#outputBytes -= chunk.length;
      return taken as Buffer[];
    }
    const chunks: Buffer[] = [];
    for (const entry of taken) {
      if (Buffer.isBuffer(entry)) {
        chunks.push(entry);
        this.#outputBytes -= entry.length;
      } else {
        if (this.#markersTaken === NO_MARKERS) this.#markersTaken = [];
        this.#markersTaken.push((entry as MarkerEntry).marker);
      }
    }
    return chunks;
  }

  /**
   * Put `marker` in the output after everything queued so far. Once
   * `dataToSend` has returned the bytes queued before it, `takeMarkers`
   * hands it back: the adapter calls it when those bytes are written (the
   * callback of ws's `send(data, callback)`).
   */
  mark(marker: OutputMarker): void {
    this.#pushOutput({ marker }, 0);
  }

  /** Markers whose bytes the last `dataToSend` calls returned, in order. */
  takeMarkers(): OutputMarker[] {
    const markers = this.#markersTaken;
    if (markers.length === 0) return [];
    this.#markersTaken = NO_MARKERS;
    return markers;
  }

  /** Markers still waiting in the output (the transport is gone: the adapter fails them). */
  dropMarkers(): OutputMarker[] {
    const markers = this.takeMarkers();
    for (const entry of this.#output) if (!Buffer.isBuffer(entry) && 'marker' in entry) markers.push(entry.marker);
    const rest = this.#output.filter((entry) => Buffer.isBuffer(entry) || !('marker' in entry));
    this.#output = rest.length === 0 ? NO_OUTPUT : rest;
    return markers;
  }

  /** Bytes queued here and not yet taken by `dataToSend` (messages being compressed count their uncompressed size). */
  get bufferedAmount(): number {
    return this.#outputBytes;
  }

  /**
   * Tell the protocol whether the transport's send buffer is full. While it
   * is, pongs are not queued one per ping: only the last ping is answered,
   * when the congestion clears (RFC 6455 §5.5.3 allows answering only the
   * most recent ping), so a peer that pings without reading cannot grow our
   * memory. Nothing else is throttled here.
   */
  set congested(value: boolean) {
    this.#congested = value;
    if (!value && this.#heldPong !== null) {
      const payload = this.#heldPong;
      this.#heldPong = null;
      if (!this.closeSent && !this.#eofSent) this.#pushFrame(Opcode.PONG, payload, true, 0);
    }
  }

  get congested(): boolean {
    return this.#congested;
  }

  /**
   * True when the adapter should expect the transport to close soon and
   * enforce a timeout: a close frame has been sent or received, or the
   * connection failed (RFC 6455 §7.1.1: the wait is bounded).
   */
  closeExpected(): boolean {
    return (
      this.#state !== State.CLOSED &&
      (this.closeSent !== null || this.closeReceived !== null || this.failure !== null)
    );
  }

  /** True once close frames have gone both ways (RFC 6455 §7.1.4 "the closing handshake is complete"). */
  get closingHandshakeDone(): boolean {
    return this.closeSent !== null && this.closeReceived !== null;
  }

  // ---- output ----

  /**
   * Send a text message (or its first fragment when `fin` is false). Bytes
   * are sent as they are: the caller guarantees they are UTF-8.
   * Returns the bytes queued (0 when the transport is being closed).
   * @throws InvalidStateError after a close frame was sent, or while another fragmented message is being sent.
   */
  sendText(data: string | Bytes, fin = true, compress = true): number {
    return this.#sendData(Opcode.TEXT, data, fin, compress);
  }

  /**
   * Send a binary message (or its first fragment when `fin` is false).
   * Returns the bytes queued, as sendText.
   * @throws InvalidStateError as sendText.
   */
  sendBinary(data: Bytes | string, fin = true, compress = true): number {
    return this.#sendData(Opcode.BINARY, data, fin, compress);
  }

  /**
   * Send the next fragment of a message started with `fin = false` (RFC 6455 §5.4).
   * Returns the bytes queued.
   * @throws InvalidStateError when no fragmented message is in progress.
   */
  sendContinuation(data: string | Bytes, fin: boolean): number {
    this.#checkCanSend();
    if (this.#sendingOpcode === 0) throw new InvalidStateError('no fragmented message in progress');
    const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
    const size = this.#pushFrame(Opcode.CONTINUATION, payload, fin, 0);
    if (fin) this.#sendingOpcode = 0;
    return size;
  }

  /**
   * Send a message prepared once for many connections (broadcast). A server
   * writes the same frame bytes to every connection; compressed variants are
   * made once per compression setting and shared. Returns the bytes queued.
   * @throws InvalidStateError as sendText.
   */
  sendPrepared(message: PreparedMessage, compress = true): number {
    this.#checkCanSend();
    if (this.#sendingOpcode !== 0) throw new InvalidStateError('a fragmented message is being sent');
    if (this.#eofSent) return 0;
    const deflate = compress ? this.deflate : null;
    if (this.side === 'client' || (deflate !== null && deflate.shareKey === null)) {
      // Masked, or compressed with this connection's own context: not shareable.
      return this.#sendData(message.opcode, message.payload, true, compress);
    }
    if (deflate?.wouldCompress(message.payload.length)) {
      const pending: PendingOutput = { chunks: null, size: message.payload.length };
      this.#pushOutput(pending, pending.size);
      let sync = true;
      message.compressedFrame(deflate.shareKey!, deflate, (error, frame) => {
        if (error) this.#internalFailure(error);
        this.#fill(pending, error ? [] : frame ? [frame] : message.frame, sync);
      });
      sync = false;
      return pending.size;
    }
    let size = 0;
    for (const chunk of message.frame) {
      this.#pushOutput(chunk, chunk.length);
      size += chunk.length;
    }
    return size;
  }

  /**
   * Send a ping (RFC 6455 §5.5.2) with at most 125 bytes of application data.
   * @throws RangeError for a longer payload; InvalidStateError after close.
   */
  sendPing(data: Bytes = EMPTY): void {
    this.#checkCanSend();
    this.#sendControl(Opcode.PING, toBuffer(data));
  }

  /**
   * Send a pong: unsolicited (RFC 6455 §5.5.3: a heartbeat), or the answer
   * to a ping when `autoPong` is off.
   * @throws RangeError for a payload over 125 bytes; InvalidStateError after close.
   */
  sendPong(data: Bytes = EMPTY): void {
    this.#checkCanSend();
    this.#sendControl(Opcode.PONG, toBuffer(data));
  }

  /**
   * Start (or complete) the closing handshake (RFC 6455 §5.5.1, §7.1.2).
   * Does nothing if a close frame was already sent.
   * @throws RangeError for a code that may not be sent (1005, 1006, 1015 and
   *   the reserved ones, RFC 6455 §7.4) or a reason over 123 bytes.
   */
  sendClose(code = 1000, reason = ''): void {
    const payload = encodeClosePayload(code, reason);
    if (this.closeSent || this.#state === State.CLOSED) return;
    this.closeSent = { code, reason };
    this.#pushFrame(Opcode.CLOSE, payload, true, 0);
    if (this.closeReceived) this.#handshakeComplete();
    else this.#state = State.CLOSING;
  }

  /**
   * Fail the connection (RFC 6455 §7.1.7): send a close frame with `code`
   * unless one was sent, stop processing input, and (server side) close the
   * transport. Used by the application (e.g. 1008), and by the adapter with
   * a ProtocolError for a limit the peer passed (recorded as `failure`).
   * @throws RangeError for a code that may not be sent.
   */
  fail(code: number | ProtocolError, reason = ''): void {
    if (code instanceof ProtocolError) {
      this.failure ??= code;
      reason = code.closeReason;
      code = code.closeCode;
    }
    if (!this.closeSent && this.#state !== State.CLOSED) {
      const payload = encodeClosePayload(code, reason);
      this.closeSent = { code, reason };
      this.#pushFrame(Opcode.CLOSE, payload, true, 0);
    }
    if (this.#state !== State.CLOSED) this.#state = State.CLOSING;
    this.#stopReceiving();
    // RFC 6455 §7.1.1: the server closes the TCP connection first; a client
    // waits for it (the adapter bounds the wait).
    if (this.side === 'server') this.#sendEof();
  }

  // ---- FrameHandler: called by the parser ----

  onDataFrameStart(header: FrameHeader): void {
    if (header.opcode === Opcode.CONTINUATION) {
      // RFC 6455 §5.4: a continuation frame only continues a message in progress.
      if (this.#messageOpcode === 0) throw new ProtocolError('UNEXPECTED_CONTINUATION');
      // RFC 7692 §6.1: RSV1 is set on the first frame of a message only.
      if (header.rsv & RSV1) throw new ProtocolError('RSV1_ON_CONTINUATION');
    } else {
      // RFC 6455 §5.4: fragments of one message MUST NOT be interleaved with another message's.
      if (this.#messageOpcode !== 0) throw new ProtocolError('EXPECTED_CONTINUATION');
      this.#messageOpcode = header.opcode;
      this.#messageCompressed = (header.rsv & RSV1) !== 0;
      this.#messageFragments = 0;
      this.#streamed = false;
    }
    if (++this.#messageFragments > this.maxFragments) throw new ProtocolError('TOO_MANY_FRAGMENTS');
    // RFC 6455 §10.4: refuse a message over the limit from its declared
    // length, before buffering any of it.
    const size = (this.#message?.length ?? 0) + header.length;
    if (size > this.maxMessageSize) {
      throw new ProtocolError('MESSAGE_TOO_BIG', `${size} > ${this.maxMessageSize}`);
    }
    this.#frameFin = header.fin;
  }

  onDataFramePayload(data: Buffer, last: boolean): void {
    const isText = this.#messageOpcode === Opcode.TEXT && !this.#messageCompressed;
    const message = this.#message;
    if (last && this.#frameFin && (message === null || message.length === 0) && !this.#streamed) {
      // The whole message is this one piece: validate it in one native pass.
      this.#deliver(data, isText && !isValidUtf8(data));
      return;
    }
    if (isText) {
      // RFC 6455 §8.1: fail as soon as an invalid byte arrives, mid-frame included.
      this.#streamed = true;
      this.#validator ??= new Utf8Validator();
      if (!this.#validator.push(data)) {
        this.#validator.reset();
        throw new ProtocolError('INVALID_UTF8');
      }
    }
    this.#message ??= new MessageBuffer();
    this.#message.push(data);
    if (last && this.#frameFin) {
      const payload = this.#message.take();
      let invalid = false;
      if (isText && this.#validator !== null) {
        invalid = !this.#validator.complete;
        this.#validator.reset();
      }
      this.#deliver(payload, invalid);
    }
  }

  onControlFrame(header: FrameHeader, payload: Buffer): void {
    // RFC 6455 §5.2 / RFC 7692 §6.1: no extension defines RSV bits on control frames.
    if (header.rsv !== 0) throw new ProtocolError('RSV_NOT_NEGOTIATED');
    switch (header.opcode) {
      case Opcode.PING:
        this.#pushEvent({ type: 'ping', data: payload });
        break;
      case Opcode.PONG:
        // RFC 6455 §5.5.3: a pong may be unsolicited; it is only reported.
        this.#pushEvent({ type: 'pong', data: payload });
        break;
      case Opcode.CLOSE: {
        const { code, reason } = parseClosePayload(payload);
        this.closeReceived = { code, reason };
        this.#pushEvent({ type: 'close', code, reason });
        // RFC 6455 §5.5.1: after a close frame, the peer sends nothing more;
        // any message in progress is abandoned.
        this.#stopReceiving();
        break;
      }
    }
  }

  // ---- internals ----

  #deliver(payload: Buffer, invalidUtf8: boolean): void {
    if (invalidUtf8) throw new ProtocolError('INVALID_UTF8');
    const opcode = this.#messageOpcode;
    this.#messageOpcode = 0;
    if (!this.#messageCompressed) {
      this.#pushEvent(opcode === Opcode.TEXT ? { type: 'text', data: payload.toString('utf8') } : { type: 'binary', data: payload });
      return;
    }
    this.#messageCompressed = false;
    // RFC 7692 §7.2.2: inflate the whole message; the limit applies to the
    // inflated size too, checked while inflating.
    const pending: PendingEvent = { type: 'pending', size: payload.length, event: null };
    this.#pushEvent(pending);
    this.#pendingInflate += pending.size;
    let sync = true;
    this.deflate!.decompress(payload, this.maxMessageSize, (error, data) => {
      this.#pendingInflate -= pending.size;
      if (!this.#events.includes(pending)) return; // dropped by an earlier failure
      if (error === null && opcode === Opcode.TEXT && !isValidUtf8(data)) error = new ProtocolError('INVALID_UTF8');
      if (error !== null) {
        // RFC 6455 §7.1.7: nothing after the failure is processed: the
        // events parsed after this message are dropped, unanswered.
        this.#events.splice(this.#events.indexOf(pending));
        this.#failWith(error);
      } else {
        pending.event = opcode === Opcode.TEXT ? { type: 'text', data: data.toString('utf8') } : { type: 'binary', data };
        this.#settleEvents();
      }
      if (!sync) this.#ready();
    });
    sync = false;
  }

  /** Replace inflated entries at the head of the queue by their events. */
  #settleEvents(): void {
    const events = this.#events;
    for (let i = 0; i < events.length; i++) {
      const entry = events[i]!;
      if (entry.type !== 'pending') continue;
      if (entry.event === null) return;
      events[i] = entry.event;
    }
  }

  #answerPing(payload: Buffer): void {
    if (this.#congested) {
      this.#heldPong = payload;
      return;
    }
    this.#pushFrame(Opcode.PONG, payload, true, 0);
  }

  #replyToClose(code: number): void {
    if (!this.closeSent && !this.#eofSent) {
      // RFC 6455 §5.5.1: reply with a close frame, typically echoing the
      // code; an empty close (1005) is answered with an empty one.
      this.closeSent = { code, reason: '' };
      this.#pushFrame(Opcode.CLOSE, code === 1005 ? EMPTY : encodeClosePayload(code), true, 0);
    }
    this.#handshakeComplete();
  }

  #handshakeComplete(): void {
    if (this.#state !== State.CLOSED) this.#state = State.CLOSING;
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    if (this.side === 'server') this.#sendEof();
  }

  /** The peer broke the protocol: an error event now, the close frame when it is taken. */
  #failWith(error: unknown): void {
    const protocolError = error instanceof ProtocolError ? error : new ProtocolError('INTERNAL_ERROR', String(error));
    this.failure ??= protocolError;
    this.#pushEvent({ type: 'error', error: protocolError });
    // RFC 6455 §7.1.7: no more data is processed after a failure.
    this.#stopReceiving();
  }

  /** A failure of ours (zlib out of memory): 1011, with nothing more said. */
  #internalFailure(error: Error): void {
    this.#failWith(new ProtocolError('INTERNAL_ERROR', error.message));
  }

  #stopReceiving(): void {
    this.#parser.stop();
    this.#message?.clear();
    this.#messageOpcode = 0;
  }

  #sendEof(): void {
    if (this.#eofSent) return;
    this.#eofSent = true;
    this.#pushOutput(SEND_EOF, 0);
  }

  #checkCanSend(): void {
    // RFC 6455 §5.5.1: after sending a close frame, no more data frames.
    if (this.closeSent || this.#state === State.CLOSED) {
      throw new InvalidStateError('the connection is closing or closed');
    }
  }

  /** Queues the message; returns its size (so adapters need not measure strings again). */
  #sendData(opcode: number, data: string | Bytes, fin: boolean, compress: boolean): number {
    this.#checkCanSend();
    if (this.#sendingOpcode !== 0) throw new InvalidStateError('a fragmented message is being sent');
    if (!fin) this.#sendingOpcode = opcode;
    if (this.#eofSent) return 0;
    const deflate = this.deflate;
    if (deflate !== null && fin && compress) {
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : toBuffer(data);
      if (deflate.wouldCompress(bytes.length)) return this.#sendCompressed(opcode, bytes, deflate);
      return this.#pushFrame(opcode, bytes, true, 0);
    }
    if (typeof data === 'string') {
      const frame = encodeTextFrame(data, { fin, maskKey: this.#maskKey ? this.#maskKey() : null });
      if (opcode !== Opcode.TEXT) frame[0] = (fin ? 0x80 : 0) | opcode;
      this.#pushOutput(frame, frame.length);
      return frame.length;
    }
    return this.#pushFrame(opcode, toBuffer(data), fin, 0);
  }

  /**
   * RFC 7692 §6: compress whole messages; RSV1 marks the first (here only)
   * frame. The frame takes its place in the output now and is filled in
   * when zlib is done; what is queued after it waits.
   */
  #sendCompressed(opcode: number, bytes: Buffer, deflate: PerMessageDeflate): number {
    const pending: PendingOutput = { chunks: null, size: bytes.length };
    this.#pushOutput(pending, pending.size);
    let sync = true;
    deflate.compress(bytes, (error, payload) => {
      if (error) this.#internalFailure(error);
      const maskKey = this.#maskKey ? this.#maskKey() : null;
      let chunks: Buffer[] = [];
      if (!error) {
        chunks = payload
          ? encodeFrame(opcode, payload, { rsv: RSV1, maskKey })
          : encodeFrame(opcode, bytes, { maskKey });
      }
      this.#fill(pending, chunks, sync);
    });
    sync = false;
    return pending.size;
  }

  /** A message finished compressing: its frame replaces the placeholder. */
  #fill(pending: PendingOutput, chunks: Buffer[], sync: boolean): void {
    const output = this.#output;
    const at = output.indexOf(pending);
    if (at === -1) return;
    let size = 0;
    for (const chunk of chunks) size += chunk.length;
    this.#outputBytes += size - pending.size;
    output.splice(at, 1, ...chunks);
    if (!sync) this.#ready();
  }

  #sendControl(opcode: number, data: Buffer): void {
    if (data.length > MAX_CONTROL_PAYLOAD) {
      throw new RangeError(`control frame payload is ${data.length} bytes, at most 125 allowed (RFC 6455 §5.5)`);
    }
    this.#pushFrame(opcode, data, true, 0);
  }

  /** Returns the bytes queued (0 once the transport is being closed). */
  #pushFrame(opcode: number, payload: Buffer, fin: boolean, rsv: number): number {
    if (this.#eofSent) return 0;
    const maskKey = this.#maskKey ? this.#maskKey() : null;
    let size = 0;
    // Control frames may go out between the fragments of a data message (RFC 6455 §5.4).
    for (const chunk of encodeFrame(opcode, payload, { fin, rsv, maskKey })) {
      this.#pushOutput(chunk, chunk.length);
      size += chunk.length;
    }
    return size;
  }

  #pushOutput(entry: OutputEntry, size: number): void {
    if (this.#output === NO_OUTPUT) this.#output = [];
    this.#output.push(entry);
    this.#outputBytes += size;
  }

  #pushEvent(entry: EventEntry): void {
    if (this.#events === NO_EVENTS) this.#events = [];
    this.#events.push(entry);
  }

  /** Tell the adapter that events or bytes are ready (an asynchronous completion). */
  #ready(): void {
    const target = this.readyTarget;
    if (target !== null) target.protocolReady();
    else this.onReady?.();
  }
}
