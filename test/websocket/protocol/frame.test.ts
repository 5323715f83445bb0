import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeFrame, encodeTextFrame, headerLength, Opcode } from '../../../src/websocket/protocol/frame.js';
import { hex, toHex } from '../../support/bytes.js';

const KEY = hex('37 fa 21 3d');

describe('encodeFrame (RFC 6455 §5.2, examples of §5.7)', () => {
  test('unmasked text "Hello"', () => {
    assert.equal(toHex(Buffer.concat(encodeFrame(Opcode.TEXT, Buffer.from('Hello')))), '81 05 48 65 6c 6c 6f');
  });
  test('masked text "Hello"', () => {
    const frame = Buffer.concat(encodeFrame(Opcode.TEXT, Buffer.from('Hello'), { maskKey: KEY }));
    assert.equal(toHex(frame), '81 85 37 fa 21 3d 7f 9f 4d 51 58');
  });
  test('masking never changes the caller\'s payload', () => {
    const payload = Buffer.from('Hello');
    encodeFrame(Opcode.BINARY, payload, { maskKey: KEY });
    assert.equal(payload.toString(), 'Hello');
  });
  test('fragments: first without FIN, continuation with FIN', () => {
    assert.equal(toHex(Buffer.concat(encodeFrame(Opcode.TEXT, Buffer.from('Hel'), { fin: false }))), '01 03 48 65 6c');
    assert.equal(toHex(Buffer.concat(encodeFrame(Opcode.CONTINUATION, Buffer.from('lo')))), '80 02 6c 6f');
  });
  test('unmasked ping and masked pong', () => {
    assert.equal(toHex(Buffer.concat(encodeFrame(Opcode.PING, Buffer.from('Hello')))), '89 05 48 65 6c 6c 6f');
    assert.equal(
      toHex(Buffer.concat(encodeFrame(Opcode.PONG, Buffer.from('Hello'), { maskKey: KEY }))),
      '8a 85 37 fa 21 3d 7f 9f 4d 51 58',
    );
  });
  test('256 bytes use the 16-bit length', () => {
    const frame = Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(256, 1)));
    assert.equal(toHex(frame.subarray(0, 4)), '82 7e 01 00');
    assert.equal(frame.length, 260);
  });
  test('64 KiB uses the 64-bit length', () => {
    const frame = Buffer.concat(encodeFrame(Opcode.BINARY, Buffer.alloc(65536, 1)));
    assert.equal(toHex(frame.subarray(0, 10)), '82 7f 00 00 00 00 00 01 00 00');
    assert.equal(frame.length, 65546);
  });
  test('length boundaries are minimal: 125, 126, 65535, 65536', () => {
    assert.equal(headerLength(125, false), 2);
    assert.equal(headerLength(126, false), 4);
    assert.equal(headerLength(65535, false), 4);
    assert.equal(headerLength(65536, false), 10);
    assert.equal(headerLength(65536, true), 14);
  });
  test('RSV1 is set when asked (permessage-deflate)', () => {
    assert.equal(toHex(Buffer.concat(encodeFrame(Opcode.TEXT, Buffer.from('x'), { rsv: 0x40 })).subarray(0, 1)), 'c1');
  });
  test('text frames encode strings straight into the frame', () => {
    assert.equal(toHex(encodeTextFrame('Hello', { maskKey: KEY })), '81 85 37 fa 21 3d 7f 9f 4d 51 58');
    assert.equal(toHex(encodeTextFrame('é')), '81 02 c3 a9');
  });
});
