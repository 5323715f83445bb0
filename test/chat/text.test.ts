import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkMessageText, codePointLength, isBlank } from '../../src/chat/text.js';

describe('codePointLength', () => {
  test('counts code points, not UTF-16 units', () => {
    assert.equal(codePointLength('abc'), 3);
    assert.equal(codePointLength('😀😀'), 2);
    assert.equal(codePointLength('한국어'), 3);
    assert.equal(codePointLength('\ud800x'), 2, 'a lone surrogate counts as one');
  });
});

describe('checkMessageText', () => {
  test('accepts ordinary text unchanged', () => {
    assert.deepEqual(checkMessageText('hello, 세계 😀'), { ok: true, text: 'hello, 세계 😀' });
  });

  test('refuses empty and whitespace-only text', () => {
    for (const text of ['', '   ', '\n\n', '\t \r\n']) {
      const result = checkMessageText(text);
      assert.equal(result.ok, false, JSON.stringify(text));
      assert.equal(!result.ok && result.code, 'EMPTY_MESSAGE');
    }
  });

  test('enforces the length in characters, configurable', () => {
    assert.equal(checkMessageText('a'.repeat(4000)).ok, true);
    const over = checkMessageText('a'.repeat(4001));
    assert.equal(!over.ok && over.code, 'MESSAGE_TOO_LONG');
    assert.equal(checkMessageText('😀'.repeat(10), 10).ok, true, '10 emoji are 10 characters');
    assert.equal(checkMessageText('abcdef', 5).ok, false);
    assert.equal(checkMessageText('x'.repeat(10_000_000), 4000).ok, false, 'huge input refused cheaply');
  });

  test('strips control characters but keeps newlines and tabs', () => {
    const result = checkMessageText('a\u001b[31mred\u0007\u0000 b\tc\r\nd\u0085');
    assert.deepEqual(result, { ok: true, text: 'a[31mred b\tc\nd' });
  });

  test('normalises to NFC and trims trailing whitespace and leading blank lines', () => {
    const result = checkMessageText('\n  \n  indented\u0065\u0301  \n');
    assert.deepEqual(result, { ok: true, text: '  indented\u00e9' });
  });

  test('text made only of stripped characters is empty', () => {
    const result = checkMessageText('\u0000\u0001\u001b');
    assert.equal(!result.ok && result.code, 'EMPTY_MESSAGE');
  });

  test('attack: text that would show as blank is refused like empty text', () => {
    const blanks = {
      zeroWidthSpace: '\u200b',
      zeroWidthSpaces: '\u200b\u200b\u200b',
      braille: '\u2800',
      hangulFiller: '\u3164',
      choseongFiller: '\u115f',
      jungseongFiller: '\u1160',
      halfwidthFiller: '\uffa0',
      mixed: ' \u2800\n\u3164\u200b\u00a0\u3000\ufeff',
      wordJoiner: '\u2060',
      variationSelector: '\ufe0f',
      tag: '\u{e0041}',
      bidiOnly: '\u202e\u2066',
    };
    for (const [name, text] of Object.entries(blanks)) {
      assert.ok(isBlank(text), name);
      const result = checkMessageText(text);
      assert.equal(result.ok, false, name);
      assert.equal(!result.ok && result.code, 'EMPTY_MESSAGE', name);
    }
    // Something visible next to invisible characters is a message.
    assert.equal(checkMessageText('\u2800x').ok, true);
    assert.equal(checkMessageText('👨\u200d👩\u200d👧').ok, true, 'emoji ZWJ sequences are visible');
  });

  test('attack: bidi overrides, embeddings and isolates are removed from text; marks stay', () => {
    assert.deepEqual(checkMessageText('invoice\u202egpj.exe'), { ok: true, text: 'invoicegpj.exe' });
    assert.deepEqual(checkMessageText('a\u202ab\u202bc\u202cd\u202de\u2066f\u2067g\u2068h\u2069'), {
      ok: true,
      text: 'abcdefgh',
    });
    const marks = '\u05e9\u05dc\u05d5\u05dd\u200f!\u200e\u061c';
    assert.deepEqual(checkMessageText(`${marks} x`), { ok: true, text: `${marks} x` });
  });
});
