/**
 * A raw-socket WebSocket peer for the conformance suites, in the manner of
 * Autobahn|Testsuite's fuzzing peers. It is written independently of
 * src/websocket on purpose: it is the oracle, so it must not share the
 * stack's encoder, parser, validator or inflater.
 *
 * - `buildFrame` makes a frame byte by byte: any FIN / RSV / opcode, masked
 *   or not, the length in a chosen encoding (even a non-minimal one), or a
 *   header that declares a length other than the payload's.
 * - `RawPeer` writes bytes in chosen chunks (optionally paced so that each
 *   chunk reaches the other side in its own read), parses the frames coming
 *   back, checks the masking direction of every one of them (RFC 6455 §5.1),
 *   and records how TCP ends and who ended it first.
 * - `openRawClient` does a client's opening handshake by hand against a
 *   server; `RawServer` accepts a client's handshake by hand and answers with
 *   the extensions a test chooses.
 * - `Deflater` / `Inflater` implement RFC 7692 §7.2 with node:zlib streams
 *   (stateful, so context takeover is real), not with the stack's one-shot
 *   dictionary trick.
 * - Case data shared by both suites: Autobahn's UTF-8 table (6.5 - 6.23),
 *   payload generators, a Sec-WebSocket-Extensions parser.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';

export const Op = {
  CONTINUATION: 0x0,
  TEXT: 0x1,
  BINARY: 0x2,
  CLOSE: 0x8,
  PING: 0x9,
  PONG: 0xa,
} as const;

/** How long a test waits for an expected event before it fails, ms. */
export const WAIT = 3000;

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export type Role = 'client' | 'server';

export interface FrameSpec {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** RSV bits as Autobahn numbers them, 0..7: 4 = RSV1, 2 = RSV2, 1 = RSV3. */
  rsv?: number;
  /** A masking key, true for a random one, false for none. Default: masked when the peer is a client. */
  mask?: boolean | Uint8Array;
  /** Force a length encoding (7, 16 or 64 bits), minimal or not. Default: the minimal one. */
  lengthBits?: 7 | 16 | 64;
  /** Declare this length in the header instead of the payload's (for header-only cases). */
  declaredLength?: number;
}

/** A frame as received, payload unmasked. */
export interface Frame {
  fin: boolean;
  /** 0..7, RSV1 = 4. */
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
}

export function bytesOf(data: Uint8Array | string | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** XOR `data` with `key` in place (RFC 6455 §5.3), starting at key offset 0. */
function xorMask(data: Buffer, key: Uint8Array): void {
  const k0 = key[0]!;
  const k1 = key[1]!;
  const k2 = key[2]!;
  const k3 = key[3]!;
  const n = data.length;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    data[i] = data[i]! ^ k0;
    data[i + 1] = data[i + 1]! ^ k1;
    data[i + 2] = data[i + 2]! ^ k2;
    data[i + 3] = data[i + 3]! ^ k3;
  }
  for (; i < n; i++) data[i] = data[i]! ^ key[i & 3]!;
}

/** One frame's bytes, as `spec` says. `defaultMask` applies when `spec.mask` is unset. */
export function buildFrame(spec: FrameSpec, defaultMask: boolean): Buffer {
  const payload = bytesOf(spec.payload);
  const length = spec.declaredLength ?? payload.length;
  const bits = spec.lengthBits ?? (length < 126 ? 7 : length < 0x10000 ? 16 : 64);
  const maskOption = spec.mask ?? defaultMask;
  const key = maskOption === true ? randomBytes(4) : maskOption === false ? null : maskOption;
  const head = 2 + (bits === 16 ? 2 : bits === 64 ? 8 : 0) + (key ? 4 : 0);
  const frame = Buffer.alloc(head + payload.length);
  frame[0] = ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 7) << 4) | (spec.opcode & 0x0f);
  const maskBit = key ? 0x80 : 0;
  let offset = 2;
  if (bits === 7) {
    frame[1] = maskBit | length;
  } else if (bits === 16) {
    frame[1] = maskBit | 126;
    frame.writeUInt16BE(length, 2);
    offset = 4;
  } else {
    frame[1] = maskBit | 127;
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
    offset = 10;
  }
  if (key) {
    frame.set(key, offset);
    offset += 4;
  }
  payload.copy(frame, offset);
  if (key) xorMask(frame.subarray(offset), key);
  return frame;
}

