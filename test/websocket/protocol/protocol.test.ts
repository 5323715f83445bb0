import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { deflateRawSync, inflateRawSync, constants as zlibConstants } from 'node:zlib';
import { encodeFrame, Opcode, RSV1 } from '../../../src/websocket/protocol/frame.js';
import { PerMessageDeflate, setSynchronousZlib } from '../../../src/websocket/protocol/permessage-deflate.js';
import { PreparedMessage } from '../../../src/websocket/protocol/prepared.js';
import {
  InvalidStateError,
  Protocol,
  type ProtocolEvent,
  type ProtocolOptions,
  SEND_EOF,
  type Side,
  State,
} from '../../../src/websocket/protocol/protocol.js';
import { bytewise, hex, splitAt, toHex } from '../../support/bytes.js';

const KEY = hex('37 fa 21 3d');
/** A fixed masking key, so client output is deterministic. */
const fixedKey = () => KEY;

function make(side: Side, options: ProtocolOptions = {}): Protocol {
  return new Protocol(side, { maskKey: fixedKey, ...options });
}

/** Feed chunks; return every event and the bytes queued for the peer. */
function feed(p: Protocol, chunks: Buffer[]): { events: ProtocolEvent[]; sent: Buffer[] } {
  const events: ProtocolEvent[] = [];
  for (const c of chunks) {
    p.receiveData(c);
    events.push(...p.eventsReceived());
  }
  return { events, sent: p.dataToSend() };
}

/** A masked client frame, as a server receives it. */
function clientFrame(opcode: number, payload: Buffer | string, options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat(encodeFrame(opcode, data, { ...options, maskKey: KEY }));
}

/** Drive the same input whole, one byte at a time and at random splits; all must agree. */
function allSplits(side: Side, input: Buffer, check: (r: { events: ProtocolEvent[]; sent: Buffer[] }) => void, options: ProtocolOptions = {}): void {
  check(feed(make(side, options), [Buffer.from(input)]));
  check(feed(make(side, options), bytewise(input)));
  fc.assert(
    fc.property(fc.array(fc.nat(input.length), { maxLength: 8 }), (cuts) => {
      check(feed(make(side, options), splitAt(input, cuts)));
    }),
    { numRuns: 30 },
  );
}

/** The close frame (code) in the bytes sent, or null; handles both masked and unmasked frames. */
function sentClose(sent: Buffer[]): { code: number | null; eof: boolean } {
  const bytes = Buffer.concat(sent.filter((c) => c !== SEND_EOF));
  const eof = sent.includes(SEND_EOF);
  let i = 0;
  while (i < bytes.length) {
    const opcode = bytes[i]! & 0x0f;
    const masked = (bytes[i + 1]! & 0x80) !== 0;
    let len = bytes[i + 1]! & 0x7f;
    let off = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(off);
      off += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(off));
      off += 8;
    }
    const key = masked ? bytes.subarray(off, off + 4) : null;
    if (masked) off += 4;
    const payload = Buffer.from(bytes.subarray(off, off + len));
    if (key) for (let j = 0; j < payload.length; j++) payload[j] = payload[j]! ^ key[j & 3]!;
    if (opcode === Opcode.CLOSE) return { code: payload.length >= 2 ? payload.readUInt16BE(0) : 1005, eof };
    i = off + len;
  }
  return { code: null, eof };
}

function errorOf(events: ProtocolEvent[]): string | undefined {
  const e = events.find((ev) => ev.type === 'error');
  return e?.type === 'error' ? e.error.code : undefined;
}

