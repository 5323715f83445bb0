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
}

/**
 * Connect to a ws:// or wss:// URL.
 * @throws HandshakeError when the server refuses or answers wrongly
 *   (`code` says which rule; `status` is the HTTP status received, 0 if none),
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
    const onError = (error: Error) => finish(error);
    const onClose = () => finish(new HandshakeError('CONNECTION_CLOSED', 0, 'The server closed the connection during the handshake'));
    const onData = (chunk: Buffer) => {
      try {
        const parsed = parser.push(chunk);
        if (!parsed) return;
        const { protocol, deflate: agreed } = validateResponse(parsed.head, request.key, handshake);
        const p = new Protocol('client', {
          deflate: agreed,
          maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
          maxFragments: options.maxFragments,
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