/** A close frame payload: no code (empty), a code, or a code and a reason (string or raw bytes). */
export function closePayload(code?: number, reason: string | Uint8Array = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const text = bytesOf(reason);
  const out = Buffer.alloc(2 + text.length);
  out.writeUInt16BE(code, 0);
  text.copy(out, 2);
  return out;
}

/** Incremental frame parser for what the stack sends. Independent of src/. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Add bytes; returns the frames completed by them. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      const frame = this.next();
      if (!frame) return frames;
      frames.push(frame);
    }
  }

  /** The first chunk, made at least `n` bytes long by joining only as many chunks as needed. */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    let count = 0;
    let length = 0;
    while (length < n) length += this.chunks[count++]!.length;
    const joined = Buffer.concat(this.chunks.slice(0, count), length);
    this.chunks.splice(0, count, joined);
    return joined;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - copied);
      c.copy(out, copied, 0, k);
      copied += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  private next(): Frame | null {
    if (this.buffered < 2) return null;
    const h = this.peek(Math.min(this.buffered, 14));
    const b0 = h[0]!;
    const b1 = h[1]!;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let head = 2;
    if (length === 126) {
      if (this.buffered < 4) return null;
      length = h.readUInt16BE(2);
      head = 4;
    } else if (length === 127) {
      if (this.buffered < 10) return null;
      length = h.readUInt32BE(2) * 0x100000000 + h.readUInt32BE(6);
      head = 10;
    }
    if (masked) head += 4;
    if (this.buffered < head + length) return null;
    const header = Buffer.from(this.take(head));
    const payload = Buffer.from(this.take(length));
    if (masked) xorMask(payload, header.subarray(head - 4, head));
    return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload };
  }
}

/** Rejects after `ms` with a message naming what was awaited. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Two turns of the event loop: a poll phase (where the other side reads) runs in between. */
function loopTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** A short description of a frame, for assertion messages and sequence checks. */
export function describeFrame(f: Frame): string {
  const names: Record<number, string> = { 0: 'cont', 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };
  const name = names[f.opcode] ?? `op${f.opcode}`;
  const shown = f.payload.length <= 32 ? f.payload.toString('hex') : `${f.payload.length}B`;
  return `${name}${f.fin ? '' : '(nofin)'}${f.rsv ? `[rsv${f.rsv}]` : ''}:${shown}`;
}

/** A whole data message as received: its frames, reassembled. */
export interface Message {
  opcode: number;
  /** RSV1 on the first frame: the payload is compressed (RFC 7692 §6). */
  compressed: boolean;
  payload: Buffer;
  frames: Frame[];
  /** Control frames that arrived between its fragments. */
  controls: Frame[];
}

/** What ended the exchange: the close frame and what arrived before it. */
export interface CloseSeen {
  /** The code, or null for an empty close payload. */
  code: number | null;
  reason: Buffer;
  frame: Frame;
  /** Frames received before the close frame (since the last read). */
  before: Frame[];
}

/** One end of a WebSocket connection, driven byte by byte by a test. */
export class RawPeer {
  readonly socket: net.Socket;
  readonly role: Role;
  /** The other side sent its TCP FIN (or the connection broke). */
  remoteEnded = false;
  /** We ended our side (called end()). */
  localEnded = false;
  /** True when the other side's FIN arrived before we ended ours: it closed TCP first. */
  remoteClosedFirst: boolean | null = null;
  /** Every frame received, in order (never consumed; `cursor` marks what tests have read). */
  readonly received: Frame[] = [];
  private cursor = 0;
  private readonly reader = new FrameReader();
  private waiters: Array<() => void> = [];
  private readonly closedPromise: Promise<void>;

