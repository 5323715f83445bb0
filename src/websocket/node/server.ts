/**
 * The WebSocket server: attach it to an http/https server (`handleUpgrade`,
 * or the `server` option), or to an HTTP/2 server for WebSockets over HTTP/2
 * (RFC 8441), or let it listen on its own port, in clear or over TLS. It
 * moves handshake bytes, runs the application's hooks, owns the handshake
 * timeout and the heartbeat timer, and hands each accepted socket or stream
 * to a `WebSocket`. The rules of the handshake live in
 * ../protocol/handshake.ts.
 *
 * HTTP/1.1 and HTTP/2 from one server:
 *
 *   const server = http2.createSecureServer({ cert, key, allowHTTP1: true,
 *     settings: { enableConnectProtocol: true } }, app);
 *   const wss = new WebSocketServer({ server });
 *   wss.on('connection', (ws, request) => ...);   // request.httpVersion: '1.1' or '2.0'
 *
 * A browser that reached the page over HTTP/2 opens its WebSockets as
 * extended CONNECT streams on the same TLS connection (RFC 8441 §4); an
 * HTTP/1.1 client upgrades as usual. Both arrive as 'connection' with the
 * same API; many WebSockets then share one TLS connection.
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import {
  constants as http2Constants,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
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
  validateExtendedConnect,
  validateRequest,
} from '../protocol/handshake.js';
import { isToken, isValidFieldValue } from '../protocol/http.js';
import { HttpRequestParser } from '../protocol/http.js';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { PreparedMessage } from '../protocol/prepared.js';
import { DEFAULT_MAX_MESSAGE_SIZE, Protocol } from '../protocol/protocol.js';
import { type SharedSettings, sharedSettings, WebSocket } from './connection.js';
import { Heartbeat, type HeartbeatOptions } from './heartbeat.js';

function isPromiseLike<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

type OnConnection = (ws: WebSocket, request: ValidatedRequest) => void;

/** One handshake in progress, over HTTP/1.1 (a socket) or HTTP/2 (a stream). */
interface Exchange {
  /** What the WebSocket will run over. */
  transport: Duplex;
  /** Bytes received after the request, before the connection existed. */
  head: Buffer;
  secure: boolean;
  http2: boolean;
  remoteAddress(): string;
  remotePort(): number;
  /** The peer went away (while an async hook ran). */
  gone(): boolean;
  /** Send an error response and end the exchange. */
  refuse(response: HttpResponse): void;
  /** Send the accepting response. @throws TypeError for headers that cannot go on the wire. */
  accept(response: HttpResponse): void;
  /** Abandon the exchange without an answer. */
  drop(): void;
  /** The WebSocket took the transport over. */
  adopted(): void;
}

/** HTTP/2 servers have updateSettings (and 'stream' events); http/https servers do not. */
function isHttp2Server(server: WebSocketServerOptions['server']): server is Http2SecureServer | Http2Server {
  return typeof (server as { updateSettings?: unknown }).updateSettings === 'function';
}

/**
 * Connection-specific header fields, which HTTP/2 forbids (RFC 9113 §8.2.2):
 * left out of an HTTP/2 answer (an HTTP/1.1 error response may carry them).
 */
const HTTP1_ONLY = new Set(['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding']);

/**
 * A response as HTTP/2 HEADERS: lower-case names (RFC 9113 §8.2.1), repeated
 * names as arrays, a plain-text content type and length for a body.
 * @throws TypeError for a name that is not a token, or a value with CR, LF or
 *   other controls (as serializeResponse).
 */
