/**
 * The `wschat.v1` door end to end: a real chat server, our own WebSocket
 * client speaking JSON (and `ws` with permessage-deflate as a second peer).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WsWebSocket from 'ws';
import type { ServerEvent } from '../../../src/chat/messages.js';
import type { ChatServer } from '../../../src/chat/server.js';
import { JsonClient, startTestServer, within, wsUrl } from '../support/clients.js';

const T = { timeout: 15_000 };
let server: ChatServer;
let rooms = 0;
/** A fresh room per test: tests do not see each other. */
const room = (): string => `/r/json-${++rooms}`;
const open: JsonClient[] = [];

/** Opens and joins; closed by `after`. */
async function joined(path: string, nick: string): Promise<JsonClient> {
  const client = await JsonClient.joined(wsUrl(server, path), nick);
  open.push(client);
  return client;
}
async function opened(path: string): Promise<JsonClient> {
  const client = await JsonClient.open(wsUrl(server, path));
  open.push(client);
  return client;
}

before(async () => {
  server = await startTestServer({ hub: { rateLimit: { burst: 1000 } } });
});
after(async () => {
  await server.close();
  const codes = await Promise.all(open.map((c) => within(c.closed, 'every client closed')));
  for (const { code } of codes) assert.ok([1000, 1001, 1008, 1009, 1006, 4001].includes(code));
});

describe('join and welcome', () => {
  test('the first member gets a welcome with its own join notice, a members list and a resume token', T, async () => {
    const alice = await opened(room());
    const welcome = await alice.join('alice');
    assert.equal(welcome.nick, 'alice');
    assert.match(welcome.room, /^json-\d+$/);
    assert.equal(welcome.resumed, false);
    assert.equal(welcome.reset, false);
    assert.match(welcome.resumeToken, /^[A-Za-z0-9_-]{16,128}$/);
    assert.deepEqual(welcome.members, [{ nick: 'alice', away: false, role: 'owner' }]);
    assert.deepEqual(
      welcome.history.map((e) => [e.type, e.seq, e.type === 'notice' ? e.text : '']),
      [['notice', 1, 'alice joined']],
    );
    assert.equal(welcome.lastSeq, 1);
    assert.equal(welcome.more, false);
    assert.equal(welcome.maxMessage, 4000);
  });

  test('a later member gets the history so far and both are in the members list', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    await alice.say('first!');
    const bob = await opened(path);
    const welcome = await bob.join('bob');
    assert.deepEqual(
      welcome.history.map((e) => `${e.seq} ${e.type} ${e.nick} ${e.text}`),
      ['1 notice alice alice joined', '2 message alice first!', '3 notice bob bob joined'],
    );
    assert.deepEqual(welcome.members, [
      { nick: 'alice', away: false, role: 'owner' },
      { nick: 'bob', away: false },
    ]);
    // Alice sees bob's join live, then the new member list.
    const notice = await alice.expect('notice', (n) => n.event === 'join' && n.nick === 'bob');
    assert.equal(notice.seq, 3);
    const members = await alice.expect('members', (m) => m.members.length === 2);
    assert.deepEqual(
      members.members.map((m) => m.nick),
      ['alice', 'bob'],
    );
  });

  test('a taken nickname (any case) is refused with NICK_TAKEN, and the client can try again', T, async () => {
    const path = room();
    await joined(path, 'Alice');
    const other = await opened(path);
    const refused = await other.tryJoin('aLiCe');
    assert.equal(refused.type, 'error');
    assert.equal(refused.type === 'error' && refused.code, 'NICK_TAKEN');
    assert.match(refused.type === 'error' ? refused.message : '', /taken/);
    const welcome = await other.join('Alicia');
    assert.equal(welcome.nick, 'Alicia');
  });

  test('invalid nicknames get NICK_INVALID with the rule broken, and the connection stays usable', T, async () => {
    const client = await opened(room());
    for (const [nick, why] of [
      ['', /empty/],
      ['a'.repeat(25), /longer than 24/],
      ['bad\u0007bell', /control or invisible/],
      ['zero\u200bwidth', /control or invisible/],
      ['\u3000', /empty/],
      ['Administrator', /reserved/],
      ['!!!', /letter or a digit/],
      ['\u0430lice', /mixes scripts/],
      ['bob :: hi', /must not contain/],
    ] as const) {
      const answer = await client.tryJoin(nick);
      assert.equal(answer.type, 'error', `nick ${JSON.stringify(nick)}`);
      if (answer.type === 'error') {
        assert.equal(answer.code, 'NICK_INVALID');
        assert.match(answer.message, why);
      }
    }
    // RFC 8266 maps spaces rather than refusing them: trimmed, collapsed.
    assert.equal((await client.join('  finally\u00a0\u00a0ok ')).nick, 'finally ok');
  });

  test('a Korean nickname works, NFC-normalised, and others see it', T, async () => {
    const path = room();
    const bob = await joined(path, 'bob');
    const kim = await opened(path);
    // Decomposed jamo (NFD) come back composed (NFC).
    const welcome = await kim.join('김철수'.normalize('NFD'));
    assert.equal(welcome.nick, '김철수');
    const notice = await bob.expect('notice', (n) => n.event === 'join');
    assert.equal(notice.text, '김철수 joined');
    await kim.say('안녕하세요');
    const line = await bob.expect('message');
    assert.deepEqual([line.nick, line.text], ['김철수', '안녕하세요']);
  });

  test('a second join on the same connection is ALREADY_JOINED', T, async () => {
    const client = await joined(room(), 'once');
    const answer = await client.tryJoin('twice');
    assert.equal(answer.type === 'error' && answer.code, 'ALREADY_JOINED');
  });

  test('a message before joining is NOT_JOINED', T, async () => {
    const client = await opened(room());
    const answer = await client.request('hello?', 'early-1');
    assert.equal(answer.type === 'error' && answer.code, 'NOT_JOINED');
  });
});

