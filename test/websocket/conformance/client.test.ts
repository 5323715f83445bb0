/**
 * Conformance of our client, modelled on Autobahn|Testsuite's fuzzingserver
 * case list (sections 1-7, 9, 10, 12, 13). A raw server (raw-peer.ts)
 * accepts `connect()`'s handshake by hand and sends each case's frames,
 * unmasked as a server must; the client's application echoes every message
 * back. Every frame the client sends is checked to be masked (RFC 6455
 * §5.1), and the close code the application sees is checked along with the
 * one on the wire. See docs/conformance.md.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { type ConnectOptions, connect } from '../../../src/websocket/node/client.js';
import type { WebSocket } from '../../../src/websocket/node/connection.js';
import {
  acceptFor,
  bigText,
  closePayload,
  Deflater,
  describeFrame,
  type FrameSpec,
  firstInvalidByte,
  fragments,
  Inflater,
  jsonText,
  KOSME,
  type Message,
  Op,
  parseExtensions,
  type RawAcceptOptions,
  type RawPeer,
  RawServer,
  text,
  UTF8_CASES,
  WAIT,
  within,
} from './raw-peer.js';

let raw: RawServer;

before(async () => {
  raw = await RawServer.start();
});

after(async () => {
  await raw.close();
});

interface Closed {
  code: number;
  reason: string;
  wasClean: boolean;
}

interface Session {
  ws: WebSocket;
  peer: RawPeer;
  /** The client's request headers. */
  headers: Record<string, string>;
  /** What the application received, in order. */
  messages: Array<{ data: string | Buffer; isBinary: boolean }>;
  closed: Promise<Closed>;
}

let handshakes: Promise<unknown> = Promise.resolve();

/**
 * Connect our client to the raw server; its application echoes every
 * message. Handshakes run one at a time, so that each raw accept pairs with
 * its own connect even when sessions run concurrently.
 */
function open(accept: RawAcceptOptions = {}, options: ConnectOptions = {}): Promise<Session> {
  const session = handshakes.then(() => openNow(accept, options));
  handshakes = session.catch(() => undefined);
  return session;
}

async function openNow(accept: RawAcceptOptions, options: ConnectOptions): Promise<Session> {
  const accepted = raw.accept(accept);
  const ws = await connect(raw.url, { closeTimeout: WAIT, ...options });
  const messages: Session['messages'] = [];
  ws.on('message', (data, isBinary) => {
    messages.push({ data, isBinary });
    ws.send(data);
  });
  const closed = new Promise<Closed>((resolve) => ws.once('close', (code, reason, wasClean) => resolve({ code, reason, wasClean })));
  const { peer, headers } = await accepted;
  return { ws, peer, headers, messages, closed };
}

async function expectEcho(s: Session, opcode: number, payload: Buffer, ms?: number): Promise<Message> {
  const m = await s.peer.readMessage(ms);
  assert.equal(m.opcode, opcode, 'message type kept');
  assert.equal(m.compressed, false);
  assert.equal(m.payload.length, payload.length, 'echo length');
  assert.ok(m.payload.equals(payload), 'echo content');
  assert.deepEqual(m.controls.map(describeFrame), []);
  return m;
}

/**
 * The server (we) closes with `code`: the client echoes it, masked, and
 * leaves closing TCP to the server (RFC 6455 §7.1.1); its application sees
 * a clean close with that code.
 */
async function serverCloses(s: Session, code = 1000): Promise<void> {
  await s.peer.sendClose(code);
  const seen = await s.peer.readClose();
  assert.deepEqual(seen.before.map(describeFrame), []);
  assert.equal(seen.code, code, 'the client echoes the close code');
  assert.equal(s.peer.remoteEnded, false, 'the client waits for the server to close TCP');
  s.peer.end();
  const c = await within(s.closed, WAIT, 'the close event');
  assert.deepEqual([c.code, c.wasClean], [code, true]);
}

/**
 * The client fails the connection with `code`: exactly `before` arrives
 * first, then its close frame; it waits for us to close TCP; its
 * application sees `code`, not clean.
 */
async function expectFailure(s: Session, code: number, before: string[] = []): Promise<void> {
  const seen = await s.peer.readClose();
  assert.deepEqual(seen.before.map(describeFrame), before, 'frames before the close');
  assert.equal(seen.code, code, `close code (reason: ${seen.reason.toString()})`);
  assert.equal(s.peer.remoteEnded, false, 'the client waits for the server to close TCP');
  s.peer.end();
  const c = await within(s.closed, WAIT, 'the close event');
  assert.deepEqual([c.code, c.wasClean], [code, false]);
}

const pong = (payload: Buffer | string) => describeFrame({ fin: true, rsv: 0, opcode: Op.PONG, masked: true, payload: Buffer.from(payload) });
const textFrame = (payload: Buffer | string) => describeFrame({ fin: true, rsv: 0, opcode: Op.TEXT, masked: true, payload: Buffer.from(payload) });

type Chopping = 'one write' | 'frame-wise' | 'octet-wise';

