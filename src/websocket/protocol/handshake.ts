/**
 * The WebSocket opening handshake (RFC 6455 §4), sans-I/O: validate a
 * request and build the response on the server; build the request and
 * validate the response on the client. HTTP heads come from http.ts.
 *
 * Every failure is a `HandshakeError` with a stable `code`. On the server,
 * `status` and `headers` are the HTTP response to send (`errorResponse`
 * builds it) and `message` is its plain-text body, written for a developer.
 *
 * Server codes (validateRequest):
 * - `METHOD_NOT_ALLOWED` 405 (+ `Allow: GET`): not a GET.
 * - `UNSUPPORTED_HTTP_VERSION` 400: HTTP/1.0.
 * - `INVALID_TARGET` 400: request target is not a path (or absolute URI), or has a fragment.
 * - `INVALID_HOST` 400: Host missing, repeated or malformed.
 * - `UPGRADE_REQUIRED` 426 (+ `Upgrade: websocket`): no `websocket` in Upgrade.
 * - `INVALID_CONNECTION_HEADER` 400: no `upgrade` token in Connection.
 * - `UNSUPPORTED_WEBSOCKET_VERSION` 426 (+ `Sec-WebSocket-Version: 13`).
 * - `INVALID_WEBSOCKET_KEY` 400: Sec-WebSocket-Key missing, repeated or not 16 bytes of base64.
 * - `INVALID_ORIGIN_HEADER` 400: Origin repeated.
 * - `INVALID_SUBPROTOCOL_HEADER` 400: Sec-WebSocket-Protocol is not a list of tokens.
 * - `INVALID_EXTENSION_HEADER` 400: Sec-WebSocket-Extensions syntax (extension.ts),
 *   checked only when extensions are enabled (`{ extensions: false }` ignores the header).
 * - `UNEXPECTED_BODY` 400: the request has a body (Transfer-Encoding, or a Content-Length other than 0).
 *
 * Server codes over HTTP/2 (validateExtendedConnect, RFC 8441):
 * - `METHOD_NOT_ALLOWED` 405: not an extended CONNECT with `:protocol` websocket
 *   (the server answers only those; others are left to the application).
 * - `INVALID_TARGET` 400: `:path` is not a path, or has a fragment.
 * - `INVALID_SCHEME` 400: `:scheme` is neither https nor http.
 * - `INVALID_HOST` 400: no `:authority` (nor Host), or a malformed one.
 * - `UNSUPPORTED_WEBSOCKET_VERSION` 400 (+ `sec-websocket-version: 13`).
 * - `INVALID_ORIGIN_HEADER`, `INVALID_SUBPROTOCOL_HEADER`,
 *   `INVALID_EXTENSION_HEADER` 400, as over HTTP/1.1.
 *
 * Client codes (validateResponse), `status` = the status received:
 * - `UNEXPECTED_STATUS`: not 101; `headers` holds the response headers (e.g. Location).
 * - `INVALID_UPGRADE_HEADER`, `INVALID_CONNECTION_HEADER`, `INVALID_ACCEPT`.
 * - `UNEXPECTED_SUBPROTOCOL`: a subprotocol that was not offered.
 * - `UNEXPECTED_EXTENSION`: an extension that was not offered.
 * - `INVALID_EXTENSION_HEADER` and permessage-deflate's own codes for an
 *   invalid extension response.
 */
import { createHash, randomBytes } from 'node:crypto';
import { HandshakeError } from './errors.js';
import { type ExtensionOffer, parseExtensionHeader } from './extension.js';
import { Headers, type HttpResponseHead, isToken, isValidFieldValue, splitList } from './http.js';
import {
  acceptServerResponse,
  clientOffer,
  negotiateServer,
  type PerMessageDeflate,
  type PerMessageDeflateOptions,
} from './permessage-deflate.js';

/** RFC 6455 §1.3: the GUID appended to the key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** RFC 6455 §4.2.1 item 6 and §4.1: the only version this stack speaks. */
export const WEBSOCKET_VERSION = '13';

/**
 * RFC 6455 §4.2.2 item 5.4: the Sec-WebSocket-Accept value,
 * base64(SHA-1(key + GUID)). The key is used as received, not decoded.
 */
export function acceptKey(key: string): string {
  return createHash('sha1')
    .update(key + WEBSOCKET_GUID, 'latin1')
    .digest('base64');
}