describe('messages', () => {
  test('a message is acknowledged with its seq before its broadcast, which reaches everyone', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const bob = await joined(path, 'bob');
    const ack = await alice.say('Hello <b>everyone</b>', 'm-1');
    assert.deepEqual(ack, { type: 'ack', id: 'm-1', seq: 3 });
    // The sender's own broadcast comes after its ack...
    const own = await alice.expect('message');
    assert.ok(alice.inbox.items.indexOf(ack) < alice.inbox.items.indexOf(own));
    // ...and the others get the same entry.
    const seen = await bob.expect('message');
    assert.deepEqual(seen, own);
    assert.equal(seen.seq, 3);
    assert.equal(seen.nick, 'alice');
    assert.equal(seen.text, 'Hello <b>everyone</b>');
    assert.ok(Math.abs(seen.ts - Date.now()) < 60_000, 'ts is the server time');
    assert.equal(bob.all('ack').length, 0, 'only the sender is acknowledged');
  });

  test('a resend with the same id is acknowledged with the first seq and not broadcast twice', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const bob = await joined(path, 'bob');
    const first = await alice.say('only once', 'dup-1');
    const again = await alice.say('only once', 'dup-1');
    assert.equal(again.seq, first.seq);
    await alice.say('next', 'dup-2');
    const seen = [await bob.expect('message'), await bob.expect('message')];
    assert.deepEqual(
      seen.map((m) => m.text),
      ['only once', 'next'],
    );
    assert.equal(seen[1]?.seq, (first.seq ?? 0) + 1, 'no seq was spent on the resend');
  });

  test('empty and too long messages are refused with their codes', T, async () => {
    const client = await joined(room(), 'alice');
    const empty = await client.request(' \n\t ');
    assert.equal(empty.type === 'error' && empty.code, 'EMPTY_MESSAGE');
    const long = await client.request('x'.repeat(4001));
    assert.equal(long.type === 'error' && long.code, 'MESSAGE_TOO_LONG');
    const exact = await client.request('x'.repeat(4000));
    assert.equal(exact.type, 'ack');
  });

  test('the longest --max-message the CLI allows (32768) fits the protocol, even all outside the BMP', T, async () => {
    const wide = await startTestServer({ hub: { maxMessage: 32_768 } });
    try {
      const client = await JsonClient.joined(wsUrl(wide, '/r/wide'), 'wide');
      const ack = await client.request('😀'.repeat(32_768));
      assert.equal(ack.type, 'ack', JSON.stringify(ack));
      const over = await client.request('x'.repeat(32_769));
      assert.equal(over.type === 'error' && over.code, 'MESSAGE_TOO_LONG');
      await client.close();
    } finally {
      await wide.close();
    }
  });

  test('a history request pages through entries after afterSeq', T, async () => {
    const client = await joined(room(), 'alice');
    for (let i = 1; i <= 4; i++) await client.say(`line ${i}`);
    client.send({ type: 'history', id: 'h-1', afterSeq: 2, limit: 2 });
    const page = await client.expect('history');
    assert.equal(page.id, 'h-1');
    assert.deepEqual(
      page.entries.map((e) => [e.seq, e.text]),
      [
        [3, 'line 2'],
        [4, 'line 3'],
      ],
    );
    assert.equal(page.more, true);
  });

  test('a wschat.v1 client with permessage-deflate (ws) chats with one without', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const ws = new WsWebSocket(wsUrl(server, path), 'wschat.v1');
    const events: ServerEvent[] = [];
    const got = (pred: (e: ServerEvent) => boolean): Promise<ServerEvent> =>
      within(
        new Promise((resolve) => {
          const check = (): void => {
            const found = events.find(pred);
            if (found) resolve(found);
            else ws.once('message', check);
          };
          check();
        }),
        'an event on the ws client',
      );
    ws.on('message', (data) => events.push(JSON.parse(String(data)) as ServerEvent));
    await within(new Promise((resolve) => ws.once('open', resolve)), 'ws open');
    assert.equal(ws.protocol, 'wschat.v1');
    assert.match(ws.extensions, /permessage-deflate/);
    ws.send(JSON.stringify({ type: 'join', nick: 'zed' }));
    await got((e) => e.type === 'welcome');
    const long = 'compress me '.repeat(200);
    ws.send(JSON.stringify({ type: 'message', id: 'z-1', text: long }));
    const seen = await alice.expect('message');
    assert.deepEqual([seen.nick, seen.text], ['zed', long.trimEnd()]);
    await alice.say('back at you');
    const back = await got((e) => e.type === 'message' && e.nick === 'alice');
    assert.equal(back.type === 'message' && back.text, 'back at you');
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    ws.close(1000);
    assert.equal(await within(closed, 'ws close'), 1000);
  });
});

