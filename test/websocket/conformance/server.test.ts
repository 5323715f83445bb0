/**
 * Conformance of our server, modelled on Autobahn|Testsuite's fuzzingclient
 * case list (sections 1-7, 9, 10, 12, 13). A raw client (raw-peer.ts) builds
 * every frame byte by byte and talks to the echo server; each test names the
 * Autobahn cases it stands for and expects the *strict* outcome: the exact
 * echo, the exact close code, nothing processed after a fatal frame, and the
 * server closing TCP first (RFC 6455 §7.1.1). See docs/conformance.md.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { startEchoServer } from '../../../src/websocket/node/echo-server.js';
import { WebSocketServer } from '../../../src/websocket/node/server.js';
import {
  closePayload,
  Deflater,
  describeFrame,
  type FrameSpec,
  firstInvalidByte,
  fragments,
  Inflater,
  KOSME,
  type Message,
  jsonText,
  Op,
  openRawClient,
  type Params,
  parseExtensions,
  type RawPeer,
  text,
  bigText,
  UTF8_CASES,
} from './raw-peer.js';

let echo: WebSocketServer;
let port: number;

before(async () => {
  echo = await startEchoServer({ port: 0, host: '127.0.0.1' });
  port = echo.address()!.port;
});

after(async () => {
  await echo.close();
});

async function open(extensions?: string, serverPort = port): Promise<RawPeer> {
  return (await openRawClient(serverPort, { extensions })).peer;
}


async function expectEcho(peer: RawPeer, opcode: number, payload: Buffer, ms?: number): Promise<Message> {
  const m = await peer.readMessage(ms);
  assert.equal(m.opcode, opcode, 'message type kept');
  assert.equal(m.compressed, false);
  assert.equal(m.payload.length, payload.length, 'echo length');
  assert.ok(m.payload.equals(payload), 'echo content');
  assert.deepEqual(m.controls.map(describeFrame), [], 'no control frames inside the echo');
  return m;
}

/** We close with 1000; the server echoes 1000 and closes TCP first (RFC 6455 §7.1.1). */
async function closeNormally(peer: RawPeer): Promise<void> {
  await peer.sendClose(1000);
  const seen = await peer.readClose();
  assert.deepEqual(seen.before.map(describeFrame), [], 'nothing between our close and the reply');
  assert.equal(seen.code, 1000);
  await peer.waitEnd();
  assert.equal(peer.remoteClosedFirst, true, 'the server closes TCP first');
  peer.destroy();
}

/**
 * The server fails the connection with `code`: exactly `before` arrives
 * first (frames sent after the fatal one are not processed), then the close
 * frame, then the server closes TCP.
 */
async function expectFailure(peer: RawPeer, code: number, before: string[] = []): Promise<void> {
  const seen = await peer.readClose();
  assert.deepEqual(seen.before.map(describeFrame), before, 'frames before the close');
  assert.equal(seen.code, code, `close code (reason: ${seen.reason.toString()})`);
  await peer.waitEnd();
  assert.equal(peer.remoteClosedFirst, true, 'the server closes TCP first');
  peer.destroy();
}

const pong = (payload: Buffer | string) => describeFrame({ fin: true, rsv: 0, opcode: Op.PONG, masked: false, payload: Buffer.from(payload) });
const textFrame = (payload: Buffer | string) => describeFrame({ fin: true, rsv: 0, opcode: Op.TEXT, masked: false, payload: Buffer.from(payload) });

/** Send specs one write per frame (Autobahn's "frame-wise chops"), letting the server read each alone. */
async function sendFramewise(peer: RawPeer, specs: FrameSpec[]): Promise<void> {
  for (const spec of specs) await peer.sendInChunks(peer.frame(spec), 1 << 30);
}

/** Send specs as one byte stream written one byte at a time (Autobahn's "octet-wise chops"). */
async function sendOctetwise(peer: RawPeer, specs: FrameSpec[]): Promise<void> {
  await peer.sendInChunks(Buffer.concat(specs.map((s) => peer.frame(s))), 1);
}

type Chopping = 'one write' | 'frame-wise' | 'octet-wise';
const CHOPPINGS: Chopping[] = ['one write', 'frame-wise', 'octet-wise'];

async function sendChopped(peer: RawPeer, specs: FrameSpec[], how: Chopping): Promise<void> {
  if (how === 'one write') await peer.send(...specs);
  else if (how === 'frame-wise') await sendFramewise(peer, specs);
  else await sendOctetwise(peer, specs);
}

describe('1 framing', () => {
  const LENGTHS = [0, 125, 126, 127, 128, 65535, 65536];

  for (const [name, opcode] of [
    ['text', Op.TEXT],
    ['binary', Op.BINARY],
  ] as const) {
    test(`1.${opcode}.1-7 ${name} of ${LENGTHS.join(', ')} bytes echoed exactly`, async () => {
      const peer = await open();
      for (const n of LENGTHS) {
        const payload = opcode === Op.TEXT ? text(n, n) : randomBytes(n);
        await peer.send({ opcode, payload });
        await expectEcho(peer, opcode, payload);
      }
      await closeNormally(peer);
    });

    test(`1.${opcode}.8 ${name}: small frames one byte per write, large ones in 997-byte chops`, async () => {
      const peer = await open();
      for (const n of LENGTHS) {
        const payload = opcode === Op.TEXT ? text(n, n + 1) : randomBytes(n);
        await peer.sendInChunks(peer.frame({ opcode, payload }), n <= 128 ? 1 : 997);
        await expectEcho(peer, opcode, payload);
      }
      await closeNormally(peer);
    });
  }

  // RFC 6455 §5.2's "the minimal number of bytes MUST be used" binds the
  // sender; ws, python-websockets and uWebSockets accept longer encodings,
  // and so do we (issue 10, 1.6). Our own frames stay minimal (frame.test.ts).
  test('RFC 6455 §5.2: non-minimal length encodings are accepted and echoed', async () => {
    for (const spec of [
      { opcode: Op.TEXT, payload: Buffer.from('short'), lengthBits: 16 },
      { opcode: Op.TEXT, payload: Buffer.from('short'), lengthBits: 64 },
      { opcode: Op.BINARY, payload: randomBytes(300), lengthBits: 64 },
    ] as Array<FrameSpec & { payload: Buffer }>) {
      const peer = await open();
      await peer.send(spec);
      await expectEcho(peer, spec.opcode, spec.payload);
      await closeNormally(peer);
    }
  });

  test('RFC 6455 §5.2: a 64-bit length with the top bit set -> 1002, without waiting for a payload', async () => {
    const peer = await open();
    const frame = peer.frame({ opcode: Op.BINARY, declaredLength: 0x10000, lengthBits: 64 });
    frame[2] = 0x80; // the most significant byte of the 64-bit length
    await peer.write(frame);
    await expectFailure(peer, 1002);
  });

  test('RFC 6455 §5.1: an unmasked client frame -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, payload: 'unmasked', mask: false });
    await expectFailure(peer, 1002);
  });
});

