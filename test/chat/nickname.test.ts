import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeHub } from './helpers.js';
import {
  addressNickname,
  checkNickname,
  guestNickname,
  NICK_MAX_LENGTH,
  nicknameKey,
  RESERVED_NICKNAMES,
} from '../../src/chat/nickname.js';

function invalid(raw: unknown): string {
  const result = checkNickname(raw);
  assert.equal(result.ok, false, `expected ${JSON.stringify(raw)} to be refused`);
  return result.ok ? '' : result.message;
}

function accepted(raw: string): { nick: string; key: string; secret: string | null } {
  const result = checkNickname(raw);
  assert.ok(result.ok, `${JSON.stringify(raw)}: ${JSON.stringify(result)}`);
  return result;
}

describe('checkNickname', () => {
  test('accepts letters of any script, digits, punctuation, symbols, inner spaces', () => {
    for (const nick of ['alice', '김철수', 'Zoë', 'Ελένη', 'محمد', '山田太郎', 'bob_42', 'R2-D2', 'Mary Ann', 'fox 🦊', 'Straße', "O'Brien", 'l·l']) {
      assert.equal(accepted(nick).nick, nick);
    }
  });

  test('RFC 8266 enforcement: NFKC (width mapping included), spaces mapped, trimmed, collapsed', () => {
    assert.equal(accepted('\u1100\u1161\u11a8').nick, '각', 'conjoining jamo compose into a syllable');
    assert.equal(accepted('Zoe\u0308').nick, 'Zoë');
    assert.equal(accepted('ａｌｉｃｅ').nick, 'alice', 'full-width forms');
    assert.equal(accepted('Richard Ⅳ').nick, 'Richard IV', 'RFC 8266 §3 example 10');
    assert.equal(accepted('  bob  ').nick, 'bob');
    assert.equal(accepted('Mary\u00a0\u00a0Ann').nick, 'Mary Ann', 'non-ASCII spaces become U+0020, runs collapse');
    assert.equal(accepted('bo\u3000b').nick, 'bo b');
  });

  test('length is 1-24 characters after enforcement', () => {
    assert.match(invalid(''), /empty/);
    assert.match(invalid('   '), /empty/);
    assert.ok(checkNickname('가'.repeat(NICK_MAX_LENGTH)).ok);
    assert.match(invalid('가'.repeat(NICK_MAX_LENGTH + 1)), /longer than 24/);
    // 24 decomposed syllables are 72 code points before NFKC, 24 after.
    assert.ok(checkNickname('\u1100\u1161\u11a8'.repeat(24)).ok);
    assert.match(invalid('x'.repeat(100_000)), /longer/);
  });

  test('refuses what the FreeformClass disallows: controls, format, invisible, unassigned, private use', () => {
    const cases = {
      control: 'bob\u0007',
      newline: 'bob\nalice',
      tab: 'bo\tb',
      zeroWidthSpace: 'bo\u200bb',
      zeroWidthJoiner: 'a\u200db',
      zeroWidthNonJoiner: 'a\u200cb',
      bidiOverride: 'evil\u202e',
      bidiIsolate: 'a\u2067b',
      rightToLeftMark: 'a\u200f',
      softHyphen: 'bo\u00adb',
      hangulFiller: '\u3164',
      hangulFillerInName: '김\u3164',
      halfwidthHangulFiller: 'x\uffa0',
      choseongFiller: 'x\u115f',
      lonelyJamo: 'x\u1161',
      variationSelector: 'a\ufe0f',
      lineSeparator: 'a\u2028b',
      privateUse: 'a\ue000',
      loneSurrogate: 'a\ud800',
      unassigned: 'a\u0378',
      noncharacter: 'a\ufdd0',
      tatweel: 'ب\u0640ب',
    };
    for (const [name, raw] of Object.entries(cases)) {
      assert.equal(checkNickname(raw).ok, false, name);
    }
    assert.match(invalid('a\u0378'), /unassigned/);
    assert.match(invalid('bo\u200bb'), /invisible/);
  });

  test('CONTEXTO rules of RFC 5892 Appendix A', () => {
    assert.ok(checkNickname('col·lega').ok, 'a middle dot between two l');
    assert.match(invalid('a·b'), /U\+00B7/);
    assert.ok(checkNickname('ｶﾀ・ｶﾅ').ok, 'katakana middle dot next to katakana');
    assert.equal(checkNickname('ab・cd').ok, false);
    assert.equal(checkNickname('\u0661\u06f1').ok, false, 'Arabic-Indic digits mixed with extended ones');
  });

  test('attack: a nickname starts with a letter or digit and has no delimiter of the line formats', () => {
    assert.match(invalid('*** Administrator'), /start with a letter or a digit/);
    assert.match(invalid('🦊 fox'), /start with a letter or a digit/);
    assert.match(invalid('\u0301\u0301'), /start with a letter or a digit/);
    assert.match(invalid('...'), /start with a letter or a digit/);
    assert.match(invalid('/quit'), /start with a letter or a digit/);
    for (const raw of ['bob :: hi', 'bob] [carol', 'bob> <carol', 'x *** y', 'alice !Ab3dEf', 'bob\uff1ax', 'bob\u01c3x', 'a\u02d0b', 'x\u2039y']) {
      assert.match(invalid(raw), /must not contain/, raw);
    }
  });

  test('attack: blank-looking characters are refused (admin + U+2800)', () => {
    assert.match(invalid('admin\u2800'), /invisible/);
    assert.match(invalid('bob\u2800'), /invisible/);
  });

  test('attack: a letter with 23 combining marks; at most 4, never the same one twice', () => {
    assert.match(invalid(`a${'\u0301'.repeat(23)}`), /combining marks/);
    assert.match(invalid(`a${'\u0300\u0301\u0302\u0303\u0304\u0306'}`), /combining marks/);
    assert.match(invalid('a\u0301\u0301'), /combining marks/);
    assert.ok(checkNickname('a\u0300\u0301\u0302\u0303').ok, 'four different marks are fine');
    assert.ok(checkNickname('Nguyễn').ok, 'Vietnamese: two marks on one letter');
  });

  test('attack: mixed scripts beyond Moderately Restrictive are refused (UTS #39 §5.2)', () => {
    for (const raw of ['аlice', 'Аdministrator', 'Αdministrator', 'pаypal', 'Ηelen', 'abc ᏣᎳᎩ']) {
      assert.match(invalid(raw), /mixes scripts/, raw);
    }
    // Single scripts, Latin with CJK, Latin with one other Recommended script.
    for (const raw of ['ελένη', 'Вова', 'ᏣᎳᎩ', 'abc山田', 'Tanaka たなか', 'Kim 김', 'alice محمد']) {
      assert.ok(checkNickname(raw).ok, raw);
    }
  });

  test('attack: reserved names and their look-alikes, in any case or script', () => {
    for (const name of RESERVED_NICKNAMES) {
      assert.match(invalid(name), /reserved/, name);
      assert.match(invalid(name.toUpperCase()), /reserved/, name);
    }
    for (const raw of ['ADMINISTRATOR', 'ａｄｍｉｎｉｓｔｒａｔｏｒ', 'Adm1n', 'Administrat0r', 'admın', 'Admin#secret', 'SYSTEM', 'Owner']) {
      assert.match(invalid(raw), /reserved/, raw);
    }
    // Cyrillic А and Greek Α: refused (mixed scripts), and their key is the reserved one anyway.
    assert.equal(nicknameKey('Аdministrator'), nicknameKey('Administrator'));
    assert.equal(nicknameKey('Αdministrator'), nicknameKey('Administrator'));
    // A whole-script look-alike in capitals (Cyrillic ЅЕRVЕR is not possible; Greek ΑΔΜΙΝ does not look like ADMIN).
    assert.match(invalid('ЅУЅТЕМ'.normalize()), /reserved|mixes/);
  });

  test('tripcodes: "nick#secret" gives the nickname and the secret apart', () => {
    assert.deepEqual(checkNickname('alice#my secret#1'), {
      ok: true,
      nick: 'alice',
      key: nicknameKey('alice'),
      secret: 'my secret#1',
    });
    assert.equal(accepted('alice').secret, null);
    assert.match(invalid('alice#'), /secret/);
    assert.match(invalid('#secret'), /empty/);
  });

  test('is not fooled by non-strings', () => {
    assert.match(invalid(42), /text/);
    assert.match(invalid(null), /text/);
  });
});