describe('receiving the examples of RFC 6455 §5.7', () => {
  test('a single-frame unmasked text message (client side)', () => {
    allSplits('client', hex('81 05 48 65 6c 6c 6f'), ({ events }) => {
      assert.deepEqual(events, [{ type: 'text', data: 'Hello' }]);
    });
  });
  test('a single-frame masked text message (server side)', () => {
    allSplits('server', hex('81 85 37 fa 21 3d 7f 9f 4d 51 58'), ({ events }) => {
      assert.deepEqual(events, [{ type: 'text', data: 'Hello' }]);
    });
  });
  test('a fragmented unmasked text message', () => {
    allSplits('client', hex('01 03 48 65 6c 80 02 6c 6f'), ({ events }) => {
      assert.deepEqual(events, [{ type: 'text', data: 'Hello' }]);
    });
  });
  test('an unmasked ping is answered with a masked pong with the same payload', () => {
    allSplits('client', hex('89 05 48 65 6c 6c 6f'), ({ events, sent }) => {
      assert.equal(events.length, 1);
      assert.equal(events[0]!.type, 'ping');
      assert.equal(toHex(Buffer.concat(sent)), '8a 85 37 fa 21 3d 7f 9f 4d 51 58');
    });
  });
  test('a masked pong is reported and not answered', () => {
    allSplits('server', hex('8a 85 37 fa 21 3d 7f 9f 4d 51 58'), ({ events, sent }) => {
      assert.deepEqual(events, [{ type: 'pong', data: Buffer.from('Hello') }]);
      assert.equal(sent.length, 0);
    });
  });
  test('256 bytes binary in a single unmasked frame', () => {
    const payload = Buffer.alloc(256, 0xab);
    allSplits('client', Buffer.concat([hex('82 7e 01 00'), payload]), ({ events }) => {
      assert.deepEqual(events, [{ type: 'binary', data: payload }]);
    });
  });
  test('64 KiB binary in a single unmasked frame', () => {
    const payload = Buffer.alloc(65536, 0xcd);
    const input = Buffer.concat([hex('82 7f 00 00 00 00 00 01 00 00'), payload]);
    const { events } = feed(make('client'), splitAt(input, [3, 7, 11, 1000, 40000]));
    assert.deepEqual(events, [{ type: 'binary', data: payload }]);
  });
});

describe('sending (RFC 6455 §5.7 vectors)', () => {
  test('a server sends "Hello" unmasked', () => {
    const p = make('server');
    p.sendText('Hello');
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '81 05 48 65 6c 6c 6f');
  });
  test('a client sends "Hello" masked with its key', () => {
    const p = make('client');
    p.sendText('Hello');
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '81 85 37 fa 21 3d 7f 9f 4d 51 58');
  });
  test('a client never mutates the buffer it sends', () => {
    const p = make('client');
    const data = Buffer.from('Hello');
    p.sendBinary(data);
    assert.equal(data.toString(), 'Hello');
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '82 85 37 fa 21 3d 7f 9f 4d 51 58');
  });
  test('fragmented send with a ping in between', () => {
    const p = make('server');
    p.sendText('Hel', false);
    p.sendPing(Buffer.from('x'));
    p.sendContinuation('lo', true);
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '01 03 48 65 6c 89 01 78 80 02 6c 6f');
  });
  test('a new message cannot start while a fragmented one is being sent', () => {
    const p = make('server');
    p.sendText('a', false);
    assert.throws(() => p.sendText('b'), InvalidStateError);
  });
  test('continuation without a message in progress is refused', () => {
    assert.throws(() => make('server').sendContinuation('x', true), InvalidStateError);
  });
  test('close code 1005 may not be sent: it only reports a close frame without a code (issue 10, 1.6)', () => {
    const p = make('server');
    assert.throws(() => p.sendClose(1005), RangeError);
    assert.equal(p.state, State.OPEN);
    assert.deepEqual(p.dataToSend(), []);
  });

  test('control payloads over 125 bytes are refused', () => {
    assert.throws(() => make('server').sendPing(Buffer.alloc(126)), RangeError);
  });
  test('a prepared message gives the same bytes to every server connection', () => {
    const message = new PreparedMessage('Hello');
    const a = make('server');
    const b = make('server');
    a.sendPrepared(message);
    b.sendPrepared(message);
    const bytesA = Buffer.concat(a.dataToSend());
    assert.equal(toHex(bytesA), '81 05 48 65 6c 6c 6f');
    assert.deepEqual(Buffer.concat(b.dataToSend()), bytesA);
  });
  test('a prepared message is masked for a client', () => {
    const p = make('client');
    p.sendPrepared(new PreparedMessage(Buffer.from('Hello')));
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '82 85 37 fa 21 3d 7f 9f 4d 51 58');
  });
});

