import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  deriveTripcode,
  isTripcode,
  newTripcodeSalt,
  splitTripcode,
  TRIPCODE_LENGTH,
  tripcodesEqual,
} from '../../src/chat/tripcode.js';

describe('tripcode', () => {
  const salt = Buffer.from('0123456789abcdef0123456789abcdef');

  test('the same secret and salt give the same short code, every time', () => {
    const code = deriveTripcode('correct horse', salt);
    assert.equal(code.length, TRIPCODE_LENGTH);
    assert.ok(isTripcode(code), code);
    assert.equal(deriveTripcode('correct horse', salt), code);
    assert.equal(deriveTripcode('correct horse', Buffer.from(salt)), code);
  });

  test('a known vector: HMAC-SHA256 then base64url, first 8 characters', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', salt).update('secret').digest('base64url').slice(0, 8);
    assert.equal(deriveTripcode('secret', salt), expected);
  });

  test('another secret or another salt gives another code', () => {
    const code = deriveTripcode('secret', salt);
    assert.notEqual(deriveTripcode('secret2', salt), code);
    assert.notEqual(deriveTripcode('Secret', salt), code);
    assert.notEqual(deriveTripcode('secret', newTripcodeSalt()), code);
    const codes = new Set(Array.from({ length: 200 }, (_, i) => deriveTripcode(`s${i}`, salt)));
    assert.equal(codes.size, 200);
  });

  test('secrets are NFC-normalised', () => {
    assert.equal(deriveTripcode('Zoe\u0308', salt), deriveTripcode('Zoë', salt));
  });

  test('refuses empty or huge secrets and an empty salt', () => {
    assert.throws(() => deriveTripcode('', salt), RangeError);
    assert.throws(() => deriveTripcode('x'.repeat(201), salt), RangeError);
    assert.throws(() => deriveTripcode('x', new Uint8Array(0)), RangeError);
  });

  test('splitTripcode: at the first "#"', () => {
    assert.deepEqual(splitTripcode('alice#s3cret'), { nick: 'alice', secret: 's3cret' });
    assert.deepEqual(splitTripcode('alice#a#b'), { nick: 'alice', secret: 'a#b' });
    assert.deepEqual(splitTripcode('alice'), { nick: 'alice', secret: null });
    assert.deepEqual(splitTripcode('alice#'), { nick: 'alice', secret: '' });
  });

  test('tripcodesEqual compares exactly, whatever the lengths', () => {
    assert.ok(tripcodesEqual('Ab3dEf12', 'Ab3dEf12'));
    assert.ok(!tripcodesEqual('Ab3dEf12', 'Ab3dEf13'));
    assert.ok(!tripcodesEqual('Ab3dEf12', 'Ab3dEf1'));
    assert.ok(!tripcodesEqual('', 'x'));
  });
});
