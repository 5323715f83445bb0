/**
 * A WebSocket connection over a Node stream: a TCP or TLS socket (RFC 6455),
 * or an HTTP/2 stream opened with the extended CONNECT (RFC 8441). This
 * adapter only moves bytes between the transport and the sans-I/O
 * `Protocol`, turns protocol events into Node events, bounds what is queued
 * for a slow reader and owns the timers of the closing handshake. Every
 * protocol rule lives in ../protocol.
 *
 * Flow control. Reading never stops because the application sends: a peer
 * that is itself waiting for us to read before it reads (both ends sending
 * large messages, each waiting for 'drain') would otherwise hang both ends
 * forever. Reading stops only when the application asks (`pause()`), or
 * while zlib has a backlog of compressed messages to inflate. What we owe
 * the peer is bounded by `maxBackpressure` instead: past it the connection
 * is closed with 1008 (SLOW_READER). An application that wants to slow a
 * fast sender down pauses reading until 'drain'.
 */
import { EventEmitter } from 'node:events';
import { constants as http2Constants } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Bytes, toBuffer } from '../protocol/bytes.js';
import { ProtocolError } from '../protocol/errors.js';
import type { PreparedMessage } from '../protocol/prepared.js';
import { type OutputMarker, type Protocol, type ProtocolEvent, SEND_EOF, State } from '../protocol/protocol.js';
import { isValidUtf8, Utf8Validator } from '../protocol/utf8.js';

export interface WebSocketEvents {
  /** A whole message: a string for text, a Buffer for binary. */
  message: [data: string | Buffer, isBinary: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  /** The transport is gone. `wasClean` is true when close frames went both ways. */
  close: [code: number, reason: string, wasClean: boolean];
  /** A protocol violation by the peer (ProtocolError) or a transport error. Only emitted when listened to. */
  error: [error: Error];
  /** The send buffer, which had passed the high-water mark, has emptied. */
  drain: [];
}

/** Default `maxBackpressure`: 64 MiB owed to one peer. */
export const DEFAULT_MAX_BACKPRESSURE = 64 * 1024 * 1024;

export interface ConnectionOptions {
  /** Subprotocol agreed in the handshake ('' for none). */
  protocol?: string;
  /** Sec-WebSocket-Extensions agreed in the handshake ('' for none). */
  extensions?: string;
  /** The URL connected to (client side); '' on the server side. */
  url?: string;
  /** How long to wait for the peer to finish the closing handshake before dropping the transport (ms). Default 5000. */
  closeTimeout?: number;
  /**
   * Bytes this connection may owe its peer (queued and not yet taken by the
   * kernel) before it is closed with 1008 (SLOW_READER) rather than allowed
   * to grow memory. Default 64 MiB; Infinity disables the limit.
   */
  maxBackpressure?: number;
  /** Bytes received after the handshake, before the connection existed. */
  head?: Buffer;
  /** @internal the server's set of connections, left on close (no per-connection listener needed). */
  registry?: Set<WebSocket>;
  /**
   * @internal settings shared by every connection of a server, made once
   * with `sharedSettings()` (closeTimeout, maxBackpressure, registry and url
   * are then read from it).
   */
  shared?: SharedSettings;
}

/** What every connection of one server has in common; one object for all of them. */
export interface SharedSettings {
  readonly url: string;
  readonly closeTimeout: number;
  readonly maxBackpressure: number;
  readonly registry: Set<WebSocket> | null;
}

/** @internal the shared settings for these options (defaults filled in). */
export function sharedSettings(options: ConnectionOptions): SharedSettings {
  return {
    url: options.url ?? '',
    closeTimeout: options.closeTimeout ?? 5000,
    maxBackpressure: options.maxBackpressure ?? DEFAULT_MAX_BACKPRESSURE,
    registry: options.registry ?? null,
  };
}

/** Bits of WebSocket.flags. */
const Flag = {
  FLUSH_SCHEDULED: 1,
  CLOSE_EMITTED: 2,
  ENDED: 4,
  TRANSPORT_CLOSED: 8,
  PAUSED: 16,
  HEAD_PENDING: 32,
  DISPATCHING: 64,
  FRAGMENTING: 128,
} as const;

/** Rarely used state of a connection. */
interface Extra {
  blobQueue: QueuedSend[] | null;
  queuedBytes: number;
  fragmentText: Utf8Validator | null;
}

function newExtra(): Extra {
  return { blobQueue: null, queuedBytes: 0, fragmentText: null };
}

/**
 * What `send()` accepts, as ws does: text as a string (or a number, sent as
 * its decimal text); binary as any view of memory (typed arrays of any
 * element size, DataView, Buffer), an ArrayBuffer or SharedArrayBuffer, an
 * array of byte values, or a Blob (read asynchronously; messages sent after
 * it wait their turn). Binary data is counted in bytes, whatever the view.
 */
export type SendData = string | number | Bytes | Blob | readonly number[];

/** Options of `send()`, as ws's. */
export interface SendOptions {
  /** Send as binary (true) or as text (false). Default: text for strings and numbers, binary for bytes. */
  binary?: boolean;
  /** Compress this message when permessage-deflate was negotiated. Default true. Fragmented messages are never compressed. */
  compress?: boolean;
  /**
   * Whether this is the last fragment of the message (RFC 6455 §5.4).
   * Default true. `fin: false` starts a fragmented message, or continues the
   * one in progress; the fragment sent with `fin: true` ends it. The type
   * of a fragmented message is the first fragment's.
   */
  fin?: boolean;
}

/** Called once the message was written to the transport, or with the reason it never will be. */
export type SendCallback = (error?: Error | null) => void;

/** A send waiting behind a Blob being read (see `send`). */
interface QueuedSend {
  data: string | Buffer | null;
  size: number;
  options: SendOptions;
  callback: SendCallback | undefined;
}

/** Text or bytes now; null for a Blob (read later). @throws TypeError for anything else. */
function normalize(data: SendData): string | Buffer | null {
  if (typeof data === 'string') return data;
  if (typeof data === 'number') return String(data);
  if (typeof Blob !== 'undefined' && data instanceof Blob) return null;
  if (Array.isArray(data)) return Buffer.from(data);
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) {
    return toBuffer(data as Bytes);
  }
  throw new TypeError('send() takes a string, a number, bytes (a typed array, DataView, ArrayBuffer or Buffer), an array of bytes or a Blob');
}

