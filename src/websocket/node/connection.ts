/**
 * A WebSocket connection over a Node stream socket (net.Socket or
 * tls.TLSSocket). This adapter only moves bytes between the socket and the
 * sans-I/O `Protocol`, turns protocol events into Node events, applies
 * backpressure and owns the timers of the closing handshake. Every protocol
 * rule lives in ../protocol.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { type Bytes, toBuffer } from '../protocol/bytes.js';
import { ProtocolError } from '../protocol/errors.js';
import type { PreparedMessage } from '../protocol/prepared.js';
import { type Protocol, SEND_EOF, State } from '../protocol/protocol.js';

export interface WebSocketEvents {
  /** A whole message: a string for text, a Buffer for binary. */
  message: [data: string | Buffer, isBinary: boolean];
  ping: [data: Buffer];
  pong: [data: Buffer];
  /** The TCP connection is gone. `wasClean` is true when close frames went both ways. */
  close: [code: number, reason: string, wasClean: boolean];
  /** A protocol violation by the peer (ProtocolError) or a socket error. Only emitted when listened to. */
  error: [error: Error];
  /** The send buffer, which had passed the high-water mark, has emptied. */
  drain: [];
}

export interface ConnectionOptions {
  /** Subprotocol agreed in the handshake ('' for none). */
  protocol?: string;
  /** Sec-WebSocket-Extensions agreed in the handshake ('' for none). */
  extensions?: string;
  /** How long to wait for the peer to finish the closing handshake before dropping TCP (ms). Default 5000. */
  closeTimeout?: number;
  /** Bytes received after the handshake, before the connection existed. */
  head?: Buffer;
  /** @internal the server's set of connections, left on close (no per-connection listener needed). */
  registry?: Set<WebSocket>;
}

/**
 * What `send()` accepts, as ws does: text as a string (or a number, sent as
 * its decimal text); binary as any view of memory (typed arrays of any
 * element size, DataView, Buffer), an ArrayBuffer or SharedArrayBuffer, an
 * array of byte values, or a Blob (read asynchronously; messages sent after
 * it wait their turn). Binary data is counted in bytes, whatever the view.
 */
export type SendData = string | number | Bytes | Blob | readonly number[];

/** A send waiting behind a Blob being read (see `send`). */
interface QueuedSend {
  data: string | Buffer | null;
  size: number;
}

/** Text or bytes now; null for a Blob (read later). */
function normalize(data: SendData): string | Buffer | null {
  if (typeof data === 'string') return data;
  if (typeof data === 'number') return String(data);
  if (data instanceof Blob) return null;
  if (Array.isArray(data)) return Buffer.from(data);
  return toBuffer(data as Bytes);
}

/** The connection a socket carries, for the shared socket listeners. */
const kConnection = Symbol('wschat.connection');
type OwnedSocket = Socket & { [kConnection]?: WebSocket };

/** Frames queued in one turn are written together; below this size they are joined into one buffer. */
const JOIN_LIMIT = 64 * 1024;

