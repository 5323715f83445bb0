import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { addressKey, clientAddress, plainAddress, TrustedProxies } from '../../src/chat/address.js';

describe('addressKey: what limits and bans count as one client', () => {
  test('IPv4 is the address itself; IPv4-mapped IPv6 is IPv4', () => {
    assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
    assert.equal(addressKey('::FFFF:127.0.0.1'), '127.0.0.1');
  });

  test('IPv6 is its /64, however it is written', () => {
    const key = '2001:db8:a:b::/64';
    for (const address of ['2001:db8:a:b::1', '2001:0db8:000a:000b:ffff:ffff:ffff:ffff', '2001:DB8:A:B:1:2:3:4', '2001:db8:a:b::1%eth0']) {
      assert.equal(addressKey(address), key, address);
    }
    assert.notEqual(addressKey('2001:db8:a:c::1'), key, 'the next /64 is another client');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64');
    assert.equal(addressKey('64:ff9b::192.0.2.33'), '64:ff9b:0:0::/64');
  });

  test('anything else is left as it is', () => {
    assert.equal(addressKey(''), '');
    assert.equal(addressKey('not an address'), 'not an address');
    assert.equal(plainAddress('::ffff:10.0.0.1'), '10.0.0.1');
  });
});

describe('--trust-proxy and X-Forwarded-For', () => {
  test('entries are addresses or CIDR ranges; anything else is refused by name', () => {
    const trusted = new TrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1']);
    assert.ok(trusted.trusts('127.0.0.1'));
    assert.ok(trusted.trusts('::ffff:127.0.0.1'), 'as a dual-stack socket shows it');
    assert.ok(trusted.trusts('10.200.3.4'));
    assert.ok(trusted.trusts('fd12::1'));
    assert.ok(trusted.trusts('::1'));
    assert.equal(trusted.trusts('127.0.0.2'), false);
    assert.equal(trusted.trusts('11.0.0.1'), false);
    assert.equal(trusted.trusts('garbage'), false);
    for (const bad of ['localhost', '10.0.0.0/33', '::/129', '1.2.3.4/8/1', '', '10.0.0.0/x']) {
      assert.throws(() => new TrustedProxies([bad]), (error: unknown) => error instanceof TypeError && error.message.includes(`"${bad}"`), bad);
    }
    assert.equal(new TrustedProxies([]).trusts('127.0.0.1'), false);
  });

  test('an untrusted peer is the client, whatever it writes in the header', () => {
    const trusted = new TrustedProxies(['10.0.0.1']);
    assert.equal(clientAddress('203.0.113.7', '198.51.100.1', trusted), '203.0.113.7');
    assert.equal(clientAddress('::ffff:203.0.113.7', undefined, trusted), '203.0.113.7');
  });

  test('a trusted proxy names its client: the right-most entry, through trusted hops only', () => {
    const trusted = new TrustedProxies(['10.0.0.1', '10.0.0.2']);
    assert.equal(clientAddress('10.0.0.1', '203.0.113.7', trusted), '203.0.113.7');
    // A client writing its own header cannot choose its address: nginx appends the real one.
    assert.equal(clientAddress('10.0.0.1', '1.1.1.1, 203.0.113.7', trusted), '203.0.113.7');
    // Two proxies in a row: read through the trusted one.
    assert.equal(clientAddress('10.0.0.1', '1.1.1.1, 203.0.113.7, 10.0.0.2', trusted), '203.0.113.7');
    assert.equal(clientAddress('10.0.0.1', ['1.1.1.1', '203.0.113.7'], trusted), '203.0.113.7');
    assert.equal(clientAddress('10.0.0.1', '[2001:db8::5]:443', trusted), '2001:db8::5');
    assert.equal(clientAddress('10.0.0.1', '203.0.113.7:5123', trusted), '203.0.113.7');
  });

  test('a trusted proxy without a usable header stays the address', () => {
    const trusted = new TrustedProxies(['10.0.0.1']);
    assert.equal(clientAddress('10.0.0.1', undefined, trusted), '10.0.0.1');
    assert.equal(clientAddress('10.0.0.1', 'unknown', trusted), '10.0.0.1');
    assert.equal(clientAddress('10.0.0.1', '203.0.113.7, garbage', trusted), '10.0.0.1');
  });
});
