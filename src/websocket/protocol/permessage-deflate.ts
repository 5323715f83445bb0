/**
 * permessage-deflate (RFC 7692): negotiation and the per-message transform.
 *
 * Design: streaming zlib, asynchronous, in order, bounded
 * --------------------------------------------------------
 * Context takeover (RFC 7692 §7.1.1) needs the LZ77 window to survive from
 * one message to the next: a stateful zlib stream per direction. Node's
 * zlib streams run on libuv's threadpool and answer through callbacks, so
 * this transform is asynchronous; the frame parser stays synchronous and
 * sans-I/O, and only this message-level step waits (protocol.ts keeps every
 * event and every outgoing frame in order behind a message being
 * (de)compressed). Why not one-shot synchronous calls: each made a new
 * native handle (tens of microseconds even for a 92-byte message), re-hashed
 * a 32 KiB dictionary to emulate takeover, and a large message held the
 * event loop for its whole (de)compression.
 *
 * - Receiving: when the peer keeps its context (no `*_no_context_takeover`
 *   agreed for it), this connection owns an inflate stream, made at its
 *   first compressed message and kept: its window is the state. Otherwise a
 *   stream is borrowed from a small process-wide pool for one message and
 *   reset after it, so a connection that is not inflating holds no zlib
 *   memory. We always inflate with a 2^15 window: a window larger than the
 *   peer's `*_max_window_bits` is harmless.
 * - Sending: by default we reset our context for every message, which
 *   RFC 7692 §7.1.1.1 / §7.1.1.2 let a sender do whatever was negotiated:
 *   streams come from the pool (no memory per connection), and equal inputs
 *   compress to equal outputs, so a broadcast compresses a message once for
 *   every connection with the same `shareKey`. Option `contextTakeover`
 *   gives the connection its own deflate stream where negotiation allows
 *   (better ratio on similar messages; the payload is then not shareable).
 * - zlib cannot deflate with a raw window of 8 bits (it silently uses 9,
 *   which a peer limited to 8 by `*_max_window_bits=8` could not inflate).
 *   So an endpoint whose sending window is limited to 8 bits accepts the
 *   extension but never compresses: sending a message uncompressed is always
 *   allowed (RFC 7692 §6), and it still inflates everything the peer
 *   compresses. Declining the offer instead would also be allowed, but a
 *   peer that only offers 8 would then get no compression at all.
 * - Order and bounds: each connection runs its jobs one at a time per
 *   direction, in order; all connections together run at most
 *   `ZLIB_CONCURRENCY` jobs at once (the rest wait in a queue), so a burst
 *   of compressed traffic cannot flood the threadpool that file and DNS
 *   work share. zlib hands output over in 64 KiB chunks, one threadpool
 *   round trip each, so even a large message never holds the event loop
 *   for more than a chunk's worth of work per turn.
 * - Small messages (inputs up to 4 KiB) skip the threadpool: the same
 *   stream is driven synchronously through its native handle, the way
 *   Node's own `deflateRawSync` drives one. A threadpool round trip costs
 *   several times zlib's work on a chat-sized message, and at most 4 MiB
 *   can come out of 4 KiB (the size limit stops it sooner), a few
 *   milliseconds. Those handle methods are not public API: where a Node
 *   lacks them, everything takes the asynchronous path, with the same
 *   bytes.
 * - The decompression-bomb cap: inflation stops as soon as the output passes
 *   the message size limit (1009); the stream is discarded.
 *
 * Defaults: `threshold` 1024 bytes (small messages gain little and cost a
 * zlib job each); `level` 1 (most of the ratio of higher levels on chat-like
 * text at a fraction of the CPU); `memLevel` 8 (zlib's default).
 */

import {
  constants as zlibConstants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
} from 'node:zlib';
import { HandshakeError, ProtocolError } from './errors.js';
import { type ExtensionOffer, formatExtension } from './extension.js';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** RFC 7692 §7.2.1 / §7.2.2: the tail of an empty stored block, stripped when sending and put back when receiving. */
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
/** zlib's output chunk: one threadpool round trip produces at most this much. */
const CHUNK = 64 * 1024;
/**
 * Inputs up to this size are (de)compressed synchronously, on the event
 * loop, when Node's zlib handle allows it (see `syncHandle`): a threadpool
 * round trip costs more than zlib's work on a small message (about 15 us of
 * CPU against 2-5 us), and a 4 KiB input inflates (at DEFLATE's maximum
 * ratio, 1032:1) to at most 4 MiB, a few milliseconds of work; the size
 * limit stops it earlier.
 */
