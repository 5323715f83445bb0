import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeClosePayload, isValidCloseCode, parseClosePayload } from '../../../src/websocket/protocol/close.js';
import type { ProtocolError } from '../../../src/websocket/protocol/errors.js';
import { hex } from '../../support/bytes.js';

describe('close codes (RFC 6455 §7.4)', () => {
  const validCodes = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
  const invalidCodes = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535];
  for (const code of validCodes) test(`${code} is valid on the wire`, () => assert.equal(isValidCloseCode(code), true));
  for (const code of invalidCodes) test(`${code} is not`, () => assert.equal(isValidCloseCode(code), false));
});

describe('parseClosePayload', () => {
  test('empty payload means 1005, no status', () => {
    assert.deepEqual(parseClosePayload(Buffer.alloc(0)), { code: 1005, reason: '' });
  });
  test('code and UTF-8 reason', () => {
    assert.deepEqual(parseClosePayload(hex('03 e8 62 79 65')), { code: 1000, reason: 'bye' });
  });
  test('one byte is a protocol error', () => {
    assert.throws(() => parseClosePayload(hex('03')), (e: ProtocolError) => e.code === 'CLOSE_PAYLOAD_TOO_SHORT' && e.closeCode === 1002);
  });
  test('invalid code is a protocol error', () => {
    assert.throws(() => parseClosePayload(hex('03 ed')), (e: ProtocolError) => e.code === 'INVALID_CLOSE_CODE' && e.closeCode === 1002);
  });
  test('invalid UTF-8 reason closes with 1007', () => {
    assert.throws(() => parseClosePayload(hex('03 e8 ed a0 80')), (e: ProtocolError) => e.code === 'INVALID_CLOSE_REASON' && e.closeCode === 1007);
  });
});

describe('encodeClosePayload', () => {
  test('code and reason', () => assert.deepEqual(encodeClosePayload(1001, 'away'), hex('03 e9 61 77 61 79')));
  test('1005 may not be sent (RFC 6455 §7.4.1): a RangeError like any other such code', () =>
    assert.throws(() => encodeClosePayload(1005), RangeError));
  test('refuses codes that may not be sent', () => assert.throws(() => encodeClosePayload(1006), RangeError));
  test('refuses a reason over 123 bytes', () => {
    assert.doesNotThrow(() => encodeClosePayload(1000, 'x'.repeat(123)));
    assert.throws(() => encodeClosePayload(1000, 'x'.repeat(124)), RangeError);
  });
});