function http2Headers(response: HttpResponse): Record<string, string | string[] | number> {
  if (!Number.isInteger(response.status) || response.status < 200 || response.status > 999) {
    throw new TypeError(`invalid status ${response.status} for HTTP/2`);
  }
  const out: Record<string, string | string[] | number> = { ':status': response.status };
  for (const [rawName, value] of response.headers) {
    const name = rawName.toLowerCase();
    if (!isToken(name)) throw new TypeError(`header name ${JSON.stringify(rawName)} is not a token`);
    if (!isValidFieldValue(value)) throw new TypeError(`header ${rawName} has control characters in its value`);
    if (HTTP1_ONLY.has(name)) continue;
    const previous = out[name];
    out[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }
  if (response.body !== '') {
    out['content-type'] ??= 'text/plain; charset=utf-8';
    out['content-length'] = Buffer.byteLength(response.body);
  }
  return out;
}

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
  /**
   * Attach to an existing server: http/https ('upgrade' events), or an HTTP/2
   * server (`http2.createSecureServer`, with `allowHTTP1: true` for HTTP/1.1
   * clients too), whose extended CONNECT streams with `:protocol` websocket
   * are WebSockets (RFC 8441). SETTINGS_ENABLE_CONNECT_PROTOCOL is turned on
   * for it (`settings.enableConnectProtocol`) if it was not.
   */
  server?: HttpServer | HttpsServer | Http2SecureServer | Http2Server;
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
  /** Listeners added to `options.server`, removed by close(). */
  private readonly detach: Array<() => void> = [];
  /** HTTP/2 streams taken as WebSockets (by the 'stream' or the compatibility 'connect' listener). */
  private readonly claimed = new WeakSet<ServerHttp2Stream>();
  /** What every connection of this server shares (one object for all). */
  private readonly shared: SharedSettings;

  constructor(options: WebSocketServerOptions = {}) {
    super();
    this.options = options;
    this.deflate =
      options.perMessageDeflate === true ? {} : options.perMessageDeflate ? options.perMessageDeflate : false;
    this.shared = sharedSettings({
      closeTimeout: options.closeTimeout,
      maxBackpressure: options.maxBackpressure,
      registry: this.clients,
    });
    const server = options.server;
    if (server) {
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head);
      server.on('upgrade', onUpgrade);
      this.detach.push(() => server.off('upgrade', onUpgrade));
      if (isHttp2Server(server)) this.attachHttp2(server);
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
    this.startHandshake(request, this.http1Exchange(socket as Socket, head, secure), callback);
  }

  /**
   * Serve RFC 8441 WebSockets on an HTTP/2 server: streams opened with an
   * extended CONNECT whose `:protocol` is websocket. Node's compatibility
   * layer (present once the server has a 'request' listener) turns every
   * CONNECT into a 'connect' event and answers 405 when nobody listens, so
   * a WebSocket stream is taken from whichever of 'stream' and 'connect'
   * sees it first; other CONNECT requests are left to the application (or
   * get Node's 405).
   */
  private attachHttp2(server: Http2SecureServer | Http2Server): void {
    // RFC 8441 §3: clients use extended CONNECT only after the server sent
    // SETTINGS_ENABLE_CONNECT_PROTOCOL = 1. Applies to new HTTP/2
    // connections; never turned off again (§3: no 0 after a 1).
    server.updateSettings({ enableConnectProtocol: true });
    const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.handleStream(stream, headers);
    const onConnect = (req: Http2ServerRequest, res: Http2ServerResponse) => {
      if (this.handleStream(req.stream, req.headers)) return;
      // Not a WebSocket: what Node does when nobody listens to 'connect'.
      if (server.listenerCount('connect') === 1) {
        res.statusCode = http2Constants.HTTP_STATUS_METHOD_NOT_ALLOWED;
        res.end();
      }
    };
    server.on('stream', onStream);
    server.on('connect', onConnect);
    this.detach.push(() => {
      server.off('stream', onStream);
      server.off('connect', onConnect);
    });
  }

  /**
   * An HTTP/2 stream: if it is an extended CONNECT for a WebSocket not taken
   * yet, take it and start the handshake; returns whether it is ours.
   */
  private handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
    if (this.claimed.has(stream)) return true;
    const protocol = headers[':protocol'];
    if (headers[':method'] !== 'CONNECT' || typeof protocol !== 'string' || protocol.toLowerCase() !== 'websocket') return false;
    this.claimed.add(stream);
    const request: HandshakeRequest = {
      method: 'CONNECT',
      target: String(headers[':path'] ?? ''),
      httpVersion: '2.0',
      headers,
    };
    // A reset stream (the client went away) must not reach an 'error' event nobody listens to.
    stream.on('error', destroyOnError);
    this.startHandshake(request, this.http2Exchange(stream), undefined);
    return true;
  }

  /** The HTTP/1.1 side of a handshake: a socket that gets the response bytes. */
  private http1Exchange(socket: Socket, head: Buffer, secure: boolean): Exchange {
    return {
      transport: socket,
      head,
      secure,
      http2: false,
      remoteAddress: () => socket.remoteAddress ?? '',
      remotePort: () => socket.remotePort ?? 0,
      gone: () => socket.destroyed || !socket.writable,
      refuse: (response) => this.refuse(socket, response),
      accept: (response) => {
        socket.write(serializeResponse(response));
      },
      drop: () => socket.destroy(),
      adopted: () => socket.removeListener('error', destroyOnError),
    };
  }

  /** The HTTP/2 side: a stream answered with HEADERS (RFC 8441 §5). */
  private http2Exchange(stream: ServerHttp2Stream): Exchange {
    const socket = stream.session?.socket;
    return {
      transport: stream,
      head: Buffer.alloc(0),
      secure: (socket as { encrypted?: boolean } | undefined)?.encrypted === true,
      http2: true,
      remoteAddress: () => socket?.remoteAddress ?? '',
      remotePort: () => socket?.remotePort ?? 0,
      gone: () => stream.destroyed || stream.closed,
      refuse: (response) => {
        if (stream.destroyed || stream.closed || stream.headersSent) return;
        try {
          stream.respond(http2Headers(response));
        } catch (error) {
          // The hook's headers cannot go on the wire: a plain 500.
          stream.respond(http2Headers(rejectResponse(500, 'Internal server error')));
          if (this.listenerCount('error') > 0) this.emit('error', error as Error);
        }
        stream.end(response.body);
      },
      accept: (response) => {
        // RFC 8441 §5: 200, and the stream stays open (no END_STREAM).
        stream.respond(http2Headers(response));
      },
      // RFC 8441 §5: a reset stands for a TCP reset: RST_STREAM with CANCEL.
      drop: () => {
        if (!stream.destroyed) stream.close(http2Constants.NGHTTP2_CANCEL);
      },
      adopted: () => stream.removeListener('error', destroyOnError),
    };
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
      const exchange = this.http1Exchange(socket, Buffer.from(parsed.rest), socket instanceof tls.TLSSocket);
      this.startHandshake(parsed.head, exchange, undefined);
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
  private startHandshake(request: HandshakeRequest, exchange: Exchange, callback: OnConnection | undefined): void {
    let validated: ValidatedRequest;
    let decision: AcceptDecision | Promise<AcceptDecision> = true;
    try {
      const validate = exchange.http2 ? validateExtendedConnect : validateRequest;
      validated = validate(request, { extensions: this.deflate !== false });
      if (this.options.path !== undefined && validated.path !== this.options.path) {
        throw new HandshakeError('NOT_FOUND', 404, `No WebSocket endpoint at ${validated.path}`);
      }
      if (this.options.accept) {
        decision = this.options.accept({
          request: validated,
          origin: validated.origin,
          remoteAddress: exchange.remoteAddress(),
          remotePort: exchange.remotePort(),
          secure: exchange.secure,
        });
      }
    } catch (error) {
      this.handshakeFailed(exchange, error);
      return;
    }
    if (!isPromiseLike(decision)) {
      this.decided(decision, validated, exchange, callback);
      return;
    }
    decision.then(
      (settled) => {
        // A listener's exception must not become a rejection nobody handles
        // (nor be answered with a 500 on a socket that sent its 101): it is
        // thrown again outside the promise, as an uncaught exception, the
        // way an EventEmitter listener's exception surfaces.
        try {
          this.decided(settled, validated, exchange, callback);
        } catch (error) {
          process.nextTick(() => {
            throw error;
          });
        }
      },
      (error: unknown) => this.handshakeFailed(exchange, error),
    );
  }

  /** The accept hook's decision is in: refuse, or open the connection. */
  private decided(decision: AcceptDecision, validated: ValidatedRequest, exchange: Exchange, callback: OnConnection | undefined): void {
    if (decision !== true) {
      const status = decision === false ? 403 : decision.status;
      const message = decision === false ? 'Forbidden' : (decision.message ?? 'Forbidden');
      const headers = decision === false ? {} : (decision.headers ?? {});
      this.handshakeFailed(exchange, new HandshakeError('REJECTED', status, message, headers));
      return;
    }
    // close() ran while the hook was deciding: a connection opened now
    // would miss the close frame, and keep close() from ever resolving.
    if (this.shuttingDown) {
      this.handshakeFailed(exchange, new HandshakeError('SHUTTING_DOWN', 503, 'The server is shutting down'));
      return;
    }
    // The peer may have gone (or half-closed) while an async hook ran.
    if (exchange.gone()) return;
    this.openConnection(validated, exchange, callback);
  }

  /**
   * Answer the handshake (101, or 200 over HTTP/2) and hand the connection
   * to the application. Everything that can fail before the answer is on
   * the wire is answered with a 500; the 'connection' event comes after,
   * outside any try: an exception in a listener propagates to the caller,
   * as for any EventEmitter, and the stream, which has its answer, is left
   * as it is.
   */
  private openConnection(validated: ValidatedRequest, exchange: Exchange, callback: OnConnection | undefined): void {
    let accepted: ReturnType<typeof acceptRequest>;
    try {
      accepted = acceptRequest(validated, {
        selectProtocol: this.options.selectProtocol,
        perMessageDeflate: this.deflate,
      });
    } catch (error) {
      this.handshakeFailed(exchange, error);
      return;
    }
    const { response, protocol, deflate } = accepted;
    // The application's listeners add their headers. An exception there is
    // theirs: it propagates, and the transport, which has no answer, is dropped.
    let listened = false;
    try {
      this.emit('headers', response.headers, validated);
      listened = true;
    } finally {
      if (!listened) {
        deflate?.close();
        exchange.drop();
      }
    }
    try {
      exchange.accept(response);
    } catch (error) {
      deflate?.close();
      this.handshakeFailed(exchange, error);
      return;
    }
    const p = new Protocol('server', {
      deflate,
      maxMessageSize: this.options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
      maxFragments: this.options.maxFragments,
      autoPong: this.options.autoPong,
    });
    const ws = new WebSocket(exchange.transport, p, {
      protocol,
      extensions: deflate?.header ?? '',
      shared: this.shared,
      head: exchange.head,
    });
    // The connection listens for errors itself from now on.
    exchange.adopted();
    this.clients.add(ws);
    if (callback) callback(ws, validated);
    else this.emit('connection', ws, validated);
  }

  /** A handshake that will not complete: its HTTP answer, and the event that says why. */
  private handshakeFailed(exchange: Exchange, error: unknown): void {
    if (error instanceof HandshakeError) {
      this.emit('rejected', error, exchange.remoteAddress());
      exchange.refuse(errorResponse(error));
    } else {
      // A hook threw: the client gets a plain 500, the details stay here.
      exchange.refuse(rejectResponse(500, 'Internal server error'));
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
    for (const detach of this.detach.splice(0)) detach();
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
