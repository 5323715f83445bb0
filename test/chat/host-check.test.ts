import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { allowedHosts, originAllowed, parseHost } from '../../src/chat/host-check.js';

describe('parseHost', () => {
  test('names, addresses and ports as a Host header carries them', () => {
    assert.deepEqual(parseHost('Chat.Example:8080'), { name: 'chat.example', port: 8080 });
    assert.deepEqual(parseHost('chat.example.'), { name: 'chat.example', port: null });
    assert.deepEqual(parseHost('127.0.0.1:80'), { name: '127.0.0.1', port: 80 });
    assert.deepEqual(parseHost('[::1]:8080'), { name: '::1', port: 8080 });
    assert.deepEqual(parseHost('[::1]'), { name: '::1', port: null });
    for (const bad of ['', 'a b', 'evil.example:99999', 'evil.example:x', '[::1', '[nope]:80', 'a_b.example', 'x:1:2']) {
      assert.equal(parseHost(bad), null, bad);
    }
  });
});

describe('allowedHosts', () => {
  test('defaults: localhost, *.localhost, IP literals, this machine, the --host name', () => {
    const allowed = allowedHosts({ listenHost: 'chat.internal' });
    for (const host of ['localhost', 'localhost:8080', 'app.localhost:1', '127.0.0.1:8080', '[::1]:8080', '192.0.2.7', 'chat.internal:8080', hostname()]) {
      assert.equal(allowed(host), true, host);
    }
    assert.equal(allowed(undefined), true, 'no Host: not a browser');
  });

  test('attack: any other name is refused (DNS rebinding)', () => {
    const allowed = allowedHosts({ listenHost: '0.0.0.0' });
    for (const host of ['evil.example:8080', 'evil.example', 'localhost.evil.example', '127.0.0.1.evil.example', 'garbage value']) {
      assert.equal(allowed(host), false, host);
    }
  });

  test('--allowed-host (any port, or one port) and the hosts of --allowed-origin are added', () => {
    const allowed = allowedHosts({
      allowedHosts: ['chat.example', 'other.example:8443'],
      allowedOrigins: ['https://public.example'],
    });
    assert.equal(allowed('chat.example:1234'), true);
    assert.equal(allowed('other.example:8443'), true);
    assert.equal(allowed('other.example:8080'), false);
    assert.equal(allowed('public.example'), true);
    assert.throws(() => allowedHosts({ allowedHosts: ['not a host'] }), TypeError);
  });
});

describe('originAllowed', () => {
  test('none, same origin, listed; not other sites or garbage', () => {
    assert.equal(originAllowed(undefined, 'chat.example:8080', []), true);
    assert.equal(originAllowed('http://chat.example:8080', 'chat.example:8080', []), true);
    assert.equal(originAllowed('http://CHAT.example:8080', 'chat.example:8080', []), true);
    assert.equal(originAllowed('http://chat.example', 'chat.example:8080', []), false, 'another port is another origin');
    assert.equal(originAllowed('http://chat.example:80', 'chat.example', []), true, 'default port');
    assert.equal(originAllowed('http://evil.example', 'chat.example:8080', []), false);
    assert.equal(originAllowed('null', 'chat.example:8080', []), false);
    assert.equal(originAllowed('https://app.example', 'chat.example:8080', ['https://app.example']), true);
    // Configured the way people write URLs: trailing slash, capitals, default port.
    for (const configured of ['https://App.example/', 'https://app.example:443', 'HTTPS://APP.EXAMPLE']) {
      assert.equal(originAllowed('https://app.example', 'chat.example:8080', [configured]), true, configured);
    }
    assert.equal(originAllowed('http://app.example', 'chat.example:8080', ['https://app.example']), false, 'scheme counts');
    assert.equal(originAllowed('https://app.example:8443', 'chat.example:8080', ['https://app.example']), false, 'port counts');
    assert.equal(originAllowed('file://', 'chat.example:8080', ['file:///']), false, 'opaque origins never match');
  });

  test('attack: the right host and port with another scheme is another origin', () => {
    for (const origin of ['https://chat.example:8080', 'ftp://chat.example:8080', 'ws://chat.example:8080', 'data:text/html,x']) {
      assert.equal(originAllowed(origin, 'chat.example:8080', []), false, origin);
    }
    assert.equal(originAllowed('https://chat.example:8443', 'chat.example:8443', [], true), true, 'https when the server has TLS');
    assert.equal(originAllowed('http://chat.example:8443', 'chat.example:8443', [], true), false);
  });

  test('attack: a rebound name is refused by Host first; Origin alone would say same-origin', () => {
    assert.equal(originAllowed('http://evil.example:8080', 'evil.example:8080', []), true);
    assert.equal(allowedHosts()('evil.example:8080'), false);
  });
});
