/**
 * permessage-deflate (RFC 7692): negotiation and the per-message transform.
 *
 * Design (why this is synchronous, unlike the sketch in ARCHITECTURE.md)
 * ----------------------------------------------------------------------
 * The frame protocol is synchronous and sans-I/O. Context takeover
 * (RFC 7692 §7.1.1) needs the LZ77 window to survive from one message to the
 * next, and Node's only stateful zlib objects are asynchronous streams. So
 * instead of a stream we make one-shot synchronous zlib calls and carry the
 * window ourselves as a preset dictionary:
 *
 * - Receiving: each message is inflated by a fresh raw inflater whose
 *   dictionary is the last 32 KiB of everything this connection inflated
 *   before (when the peer uses context takeover). DEFLATE's only state
 *   across blocks is that window, and RFC 7692 §7.2.1 makes every message
 *   end on a byte-aligned block boundary, so this reproduces a stateful
 *   inflater exactly. We always inflate with a 2^15 window: a window larger
 *   than the peer's `*_max_window_bits` is harmless.
 * - Sending: by default we reset our context for every message, which
 *   RFC 7692 §7.1.1.1 / §7.1.1.2 let a sender do whatever was negotiated.
 *   It costs no memory per connection, and equal inputs compress to equal
 *   outputs, so a broadcast compresses a message once for every connection
 *   with the same `shareKey`. Option `contextTakeover` turns takeover on
 *   where negotiation allows it, with the same dictionary trick on the
 *   deflate side (the payload is then not shareable).
 * - zlib cannot deflate with a raw window of 8 bits (it silently uses 9,
 *   which a peer limited to 8 by `*_max_window_bits=8` could not inflate).
 *   So an endpoint whose sending window is limited to 8 bits (a server
 *   asked for `server_max_window_bits=8`, a client told
 *   `client_max_window_bits=8`) accepts the extension but never compresses:
 *   sending a message uncompressed is always allowed (RFC 7692 §6), and it
 *   still inflates everything the peer compresses. Declining the offer
 *   instead would also be allowed, but a peer that only offers 8 would then
 *   get no compression at all in either direction.
 * - Bounded concurrent zlib work: all zlib work happens inline, one message
 *   at a time, on the caller's thread, so at most one zlib operation per
 *   process runs at any moment by construction; there is no queue of pending
 *   inflates or deflates to bound and message order is kept trivially. The
 *   price is that a large message blocks the event loop while it is
 *   (de)compressed; the size limit passed to `decompress` caps that, and
 *   zlib stops as soon as the output passes it (zip bombs are refused
 *   without inflating them).
 *
 * Defaults: `threshold` 1024 bytes (small messages gain little and cost a
 * zlib call each); `level` 1, because compression runs on the event loop and
 * level 1 gets most of the ratio of higher levels on chat-like text at a
 * fraction of the CPU; `memLevel` 8 (zlib's default).
 */

import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { HandshakeError, ProtocolError } from './errors.js';
import { type ExtensionOffer, formatExtension } from './extension.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** RFC 7692 §7.2.1 / §7.2.2: the tail of an empty stored block, stripped when sending and put back when receiving. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** The largest LZ77 window DEFLATE allows (RFC 1951 §2), i.e. 2^15. */
const MAX_WINDOW = 1 << 15;

/** Options for both sides. Each says what it means for a server and for a client. */
export interface PerMessageDeflateOptions {
  /**
   * Server: always include `server_no_context_takeover` in the response.
   * Client: offer it (the server must then reset its context, §7.1.1.1).
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: include `client_no_context_takeover` in the response, so the
   * client must reset its context and we keep no inflate window for it.
   * Client: offer it as a hint that we will not use context takeover.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Server: the largest window we compress with, 9..15 (8 is not possible
   * with zlib, see above). Client: offer `server_max_window_bits` with this
   * value, 8..15.
   */
  serverMaxWindowBits?: number;
  /**
   * Server: answer an offered `client_max_window_bits` with at most this
   * value, 8..15 (booleans are ignored). Client: a number offers it with
   * that value; `true` or unset offers it with no value; `false` does not
   * offer it.
   */
  clientMaxWindowBits?: number | boolean;
  /** Messages shorter than this many bytes are sent uncompressed. Default 1024. */
  threshold?: number;
  /** zlib compression level, -1..9. Default 1 (fast; see the file comment). */
  level?: number;
  /** zlib memLevel, 1..9. Default 8. */
  memLevel?: number;
  /**
   * Use context takeover for what we send when negotiation allows it.
   * Default false: better ratio on small similar messages, but 32 KiB more
   * per connection and the payload cannot be shared by a broadcast.
   */
  contextTakeover?: boolean;
}

