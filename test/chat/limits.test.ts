/**
 * Limits per client address (issue 11, section 2), as an attacker meets
 * them: too many connections over every door, handshakes too fast, a flood
 * of lines spread over many connections, a flood of new rooms. Each time
 * the attacker gets a clear answer (429 with Retry-After, a chat error) and
 * the other users on other addresses notice nothing.
 *
 * Other addresses are simulated behind a trusted proxy (X-Forwarded-For).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ManualClock } from '../../src/chat/clock.js';
import type { ChatServer, ChatServerOptions } from '../../src/chat/server.js';
import { HandshakeError } from '../../src/websocket/index.js';
import { makeHub } from './helpers.js';
import { JsonClient, PlainClient, TcpClient, startTestServer, within, wsUrl } from './support/clients.js';

const servers: ChatServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(options: ChatServerOptions): Promise<ChatServer> {
  const server = await startTestServer({ trustProxy: ['127.0.0.1'], ...options });
  servers.push(server);
  return server;
}

/** A client at `address`, as a trusted proxy on 127.0.0.1 would say. */
const from = (address: string) => ({ headers: { 'X-Forwarded-For': address } });

async function refusedHandshake(url: string, options = {}): Promise<HandshakeError> {
  try {
    const client = await JsonClient.open(url, options);
    await client.close();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    return error;
  }
  assert.fail('the handshake was accepted');
}