describe('framing errors fail the connection with the right close code', () => {
  // Each input is what a server receives; the expected close code and error code follow.
  const cases: Array<[string, Buffer, string, number]> = [
    ['unmasked client frame', hex('81 05 48 65 6c 6c 6f'), 'MASK_REQUIRED', 1002],
    ['reserved opcode 3', clientFrame(3, ''), 'RESERVED_OPCODE', 1002],
    ['reserved opcode 7', clientFrame(7, 'x'), 'RESERVED_OPCODE', 1002],
    ['reserved opcode B', clientFrame(0xb, ''), 'RESERVED_OPCODE', 1002],
    ['reserved opcode F', clientFrame(0xf, 'x'), 'RESERVED_OPCODE', 1002],
    ['RSV1 without an extension', clientFrame(1, 'x', { rsv: 0x40 }), 'RSV_NOT_NEGOTIATED', 1002],
    ['RSV2', clientFrame(1, 'x', { rsv: 0x20 }), 'RSV_NOT_NEGOTIATED', 1002],
    ['RSV3 on a ping', clientFrame(9, 'x', { rsv: 0x10 }), 'RSV_NOT_NEGOTIATED', 1002],
    ['fragmented ping', clientFrame(9, 'x', { fin: false }), 'CONTROL_FRAME_FRAGMENTED', 1002],
    ['ping of 126 bytes', Buffer.concat([hex('89 fe 00 7e 00 00 00 00'), Buffer.alloc(126)]), 'CONTROL_FRAME_TOO_LONG', 1002],
    ['continuation first', clientFrame(0, 'x'), 'UNEXPECTED_CONTINUATION', 1002],
    ['new message inside a fragmented one', Buffer.concat([clientFrame(1, 'a', { fin: false }), clientFrame(1, 'b')]), 'EXPECTED_CONTINUATION', 1002],
    ['64-bit length with the top bit set', hex('82 ff 80 00 00 00 00 00 00 00 00 00 00 00'), 'LENGTH_HIGH_BIT', 1002],
    ['64-bit length above 2^53 - 1', hex('82 ff 00 20 00 00 00 00 00 00 00 00 00 00'), 'LENGTH_TOO_LARGE', 1009],
    ['close with a 1-byte payload', clientFrame(8, hex('03')), 'CLOSE_PAYLOAD_TOO_SHORT', 1002],
    ['close with code 999', clientFrame(8, hex('03 e7')), 'INVALID_CLOSE_CODE', 1002],
    ['close with code 1005', clientFrame(8, hex('03 ed')), 'INVALID_CLOSE_CODE', 1002],
    ['close with invalid UTF-8 reason', clientFrame(8, hex('03 e8 ff')), 'INVALID_CLOSE_REASON', 1007],
    ['text that is not UTF-8', clientFrame(1, hex('ce ba ed a0 80')), 'INVALID_UTF8', 1007],
    ['text ending mid-sequence', clientFrame(1, hex('ce')), 'INVALID_UTF8', 1007],
    ['fragmented text ending mid-sequence', Buffer.concat([clientFrame(1, hex('61'), { fin: false }), clientFrame(0, hex('e1 bd'))]), 'INVALID_UTF8', 1007],
  ];
  for (const [name, input, code, closeCode] of cases) {
    test(`${name} -> ${code} (${closeCode})`, () => {
      allSplits('server', input, ({ events, sent }) => {
        assert.equal(errorOf(events), code);
        const close = sentClose(sent);
        assert.equal(close.code, closeCode);
        // RFC 6455 §7.1.7: the close frame goes out before the server closes TCP.
        assert.equal(close.eof, true);
        assert.equal(sent.at(-1), SEND_EOF);
      });
    });
  }

  test('lengths encoded with more bytes than needed are accepted (the "minimal" MUST binds the sender; issue 10, 1.6)', () => {
    // "Hello" with a 16-bit and with a 64-bit length, unmasked, to a client.
    for (const bytes of [hex('81 7e 00 05 48 65 6c 6c 6f'), hex('81 7f 00 00 00 00 00 00 00 05 48 65 6c 6c 6f')]) {
      allSplits('client', bytes, ({ events, sent }) => {
        assert.deepEqual(events, [{ type: 'text', data: 'Hello' }]);
        assert.deepEqual(sent, []);
      });
    }
  });

  test('a masked server frame fails the client with 1002 and the client waits for TCP close', () => {
    const p = make('client');
    const { events, sent } = feed(p, [hex('81 85 37 fa 21 3d 7f 9f 4d 51 58')]);
    assert.equal(errorOf(events), 'MASK_FORBIDDEN');
    assert.deepEqual(sentClose(sent), { code: 1002, eof: false });
    assert.equal(p.closeExpected(), true);
  });

  test('nothing is delivered after a failure', () => {
    const input = Buffer.concat([clientFrame(3, ''), clientFrame(1, 'after')]);
    const { events } = feed(make('server'), [input]);
    assert.deepEqual(events.map((e) => e.type), ['error']);
  });

  test('the close frame says only a fixed phrase, never internal detail', () => {
    const p = make('server');
    const { sent } = feed(p, [clientFrame(1, hex('ff'))]);
    const bytes = Buffer.concat(sent);
    assert.equal(bytes.subarray(4).toString(), 'invalid UTF-8');
  });
});