/** The connection a transport carries, for the shared transport listeners. */
const kConnection = Symbol('wschat.connection');
type OwnedTransport = Duplex & { [kConnection]?: WebSocket };

/** Frames queued in one turn are written together; below this size they are joined into one buffer. */
const JOIN_LIMIT = 64 * 1024;

/**
 * Connections with frames queued in this event-loop turn, written out
 * together in one setImmediate. A microtask per connection would flush after
 * each I/O callback: a broadcast per incoming message would then cost one
 * write per member per message. Flushing in the check phase, after the poll
 * phase has run every ready read, gives each transport one write for
 * everything the turn produced (each write is a syscall through the TCP
 * stack, by far the largest cost of a fan-out). Latency grows by at most the
 * rest of the current turn.
 */
let dirty: WebSocket[] = [];
let flushAllScheduled = false;

function flushAll(): void {
  flushAllScheduled = false;
  const batch = dirty;
  dirty = [];
  for (const ws of batch) ws.flushScheduledWrites();
}

/** An HTTP/2 stream (RFC 8441): closed with RST_STREAM rather than destroyed. */
interface StreamLike {
  session?: { socket?: Socket } | undefined;
  close?: (code?: number) => void;
}

function isHttp2Stream(transport: Duplex): transport is Duplex & Required<StreamLike> {
  return 'session' in transport && typeof (transport as StreamLike).close === 'function';
}

export class WebSocket extends EventEmitter<WebSocketEvents> {
  /** readyState values, as in the WebSocket API. CONNECTING is never observed: `connect()` resolves once open. */
  static readonly CONNECTING = 0;
  static readonly OPEN = State.OPEN;
  static readonly CLOSING = State.CLOSING;
  static readonly CLOSED = State.CLOSED;