describe('2 pings and pongs', () => {
  test('2.1-2.4 pings with payloads of 0..125 bytes are answered with identical pongs', async () => {
    const peer = await open();
    for (let n = 0; n <= 125; n++) {
      const payload = n % 2 === 0 ? randomBytes(n) : text(n, n);
      await peer.send({ opcode: Op.PING, payload });
      const f = await peer.nextFrame();
      assert.equal(f.opcode, Op.PONG, `pong for a ${n}-byte ping`);
      assert.ok(f.payload.equals(payload), `pong payload for a ${n}-byte ping`);
      assert.equal(f.fin, true);
    }
    await closeNormally(peer);
  });

  test('2.5 ping with 126 bytes -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PING, payload: randomBytes(126) });
    await expectFailure(peer, 1002);
  });

  test('2.6 ping of 125 bytes sent one byte per write -> pong', async () => {
    const peer = await open();
    const payload = randomBytes(125);
    await peer.sendInChunks(peer.frame({ opcode: Op.PING, payload }), 1);
    const f = await peer.nextFrame();
    assert.equal(describeFrame(f), pong(payload));
    await closeNormally(peer);
  });

  test('2.7-2.8 unsolicited pongs (empty, with payload) are ignored; an echo still works', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PONG }, { opcode: Op.PONG, payload: 'unsolicited' }, { opcode: Op.TEXT, payload: 'after' });
    // The echo is the very next frame: nothing answered the pongs.
    const f = await peer.nextFrame();
    assert.equal(describeFrame(f), textFrame('after'));
    await closeNormally(peer);
  });

  test('2.9 unsolicited pong then ping -> only the pong for the ping', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PONG, payload: 'unsolicited' }, { opcode: Op.PING, payload: 'ping payload' });
    assert.equal(describeFrame(await peer.nextFrame()), pong('ping payload'));
    await closeNormally(peer);
  });

  test('2.10 ten pings in one write -> ten pongs, in order', async () => {
    const peer = await open();
    const payloads = Array.from({ length: 10 }, (_, i) => `ping ${i}`);
    await peer.send(...payloads.map((p) => ({ opcode: Op.PING, payload: p })));
    for (const p of payloads) assert.equal(describeFrame(await peer.nextFrame()), pong(p));
    await closeNormally(peer);
  });

  test('2.11 ten pings sent one byte per write -> ten pongs, in order', async () => {
    const peer = await open();
    const payloads = Array.from({ length: 10 }, (_, i) => `chopped ping ${i}`);
    await sendOctetwise(peer, payloads.map((p) => ({ opcode: Op.PING, payload: p })));
    for (const p of payloads) assert.equal(describeFrame(await peer.nextFrame()), pong(p));
    await closeNormally(peer);
  });
});

describe('3 reserved bits', () => {
  test('3.1 text with RSV=1 (RSV3) -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, payload: 'Hello, world!', rsv: 1 });
    await expectFailure(peer, 1002);
  });

  for (const [rsv, how] of [
    [2, 'one write'],
    [3, 'frame-wise'],
    [4, 'octet-wise'],
  ] as const) {
    test(`3.${rsv} text, then text with RSV=${rsv}, then ping (${how}) -> echo, 1002, no pong`, async () => {
      const peer = await open();
      await sendChopped(
        peer,
        [
          { opcode: Op.TEXT, payload: 'Hello, world!' },
          { opcode: Op.TEXT, payload: 'Hello, world!', rsv },
          { opcode: Op.PING, payload: 'never answered' },
        ],
        how,
      );
      await expectFailure(peer, 1002, [textFrame('Hello, world!')]);
    });
  }

  test('3.5 binary with RSV=5 -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.BINARY, payload: randomBytes(8), rsv: 5 }, { opcode: Op.PING, payload: 'x' });
    await expectFailure(peer, 1002);
  });

  test('3.6 ping with RSV=6 -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PING, payload: 'rsv', rsv: 6 }, { opcode: Op.TEXT, payload: 'never echoed' });
    await expectFailure(peer, 1002);
  });

  test('3.7 close with RSV=7 -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.CLOSE, payload: closePayload(1000), rsv: 7 });
    await expectFailure(peer, 1002);
  });
});

describe('4 opcodes', () => {
  const RESERVED = [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf];
  // Autobahn numbers the cases by opcode: 4.1.1 is opcode 3, 4.2.1 is opcode B.
  const section = (opcode: number) => (opcode < 8 ? `4.1.${opcode - 2}` : `4.2.${opcode - 0xa}`);
  for (const opcode of RESERVED) {
    test(`${section(opcode)} reserved opcode 0x${opcode.toString(16)}, empty and with payload -> 1002, nothing after`, async () => {
      let peer = await open();
      await peer.send({ opcode }, { opcode: Op.PING, payload: 'x' });
      await expectFailure(peer, 1002);
      peer = await open();
      await peer.send({ opcode, payload: 'reserved payload' }, { opcode: Op.TEXT, payload: 'never echoed' });
      await expectFailure(peer, 1002);
    });

    test(`${section(opcode)} reserved opcode 0x${opcode.toString(16)} after an echo was received -> 1002, no pong`, async () => {
      const peer = await open();
      await peer.send({ opcode: Op.TEXT, payload: 'Hello, world!' });
      await expectEcho(peer, Op.TEXT, Buffer.from('Hello, world!'));
      await peer.send({ opcode, payload: 'reserved' }, { opcode: Op.PING, payload: 'never' });
      await expectFailure(peer, 1002);
    });
  }

  test('4.1.3-4.1.5 / 4.2.3-4.2.5 text, reserved opcode (5-7, D-F), ping in one write -> echo, 1002, no pong', async () => {
    for (const opcode of [5, 6, 7, 0xd, 0xe, 0xf]) {
      const peer = await open();
      await peer.send({ opcode: Op.TEXT, payload: 'Hello, world!' }, { opcode, payload: 'reserved' }, { opcode: Op.PING, payload: 'never' });
      await expectFailure(peer, 1002, [textFrame('Hello, world!')]);
    }
  });
});