async function sendChopped(peer: RawPeer, specs: FrameSpec[], how: Chopping): Promise<void> {
  if (how === 'one write') return peer.send(...specs);
  if (how === 'frame-wise') {
    for (const spec of specs) await peer.sendInChunks(peer.frame(spec), 1 << 30);
    return;
  }
  await peer.sendInChunks(Buffer.concat(specs.map((spec) => peer.frame(spec))), 1);
}

describe('handshake (client side)', () => {
  test('the request is a valid RFC 6455 §4.1 opening handshake', async () => {
    const s = await open();
    assert.equal(s.headers.upgrade?.toLowerCase(), 'websocket');
    assert.match(s.headers.connection ?? '', /\bupgrade\b/i);
    assert.equal(s.headers['sec-websocket-version'], '13');
    assert.equal(Buffer.from(s.headers['sec-websocket-key'] ?? '', 'base64').length, 16);
    assert.equal(s.headers.host, `127.0.0.1:${raw.port}`);
    await serverCloses(s);
  });

  test('frames sent in the same write as the 101 reach the application', async () => {
    const s = await open({ firstFrames: [{ opcode: Op.TEXT, payload: 'welcome' }] });
    await expectEcho(s, Op.TEXT, Buffer.from('welcome'));
    await serverCloses(s);
  });

  test('a wrong Sec-WebSocket-Accept fails the handshake (RFC 6455 §4.1)', async () => {
    const accepted = raw.accept({ acceptValue: acceptFor('AAAAAAAAAAAAAAAAAAAAAA==') });
    await assert.rejects(connect(raw.url), { name: 'HandshakeError' });
    (await accepted).peer.destroy();
  });
});

describe('1 framing', () => {
  const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];
  for (const [name, opcode] of [
    ['text', Op.TEXT],
    ['binary', Op.BINARY],
  ] as const) {
    test(`1.${opcode}.1-7 ${name} of ${LENGTHS.join(', ')} bytes echoed exactly, masked`, async () => {
      const s = await open();
      for (const n of LENGTHS) {
        const payload = opcode === Op.TEXT ? text(n, n) : randomBytes(n);
        await s.peer.send({ opcode, payload });
        await expectEcho(s, opcode, payload);
      }
      await serverCloses(s);
    });

    test(`1.${opcode}.8 ${name}: small frames one byte per write, large ones in 997-byte chops`, async () => {
      const s = await open();
      for (const n of LENGTHS) {
        const payload = opcode === Op.TEXT ? text(n, n + 1) : randomBytes(n);
        await s.peer.sendInChunks(s.peer.frame({ opcode, payload }), n <= 128 ? 1 : 997);
        await expectEcho(s, opcode, payload);
      }
      await serverCloses(s);
    });
  }

  test('RFC 6455 §5.1: a masked frame from the server -> 1002', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.TEXT, payload: 'masked', mask: true });
    await expectFailure(s, 1002);
    assert.deepEqual(s.messages, [], 'nothing delivered');
  });

  // The "minimal" MUST binds the sender; receivers accept longer encodings (issue 10, 1.6).
  test('RFC 6455 §5.2: non-minimal length encodings are accepted', async () => {
    for (const spec of [
      { opcode: Op.TEXT, payload: Buffer.from('short'), lengthBits: 16 },
      { opcode: Op.BINARY, payload: randomBytes(300), lengthBits: 64 },
    ] as Array<FrameSpec & { payload: Buffer }>) {
      const s = await open();
      await s.peer.send(spec);
      await expectEcho(s, spec.opcode, spec.payload);
      await serverCloses(s);
    }
  });
});

describe('2 pings and pongs', () => {
  test('2.1-2.4 pings with payloads of 0..125 bytes are answered with identical (masked) pongs', async () => {
    const s = await open();
    for (let n = 0; n <= 125; n++) {
      const payload = n % 2 === 0 ? randomBytes(n) : text(n, n);
      await s.peer.send({ opcode: Op.PING, payload });
      const f = await s.peer.nextFrame();
      assert.equal(f.opcode, Op.PONG);
      assert.ok(f.payload.equals(payload), `pong payload for a ${n}-byte ping`);
    }
    await serverCloses(s);
  });

  test('2.5 ping with 126 bytes -> 1002', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.PING, payload: randomBytes(126) });
    await expectFailure(s, 1002);
  });

  test('2.6 ping of 125 bytes sent one byte per write -> pong', async () => {
    const s = await open();
    const payload = randomBytes(125);
    await s.peer.sendInChunks(s.peer.frame({ opcode: Op.PING, payload }), 1);
    assert.equal(describeFrame(await s.peer.nextFrame()), pong(payload));
    await serverCloses(s);
  });

  test('2.7-2.9 unsolicited pongs are ignored; a ping after them gets its pong; an echo still works', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.PONG }, { opcode: Op.PONG, payload: 'unsolicited' }, { opcode: Op.PING, payload: 'ping' }, { opcode: Op.TEXT, payload: 'after' });
    assert.equal(describeFrame(await s.peer.nextFrame()), pong('ping'));
    assert.equal(describeFrame(await s.peer.nextFrame()), textFrame('after'));
    await serverCloses(s);
  });

  test('2.10-2.11 ten pings in one write, then ten one byte per write -> twenty pongs, in order', async () => {
    const s = await open();
    const payloads = Array.from({ length: 10 }, (_, i) => `ping ${i}`);
    await s.peer.send(...payloads.map((p) => ({ opcode: Op.PING, payload: p })));
    for (const p of payloads) assert.equal(describeFrame(await s.peer.nextFrame()), pong(p));
    await sendChopped(s.peer, payloads.map((p) => ({ opcode: Op.PING, payload: p })), 'octet-wise');
    for (const p of payloads) assert.equal(describeFrame(await s.peer.nextFrame()), pong(p));
    await serverCloses(s);
  });
});

