/**
 * The WebSocket server: attach it to an http/https server (`handleUpgrade`,
 * or the `server` option), or let it listen on its own port, in clear or over
 * TLS. It moves handshake bytes, runs the application's hooks, owns the
 * handshake timeout and the heartbeat timer, and hands each accepted socket
 * to a `WebSocket`. The rules of the handshake live in ../protocol/handshake.ts.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Bytes } from '../protocol/bytes.js';
import { HandshakeError } from '../protocol/errors.js';
import {
  acceptRequest,
  errorResponse,
  type HandshakeRequest,
  type HttpResponse,
  rejectResponse,
  serializeResponse,
  type ValidatedRequest,
  validateRequest,
} from '../protocol/handshake.js';
import { HttpRequestParser } from '../protocol/http.js';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { PreparedMessage } from '../protocol/prepared.js';
import { DEFAULT_MAX_MESSAGE_SIZE, Protocol } from '../protocol/protocol.js';
import { type ConnectionOptions, WebSocket } from './connection.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

type OnConnection = (ws: WebSocket, request: ValidatedRequest) => void;

function isIterable(value: unknown): value is Iterable<WebSocket> {
  return typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/** Options of `broadcast()`. */
export interface BroadcastOptions {
  /** The connections to send to. Default: every client of the server. */
  clients?: Iterable<WebSocket>;
  /** Send as binary (true) or text (false). Default: text for a string, binary for bytes. */
  binary?: boolean;
  /** Compress where permessage-deflate was negotiated. Default true. */
  compress?: boolean;
  /**
   * Close (1008, SLOW_READER) a connection that would owe its peer more than
   * this many bytes, instead of queueing. Default: each connection's own
   * `maxBackpressure`.
   */
  maxBackpressure?: number;
}

/** A socket error before or during the handshake: nothing to report, drop the socket. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/** What the accept hook learns about a handshake. */
export interface HandshakeInfo {
  request: ValidatedRequest;
  /** The Origin header (browsers always send it), or undefined. */
  origin: string | undefined;
  remoteAddress: string;
  remotePort: number;
  secure: boolean;
}

/** The accept hook's answer: true to accept, false for 403, or a status and text. */
export type AcceptDecision = boolean | { status: number; message?: string; headers?: Record<string, string> };

export interface WebSocketServerOptions {
  /** Listen on this port (0 for an ephemeral one); omit when attaching to an http server. */
  port?: number;
  host?: string;
  /** TLS certificate and key (PEM): the server listens for wss:// (own port only). */
  tls?: tls.TlsOptions;
  /** Attach to an existing http/https server's 'upgrade' event. */
  server?: HttpServer | HttpsServer;
  /** Only accept this path (e.g. "/chat"); others get 404. Default: any path. */
  path?: string;
  /** Largest message accepted, bytes (default 16 MiB); bigger closes with 1009. */
  maxMessageSize?: number;
  /** Most fragments per message. */
  maxFragments?: number;
  /** Largest handshake head, bytes (default 8192); bigger gets 431. Own port only. */
  maxHeaderSize?: number;
  /** permessage-deflate (RFC 7692): true for defaults, options, or false (default). */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Pick one of the client's subprotocols, or none (undefined, null or ''). */
  selectProtocol?: (offered: string[], request: ValidatedRequest) => string | null | undefined;
  /** Accept or reject a handshake (origin checks, authentication). May be async. Rejection defaults to 403. */
  accept?: (info: HandshakeInfo) => AcceptDecision | Promise<AcceptDecision>;
  /** Ping a peer silent for `interval` ms; terminate one that sends nothing for `timeout` ms after the ping. */
  heartbeat?: HeartbeatOptions | false;
  /** Answer pings with pongs automatically (RFC 6455 §5.5.2). Default true; false: the application answers ('ping' event, pong()). */
  autoPong?: boolean;
  /**
   * Bytes a connection may owe its peer before it is closed with 1008
   * (SLOW_READER) instead of growing memory. Default 64 MiB; Infinity: no limit.
   */
  maxBackpressure?: number;
  /** Time allowed for the opening handshake, ms (default 10000). Own port only. */
  handshakeTimeout?: number;
  /** Time allowed for the closing handshake, ms (default 5000). */
  closeTimeout?: number;
}