  /** The subprotocol the server selected, or ''. */
  readonly protocol: string;
  /** The extensions in use, as negotiated (e.g. "permessage-deflate; client_max_window_bits=15"), or ''. */
  readonly extensions: string;
  /** What the WebSocket runs over: the TCP or TLS socket, or an HTTP/2 stream (RFC 8441). */
  readonly transport: Duplex;
  /**
   * The TCP or TLS socket: the transport itself, or for a WebSocket over
   * HTTP/2 the socket of the connection that carries its stream (shared
   * with the other streams: do not end or destroy it; use terminate()).
   */
  readonly socket: Socket;

  /** @internal last time data arrived from the peer (performance.now(), ms: a monotonic clock), for heartbeats. */
  lastSeen = performance.now();
  /** @internal a heartbeat ping is awaiting its pong since this time (ms), or 0. */
  pingSentAt = 0;

  private readonly p: Protocol;
  /** Settings shared by every connection of a server (one object, not four fields each). */
  private readonly shared: SharedSettings;
  private closeTimer: NodeJS.Timeout | null = null;
  /** The boolean state below, as bits of one number (memory per idle connection counts). */
  private flags = 0;
  /** State few connections ever need, made when first needed. */
  private extra: Extra | null = null;

  /** The URL connected to (client side), or '' (server side). */
  get url(): string {
    return this.shared.url;
  }

  /** Bytes this connection may owe its peer before it is closed with 1008 (see ConnectionOptions). */
  get maxBackpressure(): number {
    return this.shared.maxBackpressure;
  }

  private get closeTimeout(): number {
    return this.shared.closeTimeout;
  }

  private get registry(): Set<WebSocket> | null {
    return this.shared.registry;
  }

  private flag(bit: number): boolean {
    return (this.flags & bit) !== 0;
  }

  private setFlag(bit: number, on: boolean): void {
    this.flags = on ? this.flags | bit : this.flags & ~bit;
  }

  /** A flush of this connection is scheduled for the end of the turn. */
  private get flushScheduled(): boolean {
    return this.flag(Flag.FLUSH_SCHEDULED);
  }
  private set flushScheduled(on: boolean) {
    this.setFlag(Flag.FLUSH_SCHEDULED, on);
  }
  private get closeEmitted(): boolean {
    return this.flag(Flag.CLOSE_EMITTED);
  }
  private set closeEmitted(on: boolean) {
    this.setFlag(Flag.CLOSE_EMITTED, on);
  }
  /** We ended our side of the transport. */
  private get ended(): boolean {
    return this.flag(Flag.ENDED);
  }
  private set ended(on: boolean) {
    this.setFlag(Flag.ENDED, on);
  }
  /** The transport is gone ('close'); 'close' is emitted once the last events are delivered. */
  private get transportClosed(): boolean {
    return this.flag(Flag.TRANSPORT_CLOSED);
  }
  private set transportClosed(on: boolean) {
    this.setFlag(Flag.TRANSPORT_CLOSED, on);
  }
  /** The application paused reading (pause()). */
  private get paused(): boolean {
    return this.flag(Flag.PAUSED);
  }
  private set paused(on: boolean) {
    this.setFlag(Flag.PAUSED, on);
  }
  /** Frames that came with the handshake are not delivered yet. */
  private get headPending(): boolean {
    return this.flag(Flag.HEAD_PENDING);
  }
  private set headPending(on: boolean) {
    this.setFlag(Flag.HEAD_PENDING, on);
  }
  /** Events are being handed to listeners (re-entrancy guard). */
  private get dispatching(): boolean {
    return this.flag(Flag.DISPATCHING);
  }
  private set dispatching(on: boolean) {
    this.setFlag(Flag.DISPATCHING, on);
  }
  /** A fragmented message is being sent with send(data, { fin: false }). */
  private get fragmenting(): boolean {
    return this.flag(Flag.FRAGMENTING);
  }
  private set fragmenting(on: boolean) {
    this.setFlag(Flag.FRAGMENTING, on);
  }

