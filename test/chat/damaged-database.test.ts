/**
 * A join on a damaged database (issue 11, section 4): "returned INTERNAL,
 * yet the member was seated and its next three messages were
 * acknowledged". With a SQLite file whose pages are really overwritten
 * (found with the dbstat table, overwritten while no server has it open),
 * every path that can fail is made to fail where it would in the field:
 *
 * - the seat cannot be taken (the seats table is damaged);
 * - the seat is taken but the welcome's history cannot be read;
 * - a resumed seat whose missed entries cannot be read;
 * - a message that cannot be stored (the client-id index is damaged).
 *
 * Each time the member is told INTERNAL, is not seated (its messages get
 * NOT_JOINED), and nothing is acknowledged that was not durably written.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { seatId } from '../../src/chat/store/seat-id.js';
import { SqliteStore } from '../../src/chat/store/sqlite.js';
import { makeHub, type TestHub } from './helpers.js';
import { JsonClient, startTestServer, wsUrl } from './support/clients.js';

const dir = mkdtempSync(path.join(tmpdir(), 'wschat-damaged-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

const ROOM = 'damaged';
const TOKEN = 'resume-token-of-bob-0123456789';

/** A database with a room of 300 messages and bob's seat (held by a run that is gone), closed. */
async function prepare(): Promise<string> {
  const file = path.join(dir, `d${counter++}`, 'wschat.db');
  const store = SqliteStore.open(file, { nodeId: 'old-run' });
  await store.claimSeat({
    room: ROOM,
    seat: { id: seatId(TOKEN), nick: 'bob', key: 'bob', trip: null, holder: 'old-run/1', holdable: true },
    ts: 1000,
    maxSeats: 100,
  });
  for (let i = 0; i < 300; i++) {
    await store.append({ room: ROOM, ts: 2000 + i, kind: 'message', nick: 'bob', text: `message ${i} ${'x'.repeat(60)}`, clientId: `m-${i}` });
  }
  await store.close();
  return file;
}

type Pick = 'seats' | 'recent history' | 'client ids';

/** Overwrites one page of the file with garbage: the root of a table or index, or a leaf of recent history. */
function damage(file: string, what: Pick): void {
  const db = new Database(file);
  const pageSize = Number(db.pragma('page_size', { simple: true }));
  let page: number | undefined;
  if (what === 'seats') {
    page = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'seats'").get() as { rootpage: number }).rootpage;
  } else if (what === 'client ids') {
    page = (db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'messages_client_id'").get() as { rootpage: number }).rootpage;
  } else {
    // The leaves of the history in key order (dbstat's path); the one before
    // the last holds entries a welcome reads, while appends go to the last.
    const leaves = db.prepare("SELECT pageno FROM dbstat WHERE name = 'messages' AND pagetype = 'leaf' ORDER BY path").all() as { pageno: number }[];
    assert.ok(leaves.length >= 3, `${leaves.length} leaves`);
    page = leaves.at(-2)?.pageno;
  }
  db.close();
  assert.ok(page !== undefined && page > 1);
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (page - 1) * pageSize);
  } finally {
    closeSync(fd);
  }
}

async function damagedHub(what: Pick): Promise<TestHub> {
  const file = await prepare();
  damage(file, what);
  const t = makeHub({ store: SqliteStore.open(file), graceMs: 60_000 });
  await t.hub.start();
  return t;
}

/** Sends three messages; asserts none was acknowledged and each was refused with `code`. */
async function threeMessages(member: import('../../src/chat/member.js').Member, conn: import('./helpers.js').FakeConnection, code: string): Promise<void> {
  for (let i = 0; i < 3; i++) await member.input(`after the failed join ${i}`, `after-${i}`);
  assert.deepEqual(conn.of('ack'), [], 'nothing acknowledged');
  assert.deepEqual(
    conn.of('error').filter((e) => e.id?.startsWith('after-')).map((e) => e.code),
    [code, code, code],
  );
}

describe('a join on a damaged database', () => {
  test('the seat cannot be taken: INTERNAL, not seated, its messages are not acknowledged', async () => {
    const t = await damagedHub('seats');
    const { conn, member } = t.connect({ room: ROOM });
    const result = await member.join({ nick: 'alice' });
    assert.deepEqual(result, { ok: false, code: 'INTERNAL', message: 'could not join: internal error; try again' });
    assert.equal(member.joined, false);
    assert.equal(conn.of('welcome').length, 0);
    await threeMessages(member, conn, 'NOT_JOINED');
    await t.hub.close();
    await t.store.close();
  });

  test('the seat is taken but the history cannot be read: the seat is given back, the member is not seated', async () => {
    const t = await damagedHub('recent history');
    const { conn, member } = t.connect({ room: ROOM });
    const result = await member.join({ nick: 'alice' });
    assert.equal(result.ok === false && result.code, 'INTERNAL');
    assert.equal(member.joined, false);
    assert.equal(conn.of('welcome').length, 0);
    await threeMessages(member, conn, 'NOT_JOINED');
    await t.hub.idle();
    assert.deepEqual(
      (await t.store.seats(ROOM)).seats.map((s) => s.nick),
      ['bob'],
      'alice\'s seat was freed (bob is the old run\'s, away)',
    );
    // Writing still works where the file is sound: the seat's "left" notice was stored.
    const last = await t.store.getRoom(ROOM);
    assert.equal(last?.lastSeq, 303, 'join and leave notices of alice after the 301 entries');
    await t.hub.close();
    await t.store.close();
  });

  test('a resumed seat whose missed entries cannot be read goes back to being away; not seated', async () => {
    const t = await damagedHub('recent history');
    const { conn, member } = t.connect({ room: ROOM });
    const result = await member.join({ nick: 'bob', resumeToken: TOKEN, lastSeq: 1 });
    assert.equal(result.ok === false && result.code, 'INTERNAL');
    assert.equal(member.joined, false);
    await threeMessages(member, conn, 'NOT_JOINED');
    await t.hub.idle();
    const [bob] = (await t.store.seats(ROOM)).seats;
    assert.equal(bob?.holder, null, 'away again: the client may retry with its token');
    assert.ok(bob?.holdUntil !== null);
    await t.hub.close();
    await t.store.close();
  });

  test('a message that cannot be stored is refused with INTERNAL and never acknowledged; the member stays', async () => {
    const t = await damagedHub('client ids');
    const { conn, member } = await t.join('alice', { room: ROOM });
    await threeMessages(member, conn, 'INTERNAL');
    assert.equal(member.joined, true);
    await t.hub.close();
    await t.store.close();
  });

  test('through the server, as first reported: INTERNAL for the join, then no message acknowledged', async () => {
    const file = await prepare();
    damage(file, 'recent history');
    const server = await startTestServer({ dataDir: path.dirname(file) });
    try {
      const client = await JsonClient.open(wsUrl(server, `/r/${ROOM}`));
      const answer = await client.tryJoin('alice');
      assert.equal(answer.type === 'error' && answer.code, 'INTERNAL');
      for (let i = 0; i < 3; i++) {
        const reply = await client.request(`message ${i}`);
        assert.equal(reply.type === 'error' && reply.code, 'NOT_JOINED', JSON.stringify(reply));
      }
      assert.deepEqual(client.all('ack'), []);
      await client.close();
    } finally {
      await server.close();
    }
  });
});