describe('UTF-8 fails fast (RFC 6455 §8.1)', () => {
  test('an invalid byte mid-frame fails before the rest of the frame arrives', () => {
    const frame = clientFrame(1, Buffer.concat([Buffer.from('κόσμε'), hex('ed a0 80'), Buffer.from('edited')]));
    const p = make('server');
    // Header (2 + 4 mask) plus the first 14 payload bytes: the surrogate is complete.
    p.receiveData(Buffer.from(frame.subarray(0, 6 + 14)));
    assert.equal(errorOf(p.eventsReceived()), 'INVALID_UTF8');
    assert.equal(sentClose(p.dataToSend()).code, 1007);
  });
  test('an invalid fragment fails before the message ends', () => {
    const p = make('server');
    p.receiveData(clientFrame(1, 'ok', { fin: false }));
    p.receiveData(clientFrame(0, hex('f4 90 80 80'), { fin: false }));
    assert.equal(errorOf(p.eventsReceived()), 'INVALID_UTF8');
  });
  test('a code point split across fragments is fine', () => {
    const input = Buffer.concat([clientFrame(1, hex('f0 9f'), { fin: false }), clientFrame(0, hex('98'), { fin: false }), clientFrame(0, hex('80'))]);
    allSplits('server', input, ({ events }) => assert.deepEqual(events, [{ type: 'text', data: '😀' }]));
  });
});

describe('fragmentation and interleaved control frames (RFC 6455 §5.4)', () => {
  test('a ping between fragments is answered and the message is whole', () => {
    const input = Buffer.concat([clientFrame(1, 'Hel', { fin: false }), clientFrame(9, 'p'), clientFrame(0, 'lo')]);
    allSplits('server', input, ({ events, sent }) => {
      assert.deepEqual(events, [{ type: 'ping', data: Buffer.from('p') }, { type: 'text', data: 'Hello' }]);
      assert.equal(toHex(Buffer.concat(sent)), '8a 01 70');
    });
  });
  test('binary fragments, empty ones included', () => {
    const input = Buffer.concat([clientFrame(2, hex('01'), { fin: false }), clientFrame(0, Buffer.alloc(0), { fin: false }), clientFrame(0, hex('02 03'))]);
    allSplits('server', input, ({ events }) => assert.deepEqual(events, [{ type: 'binary', data: hex('01 02 03') }]));
  });
  test('an empty text message', () => {
    allSplits('server', clientFrame(1, ''), ({ events }) => assert.deepEqual(events, [{ type: 'text', data: '' }]));
  });
});

describe('limits', () => {
  test('a declared length over the limit fails with 1009 before the payload arrives', () => {
    const p = make('server', { maxMessageSize: 1000 });
    // Only the header of a 2000-byte frame.
    p.receiveData(hex('82 fe 07 d0 37 fa 21 3d'));
    assert.equal(errorOf(p.eventsReceived()), 'MESSAGE_TOO_BIG');
    assert.equal(sentClose(p.dataToSend()).code, 1009);
  });
  test('fragments adding up over the limit fail with 1009', () => {
    const input = Buffer.concat([clientFrame(2, Buffer.alloc(600), { fin: false }), clientFrame(0, Buffer.alloc(600))]);
    const { events, sent } = feed(make('server', { maxMessageSize: 1000 }), [input]);
    assert.equal(errorOf(events), 'MESSAGE_TOO_BIG');
    assert.equal(sentClose(sent).code, 1009);
  });
  test('a message exactly at the limit is accepted', () => {
    const { events } = feed(make('server', { maxMessageSize: 1000 }), [clientFrame(2, Buffer.alloc(1000))]);
    assert.equal(events[0]?.type, 'binary');
  });
  test('too many fragments fail with 1009', () => {
    const frames = [clientFrame(2, Buffer.alloc(0), { fin: false })];
    for (let i = 0; i < 10; i++) frames.push(clientFrame(0, Buffer.alloc(0), { fin: false }));
    const { events, sent } = feed(make('server', { maxFragments: 10 }), [Buffer.concat(frames)]);
    assert.equal(errorOf(events), 'TOO_MANY_FRAGMENTS');
    assert.equal(sentClose(sent).code, 1009);
  });
});