/** The parameters in force after negotiation, defaults filled in. */
export interface PerMessageDeflateParams {
  /** The server resets its LZ77 context after each message (RFC 7692 §7.1.1.1). */
  serverNoContextTakeover: boolean;
  /** The client resets its LZ77 context after each message (RFC 7692 §7.1.1.2). */
  clientNoContextTakeover: boolean;
  /** log2 of the largest window the server compresses with, 8..15 (RFC 7692 §7.1.2.1). */
  serverMaxWindowBits: number;
  /** log2 of the largest window the client compresses with, 8..15 (RFC 7692 §7.1.2.2). */
  clientMaxWindowBits: number;
}

interface ResolvedOptions {
  threshold: number;
  level: number;
  memLevel: number;
  contextTakeover: boolean;
}

function checkRange(name: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`permessage-deflate option ${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

/** @throws RangeError on an option out of range. */
function resolveOptions(options: PerMessageDeflateOptions, isServer: boolean): ResolvedOptions {
  checkRange('serverMaxWindowBits', options.serverMaxWindowBits, isServer ? 9 : 8, 15);
  if (typeof options.clientMaxWindowBits === 'number') {
    checkRange('clientMaxWindowBits', options.clientMaxWindowBits, 8, 15);
  }
  const threshold = options.threshold ?? 1024;
  if (!(threshold >= 0)) throw new RangeError(`permessage-deflate option threshold must be >= 0, got ${threshold}`);
  checkRange('level', options.level, -1, 9);
  checkRange('memLevel', options.memLevel, 1, 9);
  return {
    threshold,
    level: options.level ?? 1,
    memLevel: options.memLevel ?? 8,
    contextTakeover: options.contextTakeover ?? false,
  };
}

/**
 * RFC 7692 §7.1.2.1 / §7.1.2.2: "a decimal integer value without leading
 * zeroes between 8 to 15, inclusive". Returns null for anything else.
 */
function parseWindowBits(value: string): number | null {
  return /^(?:[89]|1[0-5])$/.test(value) ? Number(value) : null;
}

/** The last (at most) 2^15 bytes of `window` followed by `data`, in a buffer of its own. */
function slide(window: Buffer | null, data: Buffer): Buffer | null {
  if (data.length >= MAX_WINDOW) return Buffer.from(data.subarray(data.length - MAX_WINDOW));
  const keep = Math.min(window?.length ?? 0, MAX_WINDOW - data.length);
  if (keep + data.length === 0) return null;
  const next = Buffer.allocUnsafe(keep + data.length);
  if (window && keep > 0) window.copy(next, 0, window.length - keep);
  data.copy(next, keep);
  return next;
}

function endsWithTail(buf: Buffer): boolean {
  const n = buf.length;
  return n >= 4 && buf[n - 4] === 0x00 && buf[n - 3] === 0x00 && buf[n - 2] === 0xff && buf[n - 1] === 0xff;
}

/** Turns what zlib throws while inflating into the documented protocol errors. */
function inflateError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  // The output passed maxOutputLength: zlib stopped early (RFC 6455 §10.4, 1009).
  if (code === 'ERR_BUFFER_TOO_LARGE') return new ProtocolError('MESSAGE_TOO_BIG');
  // RFC 7692 §6.2 / RFC 6455 §8.1: data that does not inflate is invalid payload (1007).
  // Z_MEM_ERROR is ours, not the peer's, so it goes up as an internal error.
  if (typeof code === 'string' && code.startsWith('Z_') && code !== 'Z_MEM_ERROR') {
    return new ProtocolError('INVALID_COMPRESSED_DATA', (err as Error).message);
  }
  return err;
}

/**
 * A negotiated permessage-deflate for one connection. Made by
 * `negotiateServer` or `acceptServerResponse`; holds the LZ77 windows, so
 * use one instance per connection, and call `compress` / `decompress` in
 * message order (with context takeover, the window depends on every
 * message before).
 */
export class PerMessageDeflate {
  readonly isServer: boolean;
  readonly params: Readonly<PerMessageDeflateParams>;
  /** The `Sec-WebSocket-Extensions` value for this negotiation (the server's response string). */
  readonly header: string;
  /**
   * Key identifying the compress parameters (window bits, level, memLevel,
   * threshold), so a broadcast can reuse one compressed payload across
   * connections with the same key; null when compress uses context
   * takeover (the payload then depends on this connection's history).
   */
  readonly shareKey: string | null;

  readonly #options: ResolvedOptions;
  readonly #sendWindowBits: number;
  readonly #canCompress: boolean;
  readonly #sendTakeover: boolean;
  readonly #receiveTakeover: boolean;
  #sendWindow: Buffer | null = null;
  #receiveWindow: Buffer | null = null;

  /**
   * @throws RangeError when a window size is outside 8..15 or an option is out of range.
   */
  constructor(isServer: boolean, params: PerMessageDeflateParams, header: string, options: PerMessageDeflateOptions = {}) {
    this.#options = resolveOptions(options, isServer);
    checkRange('serverMaxWindowBits', params.serverMaxWindowBits, 8, 15);
    checkRange('clientMaxWindowBits', params.clientMaxWindowBits, 8, 15);
    this.isServer = isServer;
    this.params = Object.freeze({ ...params });
    this.header = header;
    this.#sendWindowBits = isServer ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    // zlib cannot deflate with a raw 8-bit window (see the file comment).
    this.#canCompress = this.#sendWindowBits >= 9;
    // RFC 7692 §7.1.1.1 / §7.1.1.2: with *_no_context_takeover the sender
    // MUST start each message with an empty LZ77 window.
    const ourNoTakeover = isServer ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    this.#sendTakeover = this.#options.contextTakeover && !ourNoTakeover;
    // The peer keeps its window unless its *_no_context_takeover was agreed.
    this.#receiveTakeover = !(isServer ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    const { level, memLevel, threshold } = this.#options;
    this.shareKey = !this.#canCompress
      ? 'uncompressed'
      : this.#sendTakeover
        ? null
        : `deflate;w=${this.#sendWindowBits};l=${level};m=${memLevel};t=${threshold}`;
  }

  /**
   * Returns the compressed payload (trailer stripped) or null when the
   * message should go uncompressed: shorter than `threshold`, compression
   * impossible (8-bit window), or the result would not be smaller.
   * The caller must then send every non-null result, in order, with RSV1
   * set on the first frame (RFC 7692 §6).
   */
  compress(data: Buffer): Buffer | null {
    if (!this.#canCompress || data.length < this.#options.threshold) return null;
    const dictionary = this.#sendTakeover ? this.#sendWindow : null;
    // RFC 7692 §7.2.1: compress with DEFLATE, end with an empty stored block
    // (Z_SYNC_FLUSH does that) ...
    const out = deflateRawSync(data, {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      windowBits: this.#sendWindowBits,
      level: this.#options.level,
      memLevel: this.#options.memLevel,
      ...(dictionary ? { dictionary } : {}),
    });
    // ... and remove the 4 octets 00 00 ff ff from the tail end.
    const payload = endsWithTail(out) ? out.subarray(0, out.length - TAIL.length) : out;
    // RFC 7692 §6: sending a message uncompressed is always allowed; it
    // spares the peer an inflate when deflating did not help.
    if (payload.length >= data.length) return null;
    if (this.#sendTakeover) this.#sendWindow = slide(this.#sendWindow, data);
    return payload;
  }

  /**
   * Inflate a whole received message payload (all fragments concatenated).
   * An empty payload is valid and inflates to nothing. Bytes after a
   * DEFLATE block with BFINAL set are ignored (RFC 7692 §7.2.3.4 shows a
   * sender may finish with BFINAL).
   *
   * @throws ProtocolError `MESSAGE_TOO_BIG` if the result would exceed
   *   `maxSize` bytes (zlib stops as soon as it does).
   * @throws ProtocolError `INVALID_COMPRESSED_DATA` on data that does not inflate.
   */
  decompress(data: Buffer, maxSize: number): Buffer {
    const dictionary = this.#receiveTakeover ? this.#receiveWindow : null;
    // maxOutputLength must be an integer in 1..kMaxLength; 0 is checked below.
    const limit = Math.max(1, Math.min(Math.floor(maxSize), bufferConstants.MAX_LENGTH));
    let out: Buffer;
    try {
      // RFC 7692 §7.2.2: append 00 00 ff ff to the payload and inflate.
      out = inflateRawSync(Buffer.concat([data, TAIL]), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        windowBits: 15,
        maxOutputLength: limit,
        ...(dictionary ? { dictionary } : {}),
      });
    } catch (err) {
      throw inflateError(err);
    }
    if (out.length > maxSize) throw new ProtocolError('MESSAGE_TOO_BIG');
    // RFC 7692 §7.1.1: with context takeover the peer's next message may
    // refer back into this one, so keep the tail of what we inflated.
    if (this.#receiveTakeover) this.#receiveWindow = slide(this.#receiveWindow, out);
    return out;
  }
}

// ---------------------------------------------------------------------------
// Server side

interface ParsedOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/** Reads one offer's parameters; null when RFC 7692 §7 says the server MUST decline it. */
function parseOffer(offer: ExtensionOffer): ParsedOffer | null {
  const parsed: ParsedOffer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of offer.params) {
    // RFC 7692 §7: decline an offer with multiple parameters of the same name.
    if (seen.has(name)) return null;
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        // RFC 7692 §7.1.1.1: "This extension parameter has no value."
        if (value !== true) return null;
        parsed.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        // RFC 7692 §7.1.1.2: no value.
        if (value !== true) return null;
        parsed.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        // RFC 7692 §7.1.2.1: a value is required, 8..15 without leading zeroes.
        const bits = value === true ? null : parseWindowBits(value);
        if (bits === null) return null;
        parsed.serverMaxWindowBits = bits;
        break;
      }
      case 'client_max_window_bits': {
        // RFC 7692 §7.1.2.2: no value, or 8..15 without leading zeroes.
        if (value === true) {
          parsed.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === null) return null;
        parsed.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7: decline an offer with a parameter not defined for offers.
        return null;
    }
  }
  return parsed;
}

