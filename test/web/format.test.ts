import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  basePathFrom,
  checkDraft,
  codePointLength,
  dayKey,
  dayLabel,
  enterAction,
  formatTime,
  completionAt,
  editable,
  insertMention,
  isNearBottom,
  nameList,
  NICK_COLOURS,
  nickColour,
  parseHelp,
  shouldCollapse,
  snippet,
  statusShort,
  summarizePresence,
  typingText,
  isValidRoomName,
  normalizeRoomName,
  roomNameProblem,
  suggestRoomName,
  mentions,
  pageTitle,
  pendingText,
  roomPath,
  routeFor,
  socketUrl,
  sortMembers,
  statusText,
} from '../../web/format.js';
import { checkRoomName } from '../../src/chat/room-name.js';

describe('routes and URLs', () => {
  test('/ is the landing, /r/<name> a room, a bad name is reported with why', () => {
    assert.deepEqual(routeFor('/'), { page: 'landing' });
    assert.deepEqual(routeFor('/r/team-1_X'), { page: 'room', room: 'team-1_X' });
    assert.deepEqual(routeFor('/r/team/'), { page: 'room', room: 'team' });
    assert.deepEqual(routeFor('/r/%EC%9A%B0%EB%A6%AC%EB%B0%A9'), { page: 'room', room: '우리방' });
    assert.deepEqual(routeFor(`/r/${encodeURIComponent('우리방'.normalize('NFD'))}`), { page: 'room', room: '우리방' }, 'NFC');
    assert.deepEqual(routeFor('/r/no%20spaces'), { page: 'bad-room', name: 'no spaces', reason: 'A space (U+0020) cannot be part of a room name.' });
    assert.deepEqual(routeFor('/r/'), { page: 'bad-room', name: '', reason: 'A room name cannot be empty.' });
    assert.deepEqual(routeFor(`/r/${'a'.repeat(65)}`), { page: 'bad-room', name: 'a'.repeat(65), reason: 'A room name has at most 64 characters; this one has 65.' });
    assert.deepEqual(routeFor('/r/%E0%A4%A'), { page: 'bad-room', name: '%E0%A4%A', reason: 'The address is not valid (a broken “%” escape).' });
    assert.deepEqual(routeFor('/elsewhere'), { page: 'landing' });
  });

  test('room names follow the server rule (letters and digits of any script, "-", "_"), and agree with it', () => {
    for (const good of ['a', 'A-z_09', 'x'.repeat(64), '우리방', '東京2025', 'проект', 'हिन्दी', 'café']) assert.ok(isValidRoomName(good), good);
    for (const bad of ['', 'x'.repeat(65), 'a b', 'a/b', 'a.b', 'x{y}', 'Ａ', 'hello\u3164', '\u0301a', 'ok😀']) assert.ok(!isValidRoomName(bad), bad);
    assert.equal(roomNameProblem('Ａ'), '“Ａ” cannot be part of a room name: type “A” instead.');
    // The server's rule is the same but for mixed scripts, which only it checks.
    const corpus = ['a', 'lobby', '우리방', '우리 방', 'a.b', 'Ａ', 'ﬁle', 'x{y}', 'tab\t', '\u0301a', 'hello\u3164', 'a\u200bb', 'é'.normalize('NFD'), '가'.repeat(65), 'x²', '٣٤', 'pаypal', 'team우리'];
    for (const name of corpus) {
      const server = checkRoomName(name);
      const page = roomNameProblem(name) === null;
      if (server.ok) assert.ok(page, `the page refuses ${JSON.stringify(name)}, the server takes it`);
      else if (!/mix these scripts/.test(server.message)) assert.ok(!page, `the page takes ${JSON.stringify(name)}, the server refuses it: ${server.message}`);
      if (server.ok) assert.equal(normalizeRoomName(name), server.name);
    }
  });

  test('a valid name close to a bad one is offered', () => {
    assert.equal(suggestRoomName('bad room'), 'bad-room');
    assert.equal(suggestRoomName('  우리 방!! '), '우리-방');
    assert.equal(suggestRoomName('Ａｂｃ'), 'Abc');
    assert.equal(suggestRoomName('!!!'), null);
    assert.equal(suggestRoomName(''), null);
    assert.equal(Array.from(suggestRoomName('가 '.repeat(50)) ?? '').length, 64);
  });

  test('the WebSocket URL matches the page: ws for http, wss for https, same host and port', () => {
    assert.equal(socketUrl({ protocol: 'http:', host: 'localhost:8080' }, 'team'), 'ws://localhost:8080/r/team');
    assert.equal(socketUrl({ protocol: 'https:', host: 'chat.example' }, 'a_b-C'), 'wss://chat.example/r/a_b-C');
  });

  test('under a base path: routes, room paths and WebSocket URLs carry the prefix', () => {
    assert.equal(basePathFrom('/chat'), '/chat');
    assert.equal(basePathFrom('/apps/chat'), '/apps/chat');
    for (const bad of [null, undefined, '', '/', 'chat', '/chat/', '//evil.example', '/a b', 'javascript:x']) assert.equal(basePathFrom(bad), '', String(bad));
    assert.deepEqual(routeFor('/chat/', '/chat'), { page: 'landing' });
    assert.deepEqual(routeFor('/chat', '/chat'), { page: 'landing' });
    assert.deepEqual(routeFor('/chat/r/team', '/chat'), { page: 'room', room: 'team' });
    assert.deepEqual(routeFor('/r/team', '/chat'), { page: 'landing' });
    assert.equal(roomPath('team', '/chat'), '/chat/r/team');
    assert.equal(socketUrl({ protocol: 'https:', host: 'example.org' }, 'team', '/chat'), 'wss://example.org/chat/r/team');
  });
});