describe('5 fragmentation', () => {
  test('5.1 fragmented ping -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PING, payload: 'fragment1', fin: false }, { opcode: Op.CONTINUATION, payload: 'fragment2' });
    await expectFailure(peer, 1002);
  });

  test('5.2 fragmented pong -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.PONG, payload: 'fragment1', fin: false }, { opcode: Op.CONTINUATION, payload: 'fragment2' });
    await expectFailure(peer, 1002);
  });

  for (const how of CHOPPINGS) {
    test(`5.3-5.5 text in two fragments (${how}) -> one echo`, async () => {
      const peer = await open();
      await sendChopped(peer, [{ opcode: Op.TEXT, payload: 'fragment1', fin: false }, { opcode: Op.CONTINUATION, payload: 'fragment2' }], how);
      await expectEcho(peer, Op.TEXT, Buffer.from('fragment1fragment2'));
      await closeNormally(peer);
    });

    test(`5.6-5.8 ping between two fragments (${how}) -> pong before the echo`, async () => {
      const peer = await open();
      await sendChopped(
        peer,
        [
          { opcode: Op.TEXT, payload: 'fragment1', fin: false },
          { opcode: Op.PING, payload: 'ping payload' },
          { opcode: Op.CONTINUATION, payload: 'fragment2' },
        ],
        how,
      );
      assert.equal(describeFrame(await peer.nextFrame()), pong('ping payload'));
      await expectEcho(peer, Op.TEXT, Buffer.from('fragment1fragment2'));
      await closeNormally(peer);
    });

    test(`5.9-5.11 continuation (FIN) with nothing to continue, then text (${how}) -> 1002, no echo`, async () => {
      const peer = await open();
      await sendChopped(peer, [{ opcode: Op.CONTINUATION, payload: 'non-continuation payload' }, { opcode: Op.TEXT, payload: 'Hello, world!' }], how);
      await expectFailure(peer, 1002);
    });

    test(`5.12-5.14 continuation (no FIN) with nothing to continue, then text (${how}) -> 1002, no echo`, async () => {
      const peer = await open();
      await sendChopped(
        peer,
        [
          { opcode: Op.CONTINUATION, payload: 'non-continuation payload', fin: false },
          { opcode: Op.TEXT, payload: 'Hello, world!' },
        ],
        how,
      );
      await expectFailure(peer, 1002);
    });
  }

  test('5.15 two-fragment text, then a stray continuation, then text -> echo of the first only, 1002', async () => {
    const peer = await open();
    await peer.send(
      { opcode: Op.TEXT, payload: 'fragment1', fin: false },
      { opcode: Op.CONTINUATION, payload: 'fragment2' },
      { opcode: Op.CONTINUATION, payload: 'fragment3', fin: false },
      { opcode: Op.TEXT, payload: 'fragment4' },
    );
    await expectFailure(peer, 1002, [textFrame('fragment1fragment2')]);
  });

  for (const fin of [false, true]) {
    test(`5.${fin ? 17 : 16} twice: stray continuation (FIN ${fin}), then a two-fragment text -> 1002, no echo`, async () => {
      const peer = await open();
      const round: FrameSpec[] = [
        { opcode: Op.CONTINUATION, payload: 'fragment1', fin },
        { opcode: Op.TEXT, payload: 'fragment2', fin: false },
        { opcode: Op.CONTINUATION, payload: 'fragment3' },
      ];
      await peer.send(...round, ...round);
      await expectFailure(peer, 1002);
    });
  }

  test('5.18 two fragments both with opcode text (new text inside a fragmented message) -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, payload: 'fragment1', fin: false }, { opcode: Op.TEXT, payload: 'fragment2' });
    await expectFailure(peer, 1002);
  });

  for (const how of ['one write', 'frame-wise'] as const) {
    test(`5.19-5.20 pings inside a five-fragment text (${how}): each pong arrives before the message ends`, async () => {
      const peer = await open();
      await sendChopped(
        peer,
        [
          { opcode: Op.TEXT, payload: 'fragment1', fin: false },
          { opcode: Op.CONTINUATION, payload: 'fragment2', fin: false },
          { opcode: Op.PING, payload: 'pongme 1!' },
        ],
        how,
      );
      // Autobahn waits a second here; we wait for the pong itself.
      assert.equal(describeFrame(await peer.nextFrame()), pong('pongme 1!'));
      await sendChopped(
        peer,
        [
          { opcode: Op.CONTINUATION, payload: 'fragment3', fin: false },
          { opcode: Op.CONTINUATION, payload: 'fragment4', fin: false },
          { opcode: Op.PING, payload: 'pongme 2!' },
        ],
        how,
      );
      assert.equal(describeFrame(await peer.nextFrame()), pong('pongme 2!'));
      await sendChopped(peer, [{ opcode: Op.CONTINUATION, payload: 'fragment5' }], how);
      await expectEcho(peer, Op.TEXT, Buffer.from('fragment1fragment2fragment3fragment4fragment5'));
      await closeNormally(peer);
    });
  }

  test('6.1.2-6.1.3 fragments of length 0: three empty, and empty-full-empty', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, fin: false }, { opcode: Op.CONTINUATION, fin: false }, { opcode: Op.CONTINUATION });
    await expectEcho(peer, Op.TEXT, Buffer.alloc(0));
    await peer.send({ opcode: Op.TEXT, fin: false }, { opcode: Op.CONTINUATION, payload: 'middle frame payload', fin: false }, { opcode: Op.CONTINUATION });
    await expectEcho(peer, Op.TEXT, Buffer.from('middle frame payload'));
    await peer.send({ opcode: Op.BINARY, fin: false }, { opcode: Op.CONTINUATION, fin: false }, { opcode: Op.CONTINUATION });
    await expectEcho(peer, Op.BINARY, Buffer.alloc(0));
    await closeNormally(peer);
  });

  test('6.2.3-6.2.4 text in one-byte fragments (splitting multi-byte code points) -> one echo', async () => {
    const peer = await open();
    for (const payload of [Buffer.from('Hello-µ@ßöäüàá-UTF-8!! 😀 𝄞', 'utf8'), KOSME]) {
      await peer.send(...fragments(Op.TEXT, payload, 1));
      await expectEcho(peer, Op.TEXT, payload);
    }
    await closeNormally(peer);
  });

  test('9.3.1 / 9.4.1 a 4 MiB message in 64-byte fragments (65,536 frames), text and binary', async () => {
    const peer = await open();
    const payload = bigText(4 << 20);
    await peer.send(...fragments(Op.TEXT, payload, 64));
    await expectEcho(peer, Op.TEXT, payload, 10_000);
    const bytes = randomBytes(1 << 20);
    await peer.send(...fragments(Op.BINARY, bytes, 64));
    await expectEcho(peer, Op.BINARY, bytes, 10_000);
    await closeNormally(peer);
  });
});