describe('closing handshake (RFC 6455 §5.5.1, §7)', () => {
  test('a server echoes the close code and closes TCP', () => {
    allSplits('server', clientFrame(8, hex('03 e8 62 79 65')), ({ events, sent }) => {
      assert.deepEqual(events, [{ type: 'close', code: 1000, reason: 'bye' }]);
      assert.equal(toHex(Buffer.concat(sent)), '88 02 03 e8');
      assert.equal(sent.at(-1), SEND_EOF);
    });
  });
  test('an empty close is echoed empty (1005 is never sent)', () => {
    allSplits('server', clientFrame(8, ''), ({ events, sent }) => {
      assert.deepEqual(events, [{ type: 'close', code: 1005, reason: '' }]);
      assert.equal(toHex(Buffer.concat(sent)), '88 00');
    });
  });
  test('a client echoes the code and waits for the server to close TCP', () => {
    const p = make('client');
    const { sent } = feed(p, [hex('88 02 0b b8')]);
    assert.equal(toHex(Buffer.concat(sent)), '88 82 37 fa 21 3d 3c 42');
    assert.equal(sent.includes(SEND_EOF), false);
    assert.equal(p.closeExpected(), true);
    assert.equal(p.closingHandshakeDone, true);
  });
  test('every code valid on the wire is accepted and echoed', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999]) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      const { events, sent } = feed(make('server'), [clientFrame(8, payload)]);
      assert.deepEqual(events, [{ type: 'close', code, reason: '' }]);
      assert.equal(sentClose(sent).code, code);
    }
  });
  test('every invalid code fails with 1002', () => {
    for (const code of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code);
      const { events, sent } = feed(make('server'), [clientFrame(8, payload)]);
      assert.equal(errorOf(events), 'INVALID_CLOSE_CODE', `code ${code}`);
      assert.equal(sentClose(sent).code, 1002);
    }
  });
  test('the initiator completes the handshake when the echo arrives', () => {
    const p = make('server');
    p.sendClose(1000, 'done');
    assert.equal(p.state, State.CLOSING);
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '88 06 03 e8 64 6f 6e 65');
    const { events, sent } = feed(p, [clientFrame(8, hex('03 e8'))]);
    assert.deepEqual(events, [{ type: 'close', code: 1000, reason: '' }]);
    assert.deepEqual(sent, [SEND_EOF]);
    assert.equal(p.closingHandshakeDone, true);
  });
  test('data after a close frame is neither delivered nor answered', () => {
    const input = Buffer.concat([clientFrame(8, hex('03 e8')), clientFrame(1, 'late'), clientFrame(9, 'p')]);
    const { events, sent } = feed(make('server'), [input]);
    assert.deepEqual(events.map((e) => e.type), ['close']);
    assert.equal(toHex(Buffer.concat(sent)), '88 02 03 e8');
  });
  test('no data may be sent after a close frame', () => {
    const p = make('server');
    p.sendClose();
    assert.throws(() => p.sendText('x'), InvalidStateError);
    assert.throws(() => p.sendPing(), InvalidStateError);
  });
  test('messages keep arriving while our close is in flight', () => {
    const p = make('server');
    p.sendClose();
    p.dataToSend();
    const { events } = feed(p, [clientFrame(1, 'still')]);
    assert.deepEqual(events, [{ type: 'text', data: 'still' }]);
  });
  test('a ping is not answered once our close was sent', () => {
    const p = make('server');
    p.sendClose();
    p.dataToSend();
    const { sent } = feed(p, [clientFrame(9, 'p')]);
    assert.equal(sent.length, 0);
  });
  test('fail() sends the code, then (server) closes TCP', () => {
    const p = make('server');
    p.fail(1008, 'slow down');
    const sent = p.dataToSend();
    assert.equal(sentClose(sent).code, 1008);
    assert.equal(sent.at(-1), SEND_EOF);
  });
  test('receiveEof closes the state', () => {
    const p = make('server');
    p.receiveEof();
    assert.equal(p.state, State.CLOSED);
    assert.equal(p.closeExpected(), false);
  });
});

