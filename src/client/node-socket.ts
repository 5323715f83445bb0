/**
 * `SocketLike` over our own Node client (src/websocket), for the terminal
 * client: `new ChatSession({ url, nick, socketFactory: nodeSocketFactory() })`.
 * Not part of the browser bundle.
 */
import { type ConnectOptions, connect } from '../websocket/node/client.js';
import type { WebSocket } from '../websocket/node/connection.js';
import { HandshakeError } from '../websocket/protocol/errors.js';
import type { ConnectFailure, SocketFactory, SocketLike } from './socket.js';

/**
 * A factory that connects with `connect(url, { ...options, protocols: [protocol] })`.
 * The connection attempt starts at once; its callbacks fire from later I/O
 * events, never before the factory returns. A failed connection (refused,
 * handshake error, wrong subprotocol) is reported as `onclose(1006, why,
 * failure)`, `failure` saying whether retrying can help (`describeFailure`).
 */
export function nodeSocketFactory(options: ConnectOptions = {}): SocketFactory {
  return (url: string, protocol: string): SocketLike => {
    let ws: WebSocket | null = null;
    /** close() was called before the connection was open. */
    let abandoned = false;
    let reported = false;
    const reportClose = (code: number, reason: string, failure?: ConnectFailure): void => {
      if (reported) return;
      reported = true;
      socket.onclose?.(code, reason, failure);
    };
    const socket: SocketLike = {
      send(text) {
        ws?.send(text);
      },
      close(code = 1000, reason = '') {
        if (ws) {
          try {
            ws.close(code, reason);
          } catch {
            ws.close();
          }
        } else {
          abandoned = true;
        }
      },
      onopen: null,
      onmessage: null,
      onclose: null,
    };
    connect(url, { ...options, protocols: [protocol] }).then(
      (opened) => {
        if (abandoned) {
          opened.close(1000);
          reportClose(1006, 'closed before the connection was open');
          return;
        }
        // RFC 6455 §4.1: fail the connection when the server did not select
        // our subprotocol (without it the chat server would speak plain text).
        if (opened.protocol !== protocol) {
          opened.close(1000, 'subprotocol not accepted');
          const message = `The server at ${url} does not speak ${protocol} (it did not accept the subprotocol): is it a wschat server?`;
          reportClose(1006, message, { permanent: true, message, kind: 'http' });
          return;
        }
        ws = opened;
        opened.on('message', (data, isBinary) => {
          if (!isBinary && typeof data === 'string') socket.onmessage?.(data);
        });
        // Errors are followed by 'close', which carries the code.
        opened.on('error', () => {});
        opened.on('close', (code, reason) => reportClose(code, reason));
        socket.onopen?.();
      },
      (error: unknown) => {
        const failure = describeFailure(error, url);
        reportClose(1006, failure.message, failure);
      },
    );
    return socket;
  };
}

/**
 * OpenSSL's verification results (X509_V_ERR_*, as Node names them) and
 * Node's own hostname check: the certificate chain is not trusted for this
 * host. Retrying cannot fix these.
 */
const CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_CRL',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Turns a failed `connect()` into a sentence and a verdict: permanent (HTTP
 * 4xx but 408 and 429, a server that is not a WebSocket server, a TLS
 * failure, an unknown host, an invalid URL) or worth retrying (every other
 * network error, timeouts, HTTP 5xx, 408, 429). Never throws.
 */
export function describeFailure(error: unknown, url: string): ConnectFailure {
  let where = url;
  try {
    where = new URL(url).host;
  } catch {
    // An invalid URL: connect() said so; keep the text as given.
  }
  if (error instanceof HandshakeError) {
    const { status } = error;
    if (error.code === 'UNEXPECTED_STATUS') {
      const transient = status >= 500 || status === 408 || status === 429;
      return { permanent: !transient, message: sentence(error.message), kind: 'http' };
    }
    if (error.code === 'HANDSHAKE_TIMEOUT' || error.code === 'CONNECTION_CLOSED') {
      return { permanent: false, message: sentence(`${where}: ${lowerFirst(error.message)}`), kind: 'network' };
    }
    // A 101 that breaks RFC 6455, or no HTTP at all: not a WebSocket server (or a proxy in the way).
    return { permanent: true, message: sentence(`${where} is not a WebSocket server, or something in between is not: ${lowerFirst(error.message)}`), kind: 'http' };
  }
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : '';
  const text = error instanceof Error ? error.message : String(error);
  if (CERTIFICATE_CODES.has(code)) {
    return { permanent: true, message: `The certificate of ${where} is not trusted: ${text} (${code}).`, kind: 'certificate' };
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code === 'EPROTO') {
    return { permanent: true, message: `The TLS handshake with ${where} failed: ${text}${code ? ` (${code})` : ''}.`, kind: 'tls' };
  }
  if (code === 'ECONNREFUSED') {
    return { permanent: false, message: `Nothing is listening on ${where} (connection refused).`, kind: 'network' };
  }
  if (code === 'ENOTFOUND') return { permanent: true, message: `The host of ${url} was not found (DNS: ${text}).`, kind: 'network' };
  // An invalid URL or option: the same attempt would fail the same way.
  if (code === '' || error instanceof TypeError) return { permanent: true, message: sentence(`Cannot connect to ${url}: ${text}`), kind: 'network' };
  // Another system error: the network's business; it may pass.
  return { permanent: false, message: sentence(`Cannot reach ${where}: ${text}`), kind: 'network' };
}

/** Ends `text` with a full stop unless it ends with punctuation already. */
function sentence(text: string): string {
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