  /** Sends waiting for a Blob to be read, in order; null when none. */
  private get blobQueue(): QueuedSend[] | null {
    return this.extra?.blobQueue ?? null;
  }
  private set blobQueue(queue: QueuedSend[] | null) {
    if (queue !== null || this.extra !== null) this.extras().blobQueue = queue;
  }
  /** Bytes in `blobQueue`, counted in bufferedAmount. */
  private get queuedBytes(): number {
    return this.extra?.queuedBytes ?? 0;
  }
  private set queuedBytes(bytes: number) {
    if (bytes !== 0 || this.extra !== null) this.extras().queuedBytes = bytes;
  }
  /** The UTF-8 check of a text message sent as bytes in fragments. */
  private get fragmentText(): Utf8Validator | null {
    return this.extra?.fragmentText ?? null;
  }
  private set fragmentText(validator: Utf8Validator | null) {
    if (validator !== null || this.extra !== null) this.extras().fragmentText = validator;
  }

  private extras(): Extra {
    this.extra ??= newExtra();
    return this.extra;
  }

  constructor(socket: Duplex, protocol: Protocol, options: ConnectionOptions = {}) {
    super();
    this.transport = socket;
    this.socket = (isHttp2Stream(socket) ? socket.session?.socket : socket) as Socket;
    this.p = protocol;
    this.protocol = options.protocol ?? '';
    this.extensions = options.extensions ?? '';
    this.shared = options.shared ?? sharedSettings(options);
    // The protocol reports asynchronous completions through protocolReady() (no closure).
    protocol.readyTarget = this;

    (socket as Partial<Socket>).setNoDelay?.(true);
    (socket as Partial<Socket>).setTimeout?.(0);
    // The same five functions serve every transport (each finds its
    // connection through kConnection) instead of five closures per connection.
    (socket as OwnedTransport)[kConnection] = this;
    socket.on('data', WebSocket.socketData);
    socket.on('end', WebSocket.socketEnd);
    socket.on('close', WebSocket.socketClose);
    socket.on('error', WebSocket.socketError);
    socket.on('drain', WebSocket.socketDrain);
    if (options.head && options.head.length > 0) {
      const head = options.head;
      // Frames that came with the handshake wait until the application has
      // attached its listeners: `await connect()` resumes in a microtask,
      // which runs before setImmediate but after process.nextTick. The
      // transport stays paused meanwhile so later bytes cannot overtake these.
      this.headPending = true;
      socket.pause();
      setImmediate(() => {
        this.headPending = false;
        this.onData(head);
        this.updateReading();
      });
    } else {
      // The server pauses a socket while it completes the handshake.
      socket.resume();
    }
  }

  private static readonly socketData = function (this: OwnedTransport, chunk: Buffer): void {
    this[kConnection]!.onData(chunk);
  };

  private static readonly socketEnd = function (this: OwnedTransport): void {
    this[kConnection]!.onEnd();
  };

  private static readonly socketClose = function (this: OwnedTransport): void {
    this[kConnection]!.onTransportClose();
  };

  private static readonly socketError = function (this: OwnedTransport, error: Error): void {
    this[kConnection]!.emitError(error);
  };

  private static readonly socketDrain = function (this: OwnedTransport): void {
    this[kConnection]!.onDrain();
  };

  /** @internal the Protocol's readyTarget: zlib finished a message in one direction or the other. */
  protocolReady(): void {
    this.dispatch();
    if (this.p.bufferedAmount > 0) this.queued();
    this.updateReading();
    this.maybeEmitClose();
  }

  /**
   * The peer's address, read from the transport when first asked (Node keeps
   * it from then on, also after the socket closes); '' if the transport was
   * gone before anyone asked. For HTTP/2, the address of the connection
   * carrying the stream.
   */
  get remoteAddress(): string {
    return this.peerSocket()?.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.peerSocket()?.remotePort ?? 0;
  }

  private peerSocket(): Partial<Socket> | undefined {
    const transport = this.transport;
    return isHttp2Stream(transport) ? transport.session?.socket : (transport as Partial<Socket>);
  }