describe('6 UTF-8', () => {
  test('6.1.1 empty text echoed', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT });
    await expectEcho(peer, Op.TEXT, Buffer.alloc(0));
    await closeNormally(peer);
  });

  test('6.2.1-6.2.2 valid multi-byte text (2-, 3- and 4-byte code points), whole and split on a code point', async () => {
    const peer = await open();
    const payload = Buffer.from('Hello-µ@ßöäüàá-UTF-8!! €𤭢 😀', 'utf8');
    await peer.send({ opcode: Op.TEXT, payload });
    await expectEcho(peer, Op.TEXT, payload);
    const cut = Buffer.from('Hello-µ@ßöäüàá-', 'utf8').length;
    await peer.send({ opcode: Op.TEXT, payload: payload.subarray(0, cut), fin: false }, { opcode: Op.CONTINUATION, payload: payload.subarray(cut) });
    await expectEcho(peer, Op.TEXT, payload);
    await closeNormally(peer);
  });

  const INVALID = Buffer.concat([KOSME, Buffer.from('eda080', 'hex'), Buffer.from('edited')]);

  test('6.3.1 invalid text in one frame -> 1007', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, payload: INVALID });
    await expectFailure(peer, 1007);
  });

  test('6.3.2 invalid text in one-byte fragments -> 1007', async () => {
    const peer = await open();
    await peer.send(...fragments(Op.TEXT, INVALID, 1));
    await expectFailure(peer, 1007);
  });

  // Autobahn 6.4.1/6.4.3: the sequence F4 90 80 80 (U+110000) is invalid at 0x90.
  // 6.4.2/6.4.4: the same cut just after the F4, so the 0x90 opens part 2.
  const PART1 = KOSME;
  const PART2 = Buffer.from('f4908080', 'hex');
  const PART3 = Buffer.from('edited');
  for (const [name, parts] of [
    ['6.4.1', [PART1, PART2, PART3]],
    ['6.4.2', [Buffer.concat([PART1, PART2.subarray(0, 1)]), PART2.subarray(1), PART3]],
  ] as const) {
    test(`${name} fail-fast across frames: 1007 arrives after part 2, before part 3 is sent`, async () => {
      const peer = await open();
      await peer.send({ opcode: Op.TEXT, payload: parts[0], fin: false }, { opcode: Op.PING, payload: 'part 1 ok?' });
      // The pong proves part 1 was processed and did not fail the connection.
      assert.equal(describeFrame(await peer.nextFrame()), pong('part 1 ok?'));
      await peer.send({ opcode: Op.CONTINUATION, payload: parts[1], fin: false });
      // Fail fast: the close comes now, while the message is still unfinished.
      await expectFailure(peer, 1007);
    });
  }

  for (const [name, cut] of [
    ['6.4.3', PART1.length],
    ['6.4.4', PART1.length + 1],
  ] as const) {
    test(`${name} fail-fast inside one frame: 1007 arrives after chop 2, before chop 3 is sent`, async () => {
      const peer = await open();
      const payload = Buffer.concat([PART1, PART2, PART3]);
      const frame = peer.frame({ opcode: Op.TEXT, payload });
      const header = frame.length - payload.length;
      const second = cut === PART1.length ? PART1.length + PART2.length : PART1.length + 2;
      await peer.write(frame.subarray(0, header + cut));
      // Part 1 is valid on its own: nothing may happen yet. No event proves
      // a negative, so this is a short bounded wait.
      await peer.quietFor(100);
      await peer.write(frame.subarray(header + cut, header + second));
      await expectFailure(peer, 1007);
      assert.ok(frame.length > header + second, 'part 3 was never needed');
    });
  }

  test('6.5-6.23 valid sequences of the UTF-8 stress test are echoed', async () => {
    const peer = await open();
    for (const c of UTF8_CASES.filter((x) => x.valid)) {
      assert.equal(firstInvalidByte(c.bytes), -1, `table: ${c.group} ${c.bytes.toString('hex')} is valid`);
      await peer.send({ opcode: Op.TEXT, payload: c.bytes });
      await expectEcho(peer, Op.TEXT, c.bytes);
    }
    await closeNormally(peer);
  });

  test('6.5-6.23 invalid sequences of the UTF-8 stress test -> 1007 (one frame)', async () => {
    const cases = UTF8_CASES.filter((x) => !x.valid);
    assert.ok(cases.length > 60);
    await Promise.all(
      cases.map(async (c) => {
        assert.notEqual(firstInvalidByte(c.bytes), -1, `table: ${c.group} ${c.bytes.toString('hex')} is invalid`);
        const peer = await open();
        await peer.send({ opcode: Op.TEXT, payload: c.bytes });
        await expectFailure(peer, 1007);
      }),
    );
  });

  test('6.5-6.23 invalid sequences in one-byte fragments fail at the very fragment that makes them invalid', async () => {
    const cases = UTF8_CASES.filter((x) => !x.valid);
    await Promise.all(
      cases.map(async (c) => {
        const bad = firstInvalidByte(c.bytes);
        const peer = await open();
        // Every fragment before the bad byte is fine: a ping after it is answered.
        await peer.send({ opcode: Op.TEXT, payload: c.bytes.subarray(0, 1), fin: bad === 0 && c.bytes.length === 1 });
        if (bad === 0) return expectFailure(peer, 1007);
        await peer.send({ opcode: Op.PING, payload: '0' });
        assert.equal(describeFrame(await peer.nextFrame()), pong('0'), `${c.bytes.toString('hex')}: byte 0 is a valid prefix`);
        for (let i = 1; i < c.bytes.length; i++) {
          await peer.send({ opcode: Op.CONTINUATION, payload: c.bytes.subarray(i, i + 1), fin: false });
          if (i === bad) return expectFailure(peer, 1007);
          await peer.send({ opcode: Op.PING, payload: String(i) });
          assert.equal(describeFrame(await peer.nextFrame()), pong(String(i)), `${c.bytes.toString('hex')}: byte ${i} is a valid prefix`);
        }
        // Only the end was missing: the final (FIN) fragment is the bad one.
        assert.equal(bad, c.bytes.length);
        await peer.send({ opcode: Op.CONTINUATION, payload: '' });
        return expectFailure(peer, 1007);
      }),
    );
  });
});

