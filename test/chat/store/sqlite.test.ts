import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { DataDirLockedError } from '../../../src/chat/store/data-dir-lock.js';
import { type Migration, MIGRATIONS, migrate, SCHEMA_VERSION, SqliteStore } from '../../../src/chat/store/sqlite.js';
import type { NewEntry } from '../../../src/chat/store/store.js';
import { storeContract } from './contract.js';

const dir = mkdtempSync(join(tmpdir(), 'wschat-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const freshPath = (): string => join(dir, `t${counter++}`, 'wschat.db');

storeContract('SqliteStore', () => SqliteStore.open(freshPath()));

describe('SqliteStore', () => {
  test('creates its directory, runs in WAL mode with synchronous=FULL, records the schema version', async () => {
    const path = freshPath();
    const store = SqliteStore.open(path);
    assert.deepEqual(store.settings(), { journalMode: 'wal', synchronous: 'FULL' });
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: SCHEMA_VERSION }]);
    } finally {
      db.close();
    }
  });

  test('history and seats survive closing and reopening', async () => {
    const path = freshPath();
    const first = SqliteStore.open(path, { nodeId: 'first' });
    await first.claimSeat({
      room: 'r',
      seat: { id: 's1', nick: '김', key: '김', trip: null, holder: 'first/1', holdable: true },
      ts: 1,
      maxSeats: 10,
    });
    await first.append({ room: 'r', ts: 2, kind: 'message', nick: '김', text: '안녕', clientId: 'x1' });
    const salt = await first.serverSecret('tripcode');
    await first.close();
    const second = SqliteStore.open(path, { nodeId: 'second' });
    try {
      const room = await second.getRoom('r');
      assert.deepEqual({ ...room, epoch: undefined }, { name: 'r', createdAt: 1, lastActivity: 2, emptiedAt: null, lastSeq: 2, epoch: undefined });
      assert.equal((await second.append({ room: 'r', ts: 4, kind: 'message', nick: '김', text: 'again', clientId: 'x1' })).duplicate, true);
      assert.equal((await second.append({ room: 'r', ts: 4, kind: 'message', nick: '김', text: 'new' })).entry.seq, 3);
      const seats = await second.seats('r');
      assert.equal(seats.seats[0]?.holder, 'first/1', 'held by the previous run until swept');
      const sweep = await second.sweepSeats(10, 1000);
      assert.deepEqual(sweep, { released: 0, orphaned: 1, nextHoldUntil: 1010 });
      assert.ok(await second.resumeSeat('r', 's1', 'second/1', 20), 'the token still works after the restart');
      assert.deepEqual(await second.serverSecret('tripcode'), salt, 'tripcodes stay the same across restarts');
    } finally {
      await second.close();
    }
  });

  test('one server per data directory: a second open is refused, naming the directory and the holder', async () => {
    const path = freshPath();
    const first = SqliteStore.open(path);
    try {
      assert.throws(
        () => SqliteStore.open(path),
        (error: unknown) =>
          error instanceof DataDirLockedError &&
          error.directory === dirname(path) &&
          error.message.includes(dirname(path)) &&
          error.message.includes(`process ${process.pid}`),
      );
    } finally {
      await first.close();
    }
    const again = SqliteStore.open(path);
    await again.close();
  });

  test('a database of schema version 1 is migrated: rooms left occupied become empty, epochs are set', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 1));
    db.prepare("INSERT INTO rooms (name, created_at, last_activity, emptied_at, last_seq) VALUES ('old', 1, 2, NULL, 1)").run();
    db.prepare("INSERT INTO messages (room, seq, ts, kind, nick, text, client_id) VALUES ('old', 1, 2, 'message', 'a', 'kept', 'c1')").run();
    db.close();
    const store = SqliteStore.open(path);
    try {
      const room = await store.getRoom('old');
      assert.notEqual(room?.emptiedAt, null);
      assert.match(room?.epoch ?? '', /^[A-Za-z0-9_-]{8}$/);
      assert.deepEqual(
        (await store.lastEntries('old', 5)).map((e) => [e.text, e.trip]),
        [['kept', null]],
      );
    } finally {
      await store.close();
    }
  });

  test('a database of schema version 2 is migrated: rooms that hold messages are kept once empty, the others forgotten', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 2));
    const seat = "INSERT INTO seats (room, id, nick, key, trip, holder, hold_until, holdable, joined_at) VALUES (?, ?, 'a', 'a', NULL, 'old/1', NULL, 1, 1)";
    for (const [room, kind] of [
      ['talk', 'message'],
      ['quiet', 'join'],
    ] as const) {
      db.prepare("INSERT INTO rooms (name, created_at, last_activity, emptied_at, last_seq, epoch) VALUES (?, 1, 1, NULL, 1, 'e')").run(room);
      db.prepare("INSERT INTO messages (room, seq, ts, kind, nick, text) VALUES (?, 1, 1, ?, 'a', 'x')").run(room, kind);
      db.prepare(seat).run(room, `s-${room}`);
    }
    db.close();
    const store = SqliteStore.open(path);
    try {
      assert.deepEqual(
        (await store.seats('talk')).seats.map((s) => [s.role, s.address, s.mutedUntil]),
        [['user', null, null]],
      );
      assert.equal((await store.releaseSeat({ room: 'talk', id: 's-talk', reason: 'quit', ts: 5 }))?.forgotten, false);
      assert.equal((await store.releaseSeat({ room: 'quiet', id: 's-quiet', reason: 'quit', ts: 5 }))?.forgotten, true);
      assert.equal((await store.lastEntries('talk', 5)).length, 2);
    } finally {
      await store.close();
    }
  });

  test('a database of schema version 3 is migrated: its entries have no author (nobody can edit them as their own), no reply, no edit', async () => {
    const path = freshPath();
    mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    migrate(db, MIGRATIONS.slice(0, 3));
    db.prepare("INSERT INTO rooms (name, created_at, last_activity, emptied_at, last_seq, epoch, kept) VALUES ('old', 1, 1, 1, 1, 'e', 1)").run();
    db.prepare("INSERT INTO messages (room, seq, ts, kind, nick, text) VALUES ('old', 1, 1, 'message', 'a', 'from before')").run();
    db.close();
    const store = SqliteStore.open(path);
    try {
      const [entry] = await store.lastEntries('old', 5);
      assert.deepEqual(
        [entry?.text, entry?.author, entry?.ref, entry?.refNick, entry?.edited],
        ['from before', null, null, null, null],
      );
      assert.deepEqual(
        await store.editEntry({ room: 'old', seq: 1, text: 'x', author: 'someone', since: 0, ts: 2, nick: 'a', trip: null, clientId: null }),
        { ok: false, reason: 'not-yours' },
      );
      const reply = await store.append({ room: 'old', ts: 3, kind: 'message', nick: 'b', text: 'answer', author: 'seat-b', ref: 1, refNick: 'a' });
      assert.deepEqual([reply.entry.seq, reply.entry.ref, reply.entry.refNick], [2, 1, 'a']);
    } finally {
      await store.close();
    }
  });

  test('appendMany is all or nothing: an entry that cannot be stored rolls back the whole batch', async () => {
    const store = SqliteStore.open(freshPath());
    try {
      await store.append({ room: 'r', ts: 1, kind: 'message', nick: 'a', text: 'kept' });
      const broken: NewEntry = { room: 'r', ts: 2, kind: 'message', nick: 'a', text: null as unknown as string };
      await assert.rejects(
        store.appendMany([{ room: 'r', ts: 2, kind: 'message', nick: 'a', text: 'first of the batch' }, broken]),
        /NOT NULL/,
      );
      assert.deepEqual(
        (await store.lastEntries('r', 10)).map((e) => e.text),
        ['kept'],
      );
      assert.equal((await store.getRoom('r'))?.lastSeq, 1, 'no sequence number was used up');
      assert.equal((await store.append({ room: 'r', ts: 3, kind: 'message', nick: 'a', text: 'next' })).entry.seq, 2);
    } finally {
      await store.close();
    }
  });

  test('close is idempotent', async () => {
    const store = SqliteStore.open(freshPath());
    await store.close();
    await store.close();
  });

  test('synchronous NORMAL can be chosen', async () => {
    const store = SqliteStore.open(freshPath(), { synchronous: 'NORMAL' });
    assert.equal(store.settings().synchronous, 'NORMAL');
    assert.equal((await store.append({ room: 'r', ts: 1, kind: 'message', nick: 'a', text: 'x' })).entry.seq, 1);
    await store.close();
  });
});

