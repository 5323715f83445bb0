/**
 * A raw HTTP/2 client for the byte-level checks of RFC 8441: it speaks
 * HTTP/2 over TLS (ALPN h2) frame by frame (RFC 9113 §4, §6), encodes request
 * headers as HPACK literals without indexing (RFC 7541 §6.2.2: no Huffman,
 * no table), and records every frame the server sends. Node's own client
 * fills in missing pseudo-headers, so requests it cannot send come from here.
 */
import { once } from 'node:events';
import tls from 'node:tls';

export const FrameType = { DATA: 0x0, HEADERS: 0x1, RST_STREAM: 0x3, SETTINGS: 0x4, GOAWAY: 0x7 } as const;
/** RFC 9113 §6.2: END_STREAM 0x1, END_HEADERS 0x4. */
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export interface RawFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** RFC 9113 §4.1: length (24), type (8), flags (8), R + stream identifier (31), payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** RFC 7541 §5.1 integer with an N-bit prefix. */
function integer(value: number, prefixBits: number, firstByte: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [firstByte | value];
  const out = [firstByte | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

/** RFC 7541 §6.2.2: a literal header field without indexing, new name; strings without Huffman (H = 0). */
export function literal(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'latin1');
  const v = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([0x00, ...integer(n.length, 7, 0)]), n, Buffer.from(integer(v.length, 7, 0)), v]);
}

/** A header block of literals, in order. */
export function headerBlock(fields: Array<[string, string]>): Buffer {
  return Buffer.concat(fields.map(([name, value]) => literal(name, value)));
}

/** SETTINGS parameters (RFC 9113 §6.5.1): identifier -> value. */
export function parseSettings(payload: Buffer): Map<number, number> {
  const settings = new Map<number, number>();
  for (let i = 0; i + 6 <= payload.length; i += 6) settings.set(payload.readUInt16BE(i), payload.readUInt32BE(i + 2));
  return settings;
}

export class RawHttp2Client {
  readonly frames: RawFrame[] = [];
  private buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      while (this.buffer.length >= 9) {
        const length = this.buffer.readUIntBE(0, 3);
        if (this.buffer.length < 9 + length) break;
        this.frames.push({
          type: this.buffer[3]!,
          flags: this.buffer[4]!,
          stream: this.buffer.readUInt32BE(5) & 0x7fffffff,
          payload: Buffer.from(this.buffer.subarray(9, 9 + length)),
        });
        this.buffer = this.buffer.subarray(9 + length);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('close', () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
    socket.on('error', () => {});
  }

  /** Connect with ALPN h2, send the connection preface and an empty SETTINGS (RFC 9113 §3.4). */
  static async connect(port: number, ca: string): Promise<RawHttp2Client> {
    const socket = tls.connect({ port, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['h2'] });
    await once(socket, 'secureConnect');
    const client = new RawHttp2Client(socket);
    socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), frame(FrameType.SETTINGS, 0, 0)]));
    // Acknowledge the server's SETTINGS once it is in.
    const settings = await client.next((f) => f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0);
    void settings;
    socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
    return client;
  }

  /** The first frame (received so far or later) that matches. @throws when the connection closes first. */
  async next(match: (f: RawFrame) => boolean): Promise<RawFrame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.socket.destroyed) throw new Error('the HTTP/2 connection closed');
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** A HEADERS frame carrying the whole block (END_HEADERS), without END_STREAM: a CONNECT keeps its stream open. */
  request(stream: number, fields: Array<[string, string]>): void {
    this.socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, stream, headerBlock(fields)));
  }

  close(): void {
    this.socket.destroy();
  }
}
