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
});