describe('bad input', () => {
  test('malformed JSON, non-objects, unknown types and wrong fields each get an error reply', T, async () => {
    const client = await joined(room(), 'alice');
    const cases: [string, string, RegExp][] = [
      ['{"type":"message",', 'BAD_JSON', /not valid JSON/],
      ['[1,2,3]', 'BAD_MESSAGE', /JSON object/],
      ['{"nick":"x"}', 'BAD_MESSAGE', /"type"/],
      ['{"type":"dance"}', 'UNKNOWN_TYPE', /unknown message type "dance"/],
      ['{"type":"message","id":"w-1"}', 'BAD_FIELD', /missing field "text"/],
      ['{"type":"message","id":"w-2","text":42}', 'BAD_FIELD', /field "text" must be a string/],
      ['{"type":"message","id":"w-3","text":"hi","admin":true}', 'BAD_FIELD', /unexpected field "admin"/],
      ['{"type":"history","id":"w-4","afterSeq":-1}', 'BAD_FIELD', /afterSeq/],
    ];
    for (const [raw, code, message] of cases) {
      client.ws.send(raw);
      const error = await client.expect('error');
      assert.equal(error.code, code, raw);
      assert.match(error.message, message);
    }
    // An error names the request it answers when it had a valid id.
    assert.equal(client.all('error').find((e) => e.code === 'BAD_FIELD')?.id, 'w-1');
    // Nothing broke: the member can still chat.
    assert.equal((await client.say('still here')).type, 'ack');
  });

  test('a binary message gets a BAD_MESSAGE error', T, async () => {
    const client = await joined(room(), 'alice');
    client.ws.send(Buffer.from('{"type":"message","id":"b","text":"hi"}'));
    const error = await client.expect('error');
    assert.equal(error.code, 'BAD_MESSAGE');
    assert.match(error.message, /not binary/);
    assert.equal((await client.say('text works')).type, 'ack');
  });

  test('repeated abuse closes with 1008, the room hears why, and the server keeps serving', T, async () => {
    const path = room();
    const witness = await joined(path, 'witness');
    const abuser = await joined(path, 'abuser');
    // Default policy: 10 strikes tolerated (decaying 1 per second); send plenty more.
    for (let i = 0; i < 30; i++) abuser.ws.send('not json');
    const closed = await within(abuser.closed, 'the abuser closed');
    assert.equal(closed.code, 1008);
    assert.ok(abuser.all('error').length >= 11, 'each bad message was answered until the close');
    const left = await witness.expect('notice', (n) => n.event === 'leave');
    assert.equal(left.text, 'abuser was disconnected for flooding');
    assert.equal(left.reason, 'flood');
    assert.equal((await witness.say('unaffected')).type, 'ack');
    const fresh = await joined(path, 'newcomer');
    assert.ok(fresh.ws.readyState === 1);
  });

  test('a message over the size limit closes with 1009 and affects nobody else', T, async () => {
    const path = room();
    const witness = await joined(path, 'witness');
    const big = await joined(path, 'big');
    big.ws.send(JSON.stringify({ type: 'message', id: 'x', text: 'y'.repeat(300 * 1024) }));
    assert.equal((await within(big.closed, 'the big sender closed')).code, 1009);
    assert.equal((await witness.say('fine')).type, 'ack');
  });
});

