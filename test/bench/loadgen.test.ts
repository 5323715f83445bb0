/**
 * The load generator (bench/loadgen/loadgen.c): built with the machine's C
 * compiler, run for about a second in each mode against our own servers, and
 * fed a broken server to show it fails the run instead of reporting a number.
 * Counts are checked for plausibility only: no timing is asserted.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import net, { type AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createClient } from '@redis/client';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server as SocketIoServer } from 'socket.io';
import { ensureLoadgen, type LoadgenResult } from '../../bench/loadgen/build.js';
import { type ChatServer, startChatServer } from '../../src/chat/server.js';
import { startEchoServer } from '../../src/websocket/node/echo-server.js';
import type { WebSocketServer } from '../../src/websocket/node/server.js';
import { findRedis, peerSkip } from '../support/peers.js';
import { useRedis } from '../support/redis.js';

const SHORT = ['--warmup', '0.2', '--duration', '0.8', '--timeout', '5', '--host', '127.0.0.1'];

interface Run {
  result: LoadgenResult;
  stdout: string;
  stderr: string;
  code: number | null;
}

let binary = '';

/**
 * Runs the generator; `holdStdin` keeps stdin open until `onReady` (idle mode)
 * has seen `READY <n>` and then closes it.
 */
function runLoadgen(args: string[], options: { holdStdin?: boolean; onReady?: (n: number) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    if (!options.holdStdin) child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const ready = /^READY (\d+)$/m.exec(stdout);
      if (ready && options.holdStdin && child.stdin.writable) {
        options.onReady?.(Number(ready[1]));
        child.stdin.end();
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stdout.trim().split('\n');
      const last = lines[lines.length - 1] ?? '';
      try {
        resolve({ result: JSON.parse(last) as LoadgenResult, stdout, stderr, code });
      } catch {
        reject(new Error(`no JSON result (exit ${code}): ${stdout} ${stderr}`));
      }
    });
  });
}

function assertOk(run: Run): LoadgenResult {
  const { result } = run;
  assert.equal(result.ok, true, `${result.mode}: ${result.error_detail} ${run.stderr}`);
  assert.equal(result.errors, 0);
  assert.equal(result.error_detail, '');
  assert.equal(run.code, 0);
  assert.ok(result.seconds > 0.5 && result.seconds < 1.5, `seconds ${result.seconds}`);
  return result;
}

function assertLatency(result: LoadgenResult): void {
  assert.ok(result.p50_us > 0, 'p50 measured');
  assert.ok(result.p99_us >= result.p50_us, 'p99 >= p50');
  assert.ok(result.max_us >= result.p99_us, 'max >= p99');
}

before(async () => {
  binary = await ensureLoadgen();
});

