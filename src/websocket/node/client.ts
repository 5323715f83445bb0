/**
 * The Node client: `connect(url, options)` opens a TCP or TLS connection,
 * performs the opening handshake (RFC 6455 §4.1) and resolves with a
 * `WebSocket`. Handshake rules live in ../protocol/handshake.ts; this file
 * only moves bytes and owns the handshake timeout.
 */
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { HandshakeError } from '../protocol/errors.js';
import { type ClientHandshakeOptions, clientRequest, validateResponse } from '../protocol/handshake.js';
import { HttpResponseParser } from '../protocol/http.js';
import type { PerMessageDeflateOptions } from '../protocol/permessage-deflate.js';
import { DEFAULT_MAX_MESSAGE_SIZE, Protocol } from '../protocol/protocol.js';
import { WebSocket } from './connection.js';

/** The most of a refusal's plain-text body kept for the error message, bytes. */
const MAX_REFUSAL_BODY = 1024;

export interface ConnectOptions {
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Extra request headers (Authorization, Cookie, ...). */
  headers?: Record<string, string>;
  /** An Origin header, as a browser would send. */
  origin?: string;
  /** Offer permessage-deflate: true for defaults, or options. Default false. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Time allowed for connecting and the handshake, ms (default 10000). */
  handshakeTimeout?: number;
  /** Time allowed for the closing handshake, ms (default 5000). */
  closeTimeout?: number;
  /** Largest message accepted (default 16 MiB). */
  maxMessageSize?: number;
  maxFragments?: number;
  /** TLS options for wss:// (ca, rejectUnauthorized, ...). */
  tls?: tls.ConnectionOptions;
  /** Masking keys, for deterministic tests; default: a crypto.randomFillSync pool (RFC 6455 §5.3). */
  maskKey?: () => Uint8Array;
}

/**
 * Connect to a ws:// or wss:// URL.
 * @throws HandshakeError when the server refuses or answers wrongly
 *   (`code` says which rule; `status` is the HTTP status received, 0 if none;
 *   a refusal's text/plain body, up to 1 KiB, ends the message),
 *   including code HANDSHAKE_TIMEOUT; TypeError for an invalid URL or option;
 *   the socket's error (ECONNREFUSED, ...) when the connection fails.
 */
export function connect(url: string | URL, options: ConnectOptions = {}): Promise<WebSocket> {
  let target: URL;
  try {
    target = new URL(url);
  } catch (error) {
    // Reject rather than throw: every failure of connect() reaches the caller the same way.
    return Promise.reject(error);
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    return Promise.reject(new TypeError(`unsupported URL scheme ${target.protocol} (use ws: or wss:)`));
  }
  // RFC 6455 §3: fragment identifiers MUST NOT be used in WebSocket URIs.
  if (target.hash !== '') return Promise.reject(new TypeError('a WebSocket URL may not have a fragment'));
  const secure = target.protocol === 'wss:';
  const port = target.port === '' ? (secure ? 443 : 80) : Number(target.port);
  const hostname = target.hostname.startsWith('[') ? target.hostname.slice(1, -1) : target.hostname;
  const deflate: PerMessageDeflateOptions | false =
    options.perMessageDeflate === true ? {} : options.perMessageDeflate ? options.perMessageDeflate : false;
  const handshake: ClientHandshakeOptions = {
    // RFC 6455 §4.1 item 4: the port is included when it is not the default.
    host: target.port === '' ? target.hostname : `${target.hostname}:${target.port}`,
    target: `${target.pathname || '/'}${target.search}`,
    protocols: options.protocols,
    headers: options.headers,
    origin: options.origin,
    perMessageDeflate: deflate,
  };
  let request: { bytes: Buffer; key: string };
  try {
    request = clientRequest(handshake);
  } catch (error) {
    return Promise.reject(error);
  }

  return new Promise<WebSocket>((resolve, reject) => {
    const socket: Socket = secure
      ? tls.connect({ host: hostname, port, servername: net.isIP(hostname) ? undefined : hostname, ...options.tls })
      : net.connect({ host: hostname, port });
    const parser = new HttpResponseParser();
    let settled = false;
    const timer = setTimeout(() => {
      finish(new HandshakeError('HANDSHAKE_TIMEOUT', 0, 'The opening handshake timed out'));
    }, options.handshakeTimeout ?? 10_000);

    const finish = (error: Error | null, ws?: WebSocket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      if (error) {
        socket.destroy();
        reject(error);
      } else resolve(ws!);
    };
    const onError = (error: Error) => (refusal ? refuse() : finish(error));
    const onClose = () => {
      if (refusal) refuse();
      else finish(new HandshakeError('CONNECTION_CLOSED', 0, 'The server closed the connection during the handshake'));
    };
    /** A refusal whose short text/plain body (the server's explanation) is still arriving. */
    let refusal: { error: HandshakeError; body: Buffer; length: number } | null = null;
    const refuse = () => {
      if (!refusal) return;
      const text = refusal.body.subarray(0, refusal.length).toString('utf8').trim();
      const { error } = refusal;
      finish(text === '' ? error : new HandshakeError(error.code, error.status, `${error.message}: ${text}`, error.headers));
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
        const p = new Protocol('client', {
          deflate: agreed,
          maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
          maxFragments: options.maxFragments,
          maskKey: options.maskKey,
        });
        socket.removeListener('data', onData);
        const ws = new WebSocket(socket, p, {
          protocol,
          extensions: agreed?.header ?? '',
          closeTimeout: options.closeTimeout,
          head: Buffer.from(parsed.rest),
        });
        finish(null, ws);
      } catch (error) {
        finish(error as Error);
      }
    };
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(request.bytes));
  });
}