const SYNC_INPUT_LIMIT = 4 * 1024;
/** The most zlib jobs running at once in the process (libuv's threadpool has 4 threads by default). */
export const ZLIB_CONCURRENCY = 8;
/** Idle pooled streams kept per parameter set. */
const POOL_SIZE = ZLIB_CONCURRENCY;

/** Options for both sides. Each says what it means for a server and for a client. */
export interface PerMessageDeflateOptions {
  /**
   * Server: always include `server_no_context_takeover` in the response.
   * Client: offer it (the server must then reset its context, §7.1.1.1).
   */
  serverNoContextTakeover?: boolean;
  /**
   * Server: include `client_no_context_takeover` in the response, so the
   * client must reset its context and we keep no inflate stream for it.
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
   * Default false: better ratio on small similar messages, but a deflate
   * stream (about 256 KiB at memLevel 8) per connection, and the payload
   * cannot be shared by a broadcast.
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

function endsWithTail(buf: Buffer): boolean {
  const n = buf.length;
  return n >= 4 && buf[n - 4] === 0x00 && buf[n - 3] === 0x00 && buf[n - 2] === 0xff && buf[n - 1] === 0xff;
}

/** Turns what zlib reports while inflating into the documented protocol errors. */
function inflateError(err: unknown): Error {
  const code = (err as { code?: unknown } | null)?.code;
  // RFC 7692 §6.2 / RFC 6455 §8.1: data that does not inflate is invalid payload (1007).
  // Z_MEM_ERROR is ours, not the peer's, so it goes up as an internal error.
  if (typeof code === 'string' && code.startsWith('Z_') && code !== 'Z_MEM_ERROR') {
    return new ProtocolError('INVALID_COMPRESSED_DATA', (err as Error).message);
  }
  return err instanceof Error ? err : new Error(String(err));
}

// ---------------------------------------------------------------------------
// zlib jobs: the limiter and the stream pool

/**
 * Bounds the zlib jobs running at once across the process; the others wait
 * in arrival order. A job calls `release` exactly once when it is done.
 */
export class ZlibLimiter {
  readonly concurrency: number;
  #running = 0;
  #waiting: Array<() => void> = [];

  constructor(concurrency: number) {
    this.concurrency = concurrency;
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running;
  }