describe('loadgen against the echo server', () => {
  let server: WebSocketServer;
  let port = 0;
  before(async () => {
    server = await startEchoServer({ port: 0, host: '127.0.0.1' });
    port = server.address()!.port;
  });
  after(() => server.close());

  test('echo: 32-byte text, every reply checked in order', async () => {
    const run = await runLoadgen(['--mode', 'echo', '--port', String(port), '--conns', '4', '--inflight', '4', '--size', '32', ...SHORT]);
    const result = assertOk(run);
    assert.deepEqual(run.stdout.trim().split('\n').slice(0, -1), ['RUN'], 'RUN when the warm-up starts, then the result');
    assert.equal(result.mode, 'echo');
    assert.equal(result.connections, 4);
    assert.ok(result.messages > 100, `messages ${result.messages}`);
    assert.equal(result.deliveries, result.messages);
    assert.equal(result.bytes, result.messages * 32);
    assert.equal(result.deflate, false);
    assertLatency(result);
  });

  test('echo: 70 KB binary (64-bit lengths, frames split across reads)', async () => {
    const run = await runLoadgen(['--mode', 'echo', '--port', String(port), '--conns', '2', '--inflight', '2', '--size', '70000', '--binary', ...SHORT]);
    const result = assertOk(run);
    assert.ok(result.messages > 10, `messages ${result.messages}`);
    assert.equal(result.bytes, result.messages * 70000);
    assert.ok(result.mb_per_s > 0);
  });

  test('echo with permessage-deflate negotiated', async () => {
    const run = await runLoadgen(['--mode', 'echo', '--port', String(port), '--conns', '2', '--inflight', '4', '--size', '4096', '--deflate', ...SHORT]);
    const result = assertOk(run);
    assert.equal(result.deflate, true);
    assert.ok(result.messages > 10, `messages ${result.messages}`);
  });

  test('fanout on /broadcast: every connection gets every message', async () => {
    const conns = 20;
    const run = await runLoadgen(['--mode', 'fanout', '--port', String(port), '--path', '/broadcast', '--conns', String(conns), '--publishers', '2', '--inflight', '4', '--size', '64', ...SHORT]);
    const result = assertOk(run);
    assert.equal(result.connections, conns);
    assert.ok(result.messages > 10, `messages ${result.messages}`);
    // Deliveries are counted as they arrive, messages when the last
    // connection has them: in one window, about conns deliveries per message.
    const ratio = result.deliveries / result.messages;
    assert.ok(ratio > conns * 0.8 && ratio < conns * 1.2, `deliveries per message ${ratio}`);
    assertLatency(result);
  });

  test('idle: READY once every connection is open, result after stdin ends', async () => {
    let ready = -1;
    const run = await runLoadgen(['--mode', 'idle', '--port', String(port), '--conns', '50', '--host', '127.0.0.1'], {
      holdStdin: true,
      onReady: (n) => {
        ready = n;
      },
    });
    assert.equal(ready, 50);
    assert.doesNotMatch(run.stdout, /^RUN$/m, 'idle mode has no warm-up');
    assert.equal(run.result.ok, true, run.result.error_detail);
    assert.equal(run.result.connections, 50);
    assert.equal(run.result.errors, 0);
  });

  test('connect: open-handshake-close loops', async () => {
    const run = await runLoadgen(['--mode', 'connect', '--port', String(port), '--conns', '4', ...SHORT]);
    const result = assertOk(run);
    assert.ok(result.messages > 10, `loops ${result.messages}`);
    assert.ok(result.handshakes_per_s > 0);
    assertLatency(result);
  });
});

describe('loadgen against the chat servers', () => {
  test('chat-wschat: a paced room through the full chat server', async () => {
    const chat: ChatServer = await startChatServer({
      host: '127.0.0.1',
      port: 0,
      dataDir: null,
      console: null,
      hub: { rateLimit: { burst: 1e6, perSecond: 1e6 } },
    });
    try {
      const conns = 10;
      const rate = 200;
      const run = await runLoadgen(['--mode', 'chat-wschat', '--port', String(chat.port), '--path', '/r/bench', '--conns', String(conns), '--publishers', '2', '--rate', String(rate), '--size', '64', ...SHORT]);
      const result = assertOk(run);
      assert.equal(result.connections, conns);
      // paced: about rate x window messages (loose bounds, no timing claim)
      assert.ok(result.messages > rate * 0.8 * 0.5 && result.messages < rate * 0.8 * 1.5, `messages ${result.messages}`);
      const ratio = result.deliveries / result.messages;
      assert.ok(ratio > conns * 0.8 && ratio < conns * 1.2, `deliveries per message ${ratio}`);
      assertLatency(result);
    } finally {
      await chat.close();
    }
  });

  test('chat-socketio: Engine.IO v4 / Socket.IO v5 over WebSocket', async () => {
    const io = new SocketIoServer({ transports: ['websocket'], serveClient: false });
    io.on('connection', (socket) => {
      let room: string | null = null;
      socket.on('join', (name: unknown) => {
        if (typeof name !== 'string') return;
        room = name;
        void socket.join(name);
      });
      socket.on('msg', (payload: unknown) => {
        if (room !== null) io.to(room).emit('msg', payload);
      });
    });
    const http = (await import('node:http')).createServer();
    io.attach(http);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const port = (http.address() as AddressInfo).port;
      const conns = 10;
      const run = await runLoadgen(['--mode', 'chat-socketio', '--port', String(port), '--conns', String(conns), '--publishers', '2', '--rate', '200', '--size', '64', ...SHORT]);
      const result = assertOk(run);
      assert.equal(result.connections, conns);
      assert.ok(result.messages > 50, `messages ${result.messages}`);
      const ratio = result.deliveries / result.messages;
      assert.ok(ratio > conns * 0.8 && ratio < conns * 1.2, `deliveries per message ${ratio}`);
    } finally {
      await new Promise<void>((resolve) => io.close(() => resolve()));
    }
  });
});