describe('composer', () => {
  test('Enter sends; Shift+Enter, Alt+Enter and IME composition do not', () => {
    assert.equal(enterAction({ key: 'Enter', shiftKey: false }), 'send');
    assert.equal(enterAction({ key: 'Enter', shiftKey: true }), null);
    assert.equal(enterAction({ key: 'Enter', shiftKey: false, altKey: true }), null);
    assert.equal(enterAction({ key: 'Enter', shiftKey: false, isComposing: true }), null);
    assert.equal(enterAction({ key: 'Enter', shiftKey: false, keyCode: 229 }), null);
    assert.equal(enterAction({ key: 'a', shiftKey: false }), null);
  });

  test('drafts: blank is not sent, too long is refused in code points', () => {
    assert.deepEqual(checkDraft('  \n\t', 10), { ok: false, reason: 'empty' });
    assert.deepEqual(checkDraft('hi', 10), { ok: true });
    assert.deepEqual(checkDraft('😀'.repeat(10), 10), { ok: true }, '10 code points, 20 UTF-16 units');
    assert.deepEqual(checkDraft('😀'.repeat(11), 10), { ok: false, reason: 'too-long', length: 11 });
    assert.deepEqual(checkDraft('x'.repeat(5000), undefined), { ok: true }, 'no limit known before the welcome');
    assert.equal(codePointLength('한국어😀'), 4);
  });

  test('own pending lines read like the entries they become', () => {
    assert.deepEqual(pendingText('/me waves'), { action: true, text: 'waves' });
    assert.deepEqual(pendingText('/ME waves'), { action: true, text: 'waves' });
    assert.deepEqual(pendingText('//slash'), { action: false, text: '/slash' });
    assert.deepEqual(pendingText('hello'), { action: false, text: 'hello' });
  });
});