  /** Jobs waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  run(job: (release: () => void) => void): void {
    if (this.#running >= this.concurrency) {
      this.#waiting.push(() => this.run(job));
      return;
    }
    this.#running++;
    let released = false;
    job(() => {
      if (released) return;
      released = true;
      this.#running--;
      this.#waiting.shift()?.();
    });
  }
}

/** The process-wide limiter of zlib work (`ZLIB_CONCURRENCY` jobs at once). */
export const zlibLimiter = new ZlibLimiter(ZLIB_CONCURRENCY);

type ZlibStream = DeflateRaw | InflateRaw;

/** Idle streams without context takeover, by parameters, reused after a reset. */
const pools = new Map<string, ZlibStream[]>();

function takeFromPool(key: string): ZlibStream | undefined {
  return pools.get(key)?.pop();
}

function returnToPool(key: string, stream: ZlibStream): void {
  let pool = pools.get(key);
  if (!pool) {
    pool = [];
    pools.set(key, pool);
  }
  if (pool.length >= POOL_SIZE) {
    stream.destroy();
    return;
  }
  // RFC 7692 §7.1.1: the next message starts from an empty window.
  stream.reset();
  pool.push(stream);
}

/**
 * Pass `input` through `stream` and flush (Z_SYNC_FLUSH, set at creation):
 * the output of exactly this input, in 64 KiB chunks. Stops with
 * `tooBig()`'s error as soon as the output passes `maxOutput`.
 */
function transform(
  stream: ZlibStream,
  input: Buffer,
  maxOutput: number,
  done: (error: Error | null, output: Buffer, ended: boolean, produced: number) => void,
): void {
  const chunks: Buffer[] = [];
  let total = 0;
  let finished = false;
  // A DEFLATE block with BFINAL ends the stream (RFC 1951 §3.2.3): zlib then
  // ignores further input, so the stream cannot serve another message.
  let ended = false;
  const onEnd = () => {
    ended = true;
  };
  const finish = (error: Error | null) => {
    if (finished) return;
    finished = true;
    stream.removeListener('data', onData);
    stream.removeListener('error', onError);
    stream.removeListener('end', onEnd);
    done(error, error ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), ended, total);
  };
  const onData = (chunk: Buffer) => {
    total += chunk.length;
    if (total > maxOutput) {
      // RFC 6455 §10.4: refuse at once, without inflating the rest (a zip
      // bomb would otherwise be inflated whole); the stream is discarded.
      stream.destroy();
      finish(new ProtocolError('MESSAGE_TOO_BIG'));
      return;
    }
    chunks.push(chunk);
  };
  const onError = (error: Error) => finish(error);
  stream.on('data', onData);
  stream.on('error', onError);
  stream.on('end', onEnd);
  // The 'data' events of this input all come before the write's callback.
  stream.write(input, (error) => finish(error ?? null));
}

const EMPTY = Buffer.alloc(0);

function ignore(): void {}

/**
 * A stream whose failures are read where they happen (transform's listener,
 * `errored` after a synchronous call): its 'error' event, emitted a tick
 * later, must not be an unhandled one.
 */
function quiet<T extends ZlibStream>(stream: T): T {
  stream.on('error', ignore);
  return stream;
}

/** What the synchronous path needs of a zlib stream's native handle. */
interface SyncHandle {
  writeSync(flush: number, input: Buffer, inOff: number, inLen: number, out: Buffer, outOff: number, outLen: number): void;
}

/**
 * The native handle of a Node zlib stream and the state array it reports
 * through ([0] output space left, [1] input left), or null when this Node
 * does not have them. These are what Node's own one-shot functions
 * (`deflateRawSync`) drive; they are not documented, so their absence (or
 * any change of shape) makes us fall back to the public asynchronous
 * stream API, which gives the same bytes.
 */
function syncHandle(stream: ZlibStream): { handle: SyncHandle; state: Uint32Array } | null {
  if (!syncEnabled) return null;
  const internals = stream as unknown as { _handle?: { writeSync?: unknown } | null; _writeState?: unknown };
  const handle = internals._handle;
  if (!handle || typeof handle.writeSync !== 'function' || !(internals._writeState instanceof Uint32Array)) return null;
  return { handle: handle as SyncHandle, state: internals._writeState };
}

let syncEnabled = true;

/** For tests: turn the synchronous path off (everything then goes through the threadpool) or back on. */
export function setSynchronousZlib(enabled: boolean): void {
  syncEnabled = enabled;
}

/**
 * `transform`, synchronously: the same bytes out, with Z_SYNC_FLUSH, on the
 * event loop. Returns null when the stream offers no synchronous handle.
 */
function transformSync(
  stream: ZlibStream,
  input: Buffer,
  maxOutput: number,
): { error: Error | null; output: Buffer; ended: boolean; produced: number } | null {
  const sync = syncHandle(stream);
  if (sync === null) return null;
  const { handle, state } = sync;
  const chunks: Buffer[] = [];
  let total = 0;
  let inOff = 0;
  let availIn = input.length;
  // A first output buffer sized for the usual case: compressed data a bit
  // larger than its input at worst, inflated data a few times larger.
  let size = Math.min(CHUNK, Math.max(256, input.length * 4));
  let out = Buffer.allocUnsafe(size);
  let outOff = 0;
  for (;;) {
    handle.writeSync(zlibConstants.Z_SYNC_FLUSH, input, inOff, availIn, out, outOff, size - outOff);
    // zlib reports a failure by destroying the stream with the error.
    if (stream.destroyed) return { error: stream.errored ?? new Error('zlib failed'), output: EMPTY, ended: false, produced: total };
    const availOut = state[0]!;
    const availInAfter = state[1]!;
    const have = size - outOff - availOut;
    if (have > 0) {
      chunks.push(out.subarray(outOff, outOff + have));
      total += have;
      outOff += have;
      if (total > maxOutput) {
        // RFC 6455 §10.4: stop at the limit (see transform).
        stream.destroy();
        return { error: new ProtocolError('MESSAGE_TOO_BIG'), output: EMPTY, ended: false, produced: total };
      }
    }
    inOff += availIn - availInAfter;
    availIn = availInAfter;
    if (availOut !== 0) {
      // Output space left but input unread: a DEFLATE block with BFINAL
      // ended the stream (what the asynchronous path sees as 'end').
      const ended = availIn > 0;
      return { error: null, output: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), ended, produced: total };
    }
    // The output buffer is full: zlib has more; go on with a new one.
    size = CHUNK;
    out = Buffer.allocUnsafe(size);
    outOff = 0;
  }
}

interface Job {
  input: Buffer;
  maxOutput: number;
  done: (error: Error | null, output: Buffer) => void;
}

