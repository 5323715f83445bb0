import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Emitter } from '../../src/client/emitter.js';

type Events = { ping: [n: number]; done: [] };

class Probe extends Emitter<Events> {
  fire<K extends keyof Events>(type: K, ...args: Events[K]): void {
    this.emit(type, ...args);
  }
}

test('listeners run in order; on() returns a remover', () => {
  const probe = new Probe();
  const seen: string[] = [];
  const off = probe.on('ping', (n) => seen.push(`a${n}`));
  probe.on('ping', (n) => seen.push(`b${n}`));
  probe.fire('ping', 1);
  off();
  probe.fire('ping', 2);
  probe.fire('done');
  assert.deepEqual(seen, ['a1', 'b1', 'b2']);
});

test('a throwing listener does not stop the others; its error goes to the handler', () => {
  const errors: unknown[] = [];
  const probe = new Probe((error) => errors.push(error));
  const seen: number[] = [];
  probe.on('ping', () => {
    throw new Error('bug');
  });
  probe.on('ping', (n) => seen.push(n));
  probe.fire('ping', 7);
  assert.deepEqual(seen, [7]);
  assert.equal((errors[0] as Error).message, 'bug');
});

test('by default a listener error is rethrown from a microtask', async () => {
  const probe = new Probe();
  probe.on('done', () => {
    throw new Error('later');
  });
  const original = globalThis.queueMicrotask;
  const queued: (() => void)[] = [];
  globalThis.queueMicrotask = (callback) => queued.push(callback);
  try {
    probe.fire('done');
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.equal(queued.length, 1);
  assert.throws(() => queued[0]?.(), /later/);
});