export interface WebSocketServerEvents {
  connection: [socket: WebSocket, request: ValidatedRequest];
  /**
   * The response about to accept a handshake (101, or 200 over HTTP/2):
   * listeners may add headers, e.g. Set-Cookie. Names and values are
   * checked when the response is written (no CR/LF: no response splitting).
   */
  headers: [headers: Array<[string, string]>, request: ValidatedRequest];
  listening: [];
  /** A handshake was refused; for logging. */
  rejected: [error: HandshakeError, remoteAddress: string];
  error: [error: Error];
  close: [];
}

export class WebSocketServer extends EventEmitter<WebSocketServerEvents> {
  /** Every open connection. */
  readonly clients = new Set<WebSocket>();
  private readonly options: WebSocketServerOptions;
  private readonly deflate: PerMessageDeflateOptions | false;
  private listener: net.Server | null = null;
  private readonly pending = new Set<Socket>();
  private heartbeat: Heartbeat | null = null;
  /** Set by close(): handshakes still in progress are refused from then on. */
  private shuttingDown = false;
  private upgradeListener: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | null = null;

  constructor(options: WebSocketServerOptions = {}) {
    super();
    this.options = options;
    this.deflate =
      options.perMessageDeflate === true ? {} : options.perMessageDeflate ? options.perMessageDeflate : false;
    if (options.server) {
      this.upgradeListener = (req, socket, head) => this.handleUpgrade(req, socket, head);
      options.server.on('upgrade', this.upgradeListener);
    }
    if (options.port !== undefined) this.listen(options.port, options.host);
    if (options.heartbeat) this.heartbeat = new Heartbeat(options.heartbeat, () => this.clients);
  }

  /** The address the server listens on (own port only). */
  address(): AddressInfo | null {
    const address = this.listener?.address();
    return address && typeof address === 'object' ? address : null;
  }