/**
 * One direction of one connection: its jobs in order, one at a time, each
 * on this connection's own stream (context takeover) or on a pooled one.
 */
class Direction {
  readonly #make: () => ZlibStream;
  readonly #poolKey: string | null;
  #own: ZlibStream | null = null;
  #queue: Job[] = [];
  #busy = false;
  #closed = false;
  /** Bytes this direction's zlib stream produced, for monitoring and tests. */
  produced = 0;

  /** `poolKey` null: the connection keeps its own stream (context takeover). */
  constructor(make: () => ZlibStream, poolKey: string | null) {
    this.#make = make;
    this.#poolKey = poolKey;
  }

  /** Jobs queued or running. */
  get pending(): number {
    return this.#queue.length + (this.#busy ? 1 : 0);
  }

  push(job: Job): void {
    this.#queue.push(job);
    if (!this.#busy) this.#next();
  }

  close(): void {
    this.#closed = true;
    if (!this.#busy) this.#release();
  }

  #release(): void {
    this.#own?.destroy();
    this.#own = null;
  }

  #next(): void {
    // #busy stays set while a job's callback runs, so that a push() from
    // there queues behind the jobs already waiting.
    this.#busy = true;
    for (;;) {
      const job = this.#queue.shift();
      if (!job) break;
      // Jobs with no input need no zlib: done at once, in order.
      if (job.input.length === 0) {
        job.done(null, EMPTY);
        continue;
      }
      if (job.input.length <= SYNC_INPUT_LIMIT && syncEnabled) {
        let stream: ZlibStream;
        try {
          stream = this.#acquire();
        } catch (error) {
          job.done(error as Error, EMPTY);
          continue;
        }
        const result = transformSync(stream, job.input, job.maxOutput);
        if (result !== null) {
          this.#settle(stream, result.error, result.ended, result.produced);
          job.done(result.error, result.output);
          continue;
        }
        this.#putBack(stream);
      }
      this.#runAsync(job);
      return;
    }
    this.#busy = false;
    if (this.#closed) this.#release();
  }

  /** The stream for the next job: this connection's own, or one from the pool. */
  #acquire(): ZlibStream {
    const key = this.#poolKey;
    if (key !== null) return takeFromPool(key) ?? this.#make();
    this.#own ??= this.#make();
    return this.#own;
  }

  /** A stream not used after all goes back where it came from. */
  #putBack(stream: ZlibStream): void {
    if (this.#poolKey !== null) returnToPool(this.#poolKey, stream);
  }

  /** After a job: count its output; keep or return a sound stream, drop a failed or ended one. */
  #settle(stream: ZlibStream, error: Error | null, ended: boolean, produced: number): void {
    this.produced += produced;
    if (error || ended || stream.destroyed) {
      // A stream that failed or ended is in no state to be used again.
      stream.destroy();
      if (this.#poolKey === null) this.#own = null;
    } else this.#putBack(stream);
  }

  /** A job on the threadpool, one at a time per direction, within the process-wide limit. */
  #runAsync(job: Job): void {
    zlibLimiter.run((release) => {
      let stream: ZlibStream;
      try {
        stream = this.#acquire();
      } catch (error) {
        release();
        job.done(error as Error, EMPTY);
        this.#next();
        return;
      }
      transform(stream, job.input, job.maxOutput, (error, output, ended, produced) => {
        release();
        this.#settle(stream, error, ended, produced);
        job.done(error, output);
        this.#next();
      });
    });
  }
}

