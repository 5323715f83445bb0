import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { AdminConsole } from '../../src/chat/admin-console.js';
import { makeHub } from './helpers.js';

function setup(options: { activity?: boolean } = {}) {
  const t = makeHub();
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => {
    written += chunk.toString('utf8');
  });
  const admin = new AdminConsole({ hub: t.hub, input, output, ...options });
  /** Handles lines one by one and returns what the console wrote meanwhile. */
  const run = async (...lines: string[]): Promise<string> => {
    written = '';
    for (const line of lines) await admin.handle(line);
    return written;
  };
  return { t, input, admin, run, output: () => written };
}

describe('admin console', () => {
  test('a plain line goes to every room from Administrator', async () => {
    const { t, run } = setup();
    const a = await t.join('a', { room: 'one' });
    const b = await t.join('b', { room: 'two' });
    assert.equal(await run('Server restarts at 18:00'), 'sent to 2 rooms\n');
    for (const m of [a, b]) {
      const line = m.conn.last('admin');
      assert.equal(line.nick, 'Administrator');
      assert.equal(line.text, 'Server restarts at 18:00');
    }
    assert.equal(await run('//slash first'), 'sent to 2 rooms\n');
    assert.equal(a.conn.last('admin').text, '/slash first');
  });

  test('reads lines from its input stream until it ends', async () => {
    const { t, input, admin, output } = setup();
    const a = await t.join('a');
    input.write('first line\r\nsecond ');
    input.end('line\n');
    await admin.done;
    assert.deepEqual(
      a.conn.of('admin').map((e) => e.text),
      ['first line', 'second line'],
    );
    assert.equal(output(), 'sent to 1 room\nsent to 1 room\n');
  });

  test('nobody to hear, and empty lines', async () => {
    const { run } = setup();
    assert.equal(await run('hello?'), 'not sent: no room has members\n');
    assert.equal(await run('', '   '), '');
  });

  test('/rooms lists rooms with member counts', async () => {
    const { t, run } = setup();
    assert.equal(await run('/rooms'), 'no room has members\n');
    await t.join('a', { room: 'kitchen' });
    const b = await t.join('b', { room: 'kitchen' });
    await t.join('c', { room: 'den' });
    b.conn.drop();
    await t.hub.idle();
    assert.equal(await run('/rooms'), 'den      1 member, last seq 1\nkitchen  2 members (1 away), last seq 2\n');
  });

  test('/say ROOM TEXT', async () => {
    const { t, run } = setup();
    const a = await t.join('a', { room: 'one' });
    const b = await t.join('b', { room: 'two' });
    assert.equal(await run('/say one only for you'), 'sent to one\n');
    assert.equal(a.conn.last('admin').text, 'only for you');
    assert.equal(b.conn.of('admin').length, 0);
    assert.equal(await run('/say one'), 'usage: /say ROOM TEXT\n');
    assert.equal(await run('/say ghost-town hi'), 'not sent: no room ghost-town with members\n');
    assert.equal(await run('/say bad/name hi'), 'no room bad/name\n');
  });

  test('/kick ROOM NICK, nicknames with spaces included', async () => {
    const { t, run } = setup();
    const stay = await t.join('stay');
    const mary = await t.join('Mary Ann');
    assert.equal(await run('/kick lobby mary ann'), 'Mary Ann was kicked\n');
    assert.equal(mary.conn.closed?.code, 1008);
    assert.equal(stay.conn.last('notice').reason, 'kicked');
    assert.equal(await run('/kick lobby nobody'), 'nobody called nobody in lobby\n');
    assert.equal(await run('/kick lobby'), 'usage: /kick ROOM NICK\n');
  });

  test('/who ROOM: the members of any room, with their roles and tripcodes', async () => {
    const { t, run } = setup();
    await t.join('alice', { room: 'den' });
    const bob = await t.join('bob#secret', { room: 'den' });
    assert.equal(await run('/who den'), `2 members in den: alice (owner), bob !${bob.conn.last('welcome').trip}\n`);
    assert.equal(await run('/who empty'), 'nobody in empty\n');
    assert.equal(await run('/who'), 'usage: /who ROOM\n');
  });

  test('moderation in any room, above every owner: /ban, /bans, /unban, /lock, /topic, /invite', async () => {
    const { t, run } = setup();
    const alice = await t.join('alice', { room: 'den', address: '203.0.113.1' });
    const bob = await t.join('bob', { room: 'den', address: '203.0.113.2' });
    assert.equal(await run('/ban den alice 1h'), 'alice is banned for 1h\n', 'even the owner');
    assert.equal(alice.conn.last('removed').text, 'You were banned from this room by Administrator for 1h.');
    assert.equal(bob.conn.last('notice').text, 'alice was banned by Administrator for 1h');
    assert.match(await run('/bans den'), /^1 ban in den:\n {2}\S+ {2}alice \(by address\), banned by Administrator, for 1h more\n$/);
    assert.equal(await run('/unban den alice'), 'the ban on alice is lifted\n');
    assert.equal(await run('/bans den'), 'no bans in den\n');
    assert.equal(await run('/lock den'), 'the room is locked\n');
    assert.equal((await t.connect({ room: 'den' }).member.join({ nick: 'newcomer' })).ok, false);
    assert.equal(await run('/topic den Maintenance tonight'), 'the topic is set\n');
    assert.equal(bob.conn.last('notice').text, 'Administrator set the topic: Maintenance tonight');
    assert.match(await run('/invite den'), /^Invite code for den \(lets one person in, once, until .+ UTC\): \S{22} \(link: \/r\/den#invite=\S{22}\)\n$/);
    assert.equal(await run('/ban bad/room x'), 'no room bad/room (room names are 1-64 letters or digits (of any script), "-" or "_", with no spaces; “/” is not allowed)\n');
    assert.equal(await run('/ban den'), 'usage: /ban ROOM NICK [DURATION]\n');
  });

  test('--console-log: the activity of the rooms this node serves, as it happens', async () => {
    const { t, output } = setup({ activity: true });
    const alice = await t.join('alice', { room: 'den' });
    await alice.member.input('hello\nworld', 'h');
    await alice.member.input('/me waves', 'w');
    await t.hub.broadcastAdmin('for everyone');
    await alice.member.input('/quit');
    await t.hub.idle();
    assert.deepEqual(output().split('\n').filter((l) => l.startsWith('[den]')), [
      '[den] alice joined',
      '[den] alice :: hello',
      '[den]   | world',
      '[den] * alice waves',
      '[den] *** Administrator :: for everyone',
      '[den] alice left',
    ]);
  });

  test('/help, and unknown commands', async () => {
    const { run } = setup();
    const help = await run('/help');
    for (const usage of ['/rooms', '/say ROOM TEXT', '/kick ROOM NICK', '/ban ROOM NICK [DURATION]', '/who ROOM', '/bans ROOM', '/help']) {
      assert.ok(help.includes(usage), usage);
    }
    assert.equal(await run('/shutdown'), 'unknown command /shutdown; /help lists the commands\n');
    assert.equal(await run('/constructor'), 'unknown command /constructor; /help lists the commands\n');
  });

  test('close() stops reading', async () => {
    const { t, input, admin } = setup();
    const a = await t.join('a');
    admin.close();
    await admin.done;
    input.write('too late\n');
    await t.hub.idle();
    assert.equal(a.conn.of('admin').length, 0);
  });
});