  constructor(socket: net.Socket, role: Role, head: Buffer = Buffer.alloc(0)) {
    this.socket = socket;
    this.role = role;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', () => this.onEnd());
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.onEnd());
    if (head.length > 0) this.onData(head);
  }

  private onData(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) this.received.push(frame);
    this.wake();
  }

  private onEnd(): void {
    if (!this.remoteEnded) {
      this.remoteEnded = true;
      if (this.remoteClosedFirst === null) this.remoteClosedFirst = !this.localEnded;
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Frames received and not yet read by the test. */
  get unread(): Frame[] {
    return this.received.slice(this.cursor);
  }

  // ---- sending ----

  frame(spec: FrameSpec): Buffer {
    return buildFrame(spec, this.role === 'client');
  }

  /** Send frames, all in one write. */
  send(...specs: FrameSpec[]): Promise<void> {
    return this.write(Buffer.concat(specs.map((s) => this.frame(s))));
  }

  /** Write bytes; resolves when they are handed to the kernel. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  /**
   * Write `bytes` in chunks of `size` bytes (or of the listed sizes, the last
   * one repeated). With `pace`, the event loop turns between chunks so each
   * one reaches the other side in its own read (as far as loopback TCP lets
   * us: it is the same process, so the receiver reads in between).
   */
  async sendInChunks(bytes: Buffer, size: number | number[], pace = true): Promise<void> {
    const sizes = typeof size === 'number' ? [size] : size;
    let offset = 0;
    let i = 0;
    while (offset < bytes.length) {
      const n = Math.max(1, sizes[Math.min(i++, sizes.length - 1)]!);
      const chunk = bytes.subarray(offset, offset + n);
      offset += chunk.length;
      if (pace) {
        await this.write(chunk);
        await loopTurn();
      } else {
        this.socket.write(chunk);
      }
    }
    if (!pace) await this.write(Buffer.alloc(0));
  }

  /** Send a close frame with an optional code and reason. */
  sendClose(code?: number, reason: string | Uint8Array = ''): Promise<void> {
    return this.send({ opcode: Op.CLOSE, payload: closePayload(code, reason) });
  }

  /** Send our TCP FIN. */
  end(): void {
    if (this.localEnded) return;
    this.localEnded = true;
    this.socket.end();
  }

  destroy(): void {
    this.localEnded = true;
    this.socket.destroy();
  }

  // ---- receiving ----

  /**
   * The next frame. Every frame is checked against RFC 6455 §5.1: a server
   * never masks, a client always does.
   */
  async nextFrame(ms = WAIT): Promise<Frame> {
    const deadline = Date.now() + ms;
    for (;;) {
      const frame = this.received[this.cursor];
      if (frame) {
        this.cursor++;
        if (this.role === 'client') assert.equal(frame.masked, false, `RFC 6455 §5.1: server frame masked: ${describeFrame(frame)}`);
        else assert.equal(frame.masked, true, `RFC 6455 §5.1: client frame not masked: ${describeFrame(frame)}`);
        return frame;
      }
      if (this.remoteEnded) throw new Error(`connection ended while waiting for a frame (got so far: ${this.received.map(describeFrame).join(', ')})`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a frame (got so far: ${this.received.map(describeFrame).join(', ')})`);
      await within(this.changed(), left, 'a frame').catch(() => undefined);
    }
  }

  /**
   * Read one whole data message: its first frame and continuations, with the
   * control frames that came in between. Fails on any close frame.
   */
  async readMessage(ms = WAIT): Promise<Message> {
    const frames: Frame[] = [];
    const controls: Frame[] = [];
    for (;;) {
      const f = await this.nextFrame(ms);
      if (f.opcode >= 8) {
        assert.notEqual(f.opcode, Op.CLOSE, `expected a message, got ${describeFrame(f)}`);
        controls.push(f);
        continue;
      }
      if (frames.length === 0) assert.notEqual(f.opcode, Op.CONTINUATION, 'a message began with a continuation frame');
      else assert.equal(f.opcode, Op.CONTINUATION, `a new message began inside another: ${describeFrame(f)}`);
      frames.push(f);
      if (f.fin) break;
    }
    const first = frames[0]!;
    // RFC 7692 §6.1: RSV1 only on a message's first frame; no RSV2/RSV3.
    for (const f of frames) assert.equal(f.rsv & 3, 0, `RSV2/RSV3 set: ${describeFrame(f)}`);
    for (const f of frames.slice(1)) assert.equal(f.rsv, 0, `RSV bit on a continuation frame: ${describeFrame(f)}`);
    const payload = frames.length === 1 ? first.payload : Buffer.concat(frames.map((f) => f.payload));
    return { opcode: first.opcode, compressed: (first.rsv & 4) !== 0, payload, frames, controls };
  }

  /** Read frames up to and including a close frame; return it and what came before. */
  async readClose(ms = WAIT): Promise<CloseSeen> {
    const before: Frame[] = [];
    for (;;) {
      const f = await this.nextFrame(ms);
      if (f.opcode !== Op.CLOSE) {
        before.push(f);
        continue;
      }
      const code = f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null;
      return { code, reason: f.payload.subarray(2), frame: f, before };
    }
  }

  /** Resolves when the other side has ended TCP. */
  async waitEnd(ms = WAIT): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.remoteEnded) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for the peer to close TCP');
      await within(this.changed(), left, 'TCP end').catch(() => undefined);
    }
  }

  /** Resolves when the socket is fully closed. */
  closed(ms = WAIT): Promise<void> {
    return within(this.closedPromise, ms, 'the socket to close');
  }

  /**
   * Nothing arrives and TCP stays open for `ms`. Only for asserting an
   * absence (no event exists to await); keep `ms` short.
   */
  async quietFor(ms: number): Promise<void> {
    const start = this.received.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    assert.equal(this.received.length, start, `unexpected frames: ${this.received.slice(start).map(describeFrame).join(', ')}`);
    assert.equal(this.remoteEnded, false, 'the peer closed TCP');
  }
}

// ---- opening handshakes by hand ----

interface Head {
  firstLine: string;
  headers: Record<string, string>;
  rest: Buffer;
}

/** Read an HTTP head (up to CRLF CRLF) from a socket; the bytes after it are returned as `rest`. */
function readHead(socket: net.Socket, ms = WAIT): Promise<Head> {
  return within(
    new Promise<Head>((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.removeListener('data', onData);
        socket.removeListener('end', onEnd);
        socket.pause();
        const lines = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        resolve({ firstLine: lines[0] ?? '', headers, rest: buffered.subarray(end + 4) });
      };
      const onEnd = () => reject(new Error(`connection closed during the handshake: ${buffered.toString('latin1')}`));
      socket.on('data', onData);
      socket.on('end', onEnd);
    }),
    ms,
    'an HTTP head',
  );
}

export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export interface RawClientOptions {
  path?: string;
  /** Sec-WebSocket-Extensions to offer. */
  extensions?: string;
  headers?: Record<string, string>;
}

/**
 * Connect to a server and do the opening handshake by hand (RFC 6455 §4.1).
 * Checks the 101 and its Sec-WebSocket-Accept.
 */
export async function openRawClient(
  port: number,
  options: RawClientOptions = {},
): Promise<{ peer: RawPeer; headers: Record<string, string> }> {
  // allowHalfOpen: the server's FIN must not make Node end our side, so the
  // order in which the two sides closed TCP can be observed.
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await within(new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  }), WAIT, 'the TCP connection');
  const key = randomBytes(16).toString('base64');
  const lines = [
    `GET ${options.path ?? '/'} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`,
    'Sec-WebSocket-Version: 13',
  ];
  if (options.extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
  const head = readHead(socket);
  socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  const response = await head;
  assert.match(response.firstLine, /^HTTP\/1\.1 101 /, `handshake refused: ${response.firstLine}`);
  assert.equal(response.headers['sec-websocket-accept'], acceptFor(key), 'RFC 6455 §4.2.2: Sec-WebSocket-Accept');
  assert.match(response.headers.upgrade ?? '', /^websocket$/i);
  assert.match(response.headers.connection ?? '', /\bupgrade\b/i);
  const peer = new RawPeer(socket, 'client', response.rest);
  socket.resume();
  return { peer, headers: response.headers };
}

export interface RawAcceptOptions {
  /**
   * The Sec-WebSocket-Extensions to answer with (omitted when undefined); a
   * function gets the client's offer.
   */
  extensions?: string | ((offer: string | undefined) => string | undefined);
  /** Frames sent in the same write as the 101 response. */
  firstFrames?: FrameSpec[];
  /** Answer with this Sec-WebSocket-Accept instead of the right one. */
  acceptValue?: string;
}

export interface RawAccepted {
  peer: RawPeer;
  /** The client's request line and headers (names lower-cased). */
  requestLine: string;
  headers: Record<string, string>;
}

/**
 * A server that accepts WebSocket handshakes by hand. Each `accept()`
 * answers the next incoming connection, in order.
 */
export class RawServer {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pendingSockets: net.Socket[] = [];
  private readonly pendingAccepts: Array<(socket: net.Socket) => void> = [];

  private constructor() {
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      const next = this.pendingAccepts.shift();
      if (next) next(socket);
      else this.pendingSockets.push(socket);
    });
  }

  static async start(): Promise<RawServer> {
    const s = new RawServer();
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Accept the next connection's handshake with a 101. */
  async accept(options: RawAcceptOptions = {}): Promise<RawAccepted> {
    const queued = this.pendingSockets.shift();
    const socket = queued ?? (await within(new Promise<net.Socket>((resolve) => this.pendingAccepts.push(resolve)), WAIT, 'a client to connect'));
    const request = await readHead(socket);
    const key = request.headers['sec-websocket-key'] ?? '';
    const offer = request.headers['sec-websocket-extensions'];
    const extensions = typeof options.extensions === 'function' ? options.extensions(offer) : options.extensions;
    const lines = [
      'HTTP/1.1 101 Switching Protocols',
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Accept: ${options.acceptValue ?? acceptFor(key)}`,
    ];
    if (extensions !== undefined) lines.push(`Sec-WebSocket-Extensions: ${extensions}`);
    const response = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    const frames = (options.firstFrames ?? []).map((spec) => buildFrame(spec, false));
    socket.write(Buffer.concat([response, ...frames]));
    const peer = new RawPeer(socket, 'server', request.rest);
    socket.resume();
    return { peer, requestLine: request.firstLine, headers: request.headers };
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- permessage-deflate (RFC 7692 §7.2) with zlib streams ----

function flushed(stream: zlib.DeflateRaw | zlib.InflateRaw, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (chunk: Buffer) => out.push(chunk);
    const onError = (error: Error) => {
      stream.removeListener('data', onData);
      reject(error);
    };
    stream.on('data', onData);
    stream.once('error', onError);
    stream.write(input);
    stream.flush(zlib.constants.Z_SYNC_FLUSH, () => {
      stream.removeListener('data', onData);
      stream.removeListener('error', onError);
      resolve(Buffer.concat(out));
    });
  });
}

/**
 * The sending side of permessage-deflate: one raw DEFLATE stream kept across
 * messages (context takeover, RFC 7692 §7.1.1) unless `takeover` is false,
 * each message flushed with Z_SYNC_FLUSH and the trailing 00 00 ff ff
 * removed (§7.2.1).
 */
export class Deflater {
  private stream: zlib.DeflateRaw | null = null;
  private readonly windowBits: number;
  private readonly takeover: boolean;

  constructor(options: { windowBits?: number; takeover?: boolean } = {}) {
    this.windowBits = options.windowBits ?? 15;
    this.takeover = options.takeover ?? true;
  }

  async compress(data: Uint8Array | string): Promise<Buffer> {
    if (!this.stream || !this.takeover) {
      this.stream?.close();
      this.stream = zlib.createDeflateRaw({ windowBits: this.windowBits });
    }
    const out = await flushed(this.stream, bytesOf(data));
    assert.deepEqual(out.subarray(out.length - 4), TAIL, 'Z_SYNC_FLUSH output ends with 00 00 ff ff');
    return out.subarray(0, out.length - 4);
  }

  close(): void {
    this.stream?.close();
    this.stream = null;
  }
}

/**
 * The receiving side: one raw INFLATE stream for the connection (it decodes
 * a peer with or without context takeover alike), the 00 00 ff ff tail put
 * back on each message (RFC 7692 §7.2.2).
 */
export class Inflater {
  private readonly stream = zlib.createInflateRaw({ windowBits: 15 });

  inflate(payload: Buffer): Promise<Buffer> {
    return flushed(this.stream, Buffer.concat([payload, TAIL]));
  }

  close(): void {
    this.stream.close();
  }
}

/** Split `payload` into data frames of at most `size` bytes: the first with `opcode` (and `rsv`), then continuations. */
export function fragments(opcode: number, payload: Buffer, size: number, rsv = 0): FrameSpec[] {
  if (size <= 0 || payload.length <= size) return [{ opcode, payload, rsv }];
  const specs: FrameSpec[] = [];
  for (let offset = 0; offset < payload.length; offset += size) {
    const end = Math.min(offset + size, payload.length);
    specs.push({
      opcode: offset === 0 ? opcode : Op.CONTINUATION,
      rsv: offset === 0 ? rsv : 0,
      fin: end === payload.length,
      payload: payload.subarray(offset, end),
    });
  }
  return specs;
}

// ---- case data: Autobahn 6.5 - 6.23 ----
// The UTF-8 cases of Autobahn|Testsuite section 6.5 - 6.23, which follow
// Markus Kuhn's UTF-8 decoder stress test: each entry is a payload and
// whether it is valid UTF-8 (RFC 3629). `firstInvalidByte` is the oracle for
// fail-fast checks, computed with the WHATWG decoder (TextDecoder), an
// implementation independent of the stack's validator.

export interface Utf8Case {
  group: string;
  bytes: Buffer;
  valid: boolean;
}

const h = (hex: string): Buffer => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

/** κόσμε, the Greek word Kuhn's test file starts with. */
export const KOSME = h('ce ba e1 bd b9 cf 83 ce bc ce b5');

/**
 * Index of the first byte at which `bytes` stops being a prefix of valid
 * UTF-8; `bytes.length` when only the end is incomplete; -1 when valid.
 */
export function firstInvalidByte(bytes: Uint8Array): number {
  for (let k = 1; k <= bytes.length; k++) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, k), { stream: true });
    } catch {
      return k - 1;
    }
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return -1;
  } catch {
    return bytes.length;
  }
}

