import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { help } from '../../../src/chat/commands/help.js';
import { COMMANDS, findCommand, parseCommandLine } from '../../../src/chat/commands/index.js';
import { makeHub } from '../helpers.js';

describe('/help', () => {
  test('declares itself and needs nothing', () => {
    assert.equal(help.name, 'help');
    assert.equal(help.requires, 'nothing');
  });

  test('lists every command available to this member', async () => {
    const t = makeHub();
    const ws = await t.join('ws');
    await ws.member.input('/help');
    const text = ws.conn.last('info').text;
    for (const usage of ['/nick NEW', '/me ACTION', '/who', '/help [COMMAND]', '/quit']) assert.ok(text.includes(usage), usage);
    assert.ok(!text.includes('/join'), 'not offered where rooms cannot be switched');
    const tcp = await t.join('tcp', { canSwitchRooms: true });
    await tcp.member.input('/help');
    assert.ok(tcp.conn.last('info').text.includes('/join ROOM'));
  });

  test('explains one command; an unknown one is an error', async () => {
    const t = makeHub();
    const a = await t.join('a');
    await a.member.input('/help nick');
    assert.equal(a.conn.last('info').text, '/nick NEW: change your nickname');
    await a.member.input('/help /ME');
    assert.match(a.conn.last('info').text, /^\/me ACTION:/);
    await a.member.input('/help fly', 'f');
    assert.deepEqual(a.conn.last('error'), {
      type: 'error',
      code: 'UNKNOWN_COMMAND',
      message: 'no command /fly; type /help for the list',
      id: 'f',
    });
  });
});

describe('command registry', () => {
  test('each command module has a unique lower-case name, usage and help', () => {
    const names = COMMANDS.map((c) => c.name);
    assert.equal(new Set(names).size, names.length);
    for (const c of COMMANDS) {
      assert.match(c.name, /^[a-z]+$/);
      assert.ok(c.usage.startsWith(`/${c.name}`));
      assert.ok(c.help.length > 0);
    }
    assert.equal(findCommand('NICK')?.name, 'nick');
    assert.equal(findCommand('nope'), undefined);
  });

  test('parseCommandLine', () => {
    assert.deepEqual(parseCommandLine('/nick  Bob Smith '), { name: 'nick', args: 'Bob Smith' });
    assert.deepEqual(parseCommandLine('/ME waves\nand more'), { name: 'me', args: 'waves\nand more' });
    assert.deepEqual(parseCommandLine('/'), { name: '', args: '' });
    assert.equal(parseCommandLine('//not a command'), null);
    assert.equal(parseCommandLine('hello /nick'), null);
    assert.equal(parseCommandLine(' /nick x'), null);
  });
});