  /** Resolves once listening (own port only). */
  ready(): Promise<void> {
    if (!this.listener || this.listener.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.listener!.once('listening', resolve);
      this.listener!.once('error', reject);
    });
  }

  private listen(port: number, host?: string): void {
    const onSocket = (socket: Socket) => this.handleRawSocket(socket);
    const listener = this.options.tls ? tls.createServer(this.options.tls, onSocket) : net.createServer(onSocket);
    listener.on('error', (error) => this.emit('error', error));
    listener.on('listening', () => this.emit('listening'));
    listener.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
    listener.listen(port, host);
    this.listener = listener;
  }

  /**
   * Complete a handshake that an http/https server received (its 'upgrade'
   * event), as ws's `handleUpgrade`. Writes the 101 (or the error response,
   * and closes the socket), then calls `callback` with the connection, or
   * emits 'connection' when there is no callback.
   */
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    callback?: (ws: WebSocket, request: ValidatedRequest) => void,
  ): void {
    const request: HandshakeRequest = {
      method: req.method ?? '',
      target: req.url ?? '',
      httpVersion: req.httpVersion,
      headers: req.headers,
    };
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true;
    // Node's http server removes its own 'error' listener before 'upgrade':
    // without one, a peer resetting the connection while an async accept hook
    // runs would throw from an unhandled 'error' event and end the process.
    socket.on('error', destroyOnError);
    this.startHandshake(request, socket as Socket, head, secure, callback);
  }

  /**
   * Whether this server takes a request with this target (ws's
   * `shouldHandle`): true unless the `path` option names another path.
   */
  shouldHandle(req: { url?: string }): boolean {
    if (this.options.path === undefined) return true;
    const url = req.url ?? '';
    const query = url.indexOf('?');
    return (query === -1 ? url : url.slice(0, query)) === this.options.path;
  }

  private handleRawSocket(socket: Socket): void {
    this.pending.add(socket);
    const parser = new HttpRequestParser({ maxHeadBytes: this.options.maxHeaderSize ?? 8192 });
    const timer = setTimeout(() => {
      // A client that never finishes its handshake only holds a socket this
      // long. Stop parsing too: the rest of a late head must not open a
      // connection on the socket being refused.
      cleanup();
      this.refuse(socket, rejectResponse(408, 'The opening handshake took too long'));
    }, this.options.handshakeTimeout ?? 10_000);
    timer.unref();
    // Drops every reference to the handshake's state (parser, timer,
    // closures) so that an open connection does not carry it for its
    // lifetime: at 10,000 idle connections that is most of the memory.
    const cleanup = () => {
      clearTimeout(timer);
      this.pending.delete(socket);
      socket.removeListener('data', onData);
      socket.removeListener('close', cleanup);
    };
    const onData = (chunk: Buffer) => {
      let parsed: ReturnType<HttpRequestParser['push']>;
      try {
        parsed = parser.push(chunk);
      } catch (error) {
        cleanup();
        this.refuse(socket, error instanceof HandshakeError ? errorResponse(error) : rejectResponse(400, 'Bad request'));
        if (error instanceof HandshakeError) this.emit('rejected', error, socket.remoteAddress ?? '');
        return;
      }
      if (!parsed) return;
      cleanup();
      socket.pause();
      this.startHandshake(parsed.head, socket, Buffer.from(parsed.rest), socket instanceof tls.TLSSocket);
    };
    socket.on('data', onData);
    // Kept for the socket's life (through an async accept hook and a refusal);
    // one shared function, no per-socket closure.
    socket.on('error', destroyOnError);
    socket.once('close', cleanup);
  }

  /**
   * Validate the request and run the accept hook; the answer comes at once
   * when the hook is synchronous (or absent), after it settles otherwise.
   * Errors of the handshake itself become HTTP answers; exceptions thrown by
   * the application's listeners are not caught here (see `openConnection`).
   */
  private startHandshake(
    request: HandshakeRequest,
    socket: Socket,
    head: Buffer,
    secure: boolean,
    callback?: OnConnection,
  ): void {
    let validated: ValidatedRequest;
    let decision: AcceptDecision | Promise<AcceptDecision> = true;
    try {
      validated = validateRequest(request, { extensions: this.deflate !== false });
      if (this.options.path !== undefined && validated.path !== this.options.path) {
        throw new HandshakeError('NOT_FOUND', 404, `No WebSocket endpoint at ${validated.path}`);
      }
      if (this.options.accept) {
        decision = this.options.accept({
          request: validated,
          origin: validated.origin,
          remoteAddress: socket.remoteAddress ?? '',
          remotePort: socket.remotePort ?? 0,
          secure,
        });
      }
    } catch (error) {
      this.handshakeFailed(socket, error);
      return;
    }
    if (!isPromiseLike(decision)) {
      this.decided(decision, validated, socket, head, callback);
      return;
    }
    decision.then(
      (settled) => {
        // A listener's exception must not become a rejection nobody handles
        // (nor be answered with a 500 on a socket that sent its 101): it is
        // thrown again outside the promise, as an uncaught exception, the
        // way an EventEmitter listener's exception surfaces.
        try {
          this.decided(settled, validated, socket, head, callback);
        } catch (error) {
          process.nextTick(() => {
            throw error;
          });
        }
      },
      (error: unknown) => this.handshakeFailed(socket, error),
    );
  }

  /** The accept hook's decision is in: refuse, or open the connection. */
  private decided(
    decision: AcceptDecision,
    validated: ValidatedRequest,
    socket: Socket,
    head: Buffer,
    callback: OnConnection | undefined,
  ): void {
    if (decision !== true) {
      const status = decision === false ? 403 : decision.status;
      const message = decision === false ? 'Forbidden' : (decision.message ?? 'Forbidden');
      const headers = decision === false ? {} : (decision.headers ?? {});
      this.handshakeFailed(socket, new HandshakeError('REJECTED', status, message, headers));
      return;
    }
    // close() ran while the hook was deciding: a connection opened now
    // would miss the close frame, and keep close() from ever resolving.
    if (this.shuttingDown) {
      this.handshakeFailed(socket, new HandshakeError('SHUTTING_DOWN', 503, 'The server is shutting down'));
      return;
    }
    // The peer may have gone (or half-closed) while an async hook ran.
    if (socket.destroyed || !socket.writable) return;
    this.openConnection(validated, socket, head, callback);
  }

  /**
   * Write the 101 and hand the connection to the application. Everything
   * that can fail before the 101 is on the wire is answered with a 500; the
   * 'connection' event comes after, outside any try: an exception in a
   * listener propagates to the caller, as for any EventEmitter, and the
   * stream, which has sent its 101, is left as it is.
   */
  private openConnection(validated: ValidatedRequest, socket: Socket, head: Buffer, callback: OnConnection | undefined): void {
    let accepted: ReturnType<typeof acceptRequest>;
    try {
      accepted = acceptRequest(validated, {
        selectProtocol: this.options.selectProtocol,
        perMessageDeflate: this.deflate,
      });
    } catch (error) {
      this.handshakeFailed(socket, error);
      return;
    }
    const { response, protocol, deflate } = accepted;
    if (!this.emitHeaders(response.headers, validated, () => socket.destroy())) deflate?.close();
    let bytes: Buffer;
    try {
      bytes = serializeResponse(response);
    } catch (error) {
      deflate?.close();
      this.handshakeFailed(socket, error);
      return;
    }
    socket.write(bytes);
    const ws = this.makeConnection(socket, protocol, deflate, { head });
    // The connection listens for errors itself from now on.
    socket.removeListener('error', destroyOnError);
    if (callback) callback(ws, validated);
    else this.emit('connection', ws, validated);
  }

  /**
   * The application's listeners add their headers. An exception there is
   * theirs: it propagates, after `drop` has released the transport, which
   * has no answer. Returns true (or throws).
   */
  private emitHeaders(headers: Array<[string, string]>, validated: ValidatedRequest, drop: () => void): boolean {
    let listened = false;
    try {
      this.emit('headers', headers, validated);
      listened = true;
    } finally {
      if (!listened) drop();
    }
    return listened;
  }

  /** The sans-I/O protocol and its Node adapter for an accepted handshake. */
  private makeConnection(
    transport: Duplex,
    protocol: string,
    deflate: ReturnType<typeof acceptRequest>['deflate'],
    options: Pick<ConnectionOptions, 'head'>,
  ): WebSocket {
    const p = new Protocol('server', {
      deflate,
      maxMessageSize: this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      maxFragments: this.options.maxFragments,
      autoPong: this.options.autoPong,
    });
    const ws = new WebSocket(transport, p, {
      protocol,
      extensions: deflate?.header ?? '',
      closeTimeout: this.options.closeTimeout,
      maxBackpressure: this.options.maxBackpressure,
      registry: this.clients,
      ...options,
    });
    this.clients.add(ws);
    return ws;
  }

  /** A handshake that will not complete: its HTTP answer, and the event that says why. */
  private handshakeFailed(socket: Socket, error: unknown): void {
    if (error instanceof HandshakeError) {
      this.emit('rejected', error, socket.remoteAddress ?? '');
      this.refuse(socket, errorResponse(error));
    } else {
      // A hook threw: the client gets a plain 500, the details stay here.
      this.refuse(socket, rejectResponse(500, 'Internal server error'));
      if (this.listenerCount('error') > 0) this.emit('error', error as Error);
    }
  }

  private refuse(socket: Socket, response: HttpResponse): void {
    if (socket.destroyed) return;
    let bytes: Buffer;
    try {
      bytes = serializeResponse(response);
    } catch (error) {
      // The accept hook's status or headers cannot go on the wire (a status
      // outside 100-999, CR/LF in a header: response splitting). That is a
      // bug in the hook: the client gets a plain 500, the details stay here.
      bytes = serializeResponse(rejectResponse(500, 'Internal server error'));
      if (this.listenerCount('error') > 0) this.emit('error', error as Error);
    }
    socket.end(bytes);
    // Don't wait forever for a peer that won't read the answer.
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /**
   * Send one message to many connections, encoded once: every connection gets
   * the same frame bytes (compressed once per compression setting). A
   * connection that would owe its peer more than `maxBackpressure` bytes
   * (default: its own limit) is closed with 1008 instead (SLOW_READER).
   * Returns the number of connections it was queued on. The second argument
   * may be the clients alone (the earlier signature).
   * @throws TypeError for data `PreparedMessage` cannot take.
   */
  broadcast(data: string | Bytes, options: BroadcastOptions | Iterable<WebSocket> = {}): number {
    const opts: BroadcastOptions = isIterable(options) ? { clients: options } : options;
    const message = new PreparedMessage(data, opts.binary ?? typeof data !== 'string');
    const send = { compress: opts.compress, maxBackpressure: opts.maxBackpressure };
    let count = 0;
    for (const client of opts.clients ?? this.clients) {
      if (client.readyState !== WebSocket.OPEN) continue;
      client.sendPrepared(message, send);
      // A connection past the limit was failed (CLOSING) instead.
      if (client.readyState === WebSocket.OPEN) count++;
    }
    return count;
  }

  /**
   * Stop accepting, close every connection with `code` (default 1001, going
   * away) and resolve when all are closed.
   */
  async close(code = 1001, reason = ''): Promise<void> {
    this.shuttingDown = true;
    this.heartbeat?.stop();
    if (this.upgradeListener && this.options.server) this.options.server.off('upgrade', this.upgradeListener);
    for (const socket of this.pending) socket.destroy();
    const closing = [...this.clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once('close', () => resolve());
          ws.close(code, reason);
        }),
    );
    const listener = this.listener;
    const stopped = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    await Promise.all([...closing, stopped]);
    this.emit('close');
  }
}