describe('migrations', () => {
  test('versions are unique and ascending from 1', () => {
    assert.deepEqual(
      MIGRATIONS.map((m) => m.version),
      MIGRATIONS.map((_, i) => i + 1),
    );
    assert.equal(SCHEMA_VERSION, MIGRATIONS.length);
  });

  test('applies pending migrations in order, once, and records the version', () => {
    const db = new Database(':memory:');
    const applied: number[] = [];
    const steps: Migration[] = [
      {
        version: 2,
        description: 'b',
        up: (d) => {
          applied.push(2);
          d.exec('ALTER TABLE t ADD COLUMN b TEXT');
        },
      },
      {
        version: 1,
        description: 'a',
        up: (d) => {
          applied.push(1);
          d.exec('CREATE TABLE t (a TEXT)');
        },
      },
    ];
    assert.equal(migrate(db, steps.slice(1)), 0);
    assert.equal(migrate(db, steps), 1);
    assert.equal(migrate(db, steps), 2);
    assert.deepEqual(applied, [1, 2]);
    assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: 2 }]);
    db.close();
  });

  test('a failing migration changes nothing', () => {
    const db = new Database(':memory:');
    migrate(db, [{ version: 1, description: 'a', up: (d) => d.exec('CREATE TABLE t (a TEXT)') }]);
    const broken: Migration = {
      version: 2,
      description: 'broken',
      up: (d) => {
        d.exec('CREATE TABLE u (x TEXT)');
        throw new Error('boom');
      },
    };
    assert.throws(() => migrate(db, [{ version: 1, description: 'a', up: () => undefined }, broken]), /boom/);
    assert.deepEqual(db.prepare('SELECT version FROM schema_version').all(), [{ version: 1 }]);
    assert.equal(db.prepare("SELECT name FROM sqlite_master WHERE name = 'u'").get(), undefined);
    db.close();
  });

  test('a database from a newer wschat is refused', async () => {
    const path = freshPath();
    await SqliteStore.open(path).close();
    const db = new Database(path);
    db.prepare('UPDATE schema_version SET version = ?').run(SCHEMA_VERSION + 1);
    db.close();
    assert.throws(() => SqliteStore.open(path), /newer/);
  });
});

describe('durability', () => {
  test('every acknowledged message survives kill -9 of the writer', async () => {
    const path = freshPath();
    const fixture = fileURLToPath(new URL('./fixtures/sqlite-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Map<number, string>();
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      const [word, seq, clientId] = line.split(' ');
      if (word !== 'ACK' || seq === undefined || clientId === undefined) continue;
      acked.set(Number(seq), clientId);
      if (acked.size === 300 && child.kill('SIGKILL')) break;
    }
    assert.equal(await exited, 'SIGKILL');
    const store = SqliteStore.open(path);
    try {
      const stored = await store.entriesAfter('durable', 0, 1_000_000);
      const bySeq = new Map(stored.map((e) => [e.seq, e]));
      assert.ok(acked.size >= 300);
      for (const [seq, clientId] of acked) {
        assert.equal(bySeq.get(seq)?.clientId, clientId, `acknowledged seq ${seq} lost`);
      }
      assert.deepEqual(
        stored.map((e) => e.seq),
        stored.map((_, i) => i + 1),
        'no gaps',
      );
    } finally {
      await store.close();
    }
  });
});