describe('commands', () => {
  test('/nick renames: renamed to the member, a notice to the room, an ack; the new name is used', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const bob = await joined(path, 'bob');
    const ack = await alice.say('/nick Alice2', 'n-1');
    assert.deepEqual(ack, { type: 'ack', id: 'n-1' });
    assert.deepEqual(await alice.expect('renamed'), { type: 'renamed', nick: 'Alice2', from: 'alice' });
    const notice = await bob.expect('notice', (n) => n.event === 'rename');
    assert.deepEqual([notice.nick, notice.from, notice.text], ['Alice2', 'alice', 'alice is now known as Alice2']);
    await alice.say('renamed now');
    assert.equal((await bob.expect('message')).nick, 'Alice2');
    // The old name is free, the new one taken.
    const taken = await alice.request('/nick BOB');
    assert.equal(taken.type === 'error' && taken.code, 'NICK_TAKEN');
  });

  test('/me stores an action, acknowledged with its seq', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const bob = await joined(path, 'bob');
    const ack = await alice.say('/me waves', 'me-1');
    assert.equal(typeof ack.seq, 'number');
    const action = await bob.expect('action');
    assert.deepEqual([action.seq, action.nick, action.text], [ack.seq, 'alice', 'waves']);
  });

  test('/who lists the members in an info carrying the request id, then an ack', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    await joined(path, 'bob');
    const ack = await alice.say('/who', 'who-1');
    assert.deepEqual(ack, { type: 'ack', id: 'who-1' });
    const info = alice.all('info').at(-1);
    assert.equal(info?.id, 'who-1');
    assert.match(info?.text ?? '', /^2 members in json-\d+: alice \(owner\), bob$/);
  });

  test('/help lists the commands, /help me explains one', T, async () => {
    const alice = await joined(room(), 'alice');
    await alice.say('/help', 'help-1');
    const list = await alice.expect('info');
    for (const command of ['/nick', '/me', '/who', '/help', '/quit']) assert.ok(list.text.includes(command), command);
    await alice.say('/help me', 'help-2');
    assert.match((await alice.expect('info')).text, /^\/me ACTION: /);
  });

  test('an unknown command gets UNKNOWN_COMMAND pointing to /help', T, async () => {
    const alice = await joined(room(), 'alice');
    const answer = await alice.request('/dance wildly', 'u-1');
    assert.equal(answer.type, 'error');
    if (answer.type === 'error') {
      assert.equal(answer.code, 'UNKNOWN_COMMAND');
      assert.equal(answer.id, 'u-1');
      assert.match(answer.message, /\/dance.*\/help/);
    }
  });

  test('// sends a line starting with a slash', T, async () => {
    const alice = await joined(room(), 'alice');
    await alice.say('//usr/bin is a directory');
    assert.equal((await alice.expect('message')).text, '/usr/bin is a directory');
  });

  test('/quit: ack, the room sees the leave at once, the connection closes with 1000', T, async () => {
    const path = room();
    const alice = await joined(path, 'alice');
    const bob = await joined(path, 'bob');
    alice.send({ type: 'message', id: 'q-1', text: '/quit' });
    assert.deepEqual(await alice.expect('ack'), { type: 'ack', id: 'q-1' });
    assert.equal((await within(alice.closed, 'alice closed')).code, 1000);
    const left = await bob.expect('notice', (n) => n.event === 'leave');
    assert.deepEqual([left.nick, left.reason, left.text], ['alice', 'quit', 'alice left']);
    const members = await bob.expect('members', (m) => m.members.length === 1);
    assert.deepEqual(members.members, [{ nick: 'bob', away: false }]);
    // No grace period after /quit: the name is free at once.
    assert.equal((await joined(path, 'alice')).ws.readyState, 1);
  });
});

describe('rate limit', () => {
  test('over the limit: RATE_LIMITED for the dropped request; persistent flooding closes with 1008', T, async () => {
    const limited = await startTestServer({
      hub: { rateLimit: { burst: 3, perSecond: 0, maxStrikes: 3, strikeDecayPerSecond: 0 } },
    });
    try {
      const witness = await JsonClient.joined(wsUrl(limited, '/r/rl'), 'witness');
      const flooder = await JsonClient.joined(wsUrl(limited, '/r/rl'), 'flooder'); // the join takes no token
      await flooder.say('one', 'r-1');
      await flooder.say('two', 'r-2');
      await flooder.say('three', 'r-3');
      const slow = await flooder.request('four', 'r-4');
      assert.equal(slow.type, 'error');
      if (slow.type === 'error') {
        assert.equal(slow.code, 'RATE_LIMITED');
        assert.equal(slow.id, 'r-4');
        assert.match(slow.message, /Slow down/);
      }
      for (let i = 5; i <= 11; i++) flooder.send({ type: 'message', id: `r-${i}`, text: 'flood' });
      assert.equal((await within(flooder.closed, 'the flooder closed')).code, 1008);
      const left = await witness.expect('notice', (n) => n.event === 'leave');
      assert.equal(left.reason, 'flood');
      assert.deepEqual(
        witness.all('message').map((m) => m.text),
        ['one', 'two', 'three'],
        'dropped requests were not stored',
      );
      await witness.close();
    } finally {
      await limited.close();
    }
  });
});
