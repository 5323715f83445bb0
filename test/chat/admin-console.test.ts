import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { AdminConsole } from '../../src/chat/admin-console.js';
import { makeHub } from './helpers.js';

function setup() {
  const t = makeHub();
  const input = new PassThrough();
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => {
    written += chunk.toString('utf8');
  });
  const admin = new AdminConsole({ hub: t.hub, input, output });
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

  test('/help, and unknown commands', async () => {
    const { run } = setup();
    const help = await run('/help');
    for (const usage of ['/rooms', '/say ROOM TEXT', '/kick ROOM NICK', '/help']) assert.ok(help.includes(usage), usage);
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
