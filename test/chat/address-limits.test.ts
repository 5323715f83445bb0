import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AddressLimits, DEFAULT_ADDRESS_LIMITS } from '../../src/chat/address-limits.js';
import { ManualClock } from '../../src/chat/clock.js';

describe('AddressLimits (per node)', () => {
  test('defaults, documented in the README', () => {
    assert.deepEqual(DEFAULT_ADDRESS_LIMITS, { connections: 500, handshakesPerMinute: 600, messagesPerSecond: 50, roomsPerHour: 100 });
    assert.throws(() => new AddressLimits({ connections: -1 }, new ManualClock()), RangeError);
    assert.throws(() => new AddressLimits({ messagesPerSecond: 1.5 }, new ManualClock()), RangeError);
  });

  test('concurrent connections: refused at the limit, counted off when they close; other addresses unaffected', () => {
    const limits = new AddressLimits({ connections: 2, handshakesPerMinute: 0 }, new ManualClock());
    const close = [limits.opened('A'), limits.opened('A')];
    const refused = limits.handshake('A');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.reason, 'connections');
    assert.match(!refused.ok ? refused.message : '', /too many connections from your address \(at most 2\)/);
    assert.deepEqual(limits.handshake('B'), { ok: true });
    close[0]!();
    close[0]!();
    assert.deepEqual(limits.handshake('A'), { ok: true }, 'one closed (twice: counted once)');
  });

  test('handshakes per minute: all at once, then at the rate; Retry-After from the bucket', () => {
    const clock = new ManualClock();
    const limits = new AddressLimits({ connections: 0, handshakesPerMinute: 6 }, clock);
    for (let i = 0; i < 6; i++) assert.deepEqual(limits.handshake('A'), { ok: true });
    const refused = limits.handshake('A');
    assert.deepEqual(!refused.ok && [refused.reason, refused.retryAfterMs], ['handshakes', 10_000]);
    assert.deepEqual(limits.handshake('B'), { ok: true });
    clock.advance(10_000);
    assert.deepEqual(limits.handshake('A'), { ok: true });
    assert.equal(limits.handshake('A').ok, false);
  });

  test('lines per second over every connection of the address, bursts of 4 s worth', () => {
    const clock = new ManualClock();
    const limits = new AddressLimits({ messagesPerSecond: 2 }, clock);
    for (let i = 0; i < 8; i++) assert.deepEqual(limits.message('A'), { ok: true });
    const refused = limits.message('A');
    assert.deepEqual(!refused.ok && [refused.reason, refused.retryAfterMs], ['messages', 500]);
    assert.deepEqual(limits.message('B'), { ok: true });
    clock.advance(500);
    assert.deepEqual(limits.message('A'), { ok: true });
    assert.deepEqual(new AddressLimits({ messagesPerSecond: 0 }, clock).message('A'), { ok: true }, '0: no limit');
  });

  test('memory stays bounded: addresses with nothing to remember are swept', () => {
    const clock = new ManualClock();
    const limits = new AddressLimits({ handshakesPerMinute: 60, messagesPerSecond: 10 }, clock);
    const open = limits.opened('keeps-a-connection');
    for (let i = 0; i < 5000; i++) {
      limits.handshake(`10.0.${i >> 8}.${i & 255}`);
      if (i % 1000 === 999) clock.advance(60_000);
    }
    assert.ok(limits.size < 2100, `${limits.size} addresses remembered`);
    clock.advance(60_000);
    for (let i = 0; i < 1100; i++) limits.message(`fresh-${i}`);
    assert.ok(limits.size < 2300, `${limits.size} addresses remembered`);
    assert.equal(limits.handshake('keeps-a-connection').ok, true);
    open();
  });
});
