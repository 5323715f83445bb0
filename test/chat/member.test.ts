import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MemoryStore } from '../../src/chat/store/memory.js';
import { type AppendResult, type ClaimResult, type NewEntry, type SeatClaim, StoreUnavailableError } from '../../src/chat/store/store.js';
import { makeHub } from './helpers.js';

describe('requests', () => {
  test('a join followed at once by messages (not awaited) is answered in order', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    void member.join({ nick: 'alice' });
    void member.input('first', 'c1');
    void member.input('second', 'c2');
    await t.hub.idle();
    await member.input('third', 'c3');
    assert.deepEqual(
      conn.received.filter((e) => e.type !== 'members').map((e) => (e.type === 'ack' ? `ack ${e.id}` : e.type)),
      ['welcome', 'ack c1', 'message', 'ack c2', 'message', 'ack c3', 'message'],
    );
  });

  test('handle() dispatches validated wschat.v1 messages', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    await member.handle({ type: 'join', nick: 'alice', lastSeq: 0 });
    assert.equal(conn.last('welcome').nick, 'alice');
    await member.handle({ type: 'message', id: 'm1', text: 'hi' });
    assert.equal(conn.last('ack').id, 'm1');
    await member.handle({ type: 'history', id: 'h1', afterSeq: 1 });
    assert.deepEqual(
      conn.last('history').entries.map((e) => e.seq),
      [2],
    );
  });

  test('before joining: messages and room commands are refused; /help works', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    await member.input('hello', 'm1');
    assert.deepEqual(conn.last('error'), { type: 'error', code: 'NOT_JOINED', message: 'join a room first', id: 'm1' });
    await member.input('/who');
    assert.equal(conn.last('error').code, 'NOT_JOINED');
    await member.history(0, 10, 'h');
    assert.equal(conn.last('error').id, 'h');
    await member.input('/help', 'h2');
    assert.match(conn.last('info').text, /\/nick NEW/);
    assert.deepEqual(conn.last('ack'), { type: 'ack', id: 'h2' });
  });

  test('invalid nickname, invalid room, second join', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    assert.deepEqual(await member.join({ nick: 'a\u200bb' }), {
      ok: false,
      code: 'NICK_INVALID',
      message: 'nickname contains control or invisible characters',
    });
    assert.equal(conn.last('error').code, 'NICK_INVALID');
    assert.equal((await member.join({ nick: 'a', room: '../x' })).ok === false && conn.last('error').code, 'ROOM_INVALID');
    assert.ok((await member.join({ nick: 'a' })).ok);
    assert.equal((await member.join({ nick: 'b' })).ok, false);
    assert.equal(conn.last('error').code, 'ALREADY_JOINED');
    assert.throws(() => t.hub.connect(conn, { room: 'a b' }), RangeError);
  });

  test('message text rules: empty, too long (configurable), controls stripped, // escape', async () => {
    const t = makeHub({ maxMessage: 10 });
    const { conn, member } = await t.join('alice');
    await member.input('   ', 'e');
    assert.deepEqual(conn.last('error'), { type: 'error', code: 'EMPTY_MESSAGE', message: 'message is empty', id: 'e' });
    await member.input('12345678901', 'l');
    assert.equal(conn.last('error').code, 'MESSAGE_TOO_LONG');
    assert.equal(conn.last('error').id, 'l');
    await member.input('//etc/pass', 's');
    assert.equal(conn.last('message').text, '/etc/pass');
    await member.input('a\u001b[2Jb', 'c');
    assert.equal(conn.last('message').text, 'a[2Jb');
  });

  test('an unknown command points to /help', async () => {
    const t = makeHub();
    const { conn, member } = await t.join('alice');
    await member.input('/dance wildly', 'd');
    assert.deepEqual(conn.last('error'), {
      type: 'error',
      code: 'UNKNOWN_COMMAND',
      message: 'unknown command /dance; type /help for the list',
      id: 'd',
    });
    await member.input('/');
    assert.match(conn.last('error').message, /unknown command \/;/);
    await member.input('/join elsewhere');
    assert.equal(conn.last('error').code, 'UNKNOWN_COMMAND', '/join does not exist on transports that cannot switch rooms');
  });
});

