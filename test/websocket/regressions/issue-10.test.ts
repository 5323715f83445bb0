/**
 * Regression tests for defects of issue 10 section 1 that need the whole
 * stack (or real memory and event-loop measurements): each failed before
 * its fix. The memory test runs first, before other tests leave garbage.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createDeflateRaw, constants as zlibConstants } from 'node:zlib';
import { connect } from '../../../src/websocket/node/client.js';
import type { WebSocket } from '../../../src/websocket/node/connection.js';
import { startEchoServer } from '../../../src/websocket/node/echo-server.js';
import type { WebSocketServer } from '../../../src/websocket/node/server.js';
import { Protocol } from '../../../src/websocket/protocol/protocol.js';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const T = { timeout: 20_000 };

const servers = new Set<WebSocketServer>();
const sockets = new Set<net.Socket>();
after(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) {
    for (const client of server.clients) client.terminate();
    await server.close();
  }
});

async function echoServer(options: Parameters<typeof startEchoServer>[0]['server'] = {}): Promise<string> {
  const server = await startEchoServer({ port: 0, host: HOST, server: options });
  servers.add(server);
  return `ws://${HOST}:${server.address()!.port}/`;
}

/** Send `count` messages of `size` bytes, waiting for 'drain' whenever send() says so; resolve with the echoes' sizes. */
async function sendWaitingForDrain(ws: WebSocket, count: number, size: number): Promise<number[]> {
  const echoes: number[] = [];
  const all = new Promise<void>((resolve) => {
    ws.on('message', (data) => {
      echoes.push((data as Buffer).length);
      if (echoes.length === count) resolve();
    });
  });
  for (let i = 0; i < count; i++) {
    if (!ws.send(Buffer.alloc(size, i))) await once(ws, 'drain');
  }
  await all;
  return echoes;
}

/** The garbage collector, for memory measurements (no --expose-gc needed). */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

describe('issue 10, 1.3: memory held for a message is proportional to its payload, not its fragments', () => {
  test('131,071 one-byte fragments (128 KiB of payload) hold well under 2 MiB until the message ends', T, async () => {
    const gc = collector();
    const p = new Protocol('server', { maxMessageSize: 16 * MiB });
    // Client frames (masked, zero key) of one payload byte each: the first a
    // binary frame without FIN, then continuations; the last one ends it.
    const fragment = (first: boolean, fin: boolean) => Buffer.from([(fin ? 0x80 : 0) | (first ? 0x2 : 0x0), 0x81, 0, 0, 0, 0, 0x61]);
    const count = 131_071;
    // The way a socket delivers them: 64 KiB reads, each a fresh buffer.
    const perChunk = Math.floor((64 * 1024) / 7);
    // Collected twice, a turn apart: external memory is released by finalizers.
    const measure = async () => {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = await measure();
    for (let i = 0; i < count - 1; ) {
      const n = Math.min(perChunk, count - 1 - i);
      const chunk = Buffer.concat(Array.from({ length: n }, (_, k) => fragment(i + k === 0, false)));
      p.receiveData(chunk);
      i += n;
    }
    const held = (await measure()) - before;
    assert.deepEqual(p.eventsReceived(), []);
    p.receiveData(fragment(false, true));
    const [event] = p.eventsReceived();
    assert.equal(event?.type, 'binary');
    assert.equal((event as { data: Buffer }).data.length, count);
    assert.ok(held < 2 * MiB, `${(held / MiB).toFixed(1)} MiB held for 128 KiB of payload`);
  });
});

describe('issue 10, 1.1: reading never stops because the application sends', () => {
  // Both ends send more than their socket buffers hold at once. Each used to
  // stop reading while its send buffer was full: both stopped, forever.
  for (const [count, size] of [
    [2, 8 * MiB],
    [10, 2 * MiB],
  ] as const) {
    test(`our client sends ${count} x ${size / MiB} MiB to the echo server, waiting for 'drain': every echo arrives`, T, async () => {
      const url = await echoServer();
      const ws = await connect(url);
      assert.deepEqual(await sendWaitingForDrain(ws, count, size), new Array(count).fill(size));
      ws.close();
      await once(ws, 'close');
    });
  }
});

describe('issue 10, 1.6: a ping after a message in the same read is answered after the reply to the message', () => {
  test('raw client: text then ping in one write; the echo comes before the pong (the causal order ws keeps)', T, async () => {
    const url = new URL(await echoServer());
    const socket = net.connect(Number(url.port), HOST);
    sockets.add(socket);
    await once(socket, 'connect');
    socket.write(
      `GET / HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
    });
    while (data.indexOf('\r\n\r\n') === -1) await once(socket, 'data');
    data = data.subarray(data.indexOf('\r\n\r\n') + 4);
    const mask = [0, 0, 0, 0];
    // "Hi" (text), then a ping "p", masked with a zero key, in one segment.
    socket.write(Buffer.from([0x81, 0x82, ...mask, 0x48, 0x69, 0x89, 0x81, ...mask, 0x70]));
    while (data.length < 7) await once(socket, 'data');
    assert.deepEqual([...data.subarray(0, 7)], [0x81, 0x02, 0x48, 0x69, 0x8a, 0x01, 0x70]);
  });
});

describe('issue 10, 1.4: (de)compression does not hold the event loop', () => {
  test('a message inflating to 15 MiB is inflated over many turns of the event loop, not in one', T, async () => {
    const url = await echoServer();
    // A raw compressed frame: 15 MiB of zeros deflated (a few KiB on the wire).
    const deflater = createDeflateRaw({ flush: zlibConstants.Z_SYNC_FLUSH });
    const parts: Buffer[] = [];
    deflater.on('data', (c: Buffer) => parts.push(c));
    await new Promise<void>((resolve) => deflater.write(Buffer.alloc(15 * MiB), () => resolve()));
    const payload = Buffer.concat(parts).subarray(0, -4);
    const ws = await connect(url, { perMessageDeflate: true });
    assert.match(ws.extensions, /permessage-deflate/);
    let turns = 0;
    let counting = true;
    const tick = () => {
      turns++;
      if (counting) setImmediate(tick);
    };
    // The echo server inflates our message and compresses the echo; we inflate
    // the echo: three (de)compressions of 15 MiB, while the loop keeps turning.
    const echoed = once(ws, 'message');
    ws.socket.write(clientFrame(payload));
    setImmediate(tick);
    const [data] = (await echoed) as [Buffer];
    counting = false;
    assert.equal(data.length, 15 * MiB);
    // One-shot synchronous zlib held the loop for each whole message: the
    // loop could turn only between the reads, a handful of times.
    assert.ok(turns >= 50, `the event loop turned ${turns} times while 45 MiB went through zlib`);
    ws.close();
  });
});

/** A masked, compressed (RSV1) binary frame with a zero mask key, written raw on the client's socket. */
function clientFrame(payload: Buffer): Buffer {
  const head = Buffer.alloc(14);
  head[0] = 0x80 | 0x40 | 0x2;
  let offset = 2;
  if (payload.length < 126) head[1] = 0x80 | payload.length;
  else if (payload.length < 0x10000) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(payload.length, 2);
    offset = 4;
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
    offset = 10;
  }
  // Zero mask key: the payload goes as it is.
  return Buffer.concat([head.subarray(0, offset + 4), payload]);
}