/** RFC 6455 §4.1: a nonce of 16 random bytes, base64-encoded, fresh per connection. */
export function generateKey(): string {
  return randomBytes(16).toString('base64');
}

/** 16 bytes in base64 are 22 significant characters and "==" padding (RFC 4648 §4). */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** Whether `key` is a valid Sec-WebSocket-Key: base64 (with padding) of exactly 16 bytes. */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}

/** Reason phrases for the statuses the handshake produces (RFC 9110 §15). */
const REASONS: Record<number, string> = {
  101: 'Switching Protocols',
  200: 'OK',
  301: 'Moved Permanently',
  302: 'Found',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  505: 'HTTP Version Not Supported',
};

/** The usual reason phrase for a status; empty when unknown (RFC 9112 §4 allows it). */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? '';
}

/** A request head as http.ts parses it, or node's IncomingMessage (method, url, httpVersion, headers). */
export interface HandshakeRequest {
  method: string;
  target: string;
  httpVersion: string;
  headers: Headers | Record<string, string | string[] | undefined>;
}

/** An HTTP response not yet serialized; callers may edit it before `serializeResponse`. */
export interface HttpResponse {
  status: number;
  reason: string;
  headers: Array<[string, string]>;
  body: string;
}

/**
 * A request that passed every check of RFC 6455 §4.2.1, or over HTTP/2 of
 * RFC 8441 §4-5 (then `method` is "CONNECT", `httpVersion` "2.0", `key` ''
 * and `headers` holds the pseudo-headers, `:protocol` included).
 */
export interface ValidatedRequest {
  method: string;
  /** The request target as received. */
  target: string;
  /** The target's path (RFC 6455 §3 resource name without the query), e.g. "/chat". */
  path: string;
  /** The query without "?", "" when none. Read with `new URLSearchParams(query)`. */
  query: string;
  httpVersion: string;
  /** RFC 6455 §4.2.1 item 2: the Host header value, e.g. "example.com:8080". */
  host: string;
  /** RFC 6455 §4.2.1 item 7: the Origin header, sent by browsers; undefined when absent. */
  origin: string | undefined;
  /** RFC 6455 §4.2.1 item 5: the client's Sec-WebSocket-Key; '' over HTTP/2 (RFC 8441 §5: not used). */
  key: string;
  /** RFC 6455 §4.2.1 item 8: subprotocols offered, in the client's order of preference. */
  protocols: string[];
  /** RFC 6455 §4.2.1 item 9: extensions offered, in order. */
  extensions: ExtensionOffer[];
  headers: Headers;
}

export interface ServerHandshakeOptions {
  /**
   * RFC 6455 §4.2.2 item 5.4: pick at most one of the client's subprotocols;
   * return undefined, null or '' for none. Called only when the client offered some.
   */
  selectProtocol?: (offered: string[], request: ValidatedRequest) => string | null | undefined;
  /** Enable permessage-deflate (RFC 7692) with these options; undefined or false: disabled. */
  perMessageDeflate?: PerMessageDeflateOptions | false;
}

function fail(code: string, status: number, message: string, headers?: Record<string, string>): HandshakeError {
  return new HandshakeError(code, status, message, headers);
}

/** Whether a comma list (RFC 9110 §5.6.1) holds `token`, compared case-insensitively. */
function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  return splitList(value).some((element) => element.toLowerCase() === token);
}

