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
  isNearBottom,
  isValidRoomName,
  linkify,
  normalizeRoomName,
  roomNameProblem,
  suggestRoomName,
  mentions,
  nickHue,
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
  test('a hue is stable, in 0-359, and ignores case', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 24 }), (nick) => {
        const hue = nickHue(nick);
        assert.ok(Number.isInteger(hue) && hue >= 0 && hue < 360);
        assert.equal(nickHue(nick), hue);
      }),
    );
    assert.equal(nickHue('Alice'), nickHue('alice'));
    assert.equal(nickHue('Ａｌｉｃｅ'), nickHue('alice'), 'full-width is the same person');
  });

  test('different nicknames spread over the colour wheel', () => {
    const hues = new Set(['alice', 'bob', 'carol', 'dave', 'erin', 'frank', '민수', '지영', 'ann', 'anne'].map(nickHue));
    assert.ok(hues.size >= 9, `${hues.size} distinct hues`);
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
    assert.equal(statusText('connecting', null, 0), 'Connecting…');
    assert.equal(statusText('online', null, 0), 'Online');
    assert.equal(statusText('offline', null, 0), 'Offline');
    assert.equal(statusText('offline', 12_300, 1000), 'Offline · retrying in 12 s');
    assert.equal(statusText('offline', 1000, 1000), 'Offline · retrying…');
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
  test('http(s) URLs become links; the rest stays text', () => {
    assert.deepEqual(linkify('see https://example.com/a?b=1 now'), [
      { text: 'see ' },
      { text: 'https://example.com/a?b=1', href: 'https://example.com/a?b=1' },
      { text: ' now' },
    ]);
    assert.deepEqual(linkify('plain'), [{ text: 'plain' }]);
    assert.deepEqual(linkify(''), []);
  });

  test('trailing punctuation and unbalanced brackets stay outside the link', () => {
    assert.deepEqual(linkify('(http://x.test/a).'), [
      { text: '(' },
      { text: 'http://x.test/a', href: 'http://x.test/a' },
      { text: ').' },
    ]);
    assert.deepEqual(linkify('http://w.test/A_(b)'), [{ text: 'http://w.test/A_(b)', href: 'http://w.test/A_(b)' }]);
  });

  test('only http and https: no javascript:, data: or markup', () => {
    for (const text of ['javascript:alert(1)', 'data:text/html,<script>x</script>', '<a href="http://x">']) {
      for (const segment of linkify(text)) {
        if (segment.href !== undefined) assert.match(segment.href, /^https?:\/\//, text);
      }
    }
    assert.deepEqual(
      linkify('<img src=x onerror=alert(1)>').map((s) => s.href),
      [undefined],
    );
  });

  test('linkify never loses or reorders text', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string(), fc.constantFrom('http://a.test/', 'https://b.test/x)', ' ', '.'))), (parts) => {
        const text = parts.join('');
        assert.equal(
          linkify(text)
            .map((s) => s.text)
            .join(''),
          text,
        );
      }),
    );
  });

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