describe('causal order: the protocol replies to an event when it is taken (nextEvent)', () => {
  test('a message and a close in one read: the reply precedes the echoed close', () => {
    const p = make('server');
    p.receiveData(Buffer.concat([clientFrame(1, 'Hello'), clientFrame(8, hex('03 e8'))]));
    assert.deepEqual(p.nextEvent(), { type: 'text', data: 'Hello' });
    p.sendText('Hello');
    assert.deepEqual(p.nextEvent(), { type: 'close', code: 1000, reason: '' });
    assert.equal(p.nextEvent(), null);
    const sent = p.dataToSend();
    assert.equal(toHex(Buffer.concat(sent)), '81 05 48 65 6c 6c 6f 88 02 03 e8');
    assert.equal(sent.at(-1), SEND_EOF);
  });

  test('a message and a bad frame in one read: the reply precedes the 1002', () => {
    const p = make('server');
    p.receiveData(Buffer.concat([clientFrame(1, 'Hi'), clientFrame(5, ''), clientFrame(1, 'never')]));
    assert.equal(p.nextEvent()?.type, 'text');
    assert.equal(p.closeExpected(), true);
    p.sendText('Hi');
    assert.equal(p.nextEvent()?.type, 'error');
    assert.equal(p.nextEvent(), null);
    const bytes = Buffer.concat(p.dataToSend());
    assert.equal(toHex(bytes.subarray(0, 4)), '81 02 48 69');
    assert.equal(toHex(bytes.subarray(4, 8)), '88 11 03 ea');
  });

  test('a ping after a message in the same read is answered after the reply to the message (issue 10, 1.6)', () => {
    const p = make('server');
    p.receiveData(Buffer.concat([clientFrame(1, 'Hi'), clientFrame(9, 'p')]));
    assert.deepEqual(p.nextEvent(), { type: 'text', data: 'Hi' });
    p.sendText('Hi');
    assert.deepEqual(p.nextEvent(), { type: 'ping', data: Buffer.from('p') });
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '81 02 48 69 8a 01 70');
  });

  test('a ping before a message is answered before the reply to the message', () => {
    const p = make('server');
    p.receiveData(Buffer.concat([clientFrame(9, 'p'), clientFrame(1, 'Hi')]));
    assert.equal(p.nextEvent()?.type, 'ping');
    assert.equal(p.nextEvent()?.type, 'text');
    p.sendText('Hi');
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '8a 01 70 81 02 48 69');
  });

  test('with autoPong off, a ping is only reported; the application answers', () => {
    const p = make('server', { autoPong: false });
    p.receiveData(clientFrame(9, 'p'));
    assert.deepEqual(p.eventsReceived(), [{ type: 'ping', data: Buffer.from('p') }]);
    assert.deepEqual(p.dataToSend(), []);
    p.sendPong(Buffer.from('p'));
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '8a 01 70');
  });

  test('while congested only the last ping is answered, once the congestion clears (RFC 6455 §5.5.3)', () => {
    const p = make('server');
    p.congested = true;
    p.receiveData(Buffer.concat([clientFrame(9, '1'), clientFrame(9, '2'), clientFrame(9, '3')]));
    assert.equal(p.eventsReceived().length, 3);
    assert.deepEqual(p.dataToSend(), []);
    p.congested = false;
    assert.equal(toHex(Buffer.concat(p.dataToSend())), '8a 01 33');
  });

  test('without a pending message the close is answered when taken', () => {
    const p = make('server');
    p.receiveData(clientFrame(8, hex('03 e8')));
    assert.equal(p.closingHandshakeDone, false);
    p.eventsReceived();
    assert.equal(p.closingHandshakeDone, true);
  });
});

