import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { ManualClock } from '../../../src/chat/clock.js';
import { encodeTcp, formatTcp, TcpLinesServer } from '../../../src/chat/transports/tcp-lines.js';
import { makeHub, type TestHub } from '../helpers.js';

/** A raw TCP client that waits for text patterns (events, not sleeps). */
class LineClient {
  readonly socket: Socket;
  text = '';
  #cursor = 0;
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.#wake();
    });
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.#wake());
  }

  static open(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until `pattern` matches the text received after the previous match; returns the match. */
  async expect(pattern: RegExp): Promise<string> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const rest = this.text.slice(this.#cursor);
      const match = pattern.exec(rest);
      if (match !== null) {
        this.#cursor += match.index + match[0].length;
        return match[0];
      }
      if (this.socket.destroyed && this.socket.readableEnded) {
        assert.fail(`connection closed before ${pattern}; got ${JSON.stringify(rest)}`);
      }
      if (Date.now() > deadline) assert.fail(`timed out waiting for ${pattern}; got ${JSON.stringify(rest)}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 250).unref();
      });
    }
  }

  async login(nick: string): Promise<void> {
    await this.expect(/Login id \(your nickname\): $/);
    this.send(`${nick}\r\n`);
    await this.expect(/\*\*\* Type a line to chat; \/help lists the commands\.\r\n/);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

async function withServer(
  fn: (ctx: { t: TestHub; port: number; server: TcpLinesServer }) => Promise<void>,
  options: { highWaterMark?: number; graceMs?: number; clock?: ManualClock } = {},
): Promise<void> {
  const t = makeHub({ graceMs: options.graceMs ?? 0, rateLimit: { burst: 1000 } });
  const server = new TcpLinesServer({
    hub: t.hub,
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const { port } = await server.listen(0, '127.0.0.1');
  try {
    await fn({ t, port, server });
  } finally {
    await server.close();
    await t.hub.close();
  }
}

describe('formatTcp', () => {
  test('chat lines as [nick] text, one per text line; notices plain; console lines marked', () => {
    assert.deepEqual(formatTcp({ type: 'message', seq: 1, ts: 0, nick: 'bob', text: 'a\nb' }), ['[bob] a', '  | b']);
    assert.deepEqual(formatTcp({ type: 'message', seq: 1, ts: 0, nick: 'bob', trip: 'Ab3dEf12', text: 'hi' }), [
      '[bob !Ab3dEf12] hi',
    ]);
    assert.deepEqual(formatTcp({ type: 'action', seq: 1, ts: 0, nick: 'bob', text: 'waves' }), ['* bob waves']);
    assert.deepEqual(formatTcp({ type: 'notice', seq: 1, ts: 0, event: 'join', nick: 'bob', text: 'bob joined' }), [
      'bob joined',
    ]);
    assert.deepEqual(formatTcp({ type: 'admin', seq: 1, ts: 0, nick: 'Administrator', text: 'hi' }), [
      '*** [Administrator] hi',
    ]);
    assert.equal(encodeTcp({ type: 'ack', id: 'x', seq: 1 }), null);
    assert.equal(encodeTcp({ type: 'members', members: [] }), null);
    assert.deepEqual(encodeTcp({ type: 'info', text: '한' }), Buffer.from('한\r\n'));
  });

  test('replies, edited lines and edits read as lines saying so; typing shows nothing', () => {
    assert.deepEqual(formatTcp({ type: 'message', seq: 3, ts: 0, nick: 'bob', text: 'yes', replyTo: 2, replyNick: '민수' }), ['[bob] (replying to 민수) yes']);
    assert.deepEqual(formatTcp({ type: 'message', seq: 3, ts: 0, nick: 'bob', text: 'a\nb', edited: 1 }), ['[bob] a', '  | b (edited)']);
    assert.deepEqual(formatTcp({ type: 'edit', seq: 4, ts: 0, nick: 'bob', edits: 3, text: 'new\n[alice] forged' }), [
      'bob edited a message: new',
      '  | [alice] forged',
    ]);
    assert.deepEqual(formatTcp({ type: 'edit', seq: 4, ts: 0, nick: 'bob', edits: 3, text: '' }), ['bob edited a message']);
    assert.deepEqual(formatTcp({ type: 'typing', nick: 'bob' }), []);
    assert.equal(encodeTcp({ type: 'typing', nick: 'bob' }), null);
  });

  test('attack: continuation lines cannot pass for a console line or another sender\'s line', () => {
    const text = 'ok\n*** [Administrator] Server restarts in 5 minutes\n[carol] bye';
    assert.deepEqual(formatTcp({ type: 'message', seq: 1, ts: 0, nick: 'bob', text }), [
      '[bob] ok',
      '  | *** [Administrator] Server restarts in 5 minutes',
      '  | [carol] bye',
    ]);
    assert.deepEqual(formatTcp({ type: 'admin', seq: 1, ts: 0, nick: 'Administrator', text: 'a\nb' }), [
      '*** [Administrator] a',
      '  | b',
    ]);
    assert.deepEqual(formatTcp({ type: 'action', seq: 1, ts: 0, nick: 'bob', text: 'a\nb' }), ['* bob a', '  | b']);
  });
});

describe('TCP lines transport', () => {
  test('login: a taken or invalid nickname is refused and asked again; then chat both ways', () =>
    withServer(async ({ port }) => {
      const alice = await LineClient.open(port);
      await alice.login('alice');
      const bob = await LineClient.open(port);
      await bob.expect(/Login id \(your nickname\): $/);
      bob.send('ALICE\n');
      await bob.expect(/Error: the nickname ALICE is taken in this room\r\nLogin id \(your nickname\): $/);
      bob.send('bad\u200bname\n');
      await bob.expect(/Error: nickname contains control or invisible characters\r\nLogin id/);
      bob.send('\n');
      await bob.expect(/Login id \(your nickname\): $/);
      bob.send('/who\n');
      await bob.expect(/Log in first/);
      bob.send('밥\n');
      await bob.expect(/alice joined\r\n밥 joined\r\n\*\*\* You are 밥 in lobby\. Also here: alice\./);
      await alice.expect(/밥 joined\r\n/);
      alice.send('hello 밥\n');
      await bob.expect(/\[alice\] hello 밥\r\n/);
      await alice.expect(/\[alice\] hello 밥\r\n/);
      bob.send('/me waves\r\n');
      await alice.expect(/\* 밥 waves\r\n/);
      bob.send('/who\n');
      await bob.expect(/2 members in lobby: alice \(owner\), 밥\r\n/);
    }));

  test('lines right behind the login id in the same packet are kept', () =>
    withServer(async ({ port }) => {
      const watcher = await LineClient.open(port);
      await watcher.login('watcher');
      const quick = await LineClient.open(port);
      await quick.expect(/Login id/);
      quick.send('quick\nfirst\nsecond\n');
      await watcher.expect(/\[quick\] first\r\n\[quick\] second\r\n/);
    }));

  test('/join moves between rooms, /quit says goodbye and closes', () =>
    withServer(async ({ port }) => {
      const a = await LineClient.open(port);
      await a.login('a');
      const b = await LineClient.open(port);
      await b.login('b');
      b.send('/join games\n');
      await b.expect(/\*\*\* You are b in games\. Nobody else is here\./);
      await a.expect(/b went to another room\r\n/);
      b.send('/join ../x\n');
      await b.expect(/Error: room names are 1-64 letters or digits \(of any script\), "-" or "_", with no spaces; “\.” is not allowed\r\n/);
      a.send('/quit\n');
      await a.expect(/\*\*\* Bye\.\r\n/);
      await a.closed;
    }));

  test('people on TCP and on another transport share the room', () =>
    withServer(async ({ t, port }) => {
      const ws = await t.join('websocket-user', { format: 'wschat.v1' });
      const tcp = await LineClient.open(port);
      await tcp.login('nc-user');
      await ws.member.input('hi from the web', 'w1');
      await tcp.expect(/\[websocket-user\] hi from the web\r\n/);
      tcp.send('hi from nc\n');
      await tcp.expect(/\[nc-user\] hi from nc\r\n/);
      await t.hub.idle();
      assert.equal(ws.conn.last('message').text, 'hi from nc');
      assert.equal(ws.conn.last('message').nick, 'nc-user');
    }));

  test('a line over 8 KiB is refused without being buffered; the next line works', () =>
    withServer(async ({ port }) => {
      const c = await LineClient.open(port);
      await c.login('c');
      c.send(`${'x'.repeat(9000)}\n`);
      await c.expect(/Error: line longer than 8192 bytes, ignored\r\n/);
      // A megabyte with no newline at all, in pieces: refused once, not accumulated.
      for (let i = 0; i < 64; i++) c.send('y'.repeat(16_384));
      c.send('\nstill here\n');
      await c.expect(/Error: line longer than 8192 bytes, ignored\r\n/);
      await c.expect(/\[c\] still here\r\n/);
      assert.doesNotMatch(c.text, /\[c\] y/);
    }));

  test('invalid UTF-8 is refused line by line', () =>
    withServer(async ({ port }) => {
      const c = await LineClient.open(port);
      await c.login('c');
      c.send(Buffer.from([0x68, 0xff, 0xfe, 0x0a]));
      await c.expect(/Error: line is not valid UTF-8\r\n/);
      c.send('ok\n');
      await c.expect(/\[c\] ok\r\n/);
    }));

  test('a reader that stops reading is disconnected once its buffer passes the high-water mark', () =>
    withServer(
      async ({ t, port, server }) => {
        const slow = await LineClient.open(port);
        await slow.login('slow');
        const watcher = await t.join('watcher');
        slow.socket.pause();
        const text = 'z'.repeat(4000);
        let sent = 0;
        while (server.connectionCount > 0 && sent < 50_000) {
          await t.hub.say('lobby', text);
          sent++;
          if (sent % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        assert.equal(server.connectionCount, 0, `still connected after ${sent} messages`);
        await t.hub.idle();
        assert.equal(watcher.conn.last('notice').text, 'slow left (connection lost)');
        slow.socket.destroy();
      },
      { highWaterMark: 64 * 1024 },
    ));

  test('attack: a lone CR is not a line break (only LF ends a line, CRLF counts as one)', () =>
    withServer(async ({ t, port }) => {
      const ws = await t.join('watcher', { format: 'wschat.v1' });
      const tcp = await LineClient.open(port);
      await tcp.login('nc-user');
      tcp.send('one\rtwo\r\n');
      await tcp.expect(/\[nc-user\] onetwo\r\n/);
      await t.hub.idle();
      assert.equal(ws.conn.last('message').text, 'onetwo');
    }));

  test('attack: a frozen peer is found within 30 s + 30 s; one that answers the idle check stays', async () => {
    const clock = new ManualClock();
    await withServer(
      async ({ port }) => {
        const c = await LineClient.open(port);
        await c.login('sleepy');
        clock.advance(30_000);
        await c.expect(/\*\*\* Still there\? Send any line \(Enter will do\) to stay connected\.\r\n/);
        c.send('here\n');
        await c.expect(/\[sleepy\] here\r\n/);
        clock.advance(29_999);
        clock.advance(1);
        await c.expect(/\*\*\* Still there\?/);
        // Frozen from now on: nothing comes back.
        clock.advance(29_999);
        assert.doesNotMatch(c.text, /Disconnected/);
        clock.advance(1);
        await c.expect(/\*\*\* Disconnected: no answer within 30 s\.\r\n/);
        await c.closed;
      },
      { clock },
    );
  });

  test('a login that never comes times out', async () => {
    const clock = new ManualClock();
    await withServer(
      async ({ port }) => {
        const c = await LineClient.open(port);
        await c.expect(/Login id/);
        clock.advance(120_000);
        await c.expect(/\*\*\* Disconnected: login timed out\.\r\n/);
        await c.closed;
      },
      { clock },
    );
  });

  test('shutdown: every client is told and disconnected', async () => {
    const t = makeHub();
    const server = new TcpLinesServer({ hub: t.hub });
    const { port } = await server.listen(0, '127.0.0.1');
    const a = await LineClient.open(port);
    await a.login('a');
    const b = await LineClient.open(port);
    await b.expect(/Login id/);
    await Promise.all([server.close(), t.hub.close()]);
    await a.expect(/\*\*\* Disconnected: server shutting down\.\r\n/);
    await b.expect(/\*\*\* Disconnected: server shutting down\.\r\n/);
    await Promise.all([a.closed, b.closed]);
  });

  test('a room with a password asks for it (or an invite code) after the login id; three wrong ones close', () =>
    withServer(async ({ t, port }) => {
      const owner = await t.join('olga');
      await owner.member.input('/password open sesame');
      await t.hub.idle();
      const c = await LineClient.open(port);
      await c.expect(/Login id \(your nickname\): $/);
      c.send('tina\r\n');
      await c.expect(/Error: this room needs a password\r\nPassword or invite code for lobby: $/);
      c.send('wrong\r\n');
      await c.expect(/Error: wrong password for this room\r\nPassword or invite code for lobby: $/);
      c.send('open sesame\r\n');
      await c.expect(/\*\*\* You are tina in lobby\./);
      c.send('made it\r\n');
      await c.expect(/\[tina\] made it\r\n/);
      const d = await LineClient.open(port);
      await d.expect(/Login id \(your nickname\): $/);
      d.send('dora\r\n');
      for (const guess of ['a', 'b', 'c']) {
        await d.expect(/Password or invite code for lobby: $/);
        d.send(`${guess}\r\n`);
      }
      await d.expect(/\*\*\* Disconnected: too many wrong passwords\.\r\n/);
      await d.closed;
      c.socket.destroy();
    }));

  test('a locked room takes an invite code, once; /join ROOM CODE does the same from another room', () =>
    withServer(async ({ t, port }) => {
      const owner = await t.join('olga', { room: 'club' });
      await owner.member.input('/lock');
      await owner.member.input('/invite', 'i1');
      await owner.member.input('/invite', 'i2');
      const [first, second] = owner.conn.of('invite');
      const c = await LineClient.open(port);
      await c.login('tina');
      c.send('/join club\r\n');
      await c.expect(/Error: this room is locked: nobody new can join without an invite\r\n/);
      c.send(`/join club ${first!.code}\r\n`);
      await c.expect(/\*\*\* You are tina in club\./);
      const d = await LineClient.open(port);
      await d.login('dora');
      d.send(`/join club ${first!.code}\r\n`);
      await d.expect(/Error: this invite was used already or has expired: ask for a new one\r\n/);
      d.send(`/join club ${second!.code}\r\n`);
      await d.expect(/\*\*\* You are dora in club\./);
      c.socket.destroy();
      d.socket.destroy();
    }));

  test('limits per address: TCP connections count with the others; over the limit, a line and the door closes', async () => {
    const t = makeHub({ addressLimits: { connections: 1 } });
    const server = new TcpLinesServer({ hub: t.hub });
    const { port } = await server.listen(0, '127.0.0.1');
    try {
      const a = await LineClient.open(port);
      await a.expect(/Login id/);
      const b = await LineClient.open(port);
      await b.expect(/\*\*\* Sorry: too many connections from your address \(at most 1\); close some first\.\r\n/);
      await b.closed;
      a.socket.destroy();
      await a.closed;
      const c = await LineClient.open(port);
      await c.expect(/Login id/);
      c.socket.destroy();
    } finally {
      await server.close();
      await t.hub.close();
    }
  });
});
