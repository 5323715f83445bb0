/**
 * The seed-style door end to end: `new WebSocket("ws://host/r/room")`
 * without a subprotocol, plain text both ways. Clients are our own
 * `connect()` offering no subprotocol, and the `ws` package.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatServer } from '../../../src/chat/server.js';
import { peerAddress, peerName } from '../../../src/chat/transports/websocket-common.js';
import type { WebSocket } from '../../../src/websocket/index.js';
import { JsonClient, PlainClient, startTestServer, within, wsUrl } from '../support/clients.js';

const T = { timeout: 15_000 };
let server: ChatServer;
let rooms = 0;
const room = (): string => `/r/plain-${++rooms}`;
const open: { close(): Promise<unknown>; closed: Promise<unknown> }[] = [];

async function plain(path: string): Promise<PlainClient> {
  const client = await PlainClient.open(wsUrl(server, path));
  open.push(client);
  return client;
}
async function json(path: string, nick: string): Promise<JsonClient> {
  const client = await JsonClient.joined(wsUrl(server, path), nick);
  open.push(client);
  return client;
}

before(async () => {
  server = await startTestServer({ hub: { rateLimit: { burst: 1000 } } });
});
after(async () => {
  await server.close();
  await Promise.all(open.map((c) => within(c.closed, 'every client closed')));
});

describe('plain text WebSocket', () => {
  test('privacy: the nickname starts as guest-XXXX, never the address, with the history and a welcome line', T, async () => {
    const path = room();
    const alice = await json(path, 'alice');
    await alice.say('before you came');
    const client = await plain(path);
    const nick = await client.welcomed();
    assert.match(nick, /^guest-[0-9a-f]{4}$/);
    assert.deepEqual(client.inbox.items, [
      'alice joined',
      'alice :: before you came',
      `${nick} joined`,
      `You are ${nick} in ${path.slice(3)}. Also here: alice. Type /nick NAME to change your name, /help for commands.`,
    ]);
    const notice = await alice.expect('notice', (n) => n.event === 'join');
    assert.equal(notice.nick, nick);
    // Nothing that was broadcast or stored names the address.
    const late = await json(path, 'late');
    const history = late.all('welcome')[0]?.history ?? [];
    assert.ok(history.length >= 3);
    for (const entry of history) assert.ok(!JSON.stringify(entry).includes(`:${client.localPort}`), JSON.stringify(entry));
  });

  test('each text message is a chat line; lines arrive as "nick :: text"; no acks or member lists', T, async () => {
    const path = room();
    const alice = await json(path, 'alice');
    const client = await plain(path);
    const nick = await client.welcomed();
    client.send('hello <b>there</b>');
    const seen = await alice.expect('message');
    assert.deepEqual([seen.nick, seen.text], [nick, 'hello <b>there</b>']);
    assert.equal(await client.line(/::/), `${nick} :: hello <b>there</b>`);
    await alice.say('two\nlines');
    // One WebSocket message per entry, even with a newline in it; later lines marked as continuations.
    assert.equal(await client.line(/^alice ::/), 'alice :: two\n  | lines');
    for (const line of client.inbox.items) assert.ok(!line.startsWith('{'), `no JSON in the plain format: ${line}`);
  });

  test('/nick NAME renames; the room sees a notice; errors arrive as plain lines', T, async () => {
    const path = room();
    const alice = await json(path, 'alice');
    const client = await plain(path);
    const nick = await client.welcomed();
    client.send('/nick Dana');
    assert.equal(await client.line(/^You are now/), 'You are now known as Dana');
    assert.equal(await client.line(/known as/), `${nick} is now known as Dana`);
    const notice = await alice.expect('notice', (n) => n.event === 'rename');
    assert.deepEqual([notice.from, notice.nick], [nick, 'Dana']);
    client.send('/nick ALICE');
    assert.equal(await client.line(/^Error:/), 'Error: the nickname ALICE is taken in this room');
    client.send('/nick bad\u0001name');
    assert.match(await client.line(/^Error:/), /control or invisible/);
    client.send('as Dana');
    assert.equal((await alice.expect('message')).nick, 'Dana');
  });

  test('notices, actions, /who, /help and unknown commands are plain lines', T, async () => {
    const path = room();
    const client = await plain(path);
    await client.welcomed();
    client.send('/nick Pat');
    await client.line('You are now known as Pat');
    const bob = await json(path, 'bob');
    assert.equal(await client.line(/^bob joined$/), 'bob joined');
    await bob.say('/me waves');
    assert.equal(await client.line(/^\*/), '* bob waves');
    client.send('/who');
    assert.equal(await client.line(/members in/), `2 members in ${path.slice(3)}: Pat (owner), bob`);
    client.send('/help');
    assert.match(await client.line(/^Commands:/), /\/nick NEW[\s\S]*\/quit/);
    client.send('/frobnicate');
    assert.equal(await client.line(/^Error:/), 'Error: unknown command /frobnicate; type /help for the list');
    client.send(Buffer.from('binary'));
    assert.equal(await client.line(/^Error:/), 'Error: send chat lines as text messages');
    client.send('   ');
    assert.equal(await client.line(/^Error:/), 'Error: message is empty');
    await bob.say('/quit');
    assert.equal(await client.line(/^bob left/), 'bob left');
  });

  test('"/" is the room lobby', T, async () => {
    const client = await plain('/');
    const nick = await client.welcomed();
    assert.match(client.inbox.items.at(-1) ?? '', / in lobby\. /);
    const inLobby = await json('/r/lobby', 'lobbyist');
    assert.ok(inLobby.all('welcome')[0]?.members.some((m) => m.nick === nick));
    client.send('/quit');
    assert.equal((await within(client.closed, 'plain /quit')).code, 1000);
    const left = await inLobby.expect('notice', (n) => n.event === 'leave');
    assert.equal(left.text, `${nick} left`);
  });

  test('peer addresses: IPv4-mapped IPv6 is shown as IPv4, IPv6 in brackets', () => {
    const peer = (remoteAddress: string, remotePort: number) => ({ remoteAddress, remotePort }) as WebSocket;
    assert.equal(peerAddress(peer('::ffff:203.0.113.9', 51234)), '203.0.113.9');
    assert.equal(peerAddress(peer('::FFFF:127.0.0.1', 1)), '127.0.0.1');
    assert.equal(peerAddress(peer('127.0.0.1', 1)), '127.0.0.1');
    assert.equal(peerAddress(peer('2001:db8::1', 1)), '2001:db8::1');
    assert.equal(peerName(peer('::ffff:203.0.113.9', 51234)), '203.0.113.9:51234');
    assert.equal(peerName(peer('2001:db8::1', 443)), '[2001:db8::1]:443');
  });

  test('plainNames "address" (the seed\'s naming): on a server listening on every interface (::), an IPv4 client is named ip:port', T, async (t) => {
    let dual: ChatServer;
    try {
      dual = await startTestServer({ host: '::', plainNames: 'address' });
    } catch (error) {
      // Only a machine without IPv6 may fail here; the unit test above still covers the mapping.
      assert.ok(['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes((error as NodeJS.ErrnoException).code ?? ''), String(error));
      t.diagnostic(`no IPv6 here: ${String(error)}`);
      return;
    }
    try {
      const client = await PlainClient.open(wsUrl(dual, '/'));
      assert.equal(await client.welcomed(), `127.0.0.1:${client.localPort}`);
      await client.close();
    } finally {
      await dual.close();
    }
  });

  test('a plain client that cannot join (room full) is told why, then closed with 1013', T, async () => {
    const small = await startTestServer({ hub: { maxMembersPerRoom: 1 } });
    try {
      const first = await JsonClient.joined(wsUrl(small, '/r/tiny'), 'first');
      const client = await PlainClient.open(wsUrl(small, '/r/tiny'));
      assert.equal(await client.line(/^Error:/), 'Error: this room is full');
      assert.deepEqual(await within(client.closed, 'the refused client closed'), { code: 1013, reason: 'could not join' });
      assert.equal((await first.say('still fine')).type, 'ack');
      await first.close();
    } finally {
      await small.close();
    }
  });

  test('a seed page over the ws package (with permessage-deflate) chats with our client', T, async () => {
    const path = room();
    const seed = await PlainClient.openWithWs(wsUrl(server, path));
    open.push(seed);
    const seedNick = await seed.welcomed();
    assert.match(seedNick, /^guest-[0-9a-f]{4}$/);
    const ours = await plain(path);
    const ourNick = await ours.welcomed();
    assert.notEqual(ourNick, seedNick);
    const long = 'x'.repeat(2000);
    seed.send(long);
    assert.equal(await ours.line(/::/), `${seedNick} :: ${long}`);
    ours.send('ok');
    assert.equal(await seed.line(`${ourNick} :: ok`), `${ourNick} :: ok`);
  });

  test('attack: impersonation on the plain door: "/nick *** Administrator" and look-alikes are refused; forged lines are marked', T, async () => {
    const path = room();
    const watcher = await plain(path);
    await watcher.welcomed();
    const mallory = await plain(path);
    const nick = await mallory.welcomed();
    for (const name of ['*** Administrator', 'Administrator', 'Аdministrator', 'admin\u2800', 'bob :: hi']) {
      mallory.send(`/nick ${name}`);
      assert.match(await mallory.line(/^Error: /), /nickname/, name);
    }
    mallory.send('hi\n*** Administrator :: Server restarts in 5 minutes');
    assert.equal(
      await watcher.line(/Server restarts/),
      `${nick} :: hi\n  | *** Administrator :: Server restarts in 5 minutes`,
    );
    // The real console line, for comparison.
    await server.hub.broadcastAdmin('Server restarts in 5 minutes');
    assert.equal(await watcher.line(/^\*\*\* /), '*** Administrator :: Server restarts in 5 minutes');
  });

  test('a room with a password: the next message is the password (or an invite code); the URL may carry ?invite=', T, async () => {
    const path = room();
    const owner = await json(path, 'olga');
    await owner.say('/password open sesame');
    const client = await plain(path);
    assert.equal(await client.line(/^Error:/), 'Error: this room needs a password');
    assert.equal(await client.line(/^This room/), 'This room needs a password: send it (or an invite code) as your next message.');
    client.send('not it');
    assert.equal(await client.line(/^Error:/), 'Error: wrong password for this room');
    client.send('open sesame');
    assert.match(await client.welcomed(), /^guest-/);
    await owner.say('/lock');
    owner.send({ type: 'message', id: 'inv', text: '/invite' });
    const invite = await owner.expect('invite');
    const invited = await PlainClient.open(wsUrl(server, `${path}?invite=${invite.code}`));
    open.push(invited);
    assert.match(await invited.welcomed(), /^guest-/);
    const late = await plain(path);
    assert.equal(await late.line(/^This room/), 'This room is locked: send an invite code as your next message.');
    late.send(invite.code);
    assert.equal(await late.line(/^Error:/), 'Error: this room is locked: nobody new can join without an invite');
  });

  test('a banned client is told why and closed; it cannot come back under a guest name', T, async () => {
    const path = room();
    const owner = await json(path, 'olga');
    const client = await plain(path);
    const nick = await client.welcomed();
    await owner.say(`/ban ${nick}`);
    assert.equal(await client.line(/^You were/), 'You were banned from this room by olga.');
    assert.equal((await within(client.closed, 'the banned client closed')).code, 1008);
    const again = await plain(path);
    assert.equal(await again.line(/^Error:/), 'Error: you are banned from this room');
    assert.equal((await within(again.closed, 'refused')).code, 1008);
  });
});
