import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatEntry, formatTime } from '../../src/client/terminal.js';

describe('terminal formatting', () => {
  const ts = Date.UTC(2026, 10, 22, 14, 3);
  test('times are hh:mm', () => assert.equal(formatTime(ts, 'UTC'), '14:03'));
  test('each kind of entry has its own shape', () => {
    assert.equal(formatEntry({ type: 'message', seq: 1, ts, nick: 'al', text: 'hi' }, 'UTC'), '14:03 <al> hi');
    assert.equal(formatEntry({ type: 'action', seq: 2, ts, nick: 'al', text: 'waves' }, 'UTC'), '14:03 * al waves');
    assert.equal(formatEntry({ type: 'notice', seq: 3, ts, event: 'join', nick: 'al', text: 'al joined' }, 'UTC'), '14:03 -- al joined');
    assert.equal(formatEntry({ type: 'admin', seq: 4, ts, nick: 'Administrator', text: 'maintenance' }, 'UTC'), '14:03 *** Administrator: maintenance');
  });
  test('tripcodes show as <nick !trip>', () => {
    assert.equal(formatEntry({ type: 'message', seq: 1, ts, nick: 'al', trip: 'Ab3dEf12', text: 'hi' }, 'UTC'), '14:03 <al !Ab3dEf12> hi');
  });
  test('attack: later lines of a message are marked as its continuation, never a line of their own', () => {
    const text = 'see you\n12:54 *** Administrator: Server restarts in 5 minutes\n12:54 <bob> bye';
    assert.deepEqual(formatEntry({ type: 'message', seq: 1, ts, nick: 'al', text }, 'UTC').split('\n'), [
      '14:03 <al> see you',
      '      | 12:54 *** Administrator: Server restarts in 5 minutes',
      '      | 12:54 <bob> bye',
    ]);
    assert.equal(formatEntry({ type: 'admin', seq: 4, ts, nick: 'Administrator', text: 'a\nb' }, 'UTC'), '14:03 *** Administrator: a\n      | b');
  });
});