describe('7 closing handshake', () => {
  test('7.1.1 text then close -> echo, close 1000, the server closes TCP', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.TEXT, payload: 'Hello World!' }, { opcode: Op.CLOSE, payload: closePayload(1000) });
    const seen = await peer.readClose();
    assert.deepEqual(seen.before.map(describeFrame), [textFrame('Hello World!')]);
    assert.equal(seen.code, 1000);
    await peer.waitEnd();
    assert.equal(peer.remoteClosedFirst, true);
  });

  for (const [name, after] of [
    ['7.1.2 a second close', { opcode: Op.CLOSE, payload: closePayload(1000) }],
    ['7.1.3 a ping', { opcode: Op.PING, payload: 'Hello World!' }],
    ['7.1.4 a text', { opcode: Op.TEXT, payload: 'Hello World!' }],
  ] as const) {
    test(`${name} after the close is ignored: one close back, nothing else`, async () => {
      const peer = await open();
      await peer.send({ opcode: Op.CLOSE, payload: closePayload(1000) }, after);
      const seen = await peer.readClose();
      assert.deepEqual(seen.before, []);
      assert.equal(seen.code, 1000);
      await peer.waitEnd();
      assert.equal(peer.remoteClosedFirst, true);
      // TCP is closed by the server: what has arrived is all there is.
      assert.deepEqual(peer.unread.map(describeFrame), [], 'nothing after the close');
    });
  }

  test('7.1.5 fragment 1, close, fragment 2 -> no echo, close 1000', async () => {
    const peer = await open();
    await peer.send(
      { opcode: Op.TEXT, payload: 'fragment1', fin: false },
      { opcode: Op.CLOSE, payload: closePayload(1000) },
      { opcode: Op.CONTINUATION, payload: 'fragment2' },
    );
    const seen = await peer.readClose();
    assert.deepEqual(seen.before, []);
    assert.equal(seen.code, 1000);
    await peer.waitEnd();
    assert.deepEqual(peer.unread.map(describeFrame), []);
  });

  test('7.1.6 (informational) 256 KiB text, close, ping -> echo whole or not at all, close 1000, no pong', async () => {
    const peer = await open();
    const payload = bigText(256 * 1024);
    await peer.send({ opcode: Op.TEXT, payload }, { opcode: Op.CLOSE, payload: closePayload(1000) }, { opcode: Op.PING, payload: 'Hello World!' });
    const seen = await peer.readClose();
    // Autobahn leaves it to the implementation whether the echo makes it out
    // before the close reply; if it does, it is whole.
    assert.ok(seen.before.length <= 1, `frames before the close: ${seen.before.map(describeFrame).join(', ')}`);
    if (seen.before[0]) assert.ok(seen.before[0].payload.equals(payload));
    assert.equal(seen.code, 1000);
    await peer.waitEnd();
    assert.deepEqual(peer.unread.map(describeFrame), []);
  });

  test('7.3.1 close without payload -> empty close back, the server closes TCP first', async () => {
    const peer = await open();
    await peer.sendClose();
    const seen = await peer.readClose();
    assert.equal(seen.frame.payload.length, 0, 'an empty close is echoed empty (RFC 6455 §5.5.1)');
    await peer.waitEnd();
    assert.equal(peer.remoteClosedFirst, true);
  });

  test('7.3.2 close with a 1-byte payload -> 1002', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.CLOSE, payload: Buffer.from([0x03]) });
    await expectFailure(peer, 1002);
  });

  test('7.3.3-7.3.5 close 1000 with no reason, a reason, a 123-byte reason -> close 1000', async () => {
    for (const reason of ['', 'Hello World!', '*'.repeat(123)]) {
      const peer = await open();
      await peer.sendClose(1000, reason);
      const seen = await peer.readClose();
      assert.equal(seen.code, 1000);
      await peer.waitEnd();
      assert.equal(peer.remoteClosedFirst, true);
      peer.destroy();
    }
  });

  test('7.3.6 close with a 124-byte reason (126-byte payload) -> 1002', async () => {
    const peer = await open();
    await peer.sendClose(1000, '*'.repeat(124));
    await expectFailure(peer, 1002);
  });

  test('7.5.1 close reason that is not UTF-8 -> 1007', async () => {
    const peer = await open();
    await peer.sendClose(1000, Buffer.concat([KOSME, Buffer.from('eda080', 'hex'), Buffer.from('edited')]));
    await expectFailure(peer, 1007);
  });

  const VALID = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  test(`7.7.x valid close codes ${VALID.join(', ')} are echoed`, async () => {
    await Promise.all(
      VALID.map(async (code) => {
        const peer = await open();
        await peer.sendClose(code);
        const seen = await peer.readClose();
        assert.equal(seen.code, code, `close ${code} echoed`);
        await peer.waitEnd();
        assert.equal(peer.remoteClosedFirst, true);
        peer.destroy();
      }),
    );
  });

  const INVALID = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  test(`7.9.x / 7.13.x invalid close codes ${INVALID.join(', ')} -> 1002`, async () => {
    await Promise.all(
      INVALID.map(async (code) => {
        const peer = await open();
        await peer.sendClose(code);
        await expectFailure(peer, 1002);
      }),
    );
  });
});