function build(): Utf8Case[] {
  const cases: Utf8Case[] = [];
  const add = (group: string, valid: boolean, ...payloads: Buffer[]) => {
    for (const bytes of payloads) cases.push({ group, bytes, valid });
  };
  add(
    '6.5 valid UTF-8',
    true,
    ascii('hello$world'),
    Buffer.concat([ascii('hello'), h('c2a2'), ascii('world')]),
    Buffer.concat([ascii('hello'), h('e282ac'), ascii('world')]),
    Buffer.concat([ascii('hello'), h('f0a4ada2'), ascii('world')]),
    KOSME,
  );
  for (let i = 1; i <= KOSME.length; i++) {
    const prefix = KOSME.subarray(0, i);
    add('6.6 prefixes of a valid multi-byte string', firstInvalidByte(prefix) === -1, Buffer.from(prefix));
  }
  add('6.7 first sequence of each length', true, h('00'), h('c280'), h('e0a080'), h('f0908080'));
  add('6.8 first sequence of length 5/6 (beyond U+10FFFF)', false, h('f888808080'), h('fc8480808080'));
  add('6.9 last sequence of each length', true, h('7f'), h('dfbf'), h('efbfbf'), h('f48fbfbf'));
  add('6.10 last sequence of length 4/5/6 (beyond U+10FFFF)', false, h('f7bfbfbf'), h('fbbfbfbfbf'), h('fdbfbfbfbfbf'));
  add('6.11 other boundaries', true, h('ed9fbf'), h('ee8080'), h('efbfbd'), h('f48fbfbf'));
  add('6.11 other boundaries (U+110000)', false, h('f4908080'));
  const run = Buffer.alloc(0xbf - 0x80);
  for (let i = 0; i < run.length; i++) run[i] = 0x80 + i;
  add('6.12 unexpected continuation bytes', false, h('80'), h('bf'), h('80bf'), h('80bf80'), h('80bf80bf'), h('80bf80bf80'), h('80bf80bf80bf'), run);
  for (const [lo, hi] of [
    [0xc0, 0xdf],
    [0xe0, 0xef],
    [0xf0, 0xf7],
    [0xf8, 0xfb],
    [0xfc, 0xfd],
  ] as const) {
    const bytes: number[] = [];
    for (let b = lo; b < hi; b++) bytes.push(b, 0x20);
    add('6.13 lonely start bytes', false, Buffer.from(bytes));
  }
  const truncated = ['c0', 'e080', 'f08080', 'f8808080', 'fc80808080', 'df', 'efbf', 'f7bfbf', 'fbbfbfbf', 'fdbfbfbfbf'].map(h);
  add('6.14 last continuation byte missing', false, ...truncated);
  add('6.15 concatenated incomplete sequences', false, Buffer.concat(truncated));
  add('6.16 impossible bytes', false, h('fe'), h('ff'), h('fefeffff'));
  add('6.17 overlong ASCII', false, h('c0af'), h('e080af'), h('f08080af'), h('f8808080af'), h('fc80808080af'));
  add('6.18 maximum overlong sequences', false, h('c1bf'), h('e09fbf'), h('f08fbfbf'), h('f887bfbfbf'), h('fc83bfbfbfbf'));
  add('6.19 overlong NUL', false, h('c080'), h('e08080'), h('f0808080'), h('f880808080'), h('fc8080808080'));
  add('6.20 single UTF-16 surrogates', false, h('eda080'), h('edadbf'), h('edae80'), h('edafbf'), h('edb080'), h('edbe80'), h('edbfbf'));
  add(
    '6.21 paired UTF-16 surrogates',
    false,
    ...['eda080edb080', 'eda080edbfbf', 'edadbfedb080', 'edadbfedbfbf', 'edae80edb080', 'edae80edbfbf', 'edafbfedb080', 'edafbfedbfbf'].map(h),
  );
  const nonCharacters = [h('efbfbe'), h('efbfbf')];
  for (const z1 of [0xf0, 0xf1, 0xf2, 0xf3, 0xf4]) {
    for (const z2 of [0x8f, 0x9f, 0xaf, 0xbf]) {
      if (z1 === 0xf4 && z2 !== 0x8f) continue; // above U+10FFFF
      for (const z3 of [0xbe, 0xbf]) {
        if (z1 === 0xf0 && z2 === 0x8f) continue; // overlong
        nonCharacters.push(Buffer.from([z1, z2, 0xbf, z3]));
      }
    }
  }
  add('6.22 non-characters (valid UTF-8)', true, ...nonCharacters);
  add('6.23 Unicode specials', true, ...['efbfb9', 'efbfba', 'efbfbb', 'efbfbc', 'efbfbd', 'efbfbe', 'efbfbf'].map(h));
  return cases;
}