function acceptOffer(offer: ExtensionOffer, options: PerMessageDeflateOptions): PerMessageDeflate | null {
  const parsed = parseOffer(offer);
  if (!parsed) return null;
  const response: Array<[string, string | true]> = [];

  // RFC 7692 §7.1.1.1: a server accepts an offer with server_no_context_takeover
  // by including it in the response, and MAY include it even if not offered.
  const serverNoContextTakeover = parsed.serverNoContextTakeover || options.serverNoContextTakeover === true;
  if (serverNoContextTakeover) response.push(['server_no_context_takeover', true]);

  // RFC 7692 §7.1.1.2: a server MAY include client_no_context_takeover; we do
  // when our options want it, and echo the client's hint so that it binds
  // (then we need no inflate window for this client).
  const clientNoContextTakeover = parsed.clientNoContextTakeover || options.clientNoContextTakeover === true;
  if (clientNoContextTakeover) response.push(['client_no_context_takeover', true]);

  // RFC 7692 §7.1.2.1: accepting an offered server_max_window_bits means
  // including it with the same or a smaller value; a server MAY also include
  // it when it was not offered (we do only when it limits anything).
  let serverMaxWindowBits = 15;
  if (parsed.serverMaxWindowBits !== undefined) {
    serverMaxWindowBits = Math.min(parsed.serverMaxWindowBits, options.serverMaxWindowBits ?? 15);
    // 8 is accepted; zlib cannot deflate with it, so this connection then
    // sends uncompressed (see the file comment).
    response.push(['server_max_window_bits', String(serverMaxWindowBits)]);
  } else if (options.serverMaxWindowBits !== undefined && options.serverMaxWindowBits < 15) {
    serverMaxWindowBits = options.serverMaxWindowBits;
    response.push(['server_max_window_bits', String(serverMaxWindowBits)]);
  }

  // RFC 7692 §7.1.2.2: without client_max_window_bits in the offer the
  // response MUST NOT include it; with it, the server MAY include a value
  // equal to or smaller than the offered one (any 8..15 if it had none).
  let clientMaxWindowBits = typeof parsed.clientMaxWindowBits === 'number' ? parsed.clientMaxWindowBits : 15;
  if (parsed.clientMaxWindowBits !== undefined && typeof options.clientMaxWindowBits === 'number') {
    clientMaxWindowBits = Math.min(clientMaxWindowBits, options.clientMaxWindowBits);
    response.push(['client_max_window_bits', String(clientMaxWindowBits)]);
  }

  const params: PerMessageDeflateParams = {
    serverNoContextTakeover,
    clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
  const header = formatExtension({ name: PERMESSAGE_DEFLATE, params: response });
  return new PerMessageDeflate(true, params, header, options);
}

/**
 * Server side (RFC 7692 §5, §7): pick the first acceptable permessage-deflate
 * offer, in the client's order of preference; unknown extensions and
 * unacceptable offers (unknown, duplicate or invalid parameters) are declined. Returns null when
 * nothing is accepted; otherwise `header` is the response value.
 *
 * @throws RangeError when `options` are out of range (a programming error).
 */
export function negotiateServer(offers: ExtensionOffer[], options: PerMessageDeflateOptions): PerMessageDeflate | null {
  resolveOptions(options, true);
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    const accepted = acceptOffer(offer, options);
    if (accepted) return accepted;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Client side

/** The client_max_window_bits we offer: a number, true (no value), or false (not offered). */
function offeredClientMaxWindowBits(options: PerMessageDeflateOptions): number | boolean {
  return options.clientMaxWindowBits ?? true;
}

/**
 * Client side: the `Sec-WebSocket-Extensions` value to offer. By default it
 * is `permessage-deflate; client_max_window_bits` (we can compress with any
 * window the server asks for).
 *
 * @throws RangeError when `options` are out of range.
 */
export function clientOffer(options: PerMessageDeflateOptions): string {
  resolveOptions(options, false);
  const params: Array<[string, string | true]> = [];
  if (options.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  // RFC 7692 §7.1.1.2: the hint tells the server we reset our context after
  // every message (true unless `contextTakeover` is on), so it need keep no
  // inflate window for us.
  if (options.clientNoContextTakeover ?? options.contextTakeover !== true) {
    params.push(['client_no_context_takeover', true]);
  }
  if (options.serverMaxWindowBits !== undefined) {
    params.push(['server_max_window_bits', String(options.serverMaxWindowBits)]);
  }
  const clientBits = offeredClientMaxWindowBits(options);
  if (clientBits !== false) {
    params.push(['client_max_window_bits', clientBits === true ? true : String(clientBits)]);
  }
  return formatExtension({ name: PERMESSAGE_DEFLATE, params });
}

function badResponse(reason: string): HandshakeError {
  // The client has no HTTP response to send, hence status 0.
  return new HandshakeError('INVALID_EXTENSION_RESPONSE', 0, `invalid Sec-WebSocket-Extensions response: ${reason}`);
}

/**
 * Client side: validate the server's response (RFC 6455 §4.1, RFC 7692 §5,
 * §7.1) against what `clientOffer(options)` offered. `response` is the
 * parsed `Sec-WebSocket-Extensions` of the server's response; since the
 * client offers only permessage-deflate, any other extension in it was not
 * offered. Returns null if the response has no permessage-deflate.
 *
 * @throws HandshakeError `INVALID_EXTENSION_RESPONSE` (status 0) if the
 *   server accepted an extension we did not offer, more than one
 *   permessage-deflate, an unknown, duplicate or invalid parameter,
 *   server_max_window_bits above what we asked or missing when we asked,
 *   server_no_context_takeover missing when we asked,
 *   client_max_window_bits when we did not offer it or above our value.
 * @throws RangeError when `options` are out of range.
 */
export function acceptServerResponse(response: ExtensionOffer[], options: PerMessageDeflateOptions): PerMessageDeflate | null {
  resolveOptions(options, false);
  for (const ext of response) {
    // RFC 6455 §4.1 (client step 5): an extension that was not in the
    // client's handshake MUST fail the connection.
    if (ext.name !== PERMESSAGE_DEFLATE) throw badResponse(`extension not offered: ${ext.name}`);
  }
  const [accepted, ...more] = response;
  if (!accepted) return null;
  // RFC 7692 §5: we sent one offer, so at most one element may accept it.
  if (more.length > 0) throw badResponse('more than one permessage-deflate');

  const offeredClientBits = offeredClientMaxWindowBits(options);
  const params: PerMessageDeflateParams = {
    serverNoContextTakeover: false,
    // RFC 7692 §7.1.1.2: offering it told the server we will not use takeover.
    clientNoContextTakeover: options.clientNoContextTakeover === true,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: typeof offeredClientBits === 'number' ? offeredClientBits : 15,
  };
  let sawServerMaxWindowBits = false;
  const seen = new Set<string>();
  for (const [name, value] of accepted.params) {
    // RFC 7692 §7.1: fail on multiple parameters with the same name.
    if (seen.has(name)) throw badResponse(`duplicate parameter ${name}`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        // RFC 7692 §7.1.1.1: no value; a server MAY include it unasked.
        if (value !== true) throw badResponse(`${name} must have no value`);
        params.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        // RFC 7692 §7.1.1.2: no value; a server MAY include it unasked.
        if (value !== true) throw badResponse(`${name} must have no value`);
        params.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits': {
        const bits = value === true ? null : parseWindowBits(value);
        if (bits === null) throw badResponse(`invalid ${name}`);
        // RFC 7692 §7.1.2.1: the same or a smaller value than offered.
        if (options.serverMaxWindowBits !== undefined && bits > options.serverMaxWindowBits) {
          throw badResponse(`${name}=${bits} is above the offered ${options.serverMaxWindowBits}`);
        }
        params.serverMaxWindowBits = bits;
        sawServerMaxWindowBits = true;
        break;
      }
      case 'client_max_window_bits': {
        // RFC 7692 §7.1.2.2: MUST NOT be in a response to an offer without it.
        if (offeredClientBits === false) throw badResponse(`${name} was not offered`);
        // In a response it has a value, 8..15 without leading zeroes.
        const bits = value === true ? null : parseWindowBits(value);
        if (bits === null) throw badResponse(`invalid ${name}`);
        // ... equal to or smaller than the offered value, if there was one.
        if (typeof offeredClientBits === 'number' && bits > offeredClientBits) {
          throw badResponse(`${name}=${bits} is above the offered ${offeredClientBits}`);
        }
        params.clientMaxWindowBits = bits;
        break;
      }
      default:
        // RFC 7692 §7.1: fail on a parameter not defined for responses.
        throw badResponse(`unknown parameter ${name}`);
    }
  }
  // RFC 7692 §7.1.1.1: a server accepts an offer with server_no_context_takeover
  // only by including it in the response.
  if (options.serverNoContextTakeover && !params.serverNoContextTakeover) {
    throw badResponse('server_no_context_takeover was offered but not accepted');
  }
  // RFC 7692 §7.1.2.1: likewise for an offered server_max_window_bits.
  if (options.serverMaxWindowBits !== undefined && !sawServerMaxWindowBits) {
    throw badResponse('server_max_window_bits was offered but not accepted');
  }
  return new PerMessageDeflate(false, params, formatExtension(accepted), options);
}