  /** CONNECTING (0, never observed), OPEN (1), CLOSING (2) or CLOSED (3), as in the WebSocket API. */
  get readyState(): State {
    return this.p.state;
  }

  /**
   * Bytes queued for the peer and not yet handed to the kernel: frames not
   * written yet (a message being compressed counts its uncompressed size),
   * messages waiting behind a Blob, plus the transport's own buffer.
   */
  get bufferedAmount(): number {
    return this.p.bufferedAmount + this.queuedBytes + this.transport.writableLength;
  }

  /** Whether reading is paused by `pause()`. */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Send a message (see `SendData` for what is accepted, `SendOptions` for
   * the options). Returns false when the send buffer is past its high-water
   * mark (wait for 'drain' before sending more) or when the connection is no
   * longer open (the message is dropped, as the WebSocket API does after
   * close(); the callback gets an error). The callback, if any, is called
   * once the message was written to the transport.
   * @throws TypeError for data that is none of `SendData`, or for text given
   *   as bytes that are not UTF-8 (RFC 6455 §5.6).
   */
  send(data: SendData, options?: SendOptions | SendCallback, callback?: SendCallback): boolean {
    let opts: SendOptions = {};
    if (typeof options === 'function') callback = options;
    else if (options) opts = options;
    const now = normalize(data);
    if (this.p.state !== State.OPEN || this.p.closeSent) {
      if (callback) process.nextTick(callback, notOpen());
      return false;
    }
    if (now === null || this.blobQueue !== null) return this.enqueue(now, data, opts, callback);
    this.sendNow(now, opts, callback);
    return this.queued();
  }

  private sendNow(data: string | Buffer, options: SendOptions, callback: SendCallback | undefined): void {
    const binary = options.binary ?? typeof data !== 'string';
    const fin = options.fin ?? true;
    const compress = options.compress ?? true;
    if (!binary && typeof data !== 'string') this.checkText(data, fin);
    if (this.fragmenting) {
      this.p.sendContinuation(data, fin);
    } else if (binary) {
      this.p.sendBinary(data, fin, compress);
    } else {
      this.p.sendText(data, fin, compress);
    }
    this.fragmenting = !fin;
    if (callback) this.p.mark(callback);
  }

  /** RFC 6455 §5.6: a text message is UTF-8; bytes sent as text are checked (fragments as they come). */
  private checkText(data: Buffer, fin: boolean): void {
    if (!this.fragmenting && fin) {
      if (!isValidUtf8(data)) throw new TypeError('text given as bytes must be UTF-8 (RFC 6455 §5.6)');
      return;
    }
    this.fragmentText ??= new Utf8Validator();
    const validator = this.fragmentText;
    const ok = validator.push(data) && (!fin || validator.complete);
    if (fin || !ok) this.fragmentText = null;
    if (!ok) throw new TypeError('text given as bytes must be UTF-8 (RFC 6455 §5.6)');
  }

  /** A send that waits for a Blob ahead of it (or is one): order is kept. */
  private enqueue(now: string | Buffer | null, data: SendData, options: SendOptions, callback: SendCallback | undefined): boolean {
    const entry: QueuedSend = {
      data: now,
      size: now === null ? (data as Blob).size : Buffer.byteLength(now),
      options,
      callback,
    };
    this.blobQueue ??= [];
    this.blobQueue.push(entry);
    this.queuedBytes += entry.size;
    if (now === null) {
      (data as Blob).arrayBuffer().then(
        (bytes) => {
          entry.data = Buffer.from(bytes);
          this.sendQueued();
        },
        (error: Error) => {
          // An unreadable Blob is dropped; what follows it still goes out.
          entry.data = '';
          entry.size = -1;
          if (entry.callback) entry.callback(error);
          else this.emitError(error);
          this.sendQueued();
        },
      );
    }
    return this.bufferedAmount < this.transport.writableHighWaterMark;
  }

