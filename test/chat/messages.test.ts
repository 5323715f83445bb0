import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type EntryEvent,
  entryToEvent,
  ErrorCode,
  formatPlain,
  parseClientMessage,
  type ServerEvent,
} from '../../src/chat/messages.js';
import type { StoredEntry } from '../../src/chat/store/store.js';

function rejects(data: string, code: ErrorCode, pattern?: RegExp): { code: string; message: string; id?: string } {
  const result = parseClientMessage(data);
  assert.equal(result.ok, false, `expected ${data} to be refused`);
  assert.ok(!result.ok);
  assert.equal(result.error.code, code, `${data}: ${result.error.message}`);
  if (pattern) assert.match(result.error.message, pattern);
  return result.error;
}

describe('parseClientMessage: accepted messages', () => {
  test('join with nick only, with resumeToken and lastSeq', () => {
    assert.deepEqual(parseClientMessage('{"type":"join","nick":"alice"}'), {
      ok: true,
      message: { type: 'join', nick: 'alice' },
    });
    const full = { type: 'join', nick: '김철수', resumeToken: 'AbCdEfGhIjKlMnOpQrStUvWx', lastSeq: 0 };
    assert.deepEqual(parseClientMessage(JSON.stringify(full)), { ok: true, message: full });
  });

  test('message and history', () => {
    const message = { type: 'message', id: 'c-1.2:3', text: 'hi' };
    assert.deepEqual(parseClientMessage(JSON.stringify(message)), { ok: true, message });
    const history = { type: 'history', id: 'h1', afterSeq: 41, limit: 100 };
    assert.deepEqual(parseClientMessage(JSON.stringify(history)), { ok: true, message: history });
  });

  test('a reply, edit, delete, typing and hold', () => {
    for (const message of [
      { type: 'message', id: 'r1', text: 'yes', replyTo: 12 },
      { type: 'edit', id: 'e1', seq: 12, text: 'fixed' },
      { type: 'delete', id: 'd1', seq: 12 },
      { type: 'typing' },
      { type: 'hold' },
    ]) {
      assert.deepEqual(parseClientMessage(JSON.stringify(message)), { ok: true, message });
    }
  });

  test('their fields are checked strictly', () => {
    rejects('{"type":"message","id":"r1","text":"x","replyTo":0}', ErrorCode.BAD_FIELD, /replyTo/);
    rejects('{"type":"message","id":"r1","text":"x","replyTo":"12"}', ErrorCode.BAD_FIELD, /replyTo/);
    rejects('{"type":"edit","id":"e1","seq":12}', ErrorCode.BAD_FIELD, /missing field "text"/);
    rejects('{"type":"edit","id":"e1","seq":1.5,"text":"x"}', ErrorCode.BAD_FIELD, /seq/);
    rejects('{"type":"delete","seq":3}', ErrorCode.BAD_FIELD, /missing field "id"/);
    rejects('{"type":"typing","nick":"x"}', ErrorCode.BAD_FIELD, /unexpected field "nick"/);
    rejects('{"type":"hold","ms":99999}', ErrorCode.BAD_FIELD, /unexpected field "ms"/);
  });
});

