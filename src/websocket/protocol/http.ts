/**
 * Incremental parsing of an HTTP/1.1 message head (RFC 9112 §2 - §5): the
 * start line and the header fields, up to the empty line. Only what the
 * WebSocket opening handshake needs (RFC 6455 §4): no bodies, no chunked
 * encoding. Bytes in, parsed head out; no sockets.
 *
 * Error codes (all `HandshakeError`):
 * - `HEAD_TOO_LARGE`: the head passed the byte limit before it ended. Status
 *   431 for a request (RFC 6585 §5); 0 for a response (nothing to answer).
 * - `MALFORMED_HTTP`: a start line or header line that breaks RFC 9112.
 *   Status 400 for a request; 0 for a response.
 * - `HTTP_VERSION_NOT_SUPPORTED`: an HTTP major version other than 1. Status
 *   505 for a request (RFC 9110 §15.6.6); 0 for a response.
 */
import { HandshakeError } from './errors.js';

/**
 * Header fields of a message. Names are matched case-insensitively
 * (RFC 9110 §5.1); several lines with the same name read as one value joined
 * with ", " (RFC 9110 §5.3). `raw` keeps every line as received, in order,
 * with its original name case and its value stripped of surrounding
 * whitespace.
 */
export class Headers implements Iterable<[string, string]> {
  readonly raw: Array<[string, string]>;
  readonly #byName = new Map<string, string[]>();

  constructor(raw: Iterable<readonly [string, string]> = []) {
    this.raw = [];
    for (const [name, value] of raw) {
      this.raw.push([name, value]);
      const key = name.toLowerCase();
      const values = this.#byName.get(key);
      if (values) values.push(value);
      else this.#byName.set(key, [value]);
    }
  }

  /**
   * Build from another `Headers` (returned as is) or from a record such as
   * node's `IncomingMessage.headers`; array values become separate lines.
   */
  static from(init: Headers | Record<string, string | string[] | undefined>): Headers {
    if (init instanceof Headers) return init;
    const raw: Array<[string, string]> = [];
    for (const [name, value] of Object.entries(init)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) raw.push([name, v]);
      else raw.push([name, value]);
    }
    return new Headers(raw);
  }

  /**
   * The field value: every line with this name joined with ", ", or
   * undefined when absent. Not meaningful for Set-Cookie (RFC 9110 §5.3):
   * use `getAll` there.
   */
  get(name: string): string | undefined {
    const values = this.#byName.get(name.toLowerCase());
    return values === undefined ? undefined : values.length === 1 ? values[0] : values.join(', ');
  }

  /** The value of each line with this name, in order; empty when absent. */
  getAll(name: string): string[] {
    return [...(this.#byName.get(name.toLowerCase()) ?? [])];
  }

  has(name: string): boolean {
    return this.#byName.has(name.toLowerCase());
  }

  /** Lower-cased names with joined values, in order of first appearance. */
  *[Symbol.iterator](): Iterator<[string, string]> {
    for (const [name, values] of this.#byName) yield [name, values.join(', ')];
  }

  /** Lower-cased names to joined values. */
  toRecord(): Record<string, string> {
    return Object.fromEntries(this);
  }
}

export interface HttpRequestHead {
  method: string;
  target: string;
  /** "1.1", "1.0": the digits of HTTP-version (RFC 9112 §2.3). */
  httpVersion: string;
  headers: Headers;
}

export interface HttpResponseHead {
  httpVersion: string;
  status: number;
  reason: string;
  headers: Headers;
}

/** What `push` returns once the head is complete. */
export interface ParsedHead<T> {
  head: T;
  /** Bytes that followed the head in the last chunk (a view into it, not a copy). */
  rest: Buffer;
}

export interface HttpParserOptions {
  /** Largest head accepted, start line and final CRLF CRLF included. */
  maxHeadBytes?: number;
}

const CR = 0x0d;
const LF = 0x0a;

// RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
// "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. The one
// definition of the token grammar for the stack (headers, methods,
// subprotocols, extension names and parameters).
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TCHAR[c.charCodeAt(0)] = 1;
}

/** Whether the character code is a tchar (RFC 9110 §5.6.2). */
export function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** Whether `s` is a token: one or more tchar (RFC 9110 §5.6.2). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    if (!isTchar(s.charCodeAt(i))) return false;
  }
  return true;
}
/** RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT; HTTP-name is case-sensitive. */
const HTTP_VERSION = /^HTTP\/([0-9])\.([0-9])$/;
/** RFC 9112 §3.2: the request target holds no whitespace or control characters. */
const REQUEST_TARGET = /^[\x21-\x7e]+$/;

/** Which kind of head a parser reads. */
type HeadKind = 'request' | 'response';

/**
 * The common part of both parsers: splits bytes into lines as they arrive,
 * counts them against the limit, and hands each complete line to the
 * subclass. Only the current partial line is buffered.
 */