describe('rate limiting', () => {
  test('over the limit: "slow down"; persistent flooding: closed with 1008 and gone at once', async () => {
    const t = makeHub({ rateLimit: { burst: 3, perSecond: 1, maxStrikes: 2 }, graceMs: 60_000 });
    const watcher = await t.join('watcher');
    const { conn, member } = await t.join('flooder');
    const sends = Array.from({ length: 6 }, (_, i) => member.input(`spam ${i}`, `s${i}`));
    await Promise.all(sends);
    await t.hub.idle();
    const errors = conn.of('error');
    assert.deepEqual(
      errors.map((e) => [e.code, e.id]),
      [
        ['RATE_LIMITED', 's3'],
        ['RATE_LIMITED', 's4'],
        ['RATE_LIMITED', 's5'],
      ],
    );
    assert.equal(errors[0]?.message, 'Slow down: too many messages; try again in 1.0 s.');
    assert.equal(errors[0]?.retryAfter, 1000);
    assert.deepEqual(conn.closed, { code: 1008, reason: 'flooding' });
    // The join took no token and three messages were accepted, but they were
    // still queued when the sixth closed the connection: dropped with it.
    assert.equal(watcher.conn.of('message').length, 0);
    const notice = watcher.conn.last('notice');
    assert.equal(notice.event, 'leave');
    assert.equal(notice.reason, 'flood');
    assert.ok((await t.connect().member.join({ nick: 'flooder' })).ok, 'no grace period for a flooder');
  });

  test('tokens come back with time, and the refusal says when', async () => {
    const t = makeHub({ rateLimit: { burst: 2, perSecond: 4 } });
    const { conn, member } = await t.join('alice');
    await member.input('one', '1');
    await member.input('two', '2');
    await member.input('three', '3');
    assert.deepEqual(conn.last('error'), {
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'Slow down: too many messages; try again in 0.3 s.',
      id: '3',
      retryAfter: 250,
    });
    t.clock.advance(249);
    await member.input('three', '3');
    assert.equal(conn.last('error').retryAfter, 1, 'never 0');
    t.clock.advance(1);
    await member.input('three', '3');
    assert.equal(conn.last('ack').id, '3');
  });

  test('the welcome advertises the budget, and the first join takes nothing from it', async () => {
    const t = makeHub({ rateLimit: { burst: 2, perSecond: 0 } });
    const { conn, member } = await t.join('alice');
    assert.deepEqual(conn.last('welcome').rateLimit, { burst: 2, perSecond: 0 });
    await member.input('one', '1');
    await member.input('two', '2');
    assert.equal(conn.of('ack').length, 2, 'the whole burst, after the join');
    await member.input('three', '3');
    const refused = conn.last('error');
    assert.equal(refused.code, 'RATE_LIMITED');
    assert.equal(refused.retryAfter, undefined, 'a bucket that never refills gives no retry time');
    assert.equal(refused.message, 'Slow down: too many messages.');
    await member.join({ nick: 'again' });
    assert.equal(conn.last('error').code, 'RATE_LIMITED', 'a second join is not free');
  });

  test('a full request queue is refused with a retry time', async () => {
    const t = makeHub({ maxPendingPerMember: 1, rateLimit: { burst: 100 } });
    const { conn, member } = await t.join('alice');
    const first = member.input('one', '1');
    await member.input('two', '2');
    await first;
    assert.deepEqual(conn.last('error'), {
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'Slow down: the server is still working on your earlier requests.',
      id: '2',
      retryAfter: 1000,
    });
  });

  test('reject(): bad input is answered, and repeated abuse closes with 1008', async () => {
    const t = makeHub({ rateLimit: { maxStrikes: 3 } });
    const { conn, member } = t.connect();
    for (let i = 0; i < 3; i++) member.reject({ code: 'BAD_JSON', message: 'message is not valid JSON' });
    assert.equal(conn.of('error').length, 3);
    assert.equal(conn.closed, null);
    member.reject({ code: 'UNKNOWN_TYPE', message: 'unknown message type "x"', id: 'q' });
    assert.deepEqual(conn.closed, { code: 1008, reason: 'too many bad messages' });
    assert.equal(conn.last('error').id, 'q');
  });
});

