import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_ROOM, isValidRoomName, newRoomId, ROOM_ID_LENGTH } from '../../src/chat/room-name.js';

describe('isValidRoomName', () => {
  test('1-64 of A-Za-z0-9_-', () => {
    for (const name of ['a', 'lobby', 'Team_42-x', 'x'.repeat(64), DEFAULT_ROOM]) assert.ok(isValidRoomName(name), name);
    for (const name of ['', 'x'.repeat(65), 'a b', 'a/b', 'café', '../etc', 'a.b', 'a\n', '%41']) {
      assert.equal(isValidRoomName(name), false, JSON.stringify(name));
    }
    assert.equal(isValidRoomName(undefined), false);
    assert.equal(isValidRoomName(12), false);
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
