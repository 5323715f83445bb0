import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_TIMER_MS, parseDuration, parseInteger } from '../../src/cli/options.js';

describe('parseInteger', () => {
  test('accepts whole numbers within the range, surrounding spaces too', () => {
    assert.equal(parseInteger('--port', '8080', 0, 65535), 8080);
    assert.equal(parseInteger('--port', '0', 0, 65535), 0);
    assert.equal(parseInteger('--port', '65535', 0, 65535), 65535);
    assert.equal(parseInteger('--history', ' 50 ', 0, 10_000), 50);
    assert.equal(parseInteger('--burst', '007', 1, 100), 7);
  });

  test('refuses anything else with a message naming the option, the range and the value', () => {
    for (const text of ['', ' ', '-1', '65536', '1.5', '1e3', '0x10', 'abc', '12abc', '+5', 'Infinity', '99999999999999999999']) {
      assert.throws(
        () => parseInteger('--port', text, 0, 65535),
        (error: Error) => error.message === `--port must be a whole number from 0 to 65535, got "${text}"`,
        JSON.stringify(text),
      );
    }
    assert.throws(() => parseInteger('--burst', '0', 1, 10), /--burst must be a whole number from 1 to 10/);
  });
});

describe('parseDuration', () => {
  test('understands ms, s, m, h, d and plain milliseconds', () => {
    assert.equal(parseDuration('--grace', '1500ms'), 1500);
    assert.equal(parseDuration('--grace', '1500'), 1500);
    assert.equal(parseDuration('--grace', '90s'), 90_000);
    assert.equal(parseDuration('--grace', '2m'), 120_000);
    assert.equal(parseDuration('--room-ttl', '24h'), 86_400_000);
    assert.equal(parseDuration('--room-ttl', '7d'), 604_800_000);
    assert.equal(parseDuration('--grace', '1.5s'), 1500);
    assert.equal(parseDuration('--grace', '0'), 0);
    assert.equal(parseDuration('--grace', ' 30m '), 1_800_000);
  });

  test('refuses what is not a duration, naming the option', () => {
    for (const text of ['', 'soon', '-5s', '5 s', '5sec', '5S', '1h30m', '.5s', 's']) {
      assert.throws(
        () => parseDuration('--grace', text),
        (error: Error) => error.message === `--grace must be a duration such as 90s, 30m, 24h or 7d, got "${text}"`,
        JSON.stringify(text),
      );
    }
  });

  test('refuses durations over the maximum, and numbers too big to be exact', () => {
    assert.equal(parseDuration('--grace', '24d', MAX_TIMER_MS), 24 * 86_400_000);
    assert.equal(parseDuration('--grace', String(MAX_TIMER_MS), MAX_TIMER_MS), MAX_TIMER_MS);
    assert.throws(() => parseDuration('--grace', '25d', MAX_TIMER_MS), /^Error: --grace must be at most 2147483647 ms \(about 24 days\), got "25d"$/);
    assert.throws(() => parseDuration('--grace', `${MAX_TIMER_MS + 1}`, MAX_TIMER_MS), /at most/);
    assert.throws(() => parseDuration('--room-ttl', `1${'0'.repeat(400)}d`), /--room-ttl must be at most/);
    assert.equal(parseDuration('--room-ttl', '3650d'), 3650 * 86_400_000, 'no cap unless asked');
  });

  test('MAX_TIMER_MS is the largest delay a Node timer honours', () => {
    assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
  });
});