describe('connection end', () => {
  test('disconnecting before joining leaves no trace; requests after it are ignored', async () => {
    const t = makeHub();
    const { conn, member } = t.connect();
    assert.equal(t.hub.connectionCount, 1);
    conn.drop();
    assert.equal(t.hub.connectionCount, 0);
    assert.equal((await member.join({ nick: 'ghost' })).ok, false);
    await member.input('boo');
    await t.hub.idle();
    assert.deepEqual(await t.hub.rooms(), []);
    assert.equal(conn.received.length, 0);
  });

  test('requests still queued when the connection drops are dropped', async () => {
    const t = makeHub();
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    const pending = [bob.member.input('one', '1'), bob.member.input('two', '2')];
    bob.conn.drop();
    await Promise.all(pending);
    await t.hub.idle();
    assert.equal(alice.conn.of('message').length, 0);
  });

  test('a store failure is reported with the id, nothing is broadcast, and the member carries on', async () => {
    class FlakyStore extends MemoryStore {
      failNext = false;
      override async append(entry: NewEntry): Promise<AppendResult> {
        if (this.failNext) {
          this.failNext = false;
          throw new Error('disk full');
        }
        return super.append(entry);
      }
    }
    const store = new FlakyStore();
    const logged: string[] = [];
    const t = makeHub({ store, log: (_level, message) => logged.push(message) });
    const alice = await t.join('alice');
    const bob = await t.join('bob');
    store.failNext = true;
    await alice.member.input('lost?', 'x1');
    assert.deepEqual(alice.conn.last('error'), {
      type: 'error',
      code: 'INTERNAL',
      message: 'the message could not be stored: internal error; try again',
      id: 'x1',
    });
    assert.equal(bob.conn.of('message').length, 0);
    assert.ok(logged.includes('storing a message failed'));
    await alice.member.input('lost?', 'x1');
    assert.equal(alice.conn.last('ack').id, 'x1');
    assert.equal(bob.conn.last('message').text, 'lost?');
  });

  test('storage that cannot be reached: UNAVAILABLE with a delay to retry after, for posts and joins; nobody is seated', async () => {
    class DownStore extends MemoryStore {
      down = false;
      override async append(entry: NewEntry): Promise<AppendResult> {
        if (this.down) throw new StoreUnavailableError('Redis is down');
        return super.append(entry);
      }
      override async claimSeat(claim: SeatClaim): Promise<ClaimResult> {
        if (this.down) throw new StoreUnavailableError('Redis is down');
        return super.claimSeat(claim);
      }
    }
    const store = new DownStore();
    const t = makeHub({ store, log: () => undefined });
    const alice = await t.join('alice');
    store.down = true;
    await alice.member.input('kept in the outbox', 'u1');
    const refused = alice.conn.last('error');
    assert.equal(refused.code, 'UNAVAILABLE');
    assert.equal(refused.id, 'u1');
    assert.equal(refused.retryAfter, 2000);
    const { conn, member } = t.connect();
    const join = await member.join({ nick: 'bob' });
    assert.equal(join.ok === false && join.code, 'UNAVAILABLE');
    assert.equal(conn.last('error').retryAfter, 2000);
    assert.equal(member.joined, false, 'not seated');
    store.down = false;
    assert.ok((await member.join({ nick: 'bob' })).ok, 'the same join works once the store is back');
    await alice.member.input('kept in the outbox', 'u1');
    assert.equal(alice.conn.last('ack').id, 'u1');
  });

  test('a transport whose send throws is closed with 1011 and does not disturb the others', async () => {
    const t = makeHub({ log: () => undefined });
    const alice = await t.join('alice');
    const broken = await t.join('broken', { format: 'other' });
    broken.conn.sendEncoded = () => {
      throw new Error('socket exploded');
    };
    await alice.member.input('still works', 'w');
    assert.equal(alice.conn.last('message').text, 'still works');
    assert.deepEqual(broken.conn.closed, { code: 1011, reason: '' });
  });

  test('an encoder that throws costs only its own format that event', async () => {
    const t = makeHub({ log: () => undefined });
    const alice = await t.join('alice');
    const odd = await t.join('odd', { format: 'odd' });
    const encode = odd.conn.encode.bind(odd.conn);
    odd.conn.encode = (event) => {
      if (event.type === 'message') throw new Error('bug');
      return encode(event);
    };
    await alice.member.input('hello', 'h');
    assert.equal(alice.conn.last('message').text, 'hello');
    assert.equal(odd.conn.of('message').length, 0);
    assert.equal(odd.conn.closed, null);
  });
});