describe('nickname colours', () => {
  test('a colour of the palette, stable, the same for one person whatever the case or width', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 24 }), (nick) => {
        const colour = nickColour(nick);
        assert.ok(Number.isInteger(colour) && colour >= 0 && colour < NICK_COLOURS);
        assert.equal(nickColour(nick), colour);
      }),
    );
    assert.ok(NICK_COLOURS >= 12);
    assert.equal(nickColour('Alice'), nickColour('alice'));
    assert.equal(nickColour('Ａｌｉｃｅ'), nickColour('alice'), 'full-width is the same person');
    assert.equal(nickColour('MINSU'), nickColour('minsu'));
  });

  test('the names of the report get different colours: 민수, 철수, bob, MINSU', () => {
    const colours = ['민수', '철수', 'bob', 'MINSU'].map(nickColour);
    assert.equal(new Set(colours).size, 4, colours.join(','));
  });

  test('similar names spread over the whole palette, evenly', () => {
    const families = [
      Array.from({ length: 600 }, (_, i) => `user${i}`),
      Array.from({ length: 600 }, (_, i) => `민${String.fromCodePoint(0xac00 + i)}`),
      Array.from({ length: 600 }, (_, i) => `${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${'aeiou'[Math.floor(i / 26) % 5]}n${Math.floor(i / 130)}`),
    ];
    for (const names of families) {
      const counts = new Array<number>(NICK_COLOURS).fill(0);
      for (const name of names) counts[nickColour(name)] = (counts[nickColour(name)] ?? 0) + 1;
      const mean = names.length / NICK_COLOURS;
      for (const count of counts) assert.ok(count > mean * 0.6 && count < mean * 1.4, `${names[0]}…: ${counts.join(' ')}`);
    }
    // Names one letter apart rarely share a colour.
    let same = 0;
    for (let i = 0; i < 500; i++) if (nickColour(`user${i}`) === nickColour(`user${i + 1}`)) same++;
    assert.ok(same < 500 / NICK_COLOURS * 1.6, `${same} neighbours share a colour`);
  });
});

describe('scrolling and the title', () => {
  test('near the bottom within the slack counts as at the bottom', () => {
    assert.ok(isNearBottom({ scrollTop: 500, clientHeight: 500, scrollHeight: 1000 }));
    assert.ok(isNearBottom({ scrollTop: 460, clientHeight: 500, scrollHeight: 1000 }));
    assert.ok(!isNearBottom({ scrollTop: 400, clientHeight: 500, scrollHeight: 1000 }));
    assert.ok(isNearBottom({ scrollTop: 0, clientHeight: 500, scrollHeight: 300 }), 'no overflow');
    assert.ok(!isNearBottom({ scrollTop: 490, clientHeight: 500, scrollHeight: 1000 }, 0));
  });

  test('the unread count leads the title', () => {
    assert.equal(pageTitle('team', 0), 'team · wschat');
    assert.equal(pageTitle('team', 3), '(3) team · wschat');
    assert.equal(pageTitle('team', 250), '(99+) team · wschat');
    assert.equal(pageTitle(null, 0), 'wschat');
  });

  test('the status text', () => {
    assert.equal(statusText('idle', null, 0), 'Not joined yet', 'the nickname dialog waits for the user, not the network');
    assert.equal(statusText('waiting', null, 0), 'Waiting for you');
    assert.equal(statusText('connecting', null, 0), 'Connecting…');
    assert.equal(statusText('online', null, 0), 'Online');
    assert.equal(statusText('offline', null, 0), 'Offline');
    assert.equal(statusText('offline', 12_300, 1000), 'Offline · retrying in 12 s');
    assert.equal(statusText('offline', 1000, 1000), 'Offline · retrying…');
    assert.equal(statusShort('offline', 12_300, 1000), 'Retry 12 s');
    assert.equal(statusShort('offline', null, 0), 'Offline');
    assert.equal(statusShort('online', null, 0), 'Online');
  });
});

