import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { describeFileError, isUsageError, MAX_TIMER_MS, parseDuration, parseInteger, parseOrigin, UsageError } from '../../src/cli/options.js';

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
    assert.throws(() => parseDuration('--grace', '25d', MAX_TIMER_MS), /^UsageError: --grace must be at most 2147483647 ms \(about 24 days\), got "25d"$/);
    assert.throws(() => parseDuration('--grace', `${MAX_TIMER_MS + 1}`, MAX_TIMER_MS), /at most/);
    assert.throws(() => parseDuration('--room-ttl', `1${'0'.repeat(400)}d`), /--room-ttl must be at most/);
    assert.equal(parseDuration('--room-ttl', '3650d'), 3650 * 86_400_000, 'no cap unless asked');
  });

  test('MAX_TIMER_MS is the largest delay a Node timer honours', () => {
    assert.equal(MAX_TIMER_MS, 2 ** 31 - 1);
  });
});

describe('parseOrigin', () => {
  test('an origin, as browsers send it: scheme, host, port; a trailing slash is fine', () => {
    assert.equal(parseOrigin('--allowed-origin', 'https://chat.example.com'), 'https://chat.example.com');
    assert.equal(parseOrigin('--allowed-origin', 'https://Chat.Example.com/'), 'https://chat.example.com');
    assert.equal(parseOrigin('--allowed-origin', 'http://localhost:3000'), 'http://localhost:3000');
    assert.equal(parseOrigin('--allowed-origin', 'https://chat.example.com:443'), 'https://chat.example.com');
  });

  test('refuses anything else, saying why, as a usage error', () => {
    const cases: Array<[string, string]> = [
      ['notaurl', 'not a URL'],
      ['chat.example.com', 'not a URL'],
      ['ftp://chat.example.com', 'http: or https: only'],
      ['ws://chat.example.com', 'http: or https: only'],
      ['https://chat.example.com/app', 'no path, query or user'],
      ['https://chat.example.com/?x=1', 'no path, query or user'],
      ['https://user@chat.example.com', 'no path, query or user'],
      ['https://chat.example.com/#top', 'no path, query or user'],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => parseOrigin('--allowed-origin', text),
        (error: Error) =>
          error instanceof UsageError &&
          error.message === `--allowed-origin must be an origin such as https://chat.example.com (${why}), got "${text}"`,
        text,
      );
    }
  });
});

describe('usage errors', () => {
  test('ours and parseArgs’s count as usage (exit 2); others do not', () => {
    assert.equal(isUsageError(new UsageError('x')), true);
    assert.equal(isUsageError(Object.assign(new TypeError('Unknown option'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })), true);
    assert.equal(isUsageError(new Error('listen EADDRINUSE')), false);
    assert.equal(isUsageError(null), false);
  });

  test('parseInteger and parseDuration refuse with UsageError', () => {
    assert.throws(() => parseInteger('--port', 'x', 0, 1), UsageError);
    assert.throws(() => parseDuration('--grace', 'x'), UsageError);
  });

  test('describeFileError puts common codes in words', () => {
    assert.equal(describeFileError(Object.assign(new Error('x'), { code: 'ENOENT' })), 'no such file or directory (ENOENT)');
    assert.equal(describeFileError(new Error('odd')), 'odd');
  });
});
