import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressNickname, checkNickname, NICK_MAX_LENGTH, nicknameKey } from '../../src/chat/nickname.js';

function invalid(raw: unknown): string {
  const result = checkNickname(raw);
  assert.equal(result.ok, false, `expected ${JSON.stringify(raw)} to be refused`);
  return result.ok ? '' : result.message;
}

describe('checkNickname', () => {
  test('accepts letters of any script, digits, punctuation, inner spaces', () => {
    for (const nick of ['alice', '김철수', 'Zoë', 'Ελένη', 'محمد', '山田太郎', 'bob_42', 'R2-D2', 'Mary Ann', '🦊 fox', '127.0.0.1:5555']) {
      const result = checkNickname(nick);
      assert.ok(result.ok, `${nick}: ${JSON.stringify(result)}`);
      assert.equal(result.nick, nick);
    }
  });

  test('normalises to NFC: Korean typed as conjoining jamo becomes syllables', () => {
    const jamo = '\u1100\u1161\u11a8'; // ᄀ ᅡ ᆨ -> 각
    const result = checkNickname(jamo);
    assert.ok(result.ok);
    assert.equal(result.nick, '각');
    const decomposed = checkNickname('Zoe\u0308');
    assert.ok(decomposed.ok);
    assert.equal(decomposed.nick, 'Zoë');
  });

  test('length is 1-24 characters after normalisation', () => {
    assert.match(invalid(''), /empty/);
    assert.ok(checkNickname('가'.repeat(NICK_MAX_LENGTH)).ok);
    assert.match(invalid('가'.repeat(NICK_MAX_LENGTH + 1)), /longer than 24/);
    // 24 decomposed syllables are 72 code points before NFC, 24 after.
    assert.ok(checkNickname('\u1100\u1161\u11a8'.repeat(24)).ok);
    assert.match(invalid('x'.repeat(100_000)), /longer/);
  });

  test('refuses control, format and invisible characters', () => {
    const cases = {
      control: 'bob\u0007',
      newline: 'bob\nalice',
      zeroWidthSpace: 'bo\u200bb',
      zeroWidthJoiner: 'a\u200db',
      bidiOverride: '\u202eevil',
      softHyphen: 'bo\u00adb',
      hangulFiller: '\u3164',
      hangulFillerInName: '김\u3164',
      halfwidthHangulFiller: '\uffa0x',
      choseongFiller: '\u115fx',
      variationSelector: 'a\ufe0f',
      lineSeparator: 'a\u2028b',
      privateUse: 'a\ue000',
      loneSurrogate: 'a\ud800',
    };
    for (const [name, raw] of Object.entries(cases)) {
      assert.equal(checkNickname(raw).ok, false, name);
    }
  });

  test('spaces: no leading or trailing, no runs, no exotic spaces', () => {
    assert.match(invalid(' bob'), /start or end/);
    assert.match(invalid('bob '), /start or end/);
    assert.match(invalid('bo  b'), /consecutive/);
    assert.match(invalid('bo\u00a0b'), /plain spaces/);
    assert.match(invalid('bo\u3000b'), /plain spaces/);
    assert.match(invalid('bo\tb'), /control/);
  });

  test('needs something visible, and Administrator is reserved', () => {
    assert.match(invalid('\u0301\u0301'), /letter or digit/);
    assert.match(invalid('...'), /letter or digit/);
    assert.match(invalid('Administrator'), /reserved/);
    assert.match(invalid('ADMINISTRATOR'), /reserved/);
    assert.match(invalid('ａｄｍｉｎｉｓｔｒａｔｏｒ'), /reserved/);
  });

  test('is not fooled by non-strings', () => {
    assert.match(invalid(42), /text/);
    assert.match(invalid(null), /text/);
  });
});

describe('nicknameKey', () => {
  test('folds case and compatibility forms', () => {
    assert.equal(nicknameKey('Alice'), nicknameKey('ALICE'));
    assert.equal(nicknameKey('Alice'), nicknameKey('ａｌｉｃｅ'));
    assert.equal(nicknameKey('Straße'), nicknameKey('STRASSE'));
    assert.equal(nicknameKey('ΟΔΥΣΣΕΥΣ'), nicknameKey('οδυσσευς'));
    assert.equal(nicknameKey('οδυσσευς'), nicknameKey('οδυσσευσ'), 'final sigma');
    assert.notEqual(nicknameKey('김철수'), nicknameKey('김철'));
    assert.equal(nicknameKey('김철수'), nicknameKey('\u1100\u1175\u11b7\u110e\u1165\u11af\u1109\u116e'));
  });
});

describe('addressNickname', () => {
  test('ip:port, bracketing IPv6, always a valid nickname', () => {
    assert.equal(addressNickname('127.0.0.1', 5555), '127.0.0.1:5555');
    assert.equal(addressNickname('::1', 5555), '[::1]:5555');
    const long = addressNickname('2001:db8:85a3:1234:5678:8a2e:370:7334', 65535);
    assert.ok(checkNickname(long).ok, long);
    assert.ok(long.endsWith(':65535'));
    assert.ok(checkNickname(addressNickname('::ffff:203.0.113.77', 65535)).ok);
  });
});