describe('time', () => {
  const utc = { timeZone: 'UTC', locale: 'en-GB' };
  const ts = Date.UTC(2024, 2, 5, 14, 7, 30);

  test('times and days in a given zone', () => {
    assert.equal(formatTime(ts, utc), '14:07');
    assert.equal(dayKey(ts, utc), '2024-03-05');
    assert.equal(dayKey(ts, { timeZone: 'Asia/Seoul' }), '2024-03-05');
    assert.equal(dayKey(Date.UTC(2024, 2, 5, 16), { timeZone: 'Asia/Seoul' }), '2024-03-06');
  });

  test('day labels: Today, Yesterday, else the date (with the year only when it differs)', () => {
    assert.equal(dayLabel(ts, ts + 3_600_000, utc), 'Today');
    assert.equal(dayLabel(ts, ts + 86_400_000, utc), 'Yesterday');
    // The exact punctuation is ICU's to choose; the parts are ours.
    const thisYear = dayLabel(ts, ts + 3 * 86_400_000, utc);
    assert.match(thisYear, /^Tuesday,? 5 March$/);
    assert.match(dayLabel(ts, Date.UTC(2025, 0, 2), utc), /^Tuesday,? 5 March,? 2024$/);
  });

  test('Yesterday is right next to a daylight-saving change', () => {
    // Europe/Berlin springs forward on 2024-03-31: that day has 23 hours.
    const berlin = { timeZone: 'Europe/Berlin', locale: 'en-GB' };
    const saturdayLate = Date.UTC(2024, 2, 30, 22, 30); // Sat 23:30 in Berlin
    const mondayEarly = Date.UTC(2024, 2, 31, 22, 15); // Mon 00:15 CEST
    assert.equal(dayKey(mondayEarly, berlin), '2024-04-01');
    // 24 hours before is Saturday 23:15 in Berlin: subtracting a day's worth of ms would say "Yesterday".
    assert.match(dayLabel(saturdayLate, mondayEarly, berlin), /^Saturday,? 30 March$/);
    assert.equal(dayLabel(Date.UTC(2024, 2, 31, 12), mondayEarly, berlin), 'Yesterday');
  });
});

describe('message text', () => {
  test('mentions match whole words, case-insensitively', () => {
    assert.ok(mentions('hey Alice, look', 'alice'));
    assert.ok(mentions('민수 안녕', '민수'));
    assert.ok(!mentions('malice', 'alice'));
    assert.ok(!mentions('alices', 'alice'));
    assert.ok(mentions('malice and alice', 'alice'));
    assert.ok(!mentions('anything', ''));
  });
});

test('members are sorted case-insensitively and numerically', () => {
  const sorted = sortMembers([{ nick: 'bob' }, { nick: 'Alice' }, { nick: 'user10' }, { nick: 'user9' }, { nick: 'alan' }], 'en');
  assert.deepEqual(
    sorted.map((m) => m.nick),
    ['alan', 'Alice', 'bob', 'user9', 'user10'],
  );
});

describe('long messages, replies, edits', () => {
  test('collapsed past 12 lines or 800 characters', () => {
    assert.equal(shouldCollapse('short'), false);
    assert.equal(shouldCollapse('x\n'.repeat(11)), false, '12 lines');
    assert.equal(shouldCollapse('x\n'.repeat(12)), true, '13 lines');
    assert.equal(shouldCollapse('x'.repeat(800)), false);
    assert.equal(shouldCollapse('x'.repeat(801)), true);
    assert.equal(shouldCollapse('😀'.repeat(500)), false, '500 characters, 1000 UTF-16 units');
    assert.equal(shouldCollapse('x'.repeat(4000)), true);
  });

  test('a snippet is one line, cut with an ellipsis', () => {
    assert.equal(snippet('a\n  b\tc'), 'a b c');
    assert.equal(snippet('x'.repeat(100), 10), `${'x'.repeat(9)}…`);
    assert.equal(snippet('한국어😀'.repeat(30), 5), '한국어😀…');
  });

  test('editable for 15 minutes', () => {
    assert.ok(editable(0, 15 * 60_000 - 1));
    assert.ok(!editable(0, 15 * 60_000));
  });
});

