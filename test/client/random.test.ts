import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIENT_ID_PATTERN } from '../../src/chat/messages.js';
import { randomId } from '../../src/client/random.js';

test('ids are 16 URL-safe characters by default and valid client message ids', () => {
  for (let i = 0; i < 100; i++) {
    const id = randomId();
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.match(id, CLIENT_ID_PATTERN);
  }
});

test('ids do not repeat', () => {
  const ids = new Set(Array.from({ length: 10_000 }, () => randomId()));
  assert.equal(ids.size, 10_000);
});

test('each byte maps to one of 64 characters through its low 6 bits', () => {
  const bytes = [0, 25, 26, 51, 52, 61, 62, 63, 64, 255];
  const id = randomId(bytes.length, (buffer) => {
    buffer.set(bytes);
    return buffer;
  });
  assert.equal(id, 'AZaz09-_A_');
});

test('the length is checked', () => {
  assert.equal(randomId(1).length, 1);
  assert.throws(() => randomId(0), RangeError);
  assert.throws(() => randomId(1.5), RangeError);
});