/** Host = uri-host [ ":" port ] (RFC 9110 §7.2, RFC 3986 §3.2.2): reg-name, IPv4 or IP-literal. */
const HOST = /^(?:\[[0-9A-Za-z:.%~_-]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::[0-9]*)?$/;

/** scheme "://" authority at the start of an absolute-form target (RFC 3986 §3). */
const ABSOLUTE_PREFIX = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

export interface ValidateOptions {
  /**
   * Parse Sec-WebSocket-Extensions (and refuse a malformed one with 400).
   * Default true. A server with no extension enabled passes false: the
   * header is then ignored, as ws does, since nothing would be negotiated.
   */
  extensions?: boolean;
}

/**
 * Validate an opening handshake request, in the order of RFC 6455 §4.2.1.
 * @throws HandshakeError with one of the server codes listed in the module
 *   comment; INVALID_EXTENSION_HEADER comes from parseExtensionHeader.
 */
export function validateRequest(req: HandshakeRequest, options: ValidateOptions = {}): ValidatedRequest {
  const headers = Headers.from(req.headers);

  // RFC 6455 §4.2.1 item 1: the method MUST be GET. RFC 9110 §15.5.6: a 405
  // MUST list the allowed methods.
  if (req.method !== 'GET') {
    throw fail('METHOD_NOT_ALLOWED', 405, 'A WebSocket handshake must use the GET method', { Allow: 'GET' });
  }

  // RFC 9112 §6.3: a request has a body when it has Transfer-Encoding or a
  // Content-Length. A GET body has no meaning (RFC 9110 §9.3.1), and after
  // a 101 its bytes would be read as WebSocket frames: refuse it. A
  // Content-Length of 0 announces no body at all.
  if (headers.has('transfer-encoding') || headers.getAll('content-length').some((v) => v.trim() !== '0')) {
    throw fail('UNEXPECTED_BODY', 400, 'A WebSocket handshake request must not have a body');
  }

  // RFC 6455 §4.2.1 item 1: HTTP/1.1 or higher. HTTP/1.0 is the same major
  // version, so 505 (RFC 9110 §15.6.6, about major versions) does not fit;
  // and RFC 9110 §7.8 says a server MUST ignore Upgrade in an HTTP/1.0
  // request, so such a request is malformed as a handshake: 400.
  const version = /^(\d+)\.(\d+)$/.exec(req.httpVersion);
  const major = Number(version?.[1] ?? 0);
  const minor = Number(version?.[2] ?? 0);
  if (!version || major < 1 || (major === 1 && minor < 1)) {
    throw fail('UNSUPPORTED_HTTP_VERSION', 400, 'A WebSocket handshake requires HTTP/1.1 or later');
  }

  // RFC 6455 §4.2.1 item 1: the target is a resource name (RFC 6455 §3) or
  // an absolute URI containing one; RFC 9112 §3.2.2: a server MUST accept
  // the absolute-form. RFC 6455 §3: fragments MUST NOT be used.
  let target = req.target;
  if (!target.startsWith('/')) {
    const prefix = ABSOLUTE_PREFIX.exec(target);
    if (!prefix) throw fail('INVALID_TARGET', 400, 'The request target must be an absolute path such as /chat');
    target = target.slice(prefix[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const { path, query } = resource(target);

  // RFC 6455 §4.2.1 item 2: a Host header with the server's authority.
  // RFC 9112 §3.2: a server MUST answer 400 to a missing Host, several Host
  // lines, or an invalid Host value.
  const hosts = headers.getAll('host');
  if (hosts.length !== 1) throw fail('INVALID_HOST', 400, 'The request must have exactly one Host header');
  const host = hosts[0]!;
  if (!HOST.test(host)) throw fail('INVALID_HOST', 400, 'The Host header must be a host name with an optional port');

  // RFC 6455 §4.2.1 item 3: Upgrade MUST include "websocket" (case-insensitive).
  // A request without it is not a WebSocket handshake at all, so answer 426,
  // which tells the client which protocol this resource needs; RFC 9110
  // §15.5.22: a 426 MUST carry Upgrade, and RFC 9110 §7.8 wants the
  // "upgrade" connection option with it.
  if (!hasToken(headers.get('upgrade'), 'websocket')) {
    throw fail('UPGRADE_REQUIRED', 426, 'This resource requires a WebSocket upgrade (Upgrade: websocket)', {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
    });
  }

  // RFC 6455 §4.2.1 item 4: Connection MUST include the "Upgrade" token.
  if (!hasToken(headers.get('connection'), 'upgrade')) {
    throw fail('INVALID_CONNECTION_HEADER', 400, 'The Connection header must include the token "Upgrade"');
  }

  // RFC 6455 §4.2.1 item 6 and §4.4: version 13, otherwise answer with the
  // versions we speak in Sec-WebSocket-Version. 426 per RFC 6455 §4.4's
  // example; RFC 9110 §15.5.22 asks for Upgrade on a 426.
  if (headers.get('sec-websocket-version') !== WEBSOCKET_VERSION) {
    throw fail('UNSUPPORTED_WEBSOCKET_VERSION', 426, 'Sec-WebSocket-Version must be 13', {
      'Sec-WebSocket-Version': WEBSOCKET_VERSION,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
    });
  }

  // RFC 6455 §4.2.1 item 5: a Sec-WebSocket-Key that decodes to 16 bytes.
  // RFC 6455 §11.3.1: it MUST NOT appear more than once.
  const keys = headers.getAll('sec-websocket-key');
  if (keys.length !== 1 || !isValidKey(keys[0]!)) {
    throw fail('INVALID_WEBSOCKET_KEY', 400, 'Sec-WebSocket-Key must be 16 bytes, base64-encoded, sent once');
  }
  const key = keys[0]!;

  return {
    method: req.method,
    target: req.target,
    path,
    query,
    httpVersion: req.httpVersion,
    host,
    key,
    headers,
    ...offers(headers, options),
  };
}

/**
 * What both HTTP versions validate the same way (RFC 6455 §4.2.1 items 7-9,
 * which RFC 8441 §5 keeps): the origin, the subprotocols, the extensions.
 * @throws HandshakeError INVALID_ORIGIN_HEADER, INVALID_SUBPROTOCOL_HEADER, INVALID_EXTENSION_HEADER.
 */
function offers(headers: Headers, options: ValidateOptions): Pick<ValidatedRequest, 'origin' | 'protocols' | 'extensions'> {
  // RFC 6455 §4.2.1 item 7: Origin is optional. RFC 6454 §7: a single
  // serialized origin; two lines would make an origin check ambiguous.
  const origins = headers.getAll('origin');
  if (origins.length > 1) throw fail('INVALID_ORIGIN_HEADER', 400, 'The Origin header must not be repeated');

  // RFC 6455 §4.2.1 item 8 and §4.1: subprotocols are a comma list of tokens.
  const protocolHeader = headers.get('sec-websocket-protocol');
  const protocols = protocolHeader === undefined ? [] : splitList(protocolHeader);
  if (!protocols.every(isToken)) {
    throw fail('INVALID_SUBPROTOCOL_HEADER', 400, 'Sec-WebSocket-Protocol must be a comma-separated list of tokens');
  }

  // RFC 6455 §4.2.1 item 9 and §9.1: the extension list grammar.
  const extensionHeader = options.extensions === false ? undefined : headers.get('sec-websocket-extensions');
  const extensions = extensionHeader === undefined ? [] : parseExtensionHeader(extensionHeader);
  return { origin: origins[0], protocols, extensions };
}

/** A request-target's resource: path and query, refusing fragments (RFC 6455 §3). */
function resource(target: string): { path: string; query: string } {
  if (target.includes('#')) throw fail('INVALID_TARGET', 400, 'The request target must not contain a fragment');
  const questionMark = target.indexOf('?');
  return {
    path: questionMark === -1 ? target : target.slice(0, questionMark),
    query: questionMark === -1 ? '' : target.slice(questionMark + 1),
  };
}

/**
 * Validate a WebSocket handshake over HTTP/2: an extended CONNECT (RFC 8441
 * §4) with `:protocol` websocket (§5). `req.headers` holds the pseudo-header
 * fields as Node's http2 gives them. HTTP/2 itself (nghttp2) has already
 * refused, with RST_STREAM PROTOCOL_ERROR, an extended CONNECT without
 * `:scheme` or `:path` (RFC 8441 §4 "MUST also be included") and one with
 * HTTP/1.1 connection headers such as Upgrade or Connection (RFC 9113
 * §8.2.2): what is left to check is the WebSocket part.
 * @throws HandshakeError with one of the HTTP/2 server codes listed in the
 *   module comment.
 */
export function validateExtendedConnect(req: HandshakeRequest, options: ValidateOptions = {}): ValidatedRequest {
  const headers = Headers.from(req.headers);
  // RFC 8441 §5: "the :protocol pseudo-header field MUST be websocket" for a
  // WebSocket; an upgrade token compares case-insensitively (RFC 9110 §7.8).
  if (req.method !== 'CONNECT' || headers.get(':protocol')?.toLowerCase() !== 'websocket') {
    throw fail('METHOD_NOT_ALLOWED', 405, 'A WebSocket over HTTP/2 is an extended CONNECT with :protocol websocket (RFC 8441)');
  }
  // RFC 8441 §5: :scheme is https for wss URIs, http for ws URIs.
  const scheme = headers.get(':scheme');
  if (scheme !== 'https' && scheme !== 'http') throw fail('INVALID_SCHEME', 400, ':scheme must be https or http');
  // RFC 8441 §5: :path is the path and query of the target URI (RFC 6455 §3: no fragment).
  const target = headers.get(':path') ?? '';
  if (!target.startsWith('/')) throw fail('INVALID_TARGET', 400, 'The :path must be an absolute path such as /chat');
  const { path, query } = resource(target);
  // RFC 8441 §4: :authority as RFC 7540 §8.1.2.3 says: the target's
  // authority, which a server never connects to (this is no tunnel).
  const host = headers.get(':authority') ?? headers.get('host');
  if (host === undefined || !HOST.test(host)) throw fail('INVALID_HOST', 400, 'The :authority must be a host name with an optional port');
  // RFC 8441 §5 keeps Sec-WebSocket-Version (RFC 6455 §4.2.1 item 6). A 426
  // means "upgrade the protocol", which HTTP/2 has no way to do: 400 with
  // the versions we speak (RFC 6455 §4.4).
  if (headers.get('sec-websocket-version') !== WEBSOCKET_VERSION) {
    throw fail('UNSUPPORTED_WEBSOCKET_VERSION', 400, 'sec-websocket-version must be 13', {
      'sec-websocket-version': WEBSOCKET_VERSION,
    });
  }
  return {
    method: 'CONNECT',
    target,
    path,
    query,
    httpVersion: '2.0',
    host,
    // RFC 8441 §5: no Sec-WebSocket-Key / Sec-WebSocket-Accept over HTTP/2.
    key: '',
    headers,
    ...offers(headers, options),
  };
}

/**
 * Negotiate the subprotocol and extensions and build the 101 response
 * (RFC 6455 §4.2.2 item 5), or for a request validated by
 * `validateExtendedConnect` the 200 of RFC 8441 §5. `protocol` is "" when none was selected;
 * `deflate` is null when permessage-deflate was not agreed. Extensions other
 * than permessage-deflate are declined by leaving them out (RFC 6455 §9.1).
 * @throws TypeError when selectProtocol returns a subprotocol the client did
 *   not offer (a bug in the caller, RFC 6455 §4.2.2 item 5.4).
 * @throws whatever negotiateServer throws for an offer it cannot accept.
 */
export function acceptRequest(
  req: ValidatedRequest,
  options: ServerHandshakeOptions = {},
): { response: HttpResponse; protocol: string; deflate: PerMessageDeflate | null } {
  let protocol = '';
  if (options.selectProtocol && req.protocols.length > 0) {
    const selected = options.selectProtocol(req.protocols, req);
    if (selected !== undefined && selected !== null && selected !== '') {
      // RFC 6455 §4.2.2 item 5.4: the value MUST be one the client offered.
      if (!req.protocols.includes(selected)) {
        throw new TypeError(`selectProtocol returned ${JSON.stringify(selected)}, which the client did not offer`);
      }
      protocol = selected;
    }
  }

  const deflate = options.perMessageDeflate ? negotiateServer(req.extensions, options.perMessageDeflate) : null;

  if (req.httpVersion === '2.0') {
    // RFC 8441 §5: "it MUST respond with a 200 (OK) status code", with the
    // subprotocol and extensions of RFC 6455 and nothing of the HTTP/1.1
    // upgrade (no Upgrade, Connection or Sec-WebSocket-Accept).
    const headers: Array<[string, string]> = [];
    if (protocol !== '') headers.push(['sec-websocket-protocol', protocol]);
    if (deflate) headers.push(['sec-websocket-extensions', deflate.header]);
    return { response: { status: 200, reason: reasonPhrase(200), headers, body: '' }, protocol, deflate };
  }

  // RFC 6455 §4.2.2 item 5: status 101, Upgrade, Connection and
  // Sec-WebSocket-Accept; then the selected subprotocol and extensions.
  const headers: Array<[string, string]> = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', acceptKey(req.key)],
  ];
  if (protocol !== '') headers.push(['Sec-WebSocket-Protocol', protocol]);
  if (deflate) headers.push(['Sec-WebSocket-Extensions', deflate.header]);
  return { response: { status: 101, reason: reasonPhrase(101), headers, body: '' }, protocol, deflate };
}

/** A rejection with a plain-text body, e.g. 403 from an origin check. */
export function rejectResponse(status: number, text: string, headers: Array<[string, string]> = []): HttpResponse {
  return { status, reason: reasonPhrase(status), headers: [...headers], body: text };
}

/** The response for a HandshakeError thrown by validateRequest or the HTTP parser. */
export function errorResponse(error: HandshakeError): HttpResponse {
  return rejectResponse(error.status, error.message, Object.entries(error.headers));
}

/**
 * Serialize a response head and body. A non-101 response gets
 * `Connection: close` (the handshake failed, the connection ends with it),
 * `Content-Length`, and `Content-Type: text/plain; charset=utf-8` when it has
 * a body, unless the caller set them.
 * @throws TypeError for a status outside 100-999, a header name that is not
 *   a token, a value or reason with CR, LF or other controls (response
 *   splitting), or a body on a 101 (the bytes after it are WebSocket frames).
 */
export function serializeResponse(res: HttpResponse): Buffer {
  if (!Number.isInteger(res.status) || res.status < 100 || res.status > 999) {
    throw new TypeError(`invalid status ${res.status}`);
  }
  if (!isValidFieldValue(res.reason)) throw new TypeError('the reason phrase contains control characters');
  const headers = res.headers.map(([name, value]): [string, string] => [name, value]);
  const find = (name: string) => headers.find(([n]) => n.toLowerCase() === name);
  if (res.status === 101) {
    if (res.body !== '') throw new TypeError('a 101 response cannot have a body');
  } else {
    const connection = find('connection');
    if (!connection) headers.push(['Connection', 'close']);
    else if (!hasToken(connection[1], 'close')) connection[1] = `${connection[1]}, close`;
    if (res.body !== '' && !find('content-type')) headers.push(['Content-Type', 'text/plain; charset=utf-8']);
    if (!find('content-length')) headers.push(['Content-Length', String(Buffer.byteLength(res.body))]);
  }
  let head = `HTTP/1.1 ${res.status} ${res.reason}\r\n`;
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
    if (!isValidFieldValue(value)) throw new TypeError(`header ${name} has control characters in its value`);
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  return res.body === '' ? headBytes : Buffer.concat([headBytes, Buffer.from(res.body, 'utf8')]);
}

export interface ClientHandshakeOptions {
  /** Host header value, with the port when it is not the scheme's default (RFC 6455 §4.1 item 4). */
  host: string;
  /** The resource name: path and query, e.g. "/chat?room=1" (RFC 6455 §3). */
  target: string;
  /** A fixed Sec-WebSocket-Key, for tests; generated when absent. */
  key?: string;
  /** Subprotocols to offer, most preferred first. */
  protocols?: string[];
  /** Extra request headers, e.g. Authorization or Cookie. */
  headers?: Record<string, string>;
  /** Origin header; browsers send it, other clients MAY (RFC 6455 §4.1 item 8). */
  origin?: string;
  /** Offer permessage-deflate (RFC 7692) with these options; undefined or false: no offer. */
  perMessageDeflate?: PerMessageDeflateOptions | false;
}

/** Headers the handshake writes itself; extra headers may not set them. */
const RESERVED_REQUEST_HEADERS = new Set([
  'host',
  'upgrade',
  'connection',
  'origin',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
  'content-length',
  'transfer-encoding',
]);

/**
 * Build the opening handshake request (RFC 6455 §4.1): its bytes, the key
 * sent, and the header lines (for a caller that sends the request through
 * node:http, e.g. with an Agent).
 * @throws TypeError for a target that is not an absolute path, a host, key,
 *   subprotocol or header that is invalid, duplicated subprotocols, or an
 *   extra header that the handshake sets itself.
 */
export function clientRequest(opts: ClientHandshakeOptions): { bytes: Buffer; key: string; headers: Array<[string, string]> } {
  const key = opts.key ?? generateKey();
  if (!isValidKey(key)) throw new TypeError('key must be 16 bytes, base64-encoded');
  // RFC 6455 §4.1 item 3: the request target is the resource name; RFC 6455
  // §3: no fragment. RFC 9112 §3.2: no whitespace or controls.
  if (!/^\/[\x21-\x22\x24-\x7e]*$/.test(opts.target)) {
    throw new TypeError('target must be an absolute path with an optional query, without spaces or fragment');
  }
  if (!HOST.test(opts.host)) throw new TypeError(`invalid host ${JSON.stringify(opts.host)}`);
  const protocols = opts.protocols ?? [];
  // RFC 6455 §4.1 item 10: subprotocols are tokens and MUST all be unique.
  for (const p of protocols) {
    if (!isToken(p)) throw new TypeError(`subprotocol ${JSON.stringify(p)} is not a token`);
  }
  if (new Set(protocols).size !== protocols.length) throw new TypeError('subprotocols must be unique');

  // RFC 6455 §4.1 items 2-11, in the order they are listed.
  const lines: Array<[string, string]> = [
    ['Host', opts.host],
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Key', key],
  ];
  if (opts.origin !== undefined) lines.push(['Origin', opts.origin]);
  lines.push(['Sec-WebSocket-Version', WEBSOCKET_VERSION]);
  if (protocols.length > 0) lines.push(['Sec-WebSocket-Protocol', protocols.join(', ')]);
  if (opts.perMessageDeflate) lines.push(['Sec-WebSocket-Extensions', clientOffer(opts.perMessageDeflate)]);
  for (const [name, value] of Object.entries(opts.headers ?? {})) {
    if (RESERVED_REQUEST_HEADERS.has(name.toLowerCase())) {
      throw new TypeError(`header ${name} is set by the handshake; use the matching option instead`);
    }
    lines.push([name, value]);
  }

  let head = `GET ${opts.target} HTTP/1.1\r\n`;
  for (const [name, value] of lines) {
    if (!isToken(name)) throw new TypeError(`header name ${JSON.stringify(name)} is not a token`);
    if (!isValidFieldValue(value)) throw new TypeError(`header ${name} has control characters in its value`);
    head += `${name}: ${value}\r\n`;
  }
  head += '\r\n';
  return { bytes: Buffer.from(head, 'latin1'), key, headers: lines };
}

/**
 * Validate the server's response to our handshake (RFC 6455 §4.1, "the
 * client MUST" list) and apply the negotiated subprotocol and extensions.
 * `protocol` is "" when the server selected none.
 * @throws HandshakeError with one of the client codes listed in the module
 *   comment; `status` is the status received.
 */
export function validateResponse(
  res: HttpResponseHead,
  key: string,
  opts: ClientHandshakeOptions,
): { protocol: string; deflate: PerMessageDeflate | null } {
  const { status, headers } = res;
  const failed = (code: string, message: string) => fail(code, status, message);

  // RFC 6455 §4.1: a status other than 101 is handled per HTTP (redirects,
  // authentication); the caller gets the headers to do so.
  if (status !== 101) {
    throw fail('UNEXPECTED_STATUS', status, `The server answered ${status} instead of 101`, headers.toRecord());
  }
  // RFC 6455 §4.1 item 2: Upgrade MUST be "websocket", case-insensitive.
  if (headers.get('upgrade')?.toLowerCase() !== 'websocket') {
    throw failed('INVALID_UPGRADE_HEADER', 'The response must have Upgrade: websocket');
  }
  // RFC 6455 §4.1 item 3: Connection MUST contain the token "Upgrade".
  if (!hasToken(headers.get('connection'), 'upgrade')) {
    throw failed('INVALID_CONNECTION_HEADER', 'The response must have Connection: Upgrade');
  }
  // RFC 6455 §4.1 item 4: Sec-WebSocket-Accept MUST be base64(SHA-1(key + GUID)).
  if (headers.get('sec-websocket-accept') !== acceptKey(key)) {
    throw failed('INVALID_ACCEPT', 'Sec-WebSocket-Accept does not match the key sent');
  }

  // RFC 6455 §4.1 item 5: only extensions present in the client's handshake.
  const extensionHeader = headers.get('sec-websocket-extensions');
  let accepted: ExtensionOffer[] = [];
  if (extensionHeader !== undefined) {
    try {
      accepted = parseExtensionHeader(extensionHeader);
    } catch (error) {
      if (error instanceof HandshakeError) throw failed(error.code, error.message);
      throw error;
    }
  }
  let deflate: PerMessageDeflate | null = null;
  for (const extension of accepted) {
    if (!opts.perMessageDeflate || extension.name !== 'permessage-deflate') {
      throw failed('UNEXPECTED_EXTENSION', `The server accepted extension ${extension.name}, which was not offered`);
    }
  }
  if (opts.perMessageDeflate && accepted.length > 0) {
    try {
      deflate = acceptServerResponse(accepted, opts.perMessageDeflate);
    } catch (error) {
      if (error instanceof HandshakeError) throw failed(error.code, error.message);
      throw error;
    }
  }

  // RFC 6455 §4.1 item 6: only a subprotocol present in the client's handshake.
  const protocol = headers.get('sec-websocket-protocol') ?? '';
  if (protocol !== '' && !(opts.protocols ?? []).includes(protocol)) {
    throw failed('UNEXPECTED_SUBPROTOCOL', 'The server selected a subprotocol that was not offered');
  }
  return { protocol, deflate };
}