export const UTF8_CASES: readonly Utf8Case[] = build();

// ---- payloads and header parsing shared by the suites ----

/** Printable ASCII of length n (valid UTF-8), varied so that nothing lines up by accident. */
export function text(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = 0x20 + ((x >>> 16) % 95);
  }
  return out;
}

/** Large text filled fast (a repeated, non-trivial pattern). */
export function bigText(n: number): Buffer {
  return Buffer.alloc(n, text(4093, 7));
}

/** JSON-like text, as Autobahn's 13.x data set (compressible, not trivially). */
export function jsonText(n: number, seed: number): Buffer {
  const parts: string[] = [];
  let length = 0;
  let i = seed;
  while (length < n) {
    const item = `{"id":${i},"name":"user${(i * 7919) % 1000}","tags":["a${i % 13}","b${i % 7}"],"score":${((i * 31) % 1000) / 10}},`;
    parts.push(item);
    length += item.length;
    i++;
  }
  return Buffer.from(parts.join('').slice(0, n), 'latin1');
}

export type Params = Map<string, string | true>;

/** Parse a Sec-WebSocket-Extensions value into extensions with their parameters (RFC 6455 §9.1). */
export function parseExtensions(value: string): Array<{ name: string; params: Params; duplicates: string[] }> {
  return value.split(',').map((element) => {
    const [name, ...rest] = element.split(';').map((s) => s.trim());
    const params: Params = new Map();
    const duplicates: string[] = [];
    for (const p of rest) {
      const eq = p.indexOf('=');
      const key = (eq < 0 ? p : p.slice(0, eq)).trim();
      const val = eq < 0 ? true : p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
      if (params.has(key)) duplicates.push(key);
      params.set(key, val);
    }
    return { name: name ?? '', params, duplicates };
  });
}
