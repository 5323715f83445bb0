/**
 * The Node client: `connect(url, options)` opens a TCP or TLS connection (or
 * one an Agent or `createConnection` provides), performs the opening
 * handshake (RFC 6455 §4.1), follows redirects when asked, and resolves with
 * a `WebSocket`. Handshake rules live in ../protocol/handshake.ts; this file
 * only moves bytes and owns the handshake timeout and the heartbeat.
 */
import http, { type Agent, type IncomingMessage } from 'node:http';
import https from 'node:https';
import net, { type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { HandshakeError } from '../protocol/errors.js';
import { type ClientHandshakeOptions, clientRequest, validateResponse } from '../protocol/handshake.js';
import { Headers, HttpResponseParser } from '../protocol/http.js';
import type { PerMessageDeflate, PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { DEFAULT_MAX_MESSAGE_SIZE, Protocol } from '../protocol/protocol.js';
import { WebSocket } from './connection.js';
import { checkHeartbeat, Heartbeat, type HeartbeatOptions } from './heartbeat.js';

/** The most of a refusal's plain-text body kept for the error message, bytes. */
const MAX_REFUSAL_BODY = 1024;

/** Where `createConnection` should connect: what net.connect / tls.connect take. */
export interface TransportOptions extends tls.ConnectionOptions {
  host: string;
  port: number;
  /** For TLS: the name to verify (SNI); absent for an IP address. */
  servername?: string;
}

export interface ConnectOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Extra request headers (Authorization, Cookie, ...). */
  headers?: Record<string, string>;
  /** An Origin header, as a browser would send. */
  origin?: string;
  /** Offer permessage-deflate: true for defaults, or options. Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Time allowed for connecting and the handshake, ms, per attempt (default 10000). */
  handshakeTimeout?: number;
  /** Time allowed for the closing handshake, ms (default 5000). */
  closeTimeout?: number;
  /** Largest message accepted (default 16 MiB). */
  maxMessageSize?: number;
  maxFragments?: number;
  /** TLS options for wss:// (ca, rejectUnauthorized, ...). */
  tls?: tls.ConnectionOptions;
  /** Answer pings with pongs automatically (RFC 6455 §5.5.2). Default true. */
  autoPong?: boolean;
  /** Bytes the connection may owe the server before it is closed with 1008 (SLOW_READER). Default 64 MiB. */
  maxBackpressure?: number;
  /** Ping a server silent for `interval` ms; drop it if it stays silent `timeout` ms after the ping. Default: off. */
  heartbeat?: HeartbeatOptions | false;
  /**
   * Cancels the connection attempt: connect() then rejects with the signal's
   * reason and the socket is destroyed. Once the connection is open the
   * signal is no longer watched (close() it yourself).
   */
  signal?: AbortSignal;
  /**
   * Follow 301, 302, 303, 307 and 308 answers to the handshake (their
   * Location, relative or absolute, ws(s) or http(s)). Default false: the
   * answer rejects connect() with UNEXPECTED_STATUS and its headers.
   * Authorization and Cookie headers, and URL credentials, are not sent to
   * another origin.
   */
  followRedirects?: boolean;
  /** Most redirects followed (default 10); one more rejects with TOO_MANY_REDIRECTS. */
  maxRedirects?: number;
  /**
   * Make the connection yourself (a proxy tunnel, a Unix socket...): called
   * with where to connect; returns the stream to speak WebSocket over. The
   * request is written at once (a net.Socket buffers it until connected).
   */
  createConnection?: (options: TransportOptions) => Duplex;
  /**
   * An http.Agent (or https.Agent, or a proxy agent built on them): the
   * handshake then goes through node:http's client with this agent, which
   * decides how the connection is made.
   */
  agent?: Agent;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that carry credentials: not sent on a redirect to another origin. */
const CREDENTIALS = new Set(['authorization', 'cookie']);

/**
 * Connect to a ws:// or wss:// URL. Credentials in the URL
 * (`ws://user:pass@host/`) are sent as HTTP Basic authentication
 * (RFC 7617), unless an Authorization header is given.
 * @throws (rejects) HandshakeError when the server refuses or answers wrongly
 *   (`code` says which rule; `status` is the HTTP status received, 0 if
 *   none; a refusal's text/plain body, up to 1 KiB, ends the message),
 *   including HANDSHAKE_TIMEOUT and TOO_MANY_REDIRECTS; TypeError for
 *   an invalid URL or option; the signal's reason when aborted; the
 *   socket's error (ECONNREFUSED, ...) when the connection fails.
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<WebSocket> {
  if (options.heartbeat) checkHeartbeat(options.heartbeat);
  let target = toUrl(url);
  let headers = { ...options.headers };
  const maxRedirects = options.maxRedirects ?? 10;
  for (let redirects = 0; ; redirects++) {
    try {
      return await attempt(target, { ...options, headers });
    } catch (error) {
      const location = redirectTarget(error, options);
      if (location === null) throw error;
      if (redirects >= maxRedirects) {
        const status = (error as HandshakeError).status;
        throw new HandshakeError('TOO_MANY_REDIRECTS', status, `More than ${maxRedirects} redirects`);
      }
      const next = resolveRedirect(target, location);
      // Credentials stay with the origin they were given for.
      if (next.origin !== target.origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([name]) => !CREDENTIALS.has(name.toLowerCase())));
      }
      target = next;
    }
  }
}

/** The Location of a redirect to follow, or null. */
function redirectTarget(error: unknown, options: ConnectOptions): string | null {
  if (!options.followRedirects || !(error instanceof HandshakeError) || error.code !== 'UNEXPECTED_STATUS') return null;
  if (!REDIRECTS.has(error.status)) return null;
  return error.headers.location ?? null;
}

/** A Location resolved against the URL that answered it, as a ws:/wss: URL. @throws TypeError for another scheme. */
function resolveRedirect(from: URL, location: string): URL {
  const base = new URL(from.href.replace(/^ws/, 'http'));
  const next = new URL(location, base);
  if (next.protocol === 'http:' || next.protocol === 'https:') next.protocol = next.protocol === 'http:' ? 'ws:' : 'wss:';
  if (next.protocol !== 'ws:' && next.protocol !== 'wss:') {
    throw new TypeError(`redirect to unsupported URL scheme ${next.protocol}`);
  }
  // RFC 6455 §3: no fragment in a WebSocket URL (a redirect's is dropped).
  next.hash = '';
  return next;
}

/** @throws TypeError for an invalid URL, another scheme, or a fragment (RFC 6455 §3). */
function toUrl(url: string | URL): URL {
  const target = new URL(url);
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new TypeError(`unsupported URL scheme ${target.protocol} (use ws: or wss:)`);
  }
  if (target.hash !== '') throw new TypeError('a WebSocket URL may not have a fragment');
  return target;
}

/** One handshake with one URL. */
function attempt(target: URL, options: ConnectOptions): Promise<WebSocket> {
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const secure = target.protocol === 'wss:';
  const port = target.port === '' ? (secure ? 443 : 80) : Number(target.port);
  const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const deflate: PerMessageDeflateOptions | false =
    options.perMessageDeflate === true ? {} : options.perMessageDeflate ? options.perMessageDeflate : false;
  const headers = { ...options.headers };
  if (target.username !== '' && !Object.keys(headers).some((name) => name.toLowerCase() === 'authorization')) {
    // RFC 7617 §2: Basic credentials are user-id ":" password, base64; the URL holds them percent-encoded.
    const credentials = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.Authorization = `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }
  const handshake: ClientHandshakeOptions = {
    // RFC 6455 §4.1 item 4: the port is included when it is not the default.
    host: target.port === '' ? target.hostname : `${target.hostname}:${target.port}`,
    target: `${target.pathname || '/'}${target.search}`,
    protocols: options.protocols,
    headers,
    origin: options.origin,
    perMessageDeflate: deflate,
  };
  let request: ReturnType<typeof clientRequest>;
  try {
    request = clientRequest(handshake);
  } catch (error) {
    return Promise.reject(error);
  }

  return new Promise<WebSocket>((resolve, reject) => {
    let settled = false;
    /** Releases the attempt's resources; the transport too when it failed. */
    let cleanup: (failed: boolean) => void = () => {};
    const finish = (error: unknown, ws?: WebSocket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      cleanup(error !== null);
      if (error !== null) reject(error);
      else resolve(ws!);
    };
    const onAbort = () => finish(signal!.reason);
    const timer = setTimeout(() => {
      finish(new HandshakeError('HANDSHAKE_TIMEOUT', 0, 'The opening handshake timed out'));
    }, options.handshakeTimeout ?? 10_000);
    signal?.addEventListener('abort', onAbort, { once: true });

    /** The 101 was validated: the connection is open. */
    const open = (transport: Duplex, rest: Buffer, protocol: string, agreed: PerMessageDeflate | null) => {
      const p = new Protocol('client', {
        deflate: agreed,
        maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
        maxFragments: options.maxFragments,
        autoPong: options.autoPong,
      });
      const ws = new WebSocket(transport, p, {
        protocol,
        extensions: agreed?.header ?? '',
        url: target.href,
        closeTimeout: options.closeTimeout,
        maxBackpressure: options.maxBackpressure,
        head: Buffer.from(rest),
      });
      if (options.heartbeat) {
        const heartbeat = new Heartbeat(options.heartbeat, () => [ws]);
        ws.once('close', () => heartbeat.stop());
      }
      finish(null, ws);
    };

    if (options.agent) {
      cleanup = throughNodeHttp(target, hostname, port, secure, request.headers, options, {
        upgraded: (res, socket, rest) => {
          try {
            const head = { httpVersion: res.httpVersion, status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: Headers.from(res.headers) };
            const { protocol, deflate: agreed } = validateResponse(head, request.key, handshake);
            open(socket, rest, protocol, agreed);
          } catch (error) {
            finish(error);
          }
        },
        answered: (res) => {
          res.resume();
          const head = { httpVersion: res.httpVersion, status: res.statusCode ?? 0, reason: res.statusMessage ?? '', headers: Headers.from(res.headers) };
          try {
            validateResponse(head, request.key, handshake);
          } catch (error) {
            finish(error);
          }
        },
        failed: (error) => finish(error),
      });
      return;
    }

    const connection: TransportOptions = {
      host: hostname,
      port,
      ...(secure && !net.isIP(hostname) ? { servername: hostname } : {}),
      ...(secure ? options.tls : {}),
    };
    let socket: Duplex;
    try {
      socket = options.createConnection
        ? options.createConnection(connection)
        : secure
          ? tls.connect(connection)
          : net.connect(connection);
    } catch (error) {
      finish(error);
      return;
    }
    const parser = new HttpResponseParser();
    /** A refusal whose short text/plain body (the server's explanation) is still arriving. */
    let refusal: { error: HandshakeError; body: Buffer; length: number } | null = null;
    const refuse = () => {
      if (!refusal) return;
      const text = refusal.body.subarray(0, refusal.length).toString('utf8').trim();
      const { error } = refusal;
      finish(text === '' ? error : new HandshakeError(error.code, error.status, `${error.message}: ${text}`, error.headers));
    };
    const onError = (error: Error) => (refusal ? refuse() : finish(error));
    const onClose = () => {
      if (refusal) refuse();
      else finish(new HandshakeError('CONNECTION_CLOSED', 0, 'The server closed the connection during the handshake'));
    };
    const onData = (chunk: Buffer) => {
      if (refusal) {
        refusal.body = Buffer.concat([refusal.body, chunk]);
        if (refusal.body.length >= refusal.length) refuse();
        return;
      }
      try {
        const parsed = parser.push(chunk);
        if (!parsed) return;
        let validated: ReturnType<typeof validateResponse>;
        try {
          validated = validateResponse(parsed.head, request.key, handshake);
        } catch (error) {
          // A refusal (4xx, 5xx) usually says why in a short plain-text body:
          // read up to MAX_REFUSAL_BODY bytes of it (within the handshake
          // timeout) so the caller can show it.
          const type = parsed.head.headers.get('content-type') ?? '';
          const length = Number(parsed.head.headers.get('content-length') ?? Number.NaN);
          // A body delimited by its length or by the close; a chunked one is not read.
          const readable = parsed.head.headers.get('transfer-encoding') === undefined;
          if (error instanceof HandshakeError && error.code === 'UNEXPECTED_STATUS' && readable && /^text\/plain\b/i.test(type)) {
            refusal = { error, body: Buffer.from(parsed.rest), length: Number.isSafeInteger(length) ? Math.min(length, MAX_REFUSAL_BODY) : MAX_REFUSAL_BODY };
            if (refusal.body.length >= refusal.length) refuse();
            return;
          }
          throw error;
        }
        const { protocol, deflate: agreed } = validated;
        detach();
        open(socket, parsed.rest, protocol, agreed);
      } catch (error) {
        finish(error);
      }
    };
    const detach = () => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
    };
    cleanup = (failed) => {
      detach();
      if (failed) socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    // Written at once: a socket buffers it until it is connected (and, for
    // TLS, until the handshake is done).
    socket.write(request.bytes);
  });
}

interface NodeHttpHandlers {
  upgraded: (res: IncomingMessage, socket: Socket, rest: Buffer) => void;
  answered: (res: IncomingMessage) => void;
  failed: (error: Error) => void;
}

/**
 * The handshake through node:http's client, so that an Agent decides how to
 * connect. Returns the cleanup for the attempt.
 */
function throughNodeHttp(
  target: URL,
  hostname: string,
  port: number,
  secure: boolean,
  lines: Array<[string, string]>,
  options: ConnectOptions,
  handlers: NodeHttpHandlers,
): (failed: boolean) => void {
  const headers: Record<string, string> = {};
  for (const [name, value] of lines) headers[name] = value;
  const req = (secure ? https : http).request({
    ...(secure ? options.tls : {}),
    host: hostname,
    port,
    path: `${target.pathname || '/'}${target.search}`,
    method: 'GET',
    headers,
    agent: options.agent,
    ...(options.createConnection ? { createConnection: options.createConnection as never } : {}),
  });
  let upgradedSocket: Socket | null = null;
  req.on('upgrade', (res, socket, rest) => {
    upgradedSocket = socket;
    handlers.upgraded(res, socket, rest);
  });
  req.on('response', handlers.answered);
  req.on('error', handlers.failed);
  req.end();
  return (failed) => {
    if (!failed) return;
    req.destroy();
    upgradedSocket?.destroy();
  };
}