describe('3 reserved bits', () => {
  test('3.1 text with RSV=1 -> 1002', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.TEXT, payload: 'Hello, world!', rsv: 1 });
    await expectFailure(s, 1002);
  });

  for (const [rsv, how] of [
    [2, 'one write'],
    [3, 'frame-wise'],
    [4, 'octet-wise'],
  ] as const) {
    test(`3.${rsv} text, then text with RSV=${rsv}, then ping (${how}) -> echo, 1002, no pong`, async () => {
      const s = await open();
      await sendChopped(
        s.peer,
        [
          { opcode: Op.TEXT, payload: 'Hello, world!' },
          { opcode: Op.TEXT, payload: 'Hello, world!', rsv },
          { opcode: Op.PING, payload: 'never answered' },
        ],
        how,
      );
      await expectFailure(s, 1002, [textFrame('Hello, world!')]);
      assert.equal(s.messages.length, 1, 'only the first message is delivered');
    });
  }

  for (const [name, spec] of [
    ['3.5 binary with RSV=5', { opcode: Op.BINARY, payload: randomBytes(8), rsv: 5 }],
    ['3.6 ping with RSV=6', { opcode: Op.PING, payload: 'rsv', rsv: 6 }],
    ['3.7 close with RSV=7', { opcode: Op.CLOSE, payload: closePayload(1000), rsv: 7 }],
  ] as const) {
    test(`${name} -> 1002`, async () => {
      const s = await open();
      await s.peer.send(spec, { opcode: Op.PING, payload: 'never' });
      await expectFailure(s, 1002);
    });
  }
});

describe('4 opcodes', () => {
  for (const opcode of [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]) {
    test(`4.x reserved opcode 0x${opcode.toString(16)}, empty, with payload, after an echo -> 1002, no pong`, async () => {
      let s = await open();
      await s.peer.send({ opcode }, { opcode: Op.PING, payload: 'x' });
      await expectFailure(s, 1002);
      s = await open();
      await s.peer.send({ opcode: Op.TEXT, payload: 'Hello, world!' });
      await expectEcho(s, Op.TEXT, Buffer.from('Hello, world!'));
      await s.peer.send({ opcode, payload: 'reserved' }, { opcode: Op.PING, payload: 'never' });
      await expectFailure(s, 1002);
    });
  }

  test('4.1.3 / 4.2.3 text, reserved opcode, ping in one write -> echo, 1002, no pong', async () => {
    for (const opcode of [5, 0xd]) {
      const s = await open();
      await s.peer.send({ opcode: Op.TEXT, payload: 'Hello, world!' }, { opcode, payload: 'reserved' }, { opcode: Op.PING, payload: 'never' });
      await expectFailure(s, 1002, [textFrame('Hello, world!')]);
    }
  });
});