describe('nicknameKey', () => {
  test('RFC 8266 comparison: case, compatibility forms, Greek sigma as the RFC says', () => {
    assert.equal(nicknameKey('Alice'), nicknameKey('ALICE'));
    assert.equal(nicknameKey('Alice'), nicknameKey('ａｌｉｃｅ'));
    assert.equal(nicknameKey('Foo Bar'), nicknameKey('foo  bar'));
    assert.equal(nicknameKey('Σ'), nicknameKey('σ'), 'RFC 8266 §3 examples 5 and 6');
    assert.equal(nicknameKey('Richard Ⅳ'), nicknameKey('richard iv'));
    assert.notEqual(nicknameKey('김철수'), nicknameKey('김철'));
    assert.equal(nicknameKey('김철수'), nicknameKey('\u1100\u1175\u11b7\u110e\u1165\u11af\u1109\u116e'));
  });

  test('attack: confusables share a key (UTS #39 skeleton)', () => {
    assert.equal(nicknameKey('аlice'), nicknameKey('alice'), 'Cyrillic а');
    assert.equal(nicknameKey('аре'), nicknameKey('ape'), 'whole-script Cyrillic');
    assert.equal(nicknameKey('rnary'), nicknameKey('mary'));
    assert.equal(nicknameKey('b0b'), nicknameKey('bob'));
    assert.equal(nicknameKey('aIice'), nicknameKey('alice'), 'capital I as l');
    assert.equal(nicknameKey('Ivan'), nicknameKey('ivan'), 'and still case-insensitive');
    assert.equal(nicknameKey('𝔭𝒶ỿ𝕡𝕒ℓ'), nicknameKey('paypal'));
    assert.notEqual(nicknameKey('alice'), nicknameKey('alicia'));
    assert.notEqual(nicknameKey('bob'), nicknameKey('rob'));
  });
});