  /** Sends the queued messages whose data is ready, in order. */
  private sendQueued(): void {
    const queue = this.blobQueue;
    if (queue === null) return;
    while (queue.length > 0 && queue[0]!.data !== null) {
      const entry = queue.shift()!;
      this.queuedBytes -= Math.max(0, entry.size);
      if (entry.size < 0) continue;
      if (this.p.state !== State.OPEN || this.p.closeSent) {
        entry.callback?.(notOpen());
        continue;
      }
      try {
        this.sendNow(entry.data!, entry.options, entry.callback);
      } catch (error) {
        // Not thrown to the caller any more (send() returned long ago).
        if (entry.callback) entry.callback(error as Error);
        else this.emitError(error as Error);
      }
      this.queued();
    }
    if (queue.length === 0) this.blobQueue = null;
  }

  /**
   * Send a message prepared once for many connections (see `PreparedMessage`).
   * Same return as send(). With `maxBackpressure` (a broadcast's own limit),
   * a connection that would owe its peer more than that is failed with 1008
   * (SLOW_READER) instead.
   */
  sendPrepared(message: PreparedMessage, options: { compress?: boolean; maxBackpressure?: number } = {}): boolean {
    // Not while this connection is in the middle of a fragmented message of its own.
    if (this.p.state !== State.OPEN || this.p.closeSent || this.fragmenting) return false;
    if (options.maxBackpressure !== undefined && this.bufferedAmount + message.payload.length > options.maxBackpressure) {
      this.failSlowReader();
      return false;
    }
    if (this.blobQueue !== null) {
      // Behind a Blob being read: it waits its turn like any message.
      return this.enqueue(message.payload, message.payload, { binary: message.opcode === 0x2, compress: options.compress }, undefined);
    }
    this.p.sendPrepared(message, options.compress ?? true);
    return this.queued();
  }

  /**
   * Send a ping with up to 125 bytes of data; the answer comes as a 'pong' event.
   * @throws RangeError for a payload over 125 bytes.
   */
  ping(data: Bytes | string = Buffer.alloc(0)): void {
    if (this.p.state !== State.OPEN || this.p.closeSent) return;
    this.p.sendPing(typeof data === 'string' ? Buffer.from(data) : data);
    this.queued();
  }

  /**
   * Send a pong: unsolicited (a one-way heartbeat), or the answer to a ping
   * when `autoPong` is off. @throws RangeError over 125 bytes.
   */
  pong(data: Bytes | string = Buffer.alloc(0)): void {
    if (this.p.state !== State.OPEN || this.p.closeSent) return;
    this.p.sendPong(typeof data === 'string' ? Buffer.from(data) : data);
    this.queued();
  }

  /**
   * Start the closing handshake (RFC 6455 §7.1.2). The 'close' event follows
   * when the peer has answered and the transport is closed, or after closeTimeout.
   * @throws RangeError for a code that may not be sent (1005, 1006, 1015,
   *   the reserved ones) or a reason over 123 bytes.
   */
  close(code = 1000, reason = ''): void {
    if (this.p.state === State.CLOSED) return;
    this.p.sendClose(code, reason);
    this.flush();
  }

  /**
   * Drop the transport at once, without a closing handshake. An HTTP/2
   * stream is reset with CANCEL (RFC 8441 §5: RST_STREAM stands for a TCP
   * reset), leaving the other streams of its connection alone.
   */
  terminate(): void {
    const socket = this.transport;
    if (isHttp2Stream(socket)) {
      if (!socket.destroyed) socket.close(http2Constants.NGHTTP2_CANCEL);
    } else socket.destroy();
  }

  /**
   * Stop reading from the peer and stop emitting events until `resume()`.
   * The transport's buffers then fill and TCP (or HTTP/2) flow control
   * slows the peer down. Events already received wait here.
   */
  pause(): void {
    if (this.p.state === State.CLOSED) return;
    this.paused = true;
    this.updateReading();
  }