describe('5 fragmentation', () => {
  test('5.1-5.2 fragmented ping and pong -> 1002', async () => {
    for (const opcode of [Op.PING, Op.PONG]) {
      const s = await open();
      await s.peer.send({ opcode, payload: 'fragment1', fin: false }, { opcode: Op.CONTINUATION, payload: 'fragment2' });
      await expectFailure(s, 1002);
    }
  });

  for (const how of ['one write', 'frame-wise', 'octet-wise'] as const) {
    test(`5.3-5.8 two fragments, with a ping between (${how}) -> pong first, then one echo`, async () => {
      const s = await open();
      await sendChopped(s.peer, [{ opcode: Op.TEXT, payload: 'fragment1', fin: false }, { opcode: Op.CONTINUATION, payload: 'fragment2' }], how);
      await expectEcho(s, Op.TEXT, Buffer.from('fragment1fragment2'));
      await sendChopped(
        s.peer,
        [
          { opcode: Op.BINARY, payload: 'fragment1', fin: false },
          { opcode: Op.PING, payload: 'ping payload' },
          { opcode: Op.CONTINUATION, payload: 'fragment2' },
        ],
        how,
      );
      assert.equal(describeFrame(await s.peer.nextFrame()), pong('ping payload'));
      await expectEcho(s, Op.BINARY, Buffer.from('fragment1fragment2'));
      await serverCloses(s);
    });

    test(`5.9-5.14 continuation with nothing to continue (FIN and not), then text (${how}) -> 1002, no echo`, async () => {
      for (const fin of [true, false]) {
        const s = await open();
        await sendChopped(s.peer, [{ opcode: Op.CONTINUATION, payload: 'non-continuation payload', fin }, { opcode: Op.TEXT, payload: 'Hello, world!' }], how);
        await expectFailure(s, 1002);
        assert.deepEqual(s.messages, []);
      }
    });
  }

  test('5.15 two-fragment text, then a stray continuation, then text -> echo of the first only, 1002', async () => {
    const s = await open();
    await s.peer.send(
      { opcode: Op.TEXT, payload: 'fragment1', fin: false },
      { opcode: Op.CONTINUATION, payload: 'fragment2' },
      { opcode: Op.CONTINUATION, payload: 'fragment3', fin: false },
      { opcode: Op.TEXT, payload: 'fragment4' },
    );
    await expectFailure(s, 1002, [textFrame('fragment1fragment2')]);
  });

  test('5.16-5.18 stray continuations before a fragmented text, and text inside text -> 1002, no echo', async () => {
    for (const specs of [
      [
        { opcode: Op.CONTINUATION, payload: 'fragment1', fin: false },
        { opcode: Op.TEXT, payload: 'fragment2', fin: false },
        { opcode: Op.CONTINUATION, payload: 'fragment3' },
      ],
      [
        { opcode: Op.CONTINUATION, payload: 'fragment1' },
        { opcode: Op.TEXT, payload: 'fragment2', fin: false },
        { opcode: Op.CONTINUATION, payload: 'fragment3' },
      ],
      [
        { opcode: Op.TEXT, payload: 'fragment1', fin: false },
        { opcode: Op.TEXT, payload: 'fragment2' },
      ],
    ] as FrameSpec[][]) {
      const s = await open();
      await s.peer.send(...specs);
      await expectFailure(s, 1002);
      assert.deepEqual(s.messages, []);
    }
  });

  test('5.19-5.20 pings inside a five-fragment text: each pong arrives before the message ends', async () => {
    const s = await open();
    await s.peer.send(
      { opcode: Op.TEXT, payload: 'fragment1', fin: false },
      { opcode: Op.CONTINUATION, payload: 'fragment2', fin: false },
      { opcode: Op.PING, payload: 'pongme 1!' },
    );
    assert.equal(describeFrame(await s.peer.nextFrame()), pong('pongme 1!'));
    await s.peer.send(
      { opcode: Op.CONTINUATION, payload: 'fragment3', fin: false },
      { opcode: Op.CONTINUATION, payload: 'fragment4', fin: false },
      { opcode: Op.PING, payload: 'pongme 2!' },
    );
    assert.equal(describeFrame(await s.peer.nextFrame()), pong('pongme 2!'));
    await s.peer.send({ opcode: Op.CONTINUATION, payload: 'fragment5' });
    await expectEcho(s, Op.TEXT, Buffer.from('fragment1fragment2fragment3fragment4fragment5'));
    await serverCloses(s);
  });

  test('6.1.1-6.1.3 empty message, empty fragments, one-byte fragments across code points', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.TEXT });
    await expectEcho(s, Op.TEXT, Buffer.alloc(0));
    await s.peer.send({ opcode: Op.TEXT, fin: false }, { opcode: Op.CONTINUATION, payload: 'middle frame payload', fin: false }, { opcode: Op.CONTINUATION });
    await expectEcho(s, Op.TEXT, Buffer.from('middle frame payload'));
    const payload = Buffer.from('Hello-µ@ßöäüàá-UTF-8!! 😀 𝄞', 'utf8');
    await s.peer.send(...fragments(Op.TEXT, payload, 1));
    await expectEcho(s, Op.TEXT, payload);
    await serverCloses(s);
  });

  test('9.3.1 a 4 MiB text in 64-byte fragments (65,536 frames)', async () => {
    const s = await open();
    const payload = bigText(4 << 20);
    await s.peer.send(...fragments(Op.TEXT, payload, 64));
    await expectEcho(s, Op.TEXT, payload, 10_000);
    await serverCloses(s);
  });
});

