import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock, systemClock } from '../../src/chat/clock.js';

describe('ManualClock', () => {
  test('runs due timers in due-time order, ties in scheduling order', () => {
    const clock = new ManualClock(1000);
    const order: string[] = [];
    clock.setTimeout(() => order.push('b'), 20);
    clock.setTimeout(() => order.push('a'), 10);
    clock.setTimeout(() => order.push('c'), 20);
    clock.setTimeout(() => order.push('late'), 31);
    clock.advance(30);
    assert.deepEqual(order, ['a', 'b', 'c']);
    assert.equal(clock.now(), 1030);
    assert.equal(clock.pendingTimers, 1);
  });

  test('a timer sees the time it was due at, and timers it schedules within the window run too', () => {
    const clock = new ManualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    clock.advance(100);
    assert.deepEqual(seen, [10, 15]);
    assert.equal(clock.now(), 100);
  });

  test('cancelled timers never run', () => {
    const clock = new ManualClock();
    let ran = false;
    const timer = clock.setTimeout(() => {
      ran = true;
    }, 1);
    timer.cancel();
    timer.cancel();
    clock.advance(10);
    assert.equal(ran, false);
    assert.equal(clock.pendingTimers, 0);
  });

  test('time does not go back', () => {
    assert.throws(() => new ManualClock().advance(-1), RangeError);
  });
});

describe('systemClock', () => {
  test('fires a timer and can cancel one', async () => {
    let cancelledRan = false;
    systemClock.setTimeout(() => {
      cancelledRan = true;
    }, 0).cancel();
    const before = systemClock.now();
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 1));
    assert.ok(systemClock.now() >= before);
    assert.equal(cancelledRan, false);
  });
});
