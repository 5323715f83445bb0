import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRoomName, DEFAULT_ROOM, isValidRoomName, newRoomId, ROOM_ID_LENGTH, roomName } from '../../src/chat/room-name.js';

describe('room names', () => {
  test('ASCII names as before: 1-64 of A-Za-z0-9_-', () => {
    for (const name of ['a', 'lobby', 'Team_42-x', 'x'.repeat(64), DEFAULT_ROOM]) assert.ok(isValidRoomName(name), name);
    for (const name of ['', 'x'.repeat(65), 'a b', 'a/b', '../etc', 'a.b', 'a\n', '%41', 'a#b', 'a?b', 'a+b']) {
      assert.equal(isValidRoomName(name), false, JSON.stringify(name));
    }
    assert.equal(isValidRoomName(undefined), false);
    assert.equal(isValidRoomName(12), false);
  });

  test('letters and digits of any script: Korean, Japanese, Cyrillic, Greek, Devanagari (with its marks), accents', () => {
    for (const name of ['우리방', '팀-2025', 'team-우리', '東京2025', '日本語ひらがな', 'проект', 'ελληνικά', 'हिन्दी', 'café', 'عربي', '٣٤']) {
      assert.deepEqual(checkRoomName(name), { ok: true, name }, name);
    }
    assert.ok(isValidRoomName('가'.repeat(64)), '64 code points, whatever their UTF-8 length');
    assert.equal(isValidRoomName('가'.repeat(65)), false);
  });

  test('NFC: the decomposed form of a name is the same room', () => {
    assert.equal(roomName('cafe\u0301'), 'café');
    // 우리방 typed as conjoining jamo.
    const jamo = '우리방'.normalize('NFD');
    assert.notEqual(jamo, '우리방');
    assert.equal(roomName(jamo), '우리방');
    assert.equal(isValidRoomName(jamo), false, 'the normal form is the name');
  });

  test('no separators, symbols, braces (the Redis hash tag), invisible letters, compatibility forms, leading marks', () => {
    const refused: [string, RegExp][] = [
      ['bad room', /U\+0020 \(a space\) is not allowed/],
      ['a\u00a0b', /U\+00A0 \(a space\)/],
      ['x{y}', /“\{” is not allowed/],
      ['{tag}', /“\{”/],
      ['a.b', /“\.”/],
      ['ok😀', /“😀”/],
      ['hello\u3164', /U\+3164 \(invisible\)/],
      ['\u115fa', /U\+115F \(invisible\)/],
      ['a\u200bb', /U\+200B \(invisible\)/],
      ['Ａ', /compatibility form of "A"/],
      ['ﬁle', /compatibility form of "fi"/],
      ['\u0301a', /cannot start with a combining mark/],
      ['x²', /“²”/],
    ];
    for (const [name, reason] of refused) {
      const check = checkRoomName(name);
      assert.equal(check.ok, false, name);
      if (!check.ok) assert.match(check.message, reason, name);
    }
  });

  test('mixed scripts as for nicknames (UTS #39 Moderately Restrictive): a Cyrillic letter in a Latin name is refused', () => {
    for (const spoof of ['pаypal', 'аdmin', 'gοogle']) {
      const check = checkRoomName(spoof);
      assert.equal(check.ok, false, spoof);
      if (!check.ok) assert.match(check.message, /cannot mix these scripts/);
    }
    for (const fine of ['team우리', 'Tokyo東京', 'proj-हिन्दी']) assert.ok(isValidRoomName(fine), fine);
  });
});

describe('newRoomId', () => {
  test('16 URL-safe characters, valid as a room name, not repeating', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = newRoomId();
      assert.equal(id.length, ROOM_ID_LENGTH);
      assert.match(id, /^[A-Za-z0-9_-]{16}$/);
      assert.ok(isValidRoomName(id));
      ids.add(id);
    }
    assert.equal(ids.size, 1000);
  });
});