describe('6 UTF-8', () => {
  const INVALID = Buffer.concat([KOSME, Buffer.from('eda080', 'hex'), Buffer.from('edited')]);

  test('6.3.1-6.3.2 invalid text, whole and in one-byte fragments -> 1007', async () => {
    for (const specs of [[{ opcode: Op.TEXT, payload: INVALID }], fragments(Op.TEXT, INVALID, 1)]) {
      const s = await open();
      await s.peer.send(...specs);
      await expectFailure(s, 1007);
      assert.deepEqual(s.messages, []);
    }
  });

  const PART1 = KOSME;
  const PART2 = Buffer.from('f4908080', 'hex');
  const PART3 = Buffer.from('edited');
  for (const [name, parts] of [
    ['6.4.1', [PART1, PART2, PART3]],
    ['6.4.2', [Buffer.concat([PART1, PART2.subarray(0, 1)]), PART2.subarray(1), PART3]],
  ] as const) {
    test(`${name} fail-fast across frames: 1007 arrives after part 2, before part 3 is sent`, async () => {
      const s = await open();
      await s.peer.send({ opcode: Op.TEXT, payload: parts[0], fin: false }, { opcode: Op.PING, payload: 'part 1 ok?' });
      assert.equal(describeFrame(await s.peer.nextFrame()), pong('part 1 ok?'));
      await s.peer.send({ opcode: Op.CONTINUATION, payload: parts[1], fin: false });
      await expectFailure(s, 1007);
    });
  }

  for (const [name, cut] of [
    ['6.4.3', PART1.length],
    ['6.4.4', PART1.length + 1],
  ] as const) {
    test(`${name} fail-fast inside one frame: 1007 arrives after chop 2, before chop 3 is sent`, async () => {
      const s = await open();
      const payload = Buffer.concat([PART1, PART2, PART3]);
      const frame = s.peer.frame({ opcode: Op.TEXT, payload });
      const header = frame.length - payload.length;
      const second = cut === PART1.length ? PART1.length + PART2.length : PART1.length + 2;
      await s.peer.write(frame.subarray(0, header + cut));
      await s.peer.quietFor(100);
      await s.peer.write(frame.subarray(header + cut, header + second));
      await expectFailure(s, 1007);
    });
  }

  test('6.5-6.23 valid sequences are echoed', async () => {
    const s = await open();
    for (const c of UTF8_CASES.filter((x) => x.valid)) {
      await s.peer.send({ opcode: Op.TEXT, payload: c.bytes });
      await expectEcho(s, Op.TEXT, c.bytes);
    }
    await serverCloses(s);
  });

  test('6.5-6.23 invalid sequences -> 1007, in one frame and at the very one-byte fragment that makes them invalid', async () => {
    const cases = UTF8_CASES.filter((x) => !x.valid);
    await Promise.all(
      cases.map(async (c) => {
        const s = await open();
        await s.peer.send({ opcode: Op.TEXT, payload: c.bytes });
        await expectFailure(s, 1007);
      }),
    );
    await Promise.all(
      cases.map(async (c) => {
        const bad = firstInvalidByte(c.bytes);
        const s = await open();
        let i = 0;
        for (; i < c.bytes.length; i++) {
          await s.peer.send({ opcode: i === 0 ? Op.TEXT : Op.CONTINUATION, payload: c.bytes.subarray(i, i + 1), fin: false });
          if (i === bad) break;
          // Every fragment before the bad byte is fine: a ping after it is answered.
          await s.peer.send({ opcode: Op.PING, payload: String(i) });
          assert.equal(describeFrame(await s.peer.nextFrame()), pong(String(i)), `${c.bytes.toString('hex')}: byte ${i} is a valid prefix`);
        }
        // Only the end was missing: the final (FIN) fragment is the bad one.
        if (i === c.bytes.length) await s.peer.send({ opcode: Op.CONTINUATION });
        await expectFailure(s, 1007);
      }),
    );
  });
});

describe('7 closing handshake', () => {
  test('7.1.1 text then close -> echo, then the close echoed', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.TEXT, payload: 'Hello World!' }, { opcode: Op.CLOSE, payload: closePayload(1000) });
    const seen = await s.peer.readClose();
    assert.deepEqual(seen.before.map(describeFrame), [textFrame('Hello World!')]);
    assert.equal(seen.code, 1000);
    s.peer.end();
    assert.equal((await within(s.closed, WAIT, 'close')).wasClean, true);
  });

  test('7.1.2-7.1.5 close, then close / ping / text / continuation -> one close back, nothing delivered after it', async () => {
    for (const afterClose of [
      { opcode: Op.CLOSE, payload: closePayload(1000) },
      { opcode: Op.PING, payload: 'Hello World!' },
      { opcode: Op.TEXT, payload: 'Hello World!' },
    ]) {
      const s = await open();
      await s.peer.send({ opcode: Op.CLOSE, payload: closePayload(1000) }, afterClose);
      const seen = await s.peer.readClose();
      assert.deepEqual(seen.before, []);
      assert.equal(seen.code, 1000);
      s.peer.end();
      await within(s.closed, WAIT, 'close');
      await s.peer.closed();
      assert.deepEqual(s.peer.unread.map(describeFrame), []);
      assert.deepEqual(s.messages, []);
    }
    const s = await open();
    await s.peer.send({ opcode: Op.TEXT, payload: 'fragment1', fin: false }, { opcode: Op.CLOSE, payload: closePayload(1000) }, { opcode: Op.CONTINUATION, payload: 'fragment2' });
    const seen = await s.peer.readClose();
    assert.deepEqual([seen.before, seen.code], [[], 1000]);
    s.peer.end();
    await within(s.closed, WAIT, 'close');
    assert.deepEqual(s.messages, []);
  });

  test('7.3.1 empty close -> empty close back; the application sees 1005', async () => {
    const s = await open();
    await s.peer.sendClose();
    const seen = await s.peer.readClose();
    assert.equal(seen.frame.payload.length, 0);
    assert.equal(s.peer.remoteEnded, false);
    s.peer.end();
    const c = await within(s.closed, WAIT, 'close');
    assert.deepEqual([c.code, c.wasClean], [1005, true]);
  });

  test('7.3.2 / 7.3.6 close payload of 1 byte, or a 124-byte reason -> 1002', async () => {
    for (const payload of [Buffer.from([0x03]), closePayload(1000, '*'.repeat(124))]) {
      const s = await open();
      await s.peer.send({ opcode: Op.CLOSE, payload });
      await expectFailure(s, 1002);
    }
  });

  test('7.3.3-7.3.5 close 1000 with no reason, a reason, 123 bytes of reason -> close 1000; the application sees the reason', async () => {
    for (const reason of ['', 'Hello World!', '*'.repeat(123)]) {
      const s = await open();
      await s.peer.sendClose(1000, reason);
      const seen = await s.peer.readClose();
      assert.equal(seen.code, 1000);
      s.peer.end();
      const c = await within(s.closed, WAIT, 'close');
      assert.deepEqual(c, { code: 1000, reason, wasClean: true });
    }
  });

  test('7.5.1 close reason that is not UTF-8 -> 1007', async () => {
    const s = await open();
    await s.peer.sendClose(1000, Buffer.concat([KOSME, Buffer.from('eda080', 'hex')]));
    await expectFailure(s, 1007);
  });

  const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  test(`7.7.x valid close codes ${VALID.join(', ')} are echoed`, async () => {
    for (const code of VALID) await serverCloses(await open(), code);
  });

  const INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  test(`7.9.x / 7.13.x invalid close codes ${INVALID.join(', ')} -> 1002`, async () => {
    for (const code of INVALID) {
      const s = await open();
      await s.peer.sendClose(code);
      await expectFailure(s, 1002);
    }
  });

  test('the application closes: a masked close with its code and reason; clean once the server answers and closes TCP', async () => {
    const s = await open();
    s.ws.close(4001, 'bye');
    const seen = await s.peer.readClose();
    assert.equal(seen.code, 4001);
    assert.equal(seen.reason.toString(), 'bye');
    await s.peer.sendClose(4001);
    s.peer.end();
    const c = await within(s.closed, WAIT, 'close');
    assert.deepEqual([c.code, c.wasClean], [4001, true]);
  });
});