describe('9 limits and performance', () => {
  test('9.1.1-9.1.6 text of 64 KiB, 256 KiB, 1 MiB, 4 MiB, 16 MiB echoed intact', async () => {
    const peer = await open();
    for (const n of [64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]) {
      const payload = bigText(n);
      await peer.send({ opcode: Op.TEXT, payload });
      await expectEcho(peer, Op.TEXT, payload, 10_000);
    }
    await closeNormally(peer);
  });

  test('9.2.1-9.2.4 binary of 64 KiB, 256 KiB, 1 MiB, 4 MiB echoed intact', async () => {
    const peer = await open();
    for (const n of [64 << 10, 256 << 10, 1 << 20, 4 << 20]) {
      const payload = randomBytes(n);
      await peer.send({ opcode: Op.BINARY, payload });
      await expectEcho(peer, Op.BINARY, payload, 10_000);
    }
    await closeNormally(peer);
  });

  test('9.3.x / 9.4.x 1 MiB text and binary in frames of 256 B .. 1 MiB', async () => {
    const peer = await open();
    const payload = bigText(1 << 20);
    const bytes = randomBytes(1 << 20);
    for (const size of [256, 1024, 4096, 16384, 65536, 262144, 1 << 20]) {
      await peer.send(...fragments(Op.TEXT, payload, size));
      await expectEcho(peer, Op.TEXT, payload, 10_000);
      await peer.send(...fragments(Op.BINARY, bytes, size));
      await expectEcho(peer, Op.BINARY, bytes, 10_000);
    }
    await closeNormally(peer);
  });

  test('9.5.x / 9.6.x text and binary written in chops of 64 B .. 2 KiB', async () => {
    const peer = await open();
    // 1 MiB as Autobahn sends it: separate writes (which TCP may merge) ...
    const payload = bigText(1 << 20);
    for (const size of [64, 2048]) {
      await peer.sendInChunks(peer.frame({ opcode: Op.TEXT, payload }), size, false);
      await expectEcho(peer, Op.TEXT, payload, 10_000);
    }
    // ... and 128 KiB paced so that every chop is its own read on the server
    // (the whole 1 MiB paced would cost seconds).
    const part = payload.subarray(0, 128 << 10);
    const bytes = randomBytes(128 << 10);
    for (const size of [64, 128, 256, 512, 1024, 2048]) {
      await peer.sendInChunks(peer.frame({ opcode: Op.TEXT, payload: part }), size);
      await expectEcho(peer, Op.TEXT, part);
    }
    await peer.sendInChunks(peer.frame({ opcode: Op.BINARY, payload: bytes }), 64);
    await expectEcho(peer, Op.BINARY, bytes);
    await closeNormally(peer);
  });

  test('9.7.x / 9.8.x 1000 round trips each of 0 B .. 4 KiB text and binary', async () => {
    const peer = await open();
    for (const n of [0, 16, 64, 256, 1024, 4096]) {
      const payload = text(n, n);
      const bytes = randomBytes(n);
      for (let i = 0; i < 1000; i++) {
        const binary = i % 2 === 1;
        await peer.send({ opcode: binary ? Op.BINARY : Op.TEXT, payload: binary ? bytes : payload });
        const m = await peer.readMessage();
        assert.ok(m.payload.equals(binary ? bytes : payload));
      }
    }
    await closeNormally(peer);
  });

  test('over the limit: a frame declaring 16 MiB + 1 -> 1009 before any payload is sent', async () => {
    const peer = await open();
    await peer.send({ opcode: Op.BINARY, declaredLength: (16 << 20) + 1 });
    await expectFailure(peer, 1009);
  });

  test('over the limit: fragments adding up past maxMessageSize -> 1009', async () => {
    const small = new WebSocketServer({ port: 0, host: '127.0.0.1', maxMessageSize: 1000 });
    small.on('connection', (ws) => ws.on('message', (data) => ws.send(data)));
    await small.ready();
    try {
      const peer = await open(undefined, small.address()!.port);
      await peer.send({ opcode: Op.TEXT, payload: text(1000) });
      await expectEcho(peer, Op.TEXT, text(1000));
      await peer.send({ opcode: Op.TEXT, payload: text(600), fin: false }, { opcode: Op.CONTINUATION, payload: text(401) });
      await expectFailure(peer, 1009);
    } finally {
      await small.close();
    }
  });

  test('a 64-bit length above 2^53 - 1 -> closed (1009), not buffered', async () => {
    const peer = await open();
    const frame = peer.frame({ opcode: Op.BINARY, declaredLength: 0x10000 });
    frame.writeUInt32BE(0x7fffffff, 2);
    await peer.write(frame);
    await expectFailure(peer, 1009);
  });
});

describe('10 miscellaneous', () => {
  test('10.1.1 64 KiB text auto-fragmented into 1300-byte frames is echoed', async () => {
    const peer = await open();
    const payload = text(65536, 3);
    await peer.send(...fragments(Op.TEXT, payload, 1300));
    await expectEcho(peer, Op.TEXT, payload);
    await closeNormally(peer);
  });
});

// ---- 12 / 13: permessage-deflate ----


const BITS = /^(8|9|1[0-5])$/;

/**
 * Check a server's response against the offer it accepts (RFC 7692 §5, §7):
 * returns the problems found, [] when valid.
 */