describe('limits per client address', () => {
  test('concurrent connections, every door together: 429 with Retry-After, a line on TCP; others unaffected', async () => {
    const server = await serve({ tcpPort: 0, hub: { addressLimits: { connections: 3, handshakesPerMinute: 0 } } });
    const url = wsUrl(server, '/r/conns');
    // Without a header, the proxy's own address: 127.0.0.1, like the TCP door.
    const json = await JsonClient.joined(url, 'one');
    const plain = await PlainClient.open(url);
    await plain.welcomed();
    const tcp = await TcpClient.open(server.tcpPort!);
    await tcp.line('Login id (your nickname): ');
    const refused = await refusedHandshake(url);
    assert.equal(refused.status, 429);
    const extra = await TcpClient.open(server.tcpPort!);
    assert.equal(await extra.line(/^\*\*\* Sorry/), '*** Sorry: too many connections from your address (at most 3); close some first.');
    await within(extra.closed, 'the refused TCP connection closed');
    // Someone else, at another address, is let in meanwhile.
    const other = await JsonClient.open(url, from('198.51.100.20'));
    await other.join('other');
    await json.say('still fine');
    await plain.close();
    const again = await JsonClient.joined(url, 'again');
    await Promise.all([again.close(), json.close(), other.close()]);
    tcp.close();
  });

  test('handshakes per minute: 429 with Retry-After from the bucket; the next minute they work again', async () => {
    const clock = new ManualClock(Date.now());
    const server = await serve({ clock, hub: { addressLimits: { handshakesPerMinute: 3 } } });
    const url = wsUrl(server, '/r/hands');
    const opened: JsonClient[] = [];
    for (let i = 0; i < 3; i++) opened.push(await JsonClient.open(url, from('203.0.113.5')));
    const refused = await refusedHandshake(url, from('203.0.113.5'));
    assert.equal(refused.status, 429);
    const retryAfter = Object.entries(refused.headers).find(([name]) => name.toLowerCase() === 'retry-after')?.[1];
    assert.equal(retryAfter, '20', JSON.stringify(refused.headers));
    opened.push(await JsonClient.open(url, from('203.0.113.6')), await JsonClient.open(url, from('2001:db8:1:2::7')));
    // The same /64 is the same client.
    opened.push(await JsonClient.open(url, from('2001:db8:1:2::8')), await JsonClient.open(url, from('2001:db8:1:2::9')));
    assert.equal((await refusedHandshake(url, from('2001:db8:1:2:ffff::1'))).status, 429);
    clock.advance(20_000);
    opened.push(await JsonClient.open(url, from('203.0.113.5')));
    await Promise.all(opened.map((c) => c.close()));
  });

  test('lines per second over all of an address\'s connections: RATE_LIMITED (no strike), others unaffected', async () => {
    const clock = new ManualClock(Date.now());
    const server = await serve({ clock, hub: { addressLimits: { messagesPerSecond: 2 } } });
    const url = wsUrl(server, '/r/lines');
    const a1 = await JsonClient.open(url, from('203.0.113.5'));
    await a1.join('a1');
    const a2 = await JsonClient.open(url, from('203.0.113.5'));
    await a2.join('a2');
    const b = await JsonClient.open(url, from('198.51.100.20'));
    await b.join('b');
    // 8 lines (4 s worth) between the two connections, then the ninth is refused on either.
    for (let i = 0; i < 4; i++) {
      await a1.say(`a1 ${i}`);
      await a2.say(`a2 ${i}`);
    }
    const refused = await a2.request('one too many');
    assert.equal(refused.type, 'error');
    assert.equal(refused.type === 'error' && refused.code, 'RATE_LIMITED');
    assert.match(refused.type === 'error' ? refused.message : '', /too many messages from your address/);
    assert.equal(refused.type === 'error' && refused.retryAfter, 500);
    for (let i = 0; i < 8; i++) await b.say(`b ${i}`);
    clock.advance(500);
    await a1.say('after waiting');
    assert.equal(a1.ws.readyState, 1, 'not disconnected: a busy NAT is not flooding');
    await Promise.all([a1.close(), a2.close(), b.close()]);
  });

  test('new rooms per hour, counted in the store: a clear error; existing rooms stay open to everyone', async () => {
    const clock = new ManualClock(Date.now());
    const server = await serve({ clock, hub: { addressLimits: { roomsPerHour: 2 } } });
    const a = (room: string) => JsonClient.open(wsUrl(server, `/r/${room}`), from('203.0.113.5'));
    const first = await a('new-1');
    await first.join('maker');
    await first.say('kept');
    await (await a('new-2')).join('maker');
    const third = await a('new-3');
    const refused = await third.tryJoin('maker');
    assert.equal(refused.type, 'error');
    assert.equal(refused.type === 'error' && refused.code, 'RATE_LIMITED');
    assert.match(refused.type === 'error' ? refused.message : '', /^too many new rooms from your address \(at most 2 an hour\): try again in 30 minutes/);
    await (await a('new-1')).join('visitor');
    await (await JsonClient.open(wsUrl(server, '/r/new-3'), from('198.51.100.20'))).join('someone-else');
    clock.advance(30 * 60_000);
    await (await a('new-4')).join('maker');
  });
});

describe('room flood and cleanup', () => {
  test('one address making rooms: held to the limit, and rooms left with nothing in them leave nothing behind', async () => {
    const t = makeHub({ addressLimits: { roomsPerHour: 100 } });
    for (let i = 0; i < 100; i++) {
      const { conn, member } = await t.join('flooder', { room: `flood-${i}`, address: '203.0.113.66' });
      assert.equal(conn.last('welcome').room, `flood-${i}`);
      await member.input('/quit', 'q');
    }
    const { member } = t.connect({ room: 'flood-100', address: '203.0.113.66' });
    const refused = await member.join({ nick: 'flooder' });
    assert.equal(refused.ok === false && refused.code, 'RATE_LIMITED');
    await t.hub.idle();
    for (let i = 0; i <= 100; i++) assert.equal(await t.store.getRoom(`flood-${i}`), null, `flood-${i} was forgotten`);
    assert.equal(t.hub.localRoomCount, 0);
    assert.deepEqual(await t.hub.rooms(), []);
    const other = await t.join('neighbour', { room: 'flood-100', address: '198.51.100.20' });
    assert.equal(other.conn.last('welcome').room, 'flood-100', 'another address is not affected');
  });
});