describe('9 limits and performance', () => {
  test('9.1.x / 9.2.x 64 KiB .. 4 MiB text, and 16 MiB binary, echoed intact', async () => {
    const s = await open();
    for (const n of [64 << 10, 256 << 10, 1 << 20, 4 << 20]) {
      const payload = bigText(n);
      await s.peer.send({ opcode: Op.TEXT, payload });
      await expectEcho(s, Op.TEXT, payload, 10_000);
    }
    const bytes = randomBytes(16 << 20);
    await s.peer.send({ opcode: Op.BINARY, payload: bytes });
    await expectEcho(s, Op.BINARY, bytes, 10_000);
    await serverCloses(s);
  });

  test('9.3.x / 9.4.x / 9.5.x 1 MiB in frames of 256 B .. 1 MiB, and written in chops of 64 B .. 2 KiB', async () => {
    const s = await open();
    const payload = bigText(1 << 20);
    for (const size of [256, 4096, 65536, 1 << 20]) {
      await s.peer.send(...fragments(Op.BINARY, payload, size));
      await expectEcho(s, Op.BINARY, payload, 10_000);
    }
    for (const size of [64, 2048]) {
      await s.peer.sendInChunks(s.peer.frame({ opcode: Op.TEXT, payload }), size, false);
      await expectEcho(s, Op.TEXT, payload, 10_000);
    }
    // Paced, so every chop is its own read on the client (128 KiB: pacing costs time).
    const part = payload.subarray(0, 128 << 10);
    for (const size of [64, 256, 2048]) {
      await s.peer.sendInChunks(s.peer.frame({ opcode: Op.TEXT, payload: part }), size);
      await expectEcho(s, Op.TEXT, part);
    }
    await serverCloses(s);
  });

  test('9.7.x / 9.8.x 1000 round trips each of 0 B .. 4 KiB, text and binary', async () => {
    const s = await open();
    for (const n of [0, 16, 64, 256, 1024, 4096]) {
      const payload = text(n, n);
      for (let i = 0; i < 1000; i++) {
        const opcode = i % 2 === 0 ? Op.TEXT : Op.BINARY;
        await s.peer.send({ opcode, payload });
        const m = await s.peer.readMessage();
        assert.equal(m.opcode, opcode);
        assert.ok(m.payload.equals(payload));
      }
    }
    await serverCloses(s);
  });

  test('over the limit: a frame declaring 16 MiB + 1 -> 1009 before any payload is sent', async () => {
    const s = await open();
    await s.peer.send({ opcode: Op.BINARY, declaredLength: (16 << 20) + 1 });
    await expectFailure(s, 1009);
  });

  test('over the limit: fragments adding up past maxMessageSize -> 1009', async () => {
    const s = await open({}, { maxMessageSize: 1000 });
    await s.peer.send({ opcode: Op.TEXT, payload: text(1000) });
    await expectEcho(s, Op.TEXT, text(1000));
    await s.peer.send({ opcode: Op.TEXT, payload: text(600), fin: false }, { opcode: Op.CONTINUATION, payload: text(401) });
    await expectFailure(s, 1009);
  });
});