/** Runs the generator with bad arguments: it must refuse them (exit 2) and say why on stderr. */
function refused(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('loadgen over several nodes (--ports)', () => {
  test('bad --ports lists are refused with the reason, before any connection', async () => {
    const chat = ['--mode', 'chat-wschat', '--conns', '30', '--publishers', '3', '--rate', '10', '--size', '64'];
    const cases: Array<[string[], RegExp]> = [
      [[...chat, '--ports', '7001,7001,7002'], /--ports: 7001 is listed twice/],
      [[...chat, '--ports', '7001,,7002'], /--ports: empty item/],
      [[...chat, '--ports', '7001,7002,'], /--ports: empty item/],
      [[...chat, '--ports', '7001,x,7002'], /--ports: 'x' is not a port number/],
      [[...chat, '--ports', '0,7001,7002'], /--ports: 0 is not a port number/],
      [[...chat, '--ports', '7001,70000,7002'], /--ports: 70000 is not a port number/],
      [[...chat, '--ports', '7001,7002', '--ports', '7003'], /--ports given twice/],
      [[...chat, '--port', '7001', '--ports', '7002,7003'], /--port and --ports are exclusive/],
      [[...chat, '--ports', '7001,7002,7003,7004'], /--publishers \(3\) must be at least the number of --ports \(4\)/],
      [['--mode', 'echo', '--ports', '7001,7002'], /--ports is for the chat modes/],
      [['--mode', 'fanout', '--ports', '7001,7002', '--publishers', '2', '--conns', '4'], /--ports is for the chat modes/],
    ];
    for (const [args, reason] of cases) {
      const { code, stderr } = await refused(args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, reason, args.join(' '));
    }
  });

  const redisPeer = findRedis();
  describe('against three nodes sharing one Redis', { skip: peerSkip(redisPeer) }, () => {
    const redis = useRedis();

    test('chat-wschat: members and publishers spread evenly over three wschat nodes, every message to every member', async () => {
      const nodes: ChatServer[] = [];
      const accepted: number[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const node = await startChatServer({
            host: '127.0.0.1',
            port: 0,
            redis: { url: redis().url },
            console: null,
            hub: { rateLimit: { burst: 1e6, perSecond: 1e6 } },
          });
          nodes.push(node);
          accepted.push(0);
          node.websocket.on('connection', () => {
            accepted[i]!++;
          });
        }
        const conns = 31;
        const run = await runLoadgen([
          '--mode',
          'chat-wschat',
          '--ports',
          nodes.map((n) => n.port).join(','),
          '--conns',
          String(conns),
          '--publishers',
          '3',
          '--rate',
          '60',
          '--size',
          '64',
          ...SHORT,
        ]);
        const result = assertOk(run);
        assert.equal(result.connections, conns);
        assert.deepEqual(accepted, [11, 10, 10], 'connection i on node i mod 3');
        assert.ok(result.messages > 10, `messages ${result.messages}`);
        const ratio = result.deliveries / result.messages;
        assert.ok(ratio > conns * 0.8 && ratio < conns * 1.2, `deliveries per message ${ratio}`);
      } finally {
        await Promise.all(nodes.map((n) => n.close()));
      }
    });

    test('chat-socketio: three socket.io servers with the Redis adapter', async () => {
      const servers: Array<{ io: SocketIoServer; port: number; close(): Promise<void> }> = [];
      const accepted = [0, 0, 0];
      try {
        for (let i = 0; i < 3; i++) {
          const pub = createClient({ url: redis().url });
          const sub = pub.duplicate();
          await Promise.all([pub.connect(), sub.connect()]);
          const io = new SocketIoServer({ transports: ['websocket'], serveClient: false, adapter: createAdapter(pub, sub) });
          io.on('connection', (socket) => {
            accepted[i]!++;
            let room: string | null = null;
            socket.on('join', (name: unknown) => {
              if (typeof name !== 'string') return;
              room = name;
              void socket.join(name);
            });
            socket.on('msg', (payload: unknown) => {
              if (room !== null) io.to(room).emit('msg', payload);
            });
          });
          const http = (await import('node:http')).createServer();
          io.attach(http);
          await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
          servers.push({
            io,
            port: (http.address() as AddressInfo).port,
            close: async () => {
              await new Promise<void>((resolve) => io.close(() => resolve()));
              await Promise.all([pub.quit(), sub.quit()]);
            },
          });
        }
        const conns = 12;
        const run = await runLoadgen(['--mode', 'chat-socketio', '--ports', servers.map((s) => s.port).join(','), '--conns', String(conns), '--publishers', '3', '--rate', '60', '--size', '64', ...SHORT]);
        const result = assertOk(run);
        assert.equal(result.connections, conns);
        assert.deepEqual(accepted, [4, 4, 4]);
        const ratio = result.deliveries / result.messages;
        assert.ok(ratio > conns * 0.8 && ratio < conns * 1.2, `deliveries per message ${ratio}`);
      } finally {
        await Promise.all(servers.map((s) => s.close()));
      }
    });
  });
});