  /** Resume reading and deliver the events that waited. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.dispatch();
    this.flush();
    this.updateReading();
  }

  // ---- transport to protocol ----

  private onData(chunk: Buffer): void {
    this.lastSeen = performance.now();
    this.p.receiveData(chunk);
    try {
      this.dispatch();
    } finally {
      // Replies to what was just read go out at the end of the read, even
      // when a listener threw (the exception goes on to the caller).
      this.flush();
      this.updateReading();
    }
  }

  /**
   * Hand ready events to the listeners, one at a time: the protocol queues
   * its reply to an event (pong, close) when it is taken, so whatever a
   * listener sends in answer to a message goes out before the reply to a
   * control frame that came after the message. A listener's exception
   * propagates to the caller, as for any EventEmitter; the events after it
   * are delivered in a later turn.
   */
  private dispatch(): void {
    if (this.dispatching || this.headPending) return;
    this.dispatching = true;
    let done = false;
    try {
      while (!this.paused || this.transportClosed) {
        const event = this.p.nextEvent();
        if (event === null) break;
        this.deliver(event);
      }
      done = true;
    } finally {
      this.dispatching = false;
      if (!done) setImmediate(() => this.protocolReady());
    }
    if (this.p.closeExpected()) this.armCloseTimer();
  }

  private deliver(event: ProtocolEvent): void {
    switch (event.type) {
      case 'text':
        this.emit('message', event.data, false);
        break;
      case 'binary':
        this.emit('message', event.data, true);
        break;
      case 'ping':
        this.emit('ping', event.data);
        break;
      case 'pong':
        this.pingSentAt = 0;
        this.emit('pong', event.data);
        break;
      case 'close':
        // The reply (and, for a server, the end of the transport) was queued by the protocol.
        break;
      case 'error':
        this.emitError(event.error);
        break;
    }
  }

  /** Read while the application wants events and zlib keeps up; never stop for our own sending. */
  private updateReading(): void {
    const socket = this.transport;
    if (this.transportClosed || this.headPending) return;
    const read = !this.paused && this.p.canReceive;
    if (read && socket.isPaused()) socket.resume();
    else if (!read && !socket.isPaused()) socket.pause();
  }

  private onEnd(): void {
    // The peer will send nothing more. RFC 6455 §7.1.1: once the closing
    // handshake is done (or the peer is gone), close our side too; unless
    // the end came from a reset HTTP/2 stream (RST_STREAM, RFC 8441 §5),
    // which is closed already and must keep its error code.
    const transport = this.transport;
    if (isHttp2Stream(transport) && (transport as Duplex & { closed?: boolean }).closed) return;
    if (!this.ended) {
      this.ended = true;
      this.transport.end();
    }
  }

  private onTransportClose(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.transportClosed = true;
    this.p.receiveEof();
    for (const marker of this.p.dropMarkers()) marker(notOpen());
    for (const entry of this.blobQueue ?? []) entry.callback?.(notOpen());
    this.blobQueue = null;
    this.queuedBytes = 0;
    this.dispatch();
    this.maybeEmitClose();
  }

  /** 'close' comes once the transport is gone and every message received before has been delivered. */
  private maybeEmitClose(): void {
    if (!this.transportClosed || this.closeEmitted || this.p.eventsPending) return;
    this.closeEmitted = true;
    this.registry?.delete(this);
    const p = this.p;
    // RFC 6455 §7.1.5: the close code is the one received, 1005 if the frame
    // had none, 1006 if none arrived; when we failed the connection, the code
    // we sent tells the application why.
    const code = p.failure ? p.failure.closeCode : (p.closeReceived?.code ?? 1006);
    const reason = p.failure ? p.failure.closeReason : (p.closeReceived?.reason ?? '');
    const wasClean = p.failure === null && p.closingHandshakeDone;
    this.emit('close', code, reason, wasClean);
  }

  private onDrain(): void {
    // The peer reads again: answer the last ping held meanwhile (RFC 6455 §5.5.3).
    this.p.congested = false;
    if (this.p.bufferedAmount > 0) this.flush();
    this.emit('drain');
  }