describe('parseClientMessage: refused messages', () => {
  test('malformed JSON', () => {
    for (const data of ['', '{', 'not json', '{"type":"join",}', '\u0000']) rejects(data, ErrorCode.BAD_JSON);
  });

  test('not an object, or no string type', () => {
    for (const data of ['[]', 'null', '42', '"join"', 'true']) rejects(data, ErrorCode.BAD_MESSAGE, /object/);
    rejects('{}', ErrorCode.BAD_MESSAGE, /type/);
    rejects('{"type":7}', ErrorCode.BAD_MESSAGE, /type/);
  });

  test('unknown type, including inherited names', () => {
    rejects('{"type":"shout","text":"x"}', ErrorCode.UNKNOWN_TYPE, /"shout"/);
    rejects('{"type":"constructor"}', ErrorCode.UNKNOWN_TYPE);
    rejects('{"type":"__proto__"}', ErrorCode.UNKNOWN_TYPE);
  });

  test('missing fields', () => {
    rejects('{"type":"join"}', ErrorCode.BAD_FIELD, /missing field "nick"/);
    rejects('{"type":"message","text":"x"}', ErrorCode.BAD_FIELD, /missing field "id"/);
    rejects('{"type":"history","id":"h"}', ErrorCode.BAD_FIELD, /missing field "afterSeq"/);
  });

  test('extra fields, including __proto__', () => {
    rejects('{"type":"join","nick":"a","room":"x"}', ErrorCode.BAD_FIELD, /unexpected field "room"/);
    rejects('{"type":"message","id":"1","text":"x","__proto__":{"admin":true}}', ErrorCode.BAD_FIELD, /__proto__/);
  });

  test('wrong types and values', () => {
    rejects('{"type":"join","nick":42}', ErrorCode.BAD_FIELD, /"nick" must be a string/);
    rejects('{"type":"join","nick":"a","lastSeq":-1}', ErrorCode.BAD_FIELD, /lastSeq/);
    rejects('{"type":"join","nick":"a","lastSeq":1.5}', ErrorCode.BAD_FIELD, /lastSeq/);
    rejects('{"type":"join","nick":"a","lastSeq":"3"}', ErrorCode.BAD_FIELD, /lastSeq/);
    rejects('{"type":"join","nick":"a","lastSeq":1e300}', ErrorCode.BAD_FIELD, /lastSeq/);
    rejects('{"type":"join","nick":"a","resumeToken":"short"}', ErrorCode.BAD_FIELD, /resumeToken/);
    rejects('{"type":"message","id":"","text":"x"}', ErrorCode.BAD_FIELD, /"id"/);
    rejects(`{"type":"message","id":"${'x'.repeat(65)}","text":"x"}`, ErrorCode.BAD_FIELD, /"id"/);
    rejects('{"type":"message","id":"a b","text":"x"}', ErrorCode.BAD_FIELD, /"id"/);
    rejects('{"type":"message","id":"1","text":null}', ErrorCode.BAD_FIELD, /"text"/);
    rejects('{"type":"history","id":"1","afterSeq":0,"limit":0}', ErrorCode.BAD_FIELD, /limit/);
  });

  test('errors carry the id of the request when it had a valid one', () => {
    assert.equal(rejects('{"type":"message","id":"m7","text":5}', ErrorCode.BAD_FIELD).id, 'm7');
    assert.equal(rejects('{"type":"nope","id":"m8"}', ErrorCode.UNKNOWN_TYPE).id, 'm8');
    assert.equal(rejects('{"type":"nope","id":"bad id"}', ErrorCode.UNKNOWN_TYPE).id, undefined);
  });

  test('peer text echoed in errors is bounded and has no control characters', () => {
    const error = rejects(JSON.stringify({ type: `x\u001b[2J${'y'.repeat(1000)}` }), ErrorCode.UNKNOWN_TYPE);
    assert.ok(error.message.length < 80);
    assert.ok(!error.message.includes('\u001b'));
  });

  test('never throws, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (data) => {
        const result = parseClientMessage(data);
        assert.equal(typeof result.ok, 'boolean');
        if (!result.ok) assert.ok(Object.values(ErrorCode).includes(result.error.code));
      }),
      { numRuns: 2000 },
    );
  });

  test('every accepted message has exactly the fields of its type', () => {
    const allowed: Record<string, string[]> = {
      join: ['type', 'nick', 'resumeToken', 'lastSeq'],
      message: ['type', 'id', 'text', 'replyTo'],
      history: ['type', 'id', 'afterSeq', 'limit'],
      edit: ['type', 'id', 'seq', 'text'],
      delete: ['type', 'id', 'seq'],
      typing: ['type'],
      hold: ['type'],
    };
    const arbitrary = fc.record(
      {
        type: fc.constantFrom('join', 'message', 'history', 'edit', 'delete', 'typing', 'hold', 'other'),
        seq: fc.oneof(fc.nat(), fc.string()),
        replyTo: fc.oneof(fc.nat(), fc.string()),
        nick: fc.oneof(fc.string(), fc.integer()),
        id: fc.oneof(fc.string(), fc.stringMatching(/^[a-z0-9]{1,8}$/)),
        text: fc.string(),
        lastSeq: fc.oneof(fc.integer(), fc.double()),
        afterSeq: fc.nat(),
        extra: fc.string(),
      },
      { requiredKeys: ['type'] },
    );
    fc.assert(
      fc.property(arbitrary, (value) => {
        const result = parseClientMessage(JSON.stringify(value));
        if (result.ok) {
          for (const key of Object.keys(result.message)) assert.ok(allowed[result.message.type]?.includes(key), key);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

const base = { room: 'r', ts: 1000, clientId: null, trip: null, author: null, ref: null, refNick: null, edited: null } as const;
const entry = (e: Partial<StoredEntry>): StoredEntry => ({ ...base, seq: 1, kind: 'message', nick: 'alice', text: '', ...e });

describe('entryToEvent', () => {
  test('maps each stored kind to its wire event', () => {
    assert.deepEqual(entryToEvent(entry({ kind: 'message', text: 'hi' })), {
      type: 'message',
      seq: 1,
      ts: 1000,
      nick: 'alice',
      text: 'hi',
    });
    assert.equal(entryToEvent(entry({ kind: 'action', text: 'waves' })).type, 'action');
    assert.deepEqual(entryToEvent(entry({ kind: 'admin', nick: 'Administrator', text: 'reboot at 5' })), {
      type: 'admin',
      seq: 1,
      ts: 1000,
      nick: 'Administrator',
      text: 'reboot at 5',
    });
    assert.deepEqual(entryToEvent(entry({ kind: 'join' })), {
      type: 'notice',
      seq: 1,
      ts: 1000,
      event: 'join',
      nick: 'alice',
      text: 'alice joined',
    });
    assert.deepEqual(entryToEvent(entry({ kind: 'rename', nick: 'bob', text: 'alice' })), {
      type: 'notice',
      seq: 1,
      ts: 1000,
      event: 'rename',
      nick: 'bob',
      from: 'alice',
      text: 'alice is now known as bob',
    });
    const leave = entryToEvent(entry({ kind: 'leave', text: 'lost' }));
    assert.equal(leave.type === 'notice' && leave.reason, 'lost');
    assert.equal(leave.type === 'notice' && leave.text, 'alice left (connection lost)');
    assert.equal((entryToEvent(entry({ kind: 'leave', text: 'kicked' })) as { text: string }).text, 'alice was removed by the administrator');
  });
});

describe('replies and edits on the wire', () => {
  test('a reply carries the seq and the nickname it answers; an edited entry its time; an edit entry what it changed', () => {
    assert.deepEqual(entryToEvent(entry({ kind: 'message', text: 'yes', ref: 7, refNick: 'bob', author: 'seat' })), {
      type: 'message',
      seq: 1,
      ts: 1000,
      nick: 'alice',
      text: 'yes',
      replyTo: 7,
      replyNick: 'bob',
    });
    assert.deepEqual(entryToEvent(entry({ kind: 'action', text: 'nods', edited: 5000 })), {
      type: 'action',
      seq: 1,
      ts: 1000,
      nick: 'alice',
      text: 'nods',
      edited: 5000,
    });
    assert.deepEqual(entryToEvent(entry({ kind: 'edit', seq: 9, text: 'fixed', ref: 7, trip: 'Ab3dEf12' })), {
      type: 'edit',
      seq: 9,
      ts: 1000,
      nick: 'alice',
      trip: 'Ab3dEf12',
      edits: 7,
      text: 'fixed',
    });
  });

  test('the text doors: "(replying to bob)", "(edited)", "alice edited a message: ..." with continuation lines; typing is silent', () => {
    assert.deepEqual(formatPlain({ type: 'message', seq: 3, ts: 0, nick: 'alice', text: 'yes', replyTo: 2, replyNick: 'bob' }), [
      'alice :: (replying to bob) yes',
    ]);
    assert.deepEqual(formatPlain({ type: 'action', seq: 3, ts: 0, nick: 'alice', text: 'nods', replyTo: 2, replyNick: 'bob', edited: 1 }), [
      '* alice (replying to bob) nods (edited)',
    ]);
    assert.deepEqual(formatPlain({ type: 'message', seq: 3, ts: 0, nick: 'alice', text: 'one\ntwo', edited: 1 }), ['alice :: one\n  | two (edited)']);
    assert.deepEqual(formatPlain({ type: 'edit', seq: 4, ts: 0, nick: 'alice', edits: 3, text: 'fixed\n*** Administrator :: forged' }), [
      'alice edited a message: fixed\n  | *** Administrator :: forged',
    ]);
    assert.deepEqual(formatPlain({ type: 'edit', seq: 4, ts: 0, nick: 'alice', trip: 'T', edits: 3, text: '' }), ['alice !T edited a message']);
    assert.deepEqual(formatPlain({ type: 'typing', nick: 'alice' }), []);
  });
});

describe('formatPlain', () => {
  const message: EntryEvent = { type: 'message', seq: 3, ts: 0, nick: 'alice', text: 'hello' };

  test('chat lines as "nick :: text", notices as plain lines, admin marked', () => {
    assert.deepEqual(formatPlain(message), ['alice :: hello']);
    assert.deepEqual(formatPlain({ type: 'action', seq: 4, ts: 0, nick: 'alice', text: 'waves' }), ['* alice waves']);
    assert.deepEqual(formatPlain({ type: 'notice', seq: 5, ts: 0, event: 'join', nick: 'bob', text: 'bob joined' }), [
      'bob joined',
    ]);
    assert.deepEqual(formatPlain({ type: 'admin', seq: 6, ts: 0, nick: 'Administrator', text: 'hi all' }), [
      '*** Administrator :: hi all',
    ]);
  });

  test('welcome: history lines then who you are; acks and member lists are silent', () => {
    const welcome: ServerEvent = {
      type: 'welcome',
      room: 'lobby',
      nick: '127.0.0.1:5000',
      resumeToken: 'x'.repeat(32),
      epoch: 'e',
      resumed: false,
      reset: false,
      members: [
        { nick: 'alice', away: false },
        { nick: '127.0.0.1:5000', away: false },
      ],
      history: [message],
      lastSeq: 3,
      more: false,
      maxMessage: 4000,
    };
    const lines = formatPlain(welcome);
    assert.equal(lines[0], 'alice :: hello');
    assert.match(lines[1] ?? '', /^You are 127\.0\.0\.1:5000 in lobby\. Also here: alice\./);
    assert.deepEqual(formatPlain({ type: 'ack', id: '1', seq: 2 }), []);
    assert.deepEqual(formatPlain({ type: 'members', members: [] }), []);
    assert.deepEqual(formatPlain({ type: 'error', code: 'NICK_TAKEN', message: 'taken' }), ['Error: taken']);
    assert.deepEqual(formatPlain({ type: 'renamed', nick: 'bob', from: 'x' }), ['You are now known as bob']);
    assert.deepEqual(formatPlain({ type: 'info', text: 'a\nb' }), ['a\nb']);
    assert.deepEqual(formatPlain({ type: 'history', id: 'h', entries: [message], more: false }), ['alice :: hello']);
  });

  test('tripcodes: "nick !trip" wherever a sender or member is named', () => {
    assert.deepEqual(formatPlain({ ...message, trip: 'Ab3dEf12' }), ['alice !Ab3dEf12 :: hello']);
    assert.deepEqual(formatPlain({ type: 'action', seq: 4, ts: 0, nick: 'alice', trip: 'Ab3dEf12', text: 'waves' }), [
      '* alice !Ab3dEf12 waves',
    ]);
    const welcome = formatPlain({
      type: 'welcome',
      room: 'lobby',
      nick: 'bob',
      trip: 'Zz9_-aaa',
      resumeToken: 'x'.repeat(32),
      epoch: 'e',
      resumed: false,
      reset: false,
      members: [
        { nick: 'alice', trip: 'Ab3dEf12', away: false },
        { nick: 'bob', trip: 'Zz9_-aaa', away: false },
      ],
      history: [],
      lastSeq: 0,
      more: false,
      maxMessage: 4000,
    });
    assert.match(welcome[0] ?? '', /^You are bob !Zz9_-aaa in lobby\. Also here: alice !Ab3dEf12\./);
  });

  test('attack: a multi-line message cannot draw a console line or another sender\'s line', () => {
    const forged = { ...message, text: 'see you\n*** Administrator :: Server restarts in 5 minutes\nbob :: bye' };
    const [text] = formatPlain(forged);
    assert.deepEqual(text?.split('\n'), [
      'alice :: see you',
      '  | *** Administrator :: Server restarts in 5 minutes',
      '  | bob :: bye',
    ]);
    assert.deepEqual(formatPlain({ type: 'admin', seq: 6, ts: 0, nick: 'Administrator', text: 'one\ntwo' }), [
      '*** Administrator :: one\n  | two',
    ]);
    assert.deepEqual(formatPlain({ type: 'action', seq: 6, ts: 0, nick: 'al', text: 'one\ntwo' }), ['* al one\n  | two']);
  });
});