function responseProblems(offer: Params, response: Params): string[] {
  const problems: string[] = [];
  for (const [name, value] of response) {
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) problems.push(`${name} has a value`);
        break;
      case 'server_max_window_bits':
      case 'client_max_window_bits':
        if (value === true || !BITS.test(value)) problems.push(`${name} needs a value 8..15`);
        break;
      default:
        problems.push(`unknown parameter ${name}`);
    }
  }
  // §7.1.1.1: an offered server_no_context_takeover is accepted only by including it.
  if (offer.has('server_no_context_takeover') && !response.has('server_no_context_takeover')) {
    problems.push('server_no_context_takeover offered but missing');
  }
  // §7.1.2.1: an offered server_max_window_bits is accepted with the same or a smaller value.
  const offeredServerBits = offer.get('server_max_window_bits');
  if (offeredServerBits !== undefined) {
    const got = response.get('server_max_window_bits');
    if (got === undefined) problems.push('server_max_window_bits offered but missing');
    else if (Number(got) > Number(offeredServerBits)) problems.push(`server_max_window_bits=${got} > offered ${offeredServerBits}`);
  }
  // §7.1.2.2: client_max_window_bits only if offered, and not above an offered value.
  const offeredClientBits = offer.get('client_max_window_bits');
  const clientBits = response.get('client_max_window_bits');
  if (clientBits !== undefined) {
    if (offeredClientBits === undefined) problems.push('client_max_window_bits not offered');
    else if (offeredClientBits !== true && Number(clientBits) > Number(offeredClientBits)) {
      problems.push(`client_max_window_bits=${clientBits} > offered ${offeredClientBits}`);
    }
  }
  return problems;
}

interface DeflateSession {
  peer: RawPeer;
  response: string;
  params: Params;
  deflater: Deflater;
  inflater: Inflater;
}

/** Offer `offer`, check the answer against RFC 7692, and set up compression as negotiated. */
async function openDeflate(offer: string): Promise<DeflateSession> {
  const { peer, headers } = await openRawClient(port, { extensions: offer });
  const response = headers['sec-websocket-extensions'];
  assert.ok(response, `the offer "${offer}" is accepted`);
  const elements = parseExtensions(response);
  assert.equal(elements.length, 1, 'RFC 7692 §5: one permessage-deflate in the response');
  const accepted = elements[0]!;
  assert.equal(accepted.name, 'permessage-deflate');
  assert.deepEqual(accepted.duplicates, [], 'RFC 7692 §7: no duplicate parameters');
  // The response must be a valid acceptance of one of the offers (RFC 7692 §5: the client's order of preference).
  const offers = parseExtensions(offer).filter((o) => o.name === 'permessage-deflate');
  const verdicts = offers.map((o) => responseProblems(o.params, accepted.params));
  assert.ok(verdicts.some((v) => v.length === 0), `"${response}" accepts none of "${offer}": ${JSON.stringify(verdicts)}`);
  const clientBits = accepted.params.get('client_max_window_bits');
  const deflater = new Deflater({
    windowBits: typeof clientBits === 'string' ? Number(clientBits) : 15,
    takeover: !accepted.params.has('client_no_context_takeover'),
  });
  return { peer, response, params: accepted.params, deflater, inflater: new Inflater() };
}

/** Send `data` compressed (RSV1 on the first frame only), in frames of `fragmentSize` (0: one frame). */
async function sendCompressed(s: DeflateSession, opcode: number, data: Buffer, fragmentSize = 0): Promise<void> {
  const payload = await s.deflater.compress(data);
  await s.peer.send(...fragments(opcode, payload, fragmentSize, 4));
}

/** Read a message and decode it, compressed or not. */
async function readDecoded(s: DeflateSession, ms?: number): Promise<{ opcode: number; data: Buffer; compressed: boolean }> {
  const m = await s.peer.readMessage(ms);
  const data = m.compressed ? await s.inflater.inflate(m.payload) : m.payload;
  return { opcode: m.opcode, data, compressed: m.compressed };
}

async function closeDeflate(s: DeflateSession): Promise<void> {
  await closeNormally(s.peer);
  s.deflater.close();
  s.inflater.close();
}


const SIZES = [16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072];

/** Send messages of every size (some auto-fragmented) and check each echo decodes to what was sent. */
async function exerciseEchoes(s: DeflateSession, opcode: number, perSize = 2): Promise<number> {
  let compressedEchoes = 0;
  for (const [index, size] of SIZES.entries()) {
    for (let k = 0; k < perSize; k++) {
      const data = opcode === Op.TEXT ? jsonText(size, index * 100 + k) : jsonText(size, index * 100 + k);
      const fragmentSize = size >= 8192 && k % 2 === 1 ? [256, 1024, 4096, 32768][index % 4]! : 0;
      await sendCompressed(s, opcode, data, fragmentSize);
      const echoed = await readDecoded(s);
      assert.equal(echoed.opcode, opcode);
      assert.equal(echoed.data.length, data.length);
      assert.ok(echoed.data.equals(data), `echo of ${size} bytes (fragments ${fragmentSize}) decodes to what was sent`);
      if (echoed.compressed) compressedEchoes++;
    }
  }
  return compressedEchoes;
}