  private emitError(error: Error): void {
    // An unhandled 'error' event would throw and take the process down; a
    // peer's bad bytes must never do that (the close frame already says why).
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  // ---- protocol to transport ----

  /**
   * Schedule a flush of everything queued in this turn; report backpressure.
   * Past the high-water mark the batch is written at once, so that the
   * transport's own accounting applies: false is returned exactly when the
   * transport owes a 'drain' (which we re-emit), never for data still held
   * here. Past `maxBackpressure`, the connection is failed (1008).
   */
  private queued(): boolean {
    const socket = this.transport;
    const buffered = this.bufferedAmount;
    if (buffered > this.maxBackpressure) {
      this.failSlowReader();
      return false;
    }
    if (buffered >= socket.writableHighWaterMark) {
      this.flush();
      return !socket.writableNeedDrain;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      dirty.push(this);
      if (!flushAllScheduled) {
        flushAllScheduled = true;
        setImmediate(flushAll);
      }
    }
    return true;
  }

  /**
   * RFC 6455 §7.1.7: the peer does not read what we owe it; rather than
   * queue without bound, fail the connection with 1008. The close frame
   * waits behind what is queued; the close timeout bounds that wait.
   */
  private failSlowReader(): void {
    if (this.p.state === State.CLOSED || this.p.failure) return;
    this.p.fail(new ProtocolError('SLOW_READER'));
    this.emitError(this.p.failure!);
    this.flush();
  }

  /** @internal the turn's batched flush (see flushAll); a no-op when already flushed. */
  flushScheduledWrites(): void {
    if (this.flushScheduled) this.flush();
  }

  /** Write what the protocol has queued: one write for the batch. */
  private flush(): void {
    this.flushScheduled = false;
    const p = this.p;
    const chunks = p.dataToSend();
    const markers = p.takeMarkers();
    if (p.closeExpected()) this.armCloseTimer();
    if (chunks.length === 0 && markers.length === 0) return;
    let eof = false;
    let total = 0;
    let count = 0;
    for (const chunk of chunks) {
      if (chunk === SEND_EOF) eof = true;
      else {
        total += chunk.length;
        count++;
      }
    }
    const socket = this.transport;
    if (socket.destroyed || this.ended || !socket.writable) {
      for (const marker of markers) marker(notOpen());
      return;
    }
    const written = markers.length === 0 ? undefined : callAll(markers);
    if (count === 1 || (count > 1 && total <= JOIN_LIMIT)) {
      const data = count === 1 ? chunks.find((c) => c !== SEND_EOF)! : Buffer.concat(chunks, total);
      socket.write(data, written);
    } else if (count > 1) {
      (socket as Partial<Socket>).cork?.();
      let left = count;
      for (const chunk of chunks) if (chunk !== SEND_EOF) socket.write(chunk, --left === 0 ? written : undefined);
      (socket as Partial<Socket>).uncork?.();
    } else if (written) {
      // Markers with no bytes before them in this batch: everything before
      // them was written by earlier writes, which complete in order.
      socket.write(Buffer.alloc(0), written);
    }
    if (eof) {
      this.ended = true;
      socket.end();
    }
    // While the transport owes a 'drain', pongs are coalesced (protocol.ts).
    p.congested = socket.writableNeedDrain;
  }

  /** Bound the wait for the peer's close frame or transport close (RFC 6455 §7.1.1). */
  private armCloseTimer(): void {
    if (this.closeTimer || this.p.state === State.CLOSED || this.transportClosed) return;
    this.closeTimer = setTimeout(() => this.terminate(), this.closeTimeout);
    this.closeTimer.unref();
  }

  /**
   * @internal fail the connection from the adapter or the application.
   * @throws RangeError for a code that may not be sent.
   */
  fail(code: number, reason = ''): void {
    if (this.p.state === State.CLOSED) return;
    this.p.fail(code, reason);
    this.flush();
  }
}

function notOpen(): Error {
  return Object.assign(new Error('the WebSocket is not open'), { code: 'INVALID_STATE' });
}

/** One write callback for several send callbacks. */
function callAll(markers: OutputMarker[]): (error?: Error | null) => void {
  return (error) => {
    for (const marker of markers) marker(error ?? null);
  };
}

export { ProtocolError };