/**
 * Connections with frames queued in this event-loop turn, written out
 * together in one setImmediate. A microtask per connection would flush after
 * each I/O callback: a broadcast per incoming message would then cost one
 * socket write per member per message. Flushing in the check phase, after
 * the poll phase has run every ready read, gives each socket one write for
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

export class WebSocket extends EventEmitter<WebSocketEvents> {
  static readonly CONNECTING = State.CONNECTING;
  static readonly OPEN = State.OPEN;
  static readonly CLOSING = State.CLOSING;
  static readonly CLOSED = State.CLOSED;

  /** The subprotocol the server selected, or ''. */
  readonly protocol: string;
  /** The extensions in use, as negotiated (e.g. "permessage-deflate; client_max_window_bits=15"), or ''. */
  readonly extensions: string;
  readonly socket: Socket;

  /** @internal last time data arrived from the peer (performance.now(), ms: a monotonic clock), for heartbeats. */
  lastSeen = performance.now();
  /** @internal a heartbeat ping is awaiting its pong since this time (ms), or 0. */
  pingSentAt = 0;

  private readonly p: Protocol;
  private readonly closeTimeout: number;
  private closeTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private pendingBytes = 0;
  /** Sends waiting for a Blob to be read, in order; null when none. */
  private blobQueue: QueuedSend[] | null = null;
  /** Bytes in `blobQueue`, counted in bufferedAmount. */
  private queuedBytes = 0;
  private closeEmitted = false;
  /** The server's set of open connections; this connection leaves it when it closes. */
  private readonly registry: Set<WebSocket> | null;
  private ended = false;

  constructor(socket: Socket, protocol: Protocol, options: ConnectionOptions = {}) {
    super();
    this.socket = socket;
    this.p = protocol;
    this.protocol = options.protocol ?? '';
    this.extensions = options.extensions ?? '';
    this.closeTimeout = options.closeTimeout ?? 5000;

    this.registry = options.registry ?? null;

    socket.setNoDelay(true);
    socket.setTimeout(0);
    // The same five functions serve every socket (each finds its connection
    // through kConnection) instead of five closures per connection.
    (socket as OwnedSocket)[kConnection] = this;
    socket.on('data', WebSocket.socketData);
    socket.on('end', WebSocket.socketEnd);
    socket.on('close', WebSocket.socketClose);
    socket.on('error', WebSocket.socketError);
    socket.on('drain', WebSocket.socketDrain);
    if (options.head && options.head.length > 0) {
      const head = options.head;
      // Frames that came with the handshake wait until the application has
      // attached its listeners: `await connect()` resumes in a microtask,
      // which runs before setImmediate but after process.nextTick. The socket
      // stays paused meanwhile so later bytes cannot overtake these.
      socket.pause();
      setImmediate(() => {
        this.onData(head);
        socket.resume();
      });
    } else {
      // The server pauses a socket while it completes the handshake.
      socket.resume();
    }
  }

  private static readonly socketData = function (this: OwnedSocket, chunk: Buffer): void {
    this[kConnection]!.onData(chunk);
  };

  private static readonly socketEnd = function (this: OwnedSocket): void {
    this[kConnection]!.onEnd();
  };

  private static readonly socketClose = function (this: OwnedSocket): void {
    this[kConnection]!.onSocketClose();
  };

  private static readonly socketError = function (this: OwnedSocket, error: Error): void {
    this[kConnection]!.emitError(error);
  };

  private static readonly socketDrain = function (this: OwnedSocket): void {
    this[kConnection]!.onDrain();
  };

  /**
   * The peer's address, read from the socket when first asked (Node keeps it
   * from then on, also after the socket closes); '' if the socket was gone
   * before anyone asked. Not copied up front: most connections never need it.
   */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  /** CONNECTING (0), OPEN (1), CLOSING (2) or CLOSED (3), as in the WebSocket API. */
  get readyState(): State {
    return this.p.state;
  }

  /** Bytes queued for the peer and not yet handed to the kernel: frames this turn has not written yet, plus the socket's own buffer. */
  get bufferedAmount(): number {
    return this.pendingBytes + this.queuedBytes + this.socket.writableLength;
  }

  /**
   * Send a message (see `SendData` for what is accepted): a string as text,
   * bytes as binary. Returns false when the send buffer is past its
   * high-water mark (wait for 'drain' before sending more) or when the
   * connection is no longer open (the message is dropped, as the WebSocket
   * API does after close()).
   * @throws TypeError for data that is none of `SendData`.
   */
  send(data: SendData): boolean {
    if (this.p.state !== State.OPEN || this.p.closeSent) return false;
    const now = normalize(data);
    if (now === null || this.blobQueue !== null) return this.enqueue(now, data);
    this.pendingBytes += typeof now === 'string' ? this.p.sendText(now) : this.p.sendBinary(now);
    return this.queued();
  }

  /** A send that waits for a Blob ahead of it (or is one): order is kept. */
  private enqueue(now: string | Buffer | null, data: SendData): boolean {
    const entry: QueuedSend = { data: now, size: now === null ? (data as Blob).size : Buffer.byteLength(now) };
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
          this.emitError(error);
          this.sendQueued();
        },
      );
    }
    return this.pendingBytes + this.queuedBytes + this.socket.writableLength < this.socket.writableHighWaterMark;
  }

  /** Sends the queued messages whose data is ready, in order. */
  private sendQueued(): void {
    const queue = this.blobQueue;
    if (queue === null) return;
    while (queue.length > 0 && queue[0]!.data !== null) {
      const entry = queue.shift()!;
      this.queuedBytes -= Math.max(0, entry.size);
      if (entry.size < 0 || this.p.state !== State.OPEN || this.p.closeSent) continue;
      const data = entry.data!;
      this.pendingBytes += typeof data === 'string' ? this.p.sendText(data) : this.p.sendBinary(data);
      this.queued();
    }
    if (queue.length === 0) this.blobQueue = null;
  }

  /** Send a message prepared once for many connections (see `PreparedMessage`). Same return as send(). */
  sendPrepared(message: PreparedMessage): boolean {
    if (this.p.state !== State.OPEN || this.p.closeSent) return false;
    this.p.sendPrepared(message);
    this.pendingBytes += message.payload.length;
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

  /** Send an unsolicited pong (a one-way heartbeat). @throws RangeError over 125 bytes. */
  pong(data: Bytes | string = Buffer.alloc(0)): void {
    if (this.p.state !== State.OPEN || this.p.closeSent) return;
    this.p.sendPong(typeof data === 'string' ? Buffer.from(data) : data);
    this.queued();
  }

  /**
   * Start the closing handshake (RFC 6455 §7.1.2). The 'close' event follows
   * when the peer has answered and TCP is closed, or after closeTimeout.
   * @throws RangeError for a code that may not be sent or a reason over 123 bytes.
   */
  close(code = 1000, reason = ''): void {
    if (this.p.state === State.CLOSED) return;
    this.p.sendClose(code, reason);
    this.flush();
    this.armCloseTimer();
  }

  /** Drop the TCP connection at once, without a closing handshake. */
  terminate(): void {
    this.socket.destroy();
  }

  // ---- socket to protocol ----

  private onData(chunk: Buffer): void {
    this.lastSeen = performance.now();
    this.p.receiveData(chunk);
    this.dispatch();
    this.flush();
  }

  private dispatch(): void {
    for (const event of this.p.eventsReceived()) {
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
          // The reply (and, for a server, the end of TCP) is queued by the protocol.
          this.armCloseTimer();
          break;
        case 'error':
          this.armCloseTimer();
          this.emitError(event.error);
          break;
      }
    }
  }

  private onEnd(): void {
    // The peer will send nothing more. RFC 6455 §7.1.1: once the closing
    // handshake is done (or the peer is gone), close our side too.
    this.p.receiveEof();
    this.dispatch();
    if (!this.ended) {
      this.ended = true;
      this.socket.end();
    }
  }

  private onSocketClose(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.p.receiveEof();
    this.dispatch();
    if (this.closeEmitted) return;
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
    if (this.socket.isPaused()) this.socket.resume();
    this.emit('drain');
  }

  private emitError(error: Error): void {
    // An unhandled 'error' event would throw and take the process down; a
    // peer's bad bytes must never do that (the close frame already says why).
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  // ---- protocol to socket ----

  /**
   * Schedule a flush of everything queued in this turn; report backpressure.
   * Past the high-water mark the batch is written at once, so that the
   * socket's own accounting applies: false is returned exactly when the
   * socket owes a 'drain' (which we re-emit), never for data still held here.
   */
  private queued(): boolean {
    const socket = this.socket;
    if (this.pendingBytes + socket.writableLength >= socket.writableHighWaterMark) {
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

  /** @internal the turn's batched flush (see flushAll); a no-op when already flushed. */
  flushScheduledWrites(): void {
    if (this.flushScheduled) this.flush();
  }

  /** Write what the protocol has queued: one write for the batch. */
  private flush(): void {
    this.flushScheduled = false;
    this.pendingBytes = 0;
    const chunks = this.p.dataToSend();
    if (chunks.length === 0) return;
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
    const socket = this.socket;
    if (socket.destroyed || this.ended) return;
    if (count === 1 || (count > 1 && total <= JOIN_LIMIT)) {
      const data = count === 1 ? chunks.find((c) => c !== SEND_EOF)! : Buffer.concat(chunks, total);
      socket.write(data);
    } else if (count > 1) {
      socket.cork();
      for (const chunk of chunks) if (chunk !== SEND_EOF) socket.write(chunk);
      socket.uncork();
    }
    if (eof) {
      this.ended = true;
      socket.end();
      this.armCloseTimer();
    } else if (socket.writableNeedDrain && !socket.isPaused()) {
      // Backpressure: stop reading (and so producing replies) until the peer
      // has taken what we already owe it.
      socket.pause();
    }
  }

  /** Bound the wait for the peer's close frame or TCP close (RFC 6455 §7.1.1). */
  private armCloseTimer(): void {
    if (this.closeTimer || this.p.state === State.CLOSED) return;
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.closeTimeout);
    this.closeTimer.unref();
  }

  /** @internal fail the connection from the adapter (timeouts) or the application. */
  fail(code: number, reason = ''): void {
    if (this.p.state === State.CLOSED) return;
    this.p.fail(code, reason);
    this.flush();
    this.armCloseTimer();
  }
}

export { ProtocolError };