/**
 * A deliberately broken WebSocket server: `badAccept` answers the handshake
 * with a wrong Sec-WebSocket-Accept; `corrupt` echoes correctly, except that
 * the 10th message comes back with one byte changed.
 */
async function brokenServer(fault: 'badAccept' | 'corrupt'): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    let open = false;
    let count = 0;
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (!open) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const key = /sec-websocket-key: *(\S+)/i.exec(buffer.subarray(0, end).toString())?.[1] ?? '';
        let accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        if (fault === 'badAccept') accept = createHash('sha1').update(key).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        buffer = buffer.subarray(end + 4);
        open = true;
      }
      // Client frames here are small and masked: 2-byte header (+2 for 126), 4-byte key.
      while (buffer.length >= 6) {
        const opcode = buffer[0]! & 15;
        let length = buffer[1]! & 127;
        let offset = 2;
        if (length === 126) {
          length = buffer.readUInt16BE(2);
          offset = 4;
        }
        if (buffer.length < offset + 4 + length) return;
        const mask = buffer.subarray(offset, offset + 4);
        const payload = Buffer.from(buffer.subarray(offset + 4, offset + 4 + length));
        for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
        buffer = buffer.subarray(offset + 4 + length);
        if (opcode === 8) {
          socket.end(Buffer.concat([Buffer.from([0x88, payload.length]), payload]));
          return;
        }
        if (++count === 10) payload[payload.length - 1]! ^= 1;
        socket.write(Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('loadgen against a broken server', () => {
  for (const [fault, detail] of [
    ['badAccept', /Sec-WebSocket-Accept/],
    ['corrupt', /differs from what was sent/],
  ] as const) {
    test(`${fault}: the run fails with the error counted`, async () => {
      const server = await brokenServer(fault);
      try {
        const port = (server.address() as AddressInfo).port;
        const run = await runLoadgen(['--mode', 'echo', '--port', String(port), '--conns', '2', '--inflight', '2', '--size', '32', ...SHORT]);
        assert.equal(run.result.ok, false);
        assert.ok(run.result.errors > 0);
        assert.match(run.result.error_detail, detail);
      } finally {
        server.close();
      }
    });
  }
});