describe('/help, joins and leaves, typing', () => {
  test('the /help list becomes rows; anything else is not a list', () => {
    const text = ['Commands:', '  /nick NEW        change nickname', '  /help [COMMAND]  list the commands', 'A line starting with // sends a message starting with /.'].join('\n');
    assert.deepEqual(parseHelp(text), {
      title: 'Commands:',
      rows: [
        { usage: '/nick NEW', help: 'change nickname' },
        { usage: '/help [COMMAND]', help: 'list the commands' },
      ],
      notes: ['A line starting with // sends a message starting with /.'],
    });
    assert.equal(parseHelp('2 members in lobby: alice, bob'), null);
    assert.equal(parseHelp('/nick NEW: change nickname'), null);
    assert.equal(parseHelp('Commands:'), null);
  });

  test('a run of joins and leaves in one sentence, each person once', () => {
    assert.equal(nameList(['a']), 'a');
    assert.equal(nameList(['a', 'b']), 'a and b');
    assert.equal(nameList(['a', 'b', 'c']), 'a, b and c');
    assert.equal(nameList(['a', 'b', 'c', 'd']), 'a, b, c and 1 other');
    assert.equal(nameList(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 others');
    assert.equal(
      summarizePresence([
        { nick: 'alice', event: 'join' },
        { nick: 'bob', event: 'join' },
        { nick: 'carol', event: 'leave' },
        { nick: 'dave', event: 'join' },
        { nick: 'dave', event: 'leave' },
        { nick: 'erin', event: 'leave' },
        { nick: 'erin', event: 'join' },
      ]),
      'alice and bob joined; carol left; dave joined and left; erin left and came back',
    );
    const many = Array.from({ length: 6 }, (_, i) => ({ nick: `u${i}`, event: 'join' as const }));
    assert.equal(summarizePresence(many), 'u0, u1, u2 and 3 others joined');
  });

  test('who is typing', () => {
    assert.equal(typingText([]), '');
    assert.equal(typingText(['alice']), 'alice is typing…');
    assert.equal(typingText(['alice', '민수']), 'alice and 민수 are typing…');
    assert.equal(typingText(['a', 'b', 'c']), 'a, b and c are typing…');
    assert.equal(typingText(['a', 'b', 'c', 'd']), 'Several people are typing…');
  });
});

describe('nickname completion', () => {
  const nicks = ['alice', 'Albert', '민수', '민지', 'bob', 'me'];
  test('after "@" or a word: the members whose name starts with it, not ourselves', () => {
    assert.deepEqual(completionAt('hi @al', 6, nicks, 'me'), { start: 3, prefix: 'al', at: true, matches: ['Albert', 'alice'] });
    assert.deepEqual(completionAt('@', 1, nicks, 'me')?.matches, ['Albert', 'alice', 'bob', '민수', '민지']);
    assert.deepEqual(completionAt('민', 1, nicks, 'me'), { start: 0, prefix: '민', at: false, matches: ['민수', '민지'] });
    assert.deepEqual(completionAt('hey m', 5, nicks, 'me')?.matches, [], 'not ourselves');
    assert.equal(completionAt('hello ', 6, nicks, 'me'), null, 'no word at the caret');
    assert.deepEqual(completionAt('@bo and more', 3, nicks, 'me')?.matches, ['bob'], 'up to the caret');
  });

  test('a mention replaces the word, with one space after it', () => {
    assert.deepEqual(insertMention('hi @al', 3, 6, 'alice'), { value: 'hi @alice ', caret: 10 });
    assert.deepEqual(insertMention('@bo and more', 0, 3, 'bob'), { value: '@bob and more', caret: 4 });
    assert.deepEqual(insertMention('', 0, 0, '민수'), { value: '@민수 ', caret: 4 });
  });
});