describe('10 miscellaneous', () => {
  test('10.1.1 64 KiB text auto-fragmented into 1300-byte frames is echoed', async () => {
    const s = await open();
    const payload = text(65536, 3);
    await s.peer.send(...fragments(Op.TEXT, payload, 1300));
    await expectEcho(s, Op.TEXT, payload);
    await serverCloses(s);
  });
});

// ---- 12 / 13: permessage-deflate ----

interface DeflateSession extends Session {
  deflater: Deflater;
  inflater: Inflater;
  offer: string;
}

/**
 * Connect with `options`, answer its offer with `response` (RFC 7692 §7.1
 * validity is the test's business), and compress as that answer says.
 */
async function openDeflate(response: string, options: ConnectOptions = { perMessageDeflate: true }): Promise<DeflateSession> {
  const s = await open({ extensions: response }, options);
  const offer = s.headers['sec-websocket-extensions'] ?? '';
  const params = parseExtensions(response)[0]!.params;
  const serverBits = params.get('server_max_window_bits');
  const deflater = new Deflater({
    windowBits: typeof serverBits === 'string' ? Math.max(9, Number(serverBits)) : 15,
    takeover: !params.has('server_no_context_takeover'),
  });
  return { ...s, deflater, inflater: new Inflater(), offer };
}

async function sendCompressed(s: DeflateSession, opcode: number, data: Buffer, fragmentSize = 0): Promise<void> {
  const payload = await s.deflater.compress(data);
  await s.peer.send(...fragments(opcode, payload, fragmentSize, 4));
}

async function readDecoded(s: DeflateSession, ms?: number): Promise<{ opcode: number; data: Buffer; compressed: boolean }> {
  const m = await s.peer.readMessage(ms);
  const data = m.compressed ? await s.inflater.inflate(m.payload) : m.payload;
  return { opcode: m.opcode, data, compressed: m.compressed };
}

async function closeDeflate(s: DeflateSession): Promise<void> {
  await serverCloses(s);
  s.deflater.close();
  s.inflater.close();
}

const SIZES = [16, 64, 256, 1024, 4096, 16384, 65536, 131072];

async function exerciseEchoes(s: DeflateSession, opcode: number, perSize = 1): Promise<number> {
  let compressed = 0;
  for (const [index, size] of SIZES.entries()) {
    for (let k = 0; k < perSize; k++) {
      const data = jsonText(size, index * 10 + k);
      const fragmentSize = size >= 4096 && k % 2 === 0 ? [256, 1024, 4096, 32768][index % 4]! : 0;
      await sendCompressed(s, opcode, data, fragmentSize);
      const echoed = await readDecoded(s);
      assert.equal(echoed.opcode, opcode);
      assert.ok(echoed.data.equals(data), `echo of ${size} bytes decodes to what was sent`);
      if (echoed.compressed) compressed++;
    }
  }
  return compressed;
}