describe('properties', () => {
  const message = fc.oneof(
    fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'grapheme', maxLength: 200 }) }),
    fc.record({ kind: fc.constant('binary' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
    fc.record({ kind: fc.constant('ping' as const), bytes: fc.uint8Array({ maxLength: 125 }) }),
  );

  test('random message sequences round-trip client -> server at random splits', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 10 }), fc.array(fc.nat(4000), { maxLength: 10 }), (messages, cuts) => {
        const client = new Protocol('client');
        for (const m of messages) {
          if (m.kind === 'text') client.sendText(m.text);
          else if (m.kind === 'binary') client.sendBinary(m.bytes);
          else client.sendPing(m.bytes);
        }
        const wire = Buffer.concat(client.dataToSend());
        const { events } = feed(make('server'), splitAt(wire, cuts));
        const expected = messages.map((m) =>
          m.kind === 'text' ? { type: 'text', data: m.text } : { type: m.kind, data: Buffer.from(m.bytes) },
        );
        assert.deepEqual(events, expected);
      }),
      { numRuns: 200 },
    );
  });

  test('random fragmentation of a message round-trips', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.array(fc.nat(400), { maxLength: 6 }), (text, cuts) => {
        const bytes = Buffer.from(text);
        const pieces = splitAt(bytes, cuts);
        const client = new Protocol('client');
        client.sendText(pieces[0]!, pieces.length === 1);
        for (let i = 1; i < pieces.length; i++) client.sendContinuation(pieces[i]!, i === pieces.length - 1);
        const { events } = feed(make('server'), [Buffer.concat(client.dataToSend())]);
        assert.deepEqual(events, [{ type: 'text', data: text }]);
      }),
      { numRuns: 200 },
    );
  });

  test('random and mutated bytes produce only documented errors, never a throw', () => {
    const validWire = (() => {
      const c = new Protocol('client');
      c.sendText('hello');
      c.sendBinary(Buffer.alloc(300, 7));
      c.sendPing(Buffer.from('p'));
      c.sendClose(1000, 'x');
      return Buffer.concat(c.dataToSend());
    })();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
          fc.array(fc.tuple(fc.nat(validWire.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 5 }).map((muts) => {
            const b = Buffer.from(validWire);
            for (const [i, v] of muts) b[i] = v;
            return b;
          }),
        ),
        fc.constantFrom<Side>('server', 'client'),
        fc.array(fc.nat(600), { maxLength: 5 }),
        (bytes, side, cuts) => {
          const p = new Protocol(side, { maxMessageSize: 1 << 20 });
          const { events } = feed(p, splitAt(bytes, cuts));
          for (const e of events) {
            if (e.type === 'error') assert.ok(typeof e.error.code === 'string' && e.error.closeCode >= 1002 && e.error.closeCode <= 1011);
          }
          // Memory stays bounded: nothing can be buffered beyond the limit.
          assert.ok(events.length <= bytes.length + 1);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// ---- permessage-deflate: the asynchronous step keeps order both ways ----

const PARAMS = { serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

function deflating(side: Side, threshold = 16): { p: Protocol; deflate: PerMessageDeflate } {
  const deflate = new PerMessageDeflate(side === 'server', PARAMS, 'permessage-deflate', { threshold });
  return { p: make(side, { deflate }), deflate };
}

/** Resolves once every zlib job of `deflate` is done (each completion calls onReady). */
async function settled(p: Protocol, deflate: PerMessageDeflate): Promise<void> {
  while (deflate.pending > 0) {
    await new Promise<void>((resolve) => {
      p.onReady = resolve;
    });
  }
}

/** Unmasked server frames, decoded: opcode, RSV1, and the payload inflated when RSV1 is set. */
function decodeServerFrames(bytes: Buffer): Array<{ opcode: number; rsv1: boolean; data: string }> {
  const frames: Array<{ opcode: number; rsv1: boolean; data: string }> = [];
  let i = 0;
  while (i < bytes.length) {
    let len = bytes[i + 1]! & 0x7f;
    let off = i + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(off);
      off += 2;
    }
    const payload = bytes.subarray(off, off + len);
    const rsv1 = (bytes[i]! & RSV1) !== 0;
    const data = rsv1 ? inflateRawSync(Buffer.concat([payload, hex('00 00 ff ff')]), { finishFlush: zlibConstants.Z_SYNC_FLUSH }) : payload;
    frames.push({ opcode: bytes[i]! & 0x0f, rsv1, data: data.toString('latin1') });
    i = off + len;
  }
  return frames;
}

/** A masked, compressed client frame. */
function compressedClientFrame(opcode: number, text: string): Buffer {
  const payload = deflateRawSync(Buffer.from(text), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
  return clientFrame(opcode, payload, { rsv: RSV1 });
}

describe('permessage-deflate: the asynchronous step keeps order both ways', () => {
  // Small messages go through zlib synchronously; these tests are about what
  // happens while zlib is working, so everything takes the threadpool here.
  before(() => setSynchronousZlib(false));
  after(() => setSynchronousZlib(true));

  test('frames queued behind a message being compressed wait for it; dataToSend stops at it', async () => {
    const { p, deflate } = deflating('server');
    const long = 'compress me '.repeat(20);
    p.sendText(long);
    p.sendText('short');
    p.sendPing(Buffer.from('p'));
    p.sendBinary(Buffer.from(long.toUpperCase()));
    p.sendText('after');
    // Nothing can go before the first message, which zlib still holds.
    assert.deepEqual(p.dataToSend(), []);
    assert.ok(p.bufferedAmount >= long.length * 2, 'what waits is counted in bufferedAmount');
    await settled(p, deflate);
    const frames = decodeServerFrames(Buffer.concat(p.dataToSend()));
    assert.deepEqual(frames, [
      { opcode: 1, rsv1: true, data: long },
      { opcode: 1, rsv1: false, data: 'short' },
      { opcode: 9, rsv1: false, data: 'p' },
      { opcode: 2, rsv1: true, data: long.toUpperCase() },
      { opcode: 1, rsv1: false, data: 'after' },
    ]);
    assert.equal(p.bufferedAmount, 0);
  });

  test('a close sent while a message is being compressed goes out after it', async () => {
    const { p, deflate } = deflating('server');
    p.sendText('x'.repeat(100));
    p.sendClose(1000);
    await settled(p, deflate);
    assert.deepEqual(decodeServerFrames(Buffer.concat(p.dataToSend())).map((f) => f.opcode), [1, 8]);
  });

  test('a marker comes back only once the bytes before it were taken', async () => {
    const { p, deflate } = deflating('server');
    const order: string[] = [];
    p.sendText('a'.repeat(100));
    p.mark(() => order.push('first'));
    p.sendText('b');
    p.mark(() => order.push('second'));
    p.dataToSend();
    assert.deepEqual(p.takeMarkers(), []);
    await settled(p, deflate);
    assert.equal(p.dataToSend().length, 2);
    for (const marker of p.takeMarkers()) marker();
    assert.deepEqual(order, ['first', 'second']);
  });

  test('events after a message being inflated wait for it; the pong is queued when the ping is taken', async () => {
    const { p, deflate } = deflating('server');
    p.receiveData(Buffer.concat([compressedClientFrame(1, 'zipped '.repeat(10)), clientFrame(9, 'p'), clientFrame(1, 'plain')]));
    assert.equal(p.nextEvent(), null, 'the inflated message comes first, and is not ready yet');
    assert.equal(p.eventsPending, true);
    await settled(p, deflate);
    assert.deepEqual(p.nextEvent(), { type: 'text', data: 'zipped '.repeat(10) });
    p.sendText('reply');
    assert.deepEqual(p.nextEvent(), { type: 'ping', data: Buffer.from('p') });
    assert.deepEqual(p.nextEvent(), { type: 'text', data: 'plain' });
    assert.deepEqual(decodeServerFrames(Buffer.concat(p.dataToSend())).map((f) => [f.opcode, f.data]), [
      [1, 'reply'],
      [10, 'p'],
    ]);
  });

  test('a message that does not inflate fails the connection with 1007; nothing after it is processed', async () => {
    const { p, deflate } = deflating('server');
    p.receiveData(Buffer.concat([clientFrame(2, hex('ff ff ff ff'), { rsv: RSV1 }), clientFrame(9, 'p'), clientFrame(1, 'never')]));
    await settled(p, deflate);
    const events = p.eventsReceived();
    assert.deepEqual(events.map((e) => e.type), ['error']);
    assert.equal(errorOf(events), 'INVALID_COMPRESSED_DATA');
    const sent = p.dataToSend();
    assert.equal(sentClose(sent).code, 1007);
    assert.equal(decodeServerFrames(Buffer.concat(sent.filter((c) => c !== SEND_EOF))).length, 1, 'no pong');
  });

  test('text that inflates to invalid UTF-8 fails with 1007', async () => {
    const { p, deflate } = deflating('server');
    const payload = deflateRawSync(hex('48 c3 28'), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    p.receiveData(clientFrame(1, payload, { rsv: RSV1 }));
    await settled(p, deflate);
    assert.equal(errorOf(p.eventsReceived()), 'INVALID_UTF8');
  });

  test('canReceive turns false while more than 1 MiB of compressed data waits for zlib, true again after', async () => {
    const { p, deflate } = deflating('server');
    // Random bytes do not compress: each payload is a little over 60 KB, 20 of them over 1 MiB.
    const payload = deflateRawSync(randomBytes(60_000), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).subarray(0, -4);
    assert.ok(payload.length > 60_000);
    for (let i = 0; i < 20; i++) p.receiveData(clientFrame(2, payload, { rsv: RSV1 }));
    assert.equal(p.canReceive, false);
    await settled(p, deflate);
    assert.equal(p.canReceive, true);
    assert.equal(p.eventsReceived().length, 20);
  });
});

describe('permessage-deflate: small messages need no threadpool round trip', () => {
  test('a small message is compressed and inflated before the call returns, in order with the rest', () => {
    const { p } = deflating('server');
    p.sendText('small but compressible '.repeat(10));
    p.sendPing(Buffer.from('p'));
    assert.deepEqual(decodeServerFrames(Buffer.concat(p.dataToSend())).map((f) => [f.opcode, f.rsv1]), [
      [1, true],
      [9, false],
    ]);
    p.receiveData(Buffer.concat([compressedClientFrame(1, 'zipped '.repeat(10)), clientFrame(9, 'q')]));
    assert.deepEqual(p.eventsReceived().map((e) => e.type), ['text', 'ping']);
  });
});