describe('12 / 13 permessage-deflate', () => {
  const OFFERS = [
    'permessage-deflate',
    'permessage-deflate; client_no_context_takeover',
    'permessage-deflate; server_no_context_takeover',
    'permessage-deflate; client_max_window_bits',
    'permessage-deflate; client_max_window_bits=9',
    'permessage-deflate; client_max_window_bits=12',
    'permessage-deflate; client_max_window_bits=15',
    ...[9, 10, 11, 12, 13, 14, 15].map((b) => `permessage-deflate; server_max_window_bits=${b}`),
    'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    'permessage-deflate; server_no_context_takeover; server_max_window_bits=9; client_max_window_bits=10; client_no_context_takeover',
    // Autobahn 13.1 - 13.6 offers, verbatim (its PerMessageDeflateOffer always adds the two client_ hints).
    'permessage-deflate; client_no_context_takeover; client_max_window_bits',
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover',
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=15',
    'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=15',
  ];

  test('negotiation: every offer gets an RFC 7692-valid answer, then compressed messages of 16 B .. 128 KiB echo intact', async () => {
    for (const offer of OFFERS) {
      const s = await openDeflate(offer);
      const compressed = await exerciseEchoes(s, Op.TEXT, 1);
      // The echo server compresses what is worth it (>= 1 KiB by default).
      assert.ok(compressed > 0, `${offer}: some echoes came back compressed`);
      await closeDeflate(s);
    }
  });

  test('exact answers of the echo server to offers with parameters', async () => {
    const answer = async (offer: string) => {
      const { peer, headers } = await openRawClient(port, { extensions: offer });
      peer.destroy();
      return headers['sec-websocket-extensions'];
    };
    for (const bits of [9, 10, 11, 12, 13, 14, 15]) {
      const got = parseExtensions((await answer(`permessage-deflate; server_max_window_bits=${bits}`)) ?? '')[0]!;
      assert.equal(got.params.get('server_max_window_bits'), String(bits), 'RFC 7692 §7.1.2.1: accepted with the offered value');
    }
    const sn = parseExtensions((await answer('permessage-deflate; server_no_context_takeover')) ?? '')[0]!;
    assert.equal(sn.params.get('server_no_context_takeover'), true);
    const plain = parseExtensions((await answer('permessage-deflate')) ?? '')[0]!;
    assert.equal(plain.params.has('client_max_window_bits'), false, 'RFC 7692 §7.1.2.2: not in the answer when not offered');
    // Unknown extensions are declined; invalid offers are declined and the next one taken.
    assert.equal(await answer('x-unknown-extension'), undefined);
    assert.equal(await answer('permessage-deflate; server_max_window_bits=16'), undefined);
    assert.equal(await answer('permessage-deflate; unknown_param'), undefined);
    assert.equal(await answer('permessage-deflate; server_no_context_takeover; server_no_context_takeover'), undefined);
    assert.equal(await answer('permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover'), 'permessage-deflate; client_no_context_takeover');
  });

  test('13.3 / 13.5 / 13.7: server_max_window_bits=8 is accepted; the server then sends uncompressed', async () => {
    // zlib cannot deflate with a 2^8 window, so the server never compresses on
    // such a connection, while it still inflates what the client compresses.
    const s = await openDeflate('permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=8');
    assert.equal(s.params.get('server_max_window_bits'), '8');
    assert.equal(await exerciseEchoes(s, Op.TEXT, 2), 0, 'every echo intact, none compressed');
    await closeDeflate(s);
    // 13.7: three offers, the first with server_max_window_bits=8: the first is taken.
    const t = await openDeflate(
      'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=8, ' +
        'permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover, ' +
        'permessage-deflate; client_no_context_takeover; client_max_window_bits',
    );
    assert.equal(t.params.get('server_max_window_bits'), '8', 'the first offer is the one accepted');
    assert.equal(await exerciseEchoes(t, Op.TEXT, 1), 0);
    await closeDeflate(t);
  });

  test('12.x binary and text, many messages with context takeover (ours and, if it chooses, the server\'s)', async () => {
    const s = await openDeflate('permessage-deflate; client_max_window_bits');
    await exerciseEchoes(s, Op.BINARY, 3);
    await exerciseEchoes(s, Op.TEXT, 3);
    // Repeats compress to back-references into earlier messages' window.
    const repeat = jsonText(4096, 1);
    for (let i = 0; i < 50; i++) {
      await sendCompressed(s, Op.TEXT, repeat);
      const echoed = await readDecoded(s);
      assert.ok(echoed.data.equals(repeat));
    }
    await closeDeflate(s);
  });

  test('empty and uncompressed messages mix with compressed ones', async () => {
    const s = await openDeflate('permessage-deflate');
    await sendCompressed(s, Op.TEXT, Buffer.alloc(0));
    assert.equal((await readDecoded(s)).data.length, 0);
    // RFC 7692 §6: a message may be sent uncompressed (RSV1 clear).
    await s.peer.send({ opcode: Op.TEXT, payload: 'plain' });
    assert.equal((await readDecoded(s)).data.toString(), 'plain');
    await sendCompressed(s, Op.BINARY, jsonText(5000, 9), 100);
    assert.ok((await readDecoded(s)).data.equals(jsonText(5000, 9)));
    await closeDeflate(s);
  });

  test('RSV1 on a continuation frame -> 1002', async () => {
    const s = await openDeflate('permessage-deflate');
    const payload = await s.deflater.compress(jsonText(2000, 1));
    const specs = fragments(Op.TEXT, payload, 100, 4);
    specs[1]!.rsv = 4;
    await s.peer.send(...specs);
    await expectFailure(s.peer, 1002);
  });

  test('RSV1 on a control frame, RSV2/RSV3 on data, with deflate negotiated -> 1002', async () => {
    for (const spec of [
      { opcode: Op.PING, payload: 'x', rsv: 4 },
      { opcode: Op.TEXT, payload: 'x', rsv: 2 },
      { opcode: Op.TEXT, payload: 'x', rsv: 5 },
    ] as FrameSpec[]) {
      const s = await openDeflate('permessage-deflate');
      await s.peer.send(spec);
      await expectFailure(s.peer, 1002);
    }
  });

  test('compressed data that is not DEFLATE -> 1007', async () => {
    const s = await openDeflate('permessage-deflate');
    await s.peer.send({ opcode: Op.BINARY, payload: Buffer.from('ffffffffffffffff', 'hex'), rsv: 4 });
    await expectFailure(s.peer, 1007);
  });

  test('compressed text that inflates to invalid UTF-8 -> 1007', async () => {
    const s = await openDeflate('permessage-deflate');
    await sendCompressed(s, Op.TEXT, Buffer.concat([KOSME, Buffer.from('eda080', 'hex')]));
    await expectFailure(s.peer, 1007);
  });

  test('a zip bomb that inflates past the 16 MiB limit -> 1009', async () => {
    const s = await openDeflate('permessage-deflate');
    const bomb = deflateRawSync(Buffer.alloc((16 << 20) + 1024), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    const payload = bomb.subarray(0, bomb.length - 4);
    assert.ok(payload.length < 64 * 1024, 'the bomb is small on the wire');
    await s.peer.send({ opcode: Op.BINARY, payload, rsv: 4 });
    await expectFailure(s.peer, 1009);
  });
});
