import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizeBasePath, stripBasePath } from '../../src/chat/base-path.js';
import { roomFromPath } from '../../src/chat/server.js';

describe('base path', () => {
  test('normalised to a leading slash and no trailing one; the root is ""', () => {
    for (const [raw, expected] of [
      [undefined, ''],
      ['', ''],
      ['/', ''],
      ['chat', '/chat'],
      ['/chat/', '/chat'],
      ['//apps/chat//', '/apps/chat'],
      [' /websocket/ ', '/websocket'],
    ] as const) {
      assert.equal(normalizeBasePath(raw), expected, String(raw));
    }
  });

  test('a prefix a URL path cannot carry as is is refused', () => {
    for (const bad of ['/a b', '/a//b', '/./x', '/../x', '/ch?at', '/ch#at', '/채팅', '/%2e']) {
      assert.throws(() => normalizeBasePath(bad), TypeError, bad);
    }
  });

  test('paths inside the prefix are stripped; others are null', () => {
    assert.equal(stripBasePath('/chat/r/x', '/chat'), '/r/x');
    assert.equal(stripBasePath('/chat', '/chat'), '/');
    assert.equal(stripBasePath('/chatroom', '/chat'), null);
    assert.equal(stripBasePath('/r/x', '/chat'), null);
    assert.equal(stripBasePath('/r/x', ''), '/r/x');
  });

  test('WebSocket paths name rooms under the prefix only', () => {
    assert.equal(roomFromPath('/chat/r/team', '/chat'), 'team');
    assert.equal(roomFromPath('/chat/', '/chat'), 'lobby');
    assert.equal(roomFromPath('/r/team', '/chat'), null);
    assert.equal(roomFromPath('/r/team'), 'team');
  });
});
