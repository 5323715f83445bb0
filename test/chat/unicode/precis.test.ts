import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { enforceNickname, freeformProperty, nicknameComparisonForm } from '../../../src/chat/unicode/precis.js';

describe('PRECIS FreeformClass (RFC 8264 §8)', () => {
  test('derived properties', () => {
    const cases: Array<[number, string]> = [
      [0x61, 'PVALID'],
      [0x20, 'PVALID'],
      [0x21, 'PVALID'],
      [0x1f98a, 'PVALID'], // symbol
      [0x2163, 'PVALID'], // ROMAN NUMERAL FOUR (HasCompat)
      [0x00df, 'PVALID'], // exception
      [0x200d, 'CONTEXTJ'],
      [0x00b7, 'CONTEXTO'],
      [0x0661, 'CONTEXTO'],
      [0x0640, 'DISALLOWED'], // exception: TATWEEL
      [0x0007, 'DISALLOWED'],
      [0x200b, 'DISALLOWED'], // default ignorable
      [0x202e, 'DISALLOWED'],
      [0x3164, 'DISALLOWED'],
      [0x1100, 'DISALLOWED'], // old Hangul jamo
      [0xe000, 'DISALLOWED'], // private use
      [0xfdd0, 'DISALLOWED'], // noncharacter
      [0x0378, 'UNASSIGNED'],
    ];
    for (const [cp, property] of cases) assert.equal(freeformProperty(cp), property, cp.toString(16));
  });
});

describe('Nickname profile (RFC 8266)', () => {
  test('enforcement keeps case; comparison maps it (RFC 8266 §3 examples)', () => {
    assert.equal(enforceNickname('  Foo\u00a0\u2003Bar '), 'Foo Bar');
    assert.equal(nicknameComparisonForm('Foo Bar'), 'foo bar');
    assert.equal(nicknameComparisonForm('Σ'), 'σ');
    assert.equal(nicknameComparisonForm('ς'), 'ς');
    assert.equal(nicknameComparisonForm('ϔ'), 'ϋ', 'example 8: needs a second round');
    assert.equal(nicknameComparisonForm('♚'), '♚');
    assert.equal(nicknameComparisonForm('Richard Ⅳ'), 'richard iv');
  });
});