/**
 * A negotiated permessage-deflate for one connection. Made by
 * `negotiateServer` or `acceptServerResponse`. Owns this connection's zlib
 * state: use one instance per connection, and `close()` it when the
 * connection ends. `compress` and `decompress` complete asynchronously, each
 * direction in the order of the calls.
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
  readonly #canCompress: boolean;
  readonly #deflate: Direction;
  readonly #inflate: Direction;

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
    const sendWindowBits = isServer ? params.serverMaxWindowBits : params.clientMaxWindowBits;
    // zlib cannot deflate with a raw 8-bit window (see the file comment).
    this.#canCompress = sendWindowBits >= 9;
    // RFC 7692 §7.1.1.1 / §7.1.1.2: with *_no_context_takeover the sender
    // MUST start each message with an empty LZ77 window.
    const ourNoTakeover = isServer ? params.serverNoContextTakeover : params.clientNoContextTakeover;
    const sendTakeover = this.#options.contextTakeover && !ourNoTakeover;
    // The peer keeps its window unless its *_no_context_takeover was agreed.
    const receiveTakeover = !(isServer ? params.clientNoContextTakeover : params.serverNoContextTakeover);
    const { level, memLevel, threshold } = this.#options;
    const deflateKey = `deflate;w=${sendWindowBits};l=${level};m=${memLevel}`;
    this.shareKey = !this.#canCompress ? 'uncompressed' : sendTakeover ? null : `${deflateKey};t=${threshold}`;
    this.#deflate = new Direction(
      () =>
        quiet(
          createDeflateRaw({
            // RFC 7692 §7.2.1: each message ends with an empty stored block (Z_SYNC_FLUSH).
            flush: zlibConstants.Z_SYNC_FLUSH,
            windowBits: sendWindowBits,
            level,
            memLevel,
            chunkSize: CHUNK,
          }),
        ),
      sendTakeover ? null : deflateKey,
    );
    this.#inflate = new Direction(
      () => quiet(createInflateRaw({ flush: zlibConstants.Z_SYNC_FLUSH, windowBits: 15, chunkSize: CHUNK })),
      receiveTakeover ? null : 'inflate;w=15',
    );
  }

  /**
   * Whether `compress` would compress a message of `length` bytes (false
   * below `threshold`, or when this side cannot compress: an 8-bit window).
   */
  wouldCompress(length: number): boolean {
    // An empty message is sent as it is: after a flush zlib has nothing to
    // emit for it, and an empty payload would read as the start of a
    // stored block once the receiver appends 00 00 ff ff.
    return this.#canCompress && length >= this.#options.threshold && length > 0;
  }

  /** Messages waiting for, or in, zlib in either direction. */
  get pending(): number {
    return this.#deflate.pending + this.#inflate.pending;
  }

  /** Bytes produced by inflation so far (decompressed data, a bomb's refused tail included up to one chunk). */
  get inflatedBytes(): number {
    return this.#inflate.produced;
  }

  /**
   * Compress a whole message. `done` gets the payload to send with RSV1 set
   * on its first frame (RFC 7692 §6), trailer stripped, or null when the
   * message should go uncompressed: below `threshold`, compression
   * impossible (8-bit window), or the result would not be smaller. Calls
   * complete in order.
   */
  compress(data: Buffer, done: (error: Error | null, payload: Buffer | null) => void): void {
    if (!this.wouldCompress(data.length)) {
      done(null, null);
      return;
    }
    this.#deflate.push({
      input: data,
      maxOutput: Number.MAX_SAFE_INTEGER,
      done: (error, out) => {
        if (error) return done(error, null);
        // RFC 7692 §7.2.1: remove the 4 octets 00 00 ff ff from the tail end.
        const payload = endsWithTail(out) ? out.subarray(0, out.length - TAIL.length) : out;
        // RFC 7692 §6: sending a message uncompressed is always allowed; it
        // spares the peer an inflate when deflating did not help. (With
        // context takeover the stream saw the data anyway; the peer's window
        // must see it too, so then the compressed form is sent regardless.)
        if (payload.length >= data.length && this.shareKey !== null) return done(null, null);
        done(null, payload);
      },
    });
  }

  /**
   * Inflate a whole received message payload (all fragments concatenated).
   * An empty payload is valid and inflates to nothing. Bytes after a
   * DEFLATE block with BFINAL set are ignored (RFC 7692 §7.2.3.4 shows a
   * sender may finish with BFINAL); the next message then starts a fresh
   * inflater.
   *
   * `done` gets ProtocolError `MESSAGE_TOO_BIG` if the result would exceed
   * `maxSize` bytes (zlib stops at once), ProtocolError
   * `INVALID_COMPRESSED_DATA` for data that does not inflate, or another
   * Error for a failure of ours (out of memory). Calls complete in order.
   */
  decompress(data: Buffer, maxSize: number, done: (error: Error | null, data: Buffer) => void): void {
    if (data.length === 0) {
      // Nothing to inflate, and the inflater must not see the tail alone: on
      // a byte boundary it would start a stored block and wait for its
      // length, garbling the next message. Delivered in order all the same.
      this.#inflate.push({ input: EMPTY, maxOutput: maxSize, done: (error, out) => done(error, out) });
      return;
    }
    this.#inflate.push({
      // RFC 7692 §7.2.2: append 00 00 ff ff to the payload and inflate.
      input: Buffer.concat([data, TAIL]),
      maxOutput: maxSize,
      done: (error, out) => done(error ? inflateError(error) : null, out),
    });
  }

  /** Release this connection's zlib streams (once their pending jobs are done). */
  close(): void {
    this.#deflate.close();
    this.#inflate.close();
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
