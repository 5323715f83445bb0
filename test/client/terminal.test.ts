import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatEntry, formatTime, inert, inertEntry } from '../../src/client/terminal.js';

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

describe('inert: what the network sends cannot drive the terminal', () => {
  test('C0 controls and DEL in caret notation, C1 and bidi controls as code points', () => {
    assert.equal(inert('a\x1b[2Jb'), 'a^[[2Jb');
    assert.equal(inert('\x00\x07\x08\r\x7f'), '^@^G^H^M^?');
    assert.equal(inert('\x9b31m\x85'), '<U+009B>31m<U+0085>');
    assert.equal(inert('abc\u202edef\u2066\u2069\u200e\u200f\u061c'), 'abc<U+202E>def<U+2066><U+2069><U+200E><U+200F><U+061C>');
    assert.equal(inert('line\u2028sep'), 'line<U+2028>sep');
  });

  test('tabs stay; newlines stay only where asked (multi-line messages)', () => {
    assert.equal(inert('a\tb\nc'), 'a\tb^Jc');
    assert.equal(inert('a\tb\nc', true), 'a\tb\nc');
  });

  test('printable text of any script, emoji and joiners are untouched', () => {
    const text = '민수 ☕ 👩‍💻 café é العربية';
    assert.equal(inert(text), text);
  });

  test('inertEntry cleans nick, text and from; a message keeps its lines, a notice does not', () => {
    const ts = 0;
    assert.deepEqual(inertEntry({ type: 'message', seq: 1, ts, nick: 'a\x1b', text: 'x\ny\x1b' }), {
      type: 'message',
      seq: 1,
      ts,
      nick: 'a^[',
      text: 'x\ny^[',
    });
    assert.deepEqual(inertEntry({ type: 'notice', seq: 2, ts, event: 'rename', nick: 'b\x07', from: 'c\x1b', text: 'c is now\nb' }), {
      type: 'notice',
      seq: 2,
      ts,
      event: 'rename',
      nick: 'b^G',
      from: 'c^[',
      text: 'c is now^Jb',
    });
  });
});