describe('addressNickname and guestNickname', () => {
  test('ip:port, bracketing IPv6, always a valid nickname', () => {
    assert.equal(addressNickname('127.0.0.1', 5555), '127.0.0.1:5555');
    assert.equal(addressNickname('::1', 5555), '[::1]:5555');
    const long = addressNickname('2001:db8:85a3:1234:5678:8a2e:370:7334', 65535);
    assert.ok(checkNickname(long).ok, long);
    assert.ok(long.endsWith(':65535'));
    assert.ok(checkNickname(addressNickname('::ffff:203.0.113.77', 65535)).ok);
    assert.ok(checkNickname(addressNickname('127.0.0.1', 5555)).ok);
  });

  test('guest-XXXX: valid, random, no address in it', () => {
    const names = new Set(Array.from({ length: 50 }, () => guestNickname()));
    assert.ok(names.size > 40);
    for (const name of names) {
      assert.match(name, /^guest-[0-9a-f]{4}$/);
      assert.ok(checkNickname(name).ok, name);
    }
  });
});

describe('nicknames in a room (the key is what rooms compare)', () => {
  test('attack: look-alikes of a present member are taken; mixed-script ones are invalid', async () => {
    const t = makeHub();
    await t.join('alice');
    await t.join('ape');
    await t.join('Ivan');
    const cases: Array<[string, string]> = [
      ['ALICE', 'NICK_TAKEN'],
      ['ａｌｉｃｅ', 'NICK_TAKEN'],
      ['aIice', 'NICK_TAKEN'],
      ['a1ice', 'NICK_TAKEN'],
      ['\u0430\u0440\u0435', 'NICK_TAKEN'], // Cyrillic "аре", one script, looks like "ape"
      ['ivan', 'NICK_TAKEN'],
      ['\u0430lice', 'NICK_INVALID'], // Cyrillic а inside Latin
      ['Administrator', 'NICK_INVALID'],
    ];
    for (const [nick, code] of cases) {
      const { member } = t.connect();
      const result = await member.join({ nick });
      assert.equal(result.ok ? 'ok' : result.code, code, nick);
    }
    const { member } = t.connect();
    assert.ok((await member.join({ nick: 'alicia' })).ok);
    await t.hub.close();
  });
});