describe('12 / 13 permessage-deflate', () => {
  test('the default offer is permessage-deflate; client_no_context_takeover; client_max_window_bits', async () => {
    // The client resets its context after every message, and says so (RFC 7692 §7.1.1.2).
    const s = await openDeflate('permessage-deflate');
    assert.equal(s.offer, 'permessage-deflate; client_no_context_takeover; client_max_window_bits');
    await closeDeflate(s);
  });

  // Autobahn 13.1 - 13.7: what its fuzzingserver answers (client_* parameters
  // it requests), plus answers with server_* parameters a server may add.
  const RESPONSES: Array<[string, boolean]> = [
    ['permessage-deflate', true],
    ['permessage-deflate; client_no_context_takeover', true],
    ['permessage-deflate; client_max_window_bits=8', false],
    ['permessage-deflate; client_max_window_bits=15', true],
    ['permessage-deflate; client_no_context_takeover; client_max_window_bits=8', false],
    ['permessage-deflate; client_no_context_takeover; client_max_window_bits=15', true],
    ['permessage-deflate; client_max_window_bits=9', true],
    ['permessage-deflate; server_no_context_takeover', true],
    ['permessage-deflate; server_max_window_bits=9', true],
    ['permessage-deflate; server_max_window_bits=12; server_no_context_takeover; client_max_window_bits=11', true],
  ];
  for (const [response, clientCompresses] of RESPONSES) {
    test(`13.x answer "${response}": compressed messages of 16 B .. 128 KiB echo intact${clientCompresses ? '' : ' (8-bit window: the client sends uncompressed)'}`, async () => {
      const s = await openDeflate(response);
      assert.equal(s.ws.extensions, response);
      const compressed = await exerciseEchoes(s, Op.TEXT);
      if (clientCompresses) assert.ok(compressed > 0, 'the client compresses large echoes');
      else assert.equal(compressed, 0, 'RFC 7692 §7.1.2.2: zlib cannot honour an 8-bit window, so nothing is compressed');
      await closeDeflate(s);
    });
  }

  test('13.x offers with every client option are valid RFC 7692 offers, and accepted answers work', async () => {
    const cases: Array<[ConnectOptions['perMessageDeflate'], string, string]> = [
      [{ clientNoContextTakeover: true }, 'permessage-deflate; client_no_context_takeover; client_max_window_bits', 'permessage-deflate; client_no_context_takeover'],
      [{ serverNoContextTakeover: true }, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits', 'permessage-deflate; server_no_context_takeover'],
      ...[8, 9, 12, 15].map(
        (b): [ConnectOptions['perMessageDeflate'], string, string] => [
          { serverMaxWindowBits: b },
          `permessage-deflate; client_no_context_takeover; server_max_window_bits=${b}; client_max_window_bits`,
          `permessage-deflate; server_max_window_bits=${b}`,
        ],
      ),
      [{ clientMaxWindowBits: 10 }, 'permessage-deflate; client_no_context_takeover; client_max_window_bits=10', 'permessage-deflate; client_max_window_bits=10'],
      [{ clientMaxWindowBits: false }, 'permessage-deflate; client_no_context_takeover', 'permessage-deflate'],
      [{ contextTakeover: true }, 'permessage-deflate; client_max_window_bits', 'permessage-deflate'],
    ];
    for (const [options, expectedOffer, response] of cases) {
      const s = await openDeflate(response, { perMessageDeflate: options });
      assert.equal(s.offer, expectedOffer);
      // server_max_window_bits=8: our raw deflater cannot do 8 either (zlib), so it sends with 9 only if allowed; skip compressing then.
      if (response.endsWith('server_max_window_bits=8')) {
        await s.peer.send({ opcode: Op.TEXT, payload: 'plain' });
        assert.equal((await readDecoded(s)).data.toString(), 'plain');
      } else {
        await exerciseEchoes(s, Op.BINARY);
      }
      await closeDeflate(s);
    }
  });

  test('invalid answers to the offer fail the handshake (RFC 7692 §7.1, RFC 6455 §4.1)', async () => {
    for (const [response, options] of [
      ['x-unknown', true],
      ['permessage-deflate; unknown_param', true],
      ['permessage-deflate; server_no_context_takeover; server_no_context_takeover', true],
      ['permessage-deflate; client_max_window_bits=10', { clientMaxWindowBits: false }],
      ['permessage-deflate; client_max_window_bits=12', { clientMaxWindowBits: 10 }],
      ['permessage-deflate; server_max_window_bits=12', { serverMaxWindowBits: 10 }],
      ['permessage-deflate', { serverNoContextTakeover: true }],
      ['permessage-deflate; server_max_window_bits=16', true],
      ['permessage-deflate, permessage-deflate', true],
    ] as Array<[string, ConnectOptions['perMessageDeflate']]>) {
      const accepted = raw.accept({ extensions: response });
      await assert.rejects(connect(raw.url, { perMessageDeflate: options }), { name: 'HandshakeError' }, response);
      const { peer } = await accepted;
      peer.destroy();
    }
  });

  test('12.x many compressed messages, text and binary, fragmented, with the server\'s context takeover', async () => {
    const s = await openDeflate('permessage-deflate');
    await exerciseEchoes(s, Op.BINARY, 2);
    await exerciseEchoes(s, Op.TEXT, 2);
    const repeat = jsonText(4096, 1);
    for (let i = 0; i < 50; i++) {
      await sendCompressed(s, Op.TEXT, repeat);
      assert.ok((await readDecoded(s)).data.equals(repeat));
    }
    await sendCompressed(s, Op.TEXT, Buffer.alloc(0));
    assert.equal((await readDecoded(s)).data.length, 0);
    await s.peer.send({ opcode: Op.TEXT, payload: 'uncompressed' });
    assert.equal((await readDecoded(s)).data.toString(), 'uncompressed');
    await closeDeflate(s);
  });

  test('RSV1 on a continuation frame, or on a ping -> 1002', async () => {
    let s = await openDeflate('permessage-deflate');
    const specs = fragments(Op.TEXT, await s.deflater.compress(jsonText(2000, 1)), 100, 4);
    specs[1]!.rsv = 4;
    await s.peer.send(...specs);
    await expectFailure(s, 1002);
    s = await openDeflate('permessage-deflate');
    await s.peer.send({ opcode: Op.PING, payload: 'x', rsv: 4 });
    await expectFailure(s, 1002);
  });

  test('compressed data that is not DEFLATE -> 1007; compressed invalid UTF-8 -> 1007', async () => {
    let s = await openDeflate('permessage-deflate');
    await s.peer.send({ opcode: Op.BINARY, payload: Buffer.from('ffffffffffffffff', 'hex'), rsv: 4 });
    await expectFailure(s, 1007);
    s = await openDeflate('permessage-deflate');
    await sendCompressed(s, Op.TEXT, Buffer.concat([KOSME, Buffer.from('eda080', 'hex')]));
    await expectFailure(s, 1007);
  });

  test('a zip bomb that inflates past the 16 MiB limit -> 1009', async () => {
    const s = await openDeflate('permessage-deflate');
    const bomb = deflateRawSync(Buffer.alloc((16 << 20) + 1024), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    await s.peer.send({ opcode: Op.BINARY, payload: bomb.subarray(0, bomb.length - 4), rsv: 4 });
    await expectFailure(s, 1009);
  });
});