abstract class HeadParser<T> {
  readonly #maxHeadBytes: number;
  readonly #side: HeadKind;
  /** Bytes of the head seen so far, line terminators included. */
  #size = 0;
  /** The current line's bytes from earlier chunks (copied: callers may reuse their buffers). */
  #partial: Buffer[] = [];
  #sawStartLine = false;
  #done = false;
  protected fields: Array<[string, string]> = [];

  constructor(side: HeadKind, maxHeadBytes: number) {
    if (!Number.isSafeInteger(maxHeadBytes) || maxHeadBytes < 1) {
      throw new RangeError(`maxHeadBytes must be a positive integer, got ${maxHeadBytes}`);
    }
    this.#side = side;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /**
   * Feed the next chunk of bytes. Returns the head and the bytes after it once
   * the empty line ending the head has arrived, otherwise null.
   * @throws HandshakeError HEAD_TOO_LARGE, MALFORMED_HTTP, HTTP_VERSION_NOT_SUPPORTED
   *   (see the module comment for statuses).
   * @throws Error when called again after the head was returned.
   */
  push(chunk: Buffer): ParsedHead<T> | null {
    if (this.#done) throw new Error('the head is already complete; read the rest from the returned value');
    let from = 0;
    while (from < chunk.length) {
      const lf = chunk.indexOf(LF, from);
      const end = lf === -1 ? chunk.length : lf + 1;
      // Count before keeping anything, so a peer that never ends its head
      // costs at most maxHeadBytes of memory.
      this.#size += end - from;
      if (this.#size > this.#maxHeadBytes) {
        const start = this.#side === 'request' ? 'Request line' : 'Status line';
        throw this.error('HEAD_TOO_LARGE', 431, `${start} and headers must not exceed ${this.#maxHeadBytes} bytes`);
      }
      if (lf === -1) {
        this.#partial.push(Buffer.from(chunk.subarray(from)));
        return null;
      }
      // A line within one chunk is decoded in place (no Buffer view per
      // line: a handshake's garbage is what a burst of connections costs).
      let line = chunk;
      let lineStart = from;
      let lineEnd = lf;
      if (this.#partial.length > 0) {
        line = Buffer.concat([...this.#partial, chunk.subarray(from, lf)]);
        lineStart = 0;
        lineEnd = line.length;
        this.#partial = [];
      }
      from = end;
      // RFC 9112 §2.2: lines end with CRLF. A bare LF is accepted by some
      // parsers (a MAY); refusing it keeps our reading identical to any
      // strict intermediary's.
      if (lineEnd === lineStart || line[lineEnd - 1] !== CR) {
        throw this.error('MALFORMED_HTTP', 400, 'Lines must end with CRLF');
      }
      const text = line.toString('latin1', lineStart, lineEnd - 1);
      if (this.#line(text)) {
        this.#done = true;
        return { head: this.finish(), rest: chunk.subarray(end) };
      }
    }
    return null;
  }

  /** Handle one line without its CRLF; true when it was the empty line ending the head. */
  #line(text: string): boolean {
    if (!this.#sawStartLine) {
      // RFC 9112 §2.2: a server SHOULD ignore at least one empty line
      // received before the request-line.
      if (text === '') return false;
      this.startLine(text);
      this.#sawStartLine = true;
      return false;
    }
    if (text === '') return true;
    const first = text.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // RFC 9112 §5.2: obs-fold. A server MUST reject it with 400 (or unfold);
      // a user agent MUST replace it with SP. RFC 9112 §2.2: whitespace
      // before the first field line MUST be rejected or ignored: rejected.
      const last = this.fields[this.fields.length - 1];
      if (this.#side === 'request' || !last) {
        throw this.error('MALFORMED_HTTP', 400, 'Header lines must not be folded (obs-fold)');
      }
      const more = trimOws(text);
      if (!isValidFieldValue(more)) {
        throw this.error('MALFORMED_HTTP', 400, 'Header values must not contain control characters');
      }
      last[1] = more === '' ? last[1] : last[1] === '' ? more : `${last[1]} ${more}`;
      return false;
    }
    const colon = text.indexOf(':');
    if (colon === -1) throw this.error('MALFORMED_HTTP', 400, 'Header lines must contain a colon');
    const name = text.slice(0, colon);
    const lastChar = name.charCodeAt(name.length - 1);
    if (lastChar === 0x20 || lastChar === 0x09) {
      // RFC 9112 §5.1: a server MUST reject whitespace between the field name
      // and the colon with 400; a proxy MUST remove it before forwarding.
      throw this.error('MALFORMED_HTTP', 400, 'Header names must not be followed by whitespace');
    }
    // RFC 9110 §5.1: field-name = token.
    if (!isToken(name)) throw this.error('MALFORMED_HTTP', 400, 'Header names must be tokens');
    // RFC 9112 §5.1: OWS around the value is not part of it.
    const value = trimOws(text, colon + 1);
    if (!isValidFieldValue(value)) {
      throw this.error('MALFORMED_HTTP', 400, 'Header values must not contain control characters');
    }
    this.fields.push([name, value]);
    return false;
  }

  /** A HandshakeError; a response parser uses status 0 since nothing is answered. */
  protected error(code: string, requestStatus: number, message: string): HandshakeError {
    if (this.#side === 'request') return new HandshakeError(code, requestStatus, message);
    return new HandshakeError(code, 0, message);
  }

  /** Parse an HTTP-version (RFC 9112 §2.3) into "major.minor". */
  protected version(text: string): string {
    const match = HTTP_VERSION.exec(text);
    if (!match) throw this.error('MALFORMED_HTTP', 400, 'Invalid HTTP version');
    // RFC 9110 §15.6.6: 505 when the server refuses the major version. Only
    // HTTP/1.x messages have this syntax, so any other major is refused.
    if (match[1] !== '1') {
      throw this.error('HTTP_VERSION_NOT_SUPPORTED', 505, 'Only HTTP/1.x is supported');
    }
    return `${match[1]}.${match[2]}`;
  }

  protected abstract startLine(text: string): void;
  protected abstract finish(): T;
}

/**
 * Parses a request head (request-line and header fields, RFC 9112 §3, §5) as
 * bytes arrive. Default limit: 8192 bytes.
 */
export class HttpRequestParser extends HeadParser<HttpRequestHead> {
  #method = '';
  #target = '';
  #httpVersion = '';

  constructor(opts: HttpParserOptions = {}) {
    super('request', opts.maxHeadBytes ?? 8192);
  }

  protected startLine(text: string): void {
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version,
    // single spaces; anything else SHOULD get 400.
    const parts = text.split(' ');
    if (parts.length !== 3) throw this.error('MALFORMED_HTTP', 400, 'Invalid request line');
    const [method, target, version] = parts as [string, string, string];
    // RFC 9110 §9.1: method = token.
    if (!isToken(method)) throw this.error('MALFORMED_HTTP', 400, 'Invalid request method');
    // RFC 9112 §3.2: an invalid request-target SHOULD get 400.
    if (!REQUEST_TARGET.test(target)) throw this.error('MALFORMED_HTTP', 400, 'Invalid request target');
    this.#httpVersion = this.version(version);
    this.#method = method;
    this.#target = target;
  }

  protected finish(): HttpRequestHead {
    return {
      method: this.#method,
      target: this.#target,
      httpVersion: this.#httpVersion,
      headers: new Headers(this.fields),
    };
  }
}

/**
 * Parses a response head (status-line and header fields, RFC 9112 §4, §5) as
 * bytes arrive, on the client side. Folded header lines are unfolded as
 * RFC 9112 §5.2 asks of a user agent. Default limit: 16384 bytes.
 */
export class HttpResponseParser extends HeadParser<HttpResponseHead> {
  #httpVersion = '';
  #status = 0;
  #reason = '';

  constructor(opts: HttpParserOptions = {}) {
    super('response', opts.maxHeadBytes ?? 16384);
  }

  protected startLine(text: string): void {
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    // Some servers leave out the SP after the code when the reason is empty; accepted.
    const match = /^([^ ]*) ([0-9]{3})(?: (.*))?$/.exec(text);
    if (!match) throw this.error('MALFORMED_HTTP', 400, 'Invalid status line');
    this.#httpVersion = this.version(match[1]!);
    const reason = match[3] ?? '';
    // RFC 9112 §4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ), the field value alphabet.
    if (!isValidFieldValue(reason)) throw this.error('MALFORMED_HTTP', 400, 'Invalid status line');
    this.#status = Number(match[2]);
    this.#reason = reason;
  }

  protected finish(): HttpResponseHead {
    return {
      httpVersion: this.#httpVersion,
      status: this.#status,
      reason: this.#reason,
      headers: new Headers(this.fields),
    };
  }
}

/**
 * RFC 9110 §5.5: a field value holds VCHAR, obs-text (0x80-0xFF), SP and
 * HTAB; CR, LF, NUL and the other controls are invalid. Characters above
 * 0xFF cannot be sent as latin1 and are refused too.
 */
export function isValidFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ). */
function trimOws(value: string, start = 0): string {
  let end = value.length;
  while (start < end && isOws(value.charCodeAt(start))) start++;
  while (end > start && isOws(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ). */
function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Split a comma-separated list (RFC 9110 §5.6.1) into trimmed elements,
 * skipping the empty ones a recipient MUST ignore. Elements are not
 * unquoted: the lists the handshake reads hold tokens only.
 */
export function splitList(value: string): string[] {
  const out: string[] = [];
  for (const element of value.split(',')) {
    const trimmed = trimOws(element);
    if (trimmed !== '') out.push(trimmed);
  }
  return out;
}
