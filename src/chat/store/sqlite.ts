import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DataDirLock } from './data-dir-lock.js';
import { LocalBus } from './local-bus.js';
import { activeRestrictions, FOREVER, mutedUntil, restrictionFor } from './restrictions.js';
import {
  type AppendResult,
  type AwayResult,
  BARE_KINDS,
  type ChatStore,
  type ClaimResult,
  DELETABLE_KINDS,
  EDITABLE_KINDS,
  type EditRequest,
  type EditResult,
  type EntryKind,
  type ModerationRequest,
  type ModerationResult,
  type NewEntry,
  type ReleaseRequest,
  type ReleaseResult,
  type RenameResult,
  type Restriction,
  type ResumeResult,
  type Role,
  type RoomEvent,
  type RoomListener,
  type RoomPolicy,
  type RoomRecord,
  type RoomSummary,
  type SeatChange,
  type SeatClaim,
  type SeatRecord,
  type SeatSnapshot,
  type SeatSweep,
  type StoreHealth,
  type StoredEntry,
  type TokenResult,
} from './store.js';

/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode.
 *
 * Durability. `append` resolves only after its transaction has committed. With
 * `journal_mode=WAL` the commit appends the entry to the WAL file; with
 * `synchronous=FULL` (the default here) SQLite also fsyncs the WAL before the
 * commit returns. `synchronous=NORMAL` would already survive `kill -9` (the
 * WAL frames are in the kernel's page cache once write() returned), but not a
 * power cut or kernel crash, which could lose the last acknowledged messages.
 * The acknowledgement promises that a message is durably stored, so FULL: it
 * costs one fsync per message (about 0.2 ms against 0.03 ms for NORMAL on the
 * machine this was written on), far below what a chat produces.
 *
 * Sequence numbers are kept in `rooms.last_seq` and bumped in the same
 * transaction as the insert, so they are gap-free and never reused, even after
 * a room's history expired.
 *
 * Seats live in the `seats` table, changed in the same transaction as the
 * notice they cause; `rooms.seat_version` numbers the changes. One server
 * uses a database at a time: `open` takes the data directory's lock
 * (./data-dir-lock.ts). Seats held by connections of an earlier run (a crash,
 * `kill -9`) are found by `sweepSeats`: their holders' node id is not this
 * process's.
 *
 * Moderation settings are columns of `rooms` (owner key hash, lock,
 * password hash, topic) and tables of their own (`op_trips`, `restrictions`
 * for bans and mutes, `invites`), changed in the same transaction as their
 * notice. Forgetting a room deletes its rows from all of them.
 */

export interface SqliteStoreOptions {
  /** See the module comment. Default FULL. */
  synchronous?: 'FULL' | 'NORMAL';
  /** How long a statement waits for a lock held by another connection, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Take the data directory's lock (see ./data-dir-lock.ts). Default true; `:memory:` never locks. */
  lock?: boolean;
  /** Default: random. */
  nodeId?: string;
}

/** One schema change; applied once, in order, inside a transaction. */
export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

/** Every schema version so far. Append new ones; never edit a released one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'rooms and their history',
    up(db) {
      db.exec(`
        CREATE TABLE rooms (
          name TEXT PRIMARY KEY,
          created_at INTEGER NOT NULL,
          last_activity INTEGER NOT NULL,
          emptied_at INTEGER,
          last_seq INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX rooms_emptied_at ON rooms (emptied_at) WHERE emptied_at IS NOT NULL;
        CREATE TABLE messages (
          room TEXT NOT NULL,
          seq INTEGER NOT NULL,
          ts INTEGER NOT NULL,
          kind TEXT NOT NULL,
          nick TEXT NOT NULL,
          text TEXT NOT NULL,
          client_id TEXT,
          PRIMARY KEY (room, seq)
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX messages_client_id ON messages (room, client_id) WHERE client_id IS NOT NULL;
      `);
    },
  },
  {
    version: 2,
    description: 'seats (nickname holds and resume tokens), room epochs, tripcodes',
    up(db) {
      db.exec(`
        ALTER TABLE rooms ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
        ALTER TABLE rooms ADD COLUMN seat_version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE messages ADD COLUMN trip TEXT;
        CREATE TABLE seats (
          room TEXT NOT NULL,
          id TEXT NOT NULL,
          nick TEXT NOT NULL,
          key TEXT NOT NULL,
          trip TEXT,
          holder TEXT,
          hold_until INTEGER,
          holdable INTEGER NOT NULL,
          joined_at INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX seats_id ON seats (room, id);
        CREATE UNIQUE INDEX seats_key ON seats (room, key);
        CREATE INDEX seats_hold_until ON seats (hold_until) WHERE hold_until IS NOT NULL;
        CREATE INDEX seats_holder ON seats (holder) WHERE holder IS NOT NULL;
        CREATE TABLE secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL);
      `);
      // Version 1 kept no seats: whoever was present when it stopped is gone.
      const now = Date.now();
      db.prepare('UPDATE rooms SET emptied_at = ? WHERE emptied_at IS NULL').run(now);
      const setEpoch = db.prepare('UPDATE rooms SET epoch = ? WHERE name = ?');
      for (const { name } of db.prepare('SELECT name FROM rooms').all() as { name: string }[]) {
        setEpoch.run(newEpoch(), name);
      }
    },
  },
  {
    version: 3,
    description: 'moderation (roles, bans, mutes, lock, password, invites, topic), rooms kept or forgotten, token buckets',
    up(db) {
      db.exec(`
        ALTER TABLE rooms ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rooms ADD COLUMN owner_key TEXT;
        ALTER TABLE rooms ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rooms ADD COLUMN password TEXT;
        ALTER TABLE rooms ADD COLUMN topic TEXT;
        ALTER TABLE seats ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
        ALTER TABLE seats ADD COLUMN address TEXT;
        ALTER TABLE seats ADD COLUMN muted_until INTEGER;
        CREATE TABLE op_trips (room TEXT NOT NULL, trip TEXT NOT NULL, PRIMARY KEY (room, trip)) WITHOUT ROWID;
        CREATE TABLE restrictions (
          room TEXT NOT NULL,
          kind TEXT NOT NULL,
          id TEXT NOT NULL,
          nick TEXT NOT NULL,
          key TEXT NOT NULL,
          address TEXT,
          trip TEXT,
          by_nick TEXT NOT NULL,
          at INTEGER NOT NULL,
          until INTEGER,
          PRIMARY KEY (room, kind, id)
        ) WITHOUT ROWID;
        CREATE TABLE invites (room TEXT NOT NULL, hash TEXT NOT NULL, until INTEGER NOT NULL, PRIMARY KEY (room, hash)) WITHOUT ROWID;
        CREATE TABLE buckets (key TEXT PRIMARY KEY, tokens REAL NOT NULL, at INTEGER NOT NULL, full_at REAL NOT NULL);
        CREATE INDEX buckets_full_at ON buckets (full_at);
        UPDATE rooms SET kept = 1 WHERE EXISTS (
          SELECT 1 FROM messages WHERE messages.room = rooms.name AND messages.kind NOT IN ('join', 'leave', 'rename')
        );
      `);
    },
  },
  {
    version: 4,
    description: 'authors, replies and edits of entries',
    up(db) {
      // Entries stored before have no author: nobody can edit or delete them as their own.
      db.exec(`
        ALTER TABLE messages ADD COLUMN author TEXT;
        ALTER TABLE messages ADD COLUMN ref INTEGER;
        ALTER TABLE messages ADD COLUMN ref_nick TEXT;
        ALTER TABLE messages ADD COLUMN edited INTEGER;
        CREATE INDEX messages_edits ON messages (room, ref) WHERE kind = 'edit';
      `);
    },
  },
];

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** The version a fully migrated database has. */
export const SCHEMA_VERSION = MIGRATIONS.reduce((v, m) => Math.max(v, m.version), 0);

/**
 * Brings `db` up to SCHEMA_VERSION and returns the version it had before.
 * @throws Error if the database was written by a newer wschat (a higher version).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const row = db.prepare('SELECT version FROM schema_version').get() as { version: number } | undefined;
  if (row === undefined) db.prepare('INSERT INTO schema_version (version) VALUES (0)').run();
  const before = row?.version ?? 0;
  const latest = migrations.reduce((v, m) => Math.max(v, m.version), 0);
  if (before > latest) {
    throw new Error(`database schema version ${before} is newer than this wschat understands (${latest})`);
  }
  const pending = [...migrations].filter((m) => m.version > before).sort((a, b) => a.version - b.version);
  const setVersion = db.prepare('UPDATE schema_version SET version = ?');
  for (const m of pending) {
    db.transaction(() => {
      m.up(db);
      setVersion.run(m.version);
    })();
  }
  return before;
}

interface RoomRow {
  name: string;
  created_at: number;
  last_activity: number;
  emptied_at: number | null;
  last_seq: number;
  epoch: string;
  seat_version: number;
  kept: number;
  owner_key: string | null;
  locked: number;
  password: string | null;
  topic: string | null;
}

interface RestrictionRow {
  room: string;
  kind: 'ban' | 'mute';
  id: string;
  nick: string;
  key: string;
  address: string | null;
  trip: string | null;
  by_nick: string;
  at: number;
  until: number | null;
}

interface EntryRow {
  room: string;
  seq: number;
  ts: number;
  kind: string;
  nick: string;
  text: string;
  client_id: string | null;
  trip: string | null;
  author: string | null;
  ref: number | null;
  ref_nick: string | null;
  edited: number | null;
}

interface SeatRow {
  room: string;
  id: string;
  nick: string;
  key: string;
  trip: string | null;
  holder: string | null;
  hold_until: number | null;
  holdable: number;
  joined_at: number;
  role: string;
  address: string | null;
  muted_until: number | null;
}

const toRoom = (r: RoomRow): RoomRecord => ({
  name: r.name,
  createdAt: r.created_at,
  lastActivity: r.last_activity,
  emptiedAt: r.emptied_at,
  lastSeq: r.last_seq,
  epoch: r.epoch,
});

const toEntry = (r: EntryRow): StoredEntry => ({
  room: r.room,
  seq: r.seq,
  ts: r.ts,
  kind: r.kind as EntryKind,
  nick: r.nick,
  text: r.text,
  clientId: r.client_id,
  trip: r.trip,
  author: r.author,
  ref: r.ref,
  refNick: r.ref_nick,
  edited: r.edited,
});

const toSeat = (r: SeatRow): SeatRecord => ({
  id: r.id,
  nick: r.nick,
  key: r.key,
  trip: r.trip,
  holder: r.holder,
  holdUntil: r.hold_until,
  holdable: r.holdable === 1,
  joinedAt: r.joined_at,
  role: r.role as Role,
  address: r.address,
  mutedUntil: r.muted_until,
});

const toRestriction = (r: RestrictionRow): Restriction => ({
  id: r.id,
  nick: r.nick,
  key: r.key,
  address: r.address,
  trip: r.trip,
  by: r.by_nick,
  at: r.at,
  until: r.until,
});

/** Bucket rows beyond which the full ones are deleted (checked every so many takes). */
const BUCKET_PRUNE_EVERY = 256;

/** The SQLite store. Open with `SqliteStore.open(path)`. */
export class SqliteStore implements ChatStore {
  readonly nodeId: string;
  readonly #db: Database.Database;
  readonly #lock: DataDirLock | null;
  readonly #bus = new LocalBus();
  readonly #s;
  /** Events of the transaction running now, announced once it has committed. */
  #events: RoomEvent[] = [];
  readonly #appendManyTx: (inputs: readonly NewEntry[]) => AppendResult[];
  readonly #expireTx: (cutoff: number) => string[];
  readonly #claimTx: (claim: SeatClaim) => ClaimResult;
  readonly #resumeTx: (room: string, id: string, holder: string) => ResumeResult | null;
  readonly #awayTx: (room: string, id: string, holder: string, holdUntil: number) => AwayResult | null;
  readonly #renameTx: (room: string, id: string, holder: string, nick: string, key: string, ts: number) => RenameResult;
  readonly #releaseTx: (request: ReleaseRequest) => ReleaseResult | null;
  readonly #sweepTx: (now: number, graceMs: number) => SeatSweep;
  readonly #moderateTx: (request: ModerationRequest) => ModerationResult;
  readonly #editTx: (request: EditRequest) => EditResult;
  readonly #tokenTx: (key: string, capacity: number, perHour: number, now: number) => TokenResult;
  #takes = 0;
  #closed = false;

  /**
   * Opens (creating if needed, with its directory) the database at `path`,
   * takes its directory's lock and migrates it.
   * @throws DataDirLockedError when another server uses the directory;
   *   Error if the file cannot be opened or its schema is newer than this code.
   */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    let lock: DataDirLock | null = null;
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true });
      if (options.lock !== false) lock = DataDirLock.acquire(dirname(path));
    }
    let db: Database.Database | null = null;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
      db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      migrate(db);
      return new SqliteStore(db, lock, options.nodeId ?? randomBytes(6).toString('base64url'));
    } catch (error) {
      db?.close();
      lock?.release();
      throw error;
    }
  }

  private constructor(db: Database.Database, lock: DataDirLock | null, nodeId: string) {
    this.#db = db;
    this.#lock = lock;
    this.nodeId = nodeId;
    this.#s = {
      getRoom: db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE name = ?'),
      createRoom: db.prepare<[string, number, number, number | null, string]>(
        'INSERT OR IGNORE INTO rooms (name, created_at, last_activity, emptied_at, epoch) VALUES (?, ?, ?, ?, ?)',
      ),
      occupy: db.prepare<[string]>('UPDATE rooms SET emptied_at = NULL WHERE name = ?'),
      empty: db.prepare<[number, string]>('UPDATE rooms SET emptied_at = ? WHERE name = ?'),
      byClientId: db.prepare<[string, string], EntryRow>('SELECT * FROM messages WHERE room = ? AND client_id = ?'),
      bumpSeq: db.prepare<[number, string], { last_seq: number }>(
        'UPDATE rooms SET last_seq = last_seq + 1, last_activity = ? WHERE name = ? RETURNING last_seq',
      ),
      bumpSeats: db.prepare<[string], { seat_version: number }>(
        'UPDATE rooms SET seat_version = seat_version + 1 WHERE name = ? RETURNING seat_version',
      ),
      insert: db.prepare<[string, number, number, string, string, string, string | null, string | null, string | null, number | null, string | null]>(
        'INSERT INTO messages (room, seq, ts, kind, nick, text, client_id, trip, author, ref, ref_nick) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      last: db.prepare<[string, number, number], EntryRow>(
        'SELECT * FROM (SELECT * FROM messages WHERE room = ? AND seq <= ? ORDER BY seq DESC LIMIT ?) ORDER BY seq ASC',
      ),
      after: db.prepare<[string, number, number, number], EntryRow>(
        'SELECT * FROM messages WHERE room = ? AND seq > ? AND seq <= ? ORDER BY seq ASC LIMIT ?',
      ),
      expiring: db.prepare<[number], { name: string }>(
        'SELECT name FROM rooms WHERE emptied_at IS NOT NULL AND emptied_at <= ? AND NOT EXISTS (SELECT 1 FROM seats WHERE seats.room = rooms.name)',
      ),
      deleteHistory: db.prepare<[string]>('DELETE FROM messages WHERE room = ?'),
      deleteRoom: db.prepare<[string]>('DELETE FROM rooms WHERE name = ?'),
      deleteOpTrips: db.prepare<[string]>('DELETE FROM op_trips WHERE room = ?'),
      deleteRestrictions: db.prepare<[string]>('DELETE FROM restrictions WHERE room = ?'),
      deleteInvites: db.prepare<[string]>('DELETE FROM invites WHERE room = ?'),
      keep: db.prepare<[string]>('UPDATE rooms SET kept = 1 WHERE name = ?'),
      setOwner: db.prepare<[string, string]>('UPDATE rooms SET owner_key = ? WHERE name = ?'),
      setLocked: db.prepare<[number, string]>('UPDATE rooms SET locked = ? WHERE name = ?'),
      setPassword: db.prepare<[string | null, string]>('UPDATE rooms SET password = ? WHERE name = ?'),
      setTopic: db.prepare<[string | null, string]>('UPDATE rooms SET topic = ? WHERE name = ?'),
      opTrips: db.prepare<[string], { trip: string }>('SELECT trip FROM op_trips WHERE room = ? ORDER BY trip'),
      isOpTrip: db.prepare<[string, string], { trip: string }>('SELECT trip FROM op_trips WHERE room = ? AND trip = ?'),
      addOpTrip: db.prepare<[string, string]>('INSERT OR IGNORE INTO op_trips (room, trip) VALUES (?, ?)'),
      removeOpTrip: db.prepare<[string, string]>('DELETE FROM op_trips WHERE room = ? AND trip = ?'),
      restrictions: db.prepare<[string, string], RestrictionRow>('SELECT * FROM restrictions WHERE room = ? AND kind = ? ORDER BY at, id'),
      addRestriction: db.prepare<[string, string, string, string, string, string | null, string | null, string, number, number | null]>(
        'INSERT OR REPLACE INTO restrictions (room, kind, id, nick, key, address, trip, by_nick, at, until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      removeRestriction: db.prepare<[string, string, string]>('DELETE FROM restrictions WHERE room = ? AND kind = ? AND id = ?'),
      pruneRestrictions: db.prepare<[string, string, number]>('DELETE FROM restrictions WHERE room = ? AND kind = ? AND until IS NOT NULL AND until <= ?'),
      invite: db.prepare<[string, string], { until: number }>('SELECT until FROM invites WHERE room = ? AND hash = ?'),
      addInvite: db.prepare<[string, string, number]>('INSERT OR REPLACE INTO invites (room, hash, until) VALUES (?, ?, ?)'),
      useInvite: db.prepare<[string, string]>('DELETE FROM invites WHERE room = ? AND hash = ?'),
      pruneInvites: db.prepare<[string, number]>('DELETE FROM invites WHERE room = ? AND until <= ?'),
      entry: db.prepare<[string, number], EntryRow>('SELECT * FROM messages WHERE room = ? AND seq = ?'),
      tombstone: db.prepare<[string, number]>(
        "UPDATE messages SET kind = 'deleted', nick = '', text = '', trip = NULL, ref = NULL, ref_nick = NULL, edited = NULL WHERE room = ? AND seq = ?",
      ),
      supersedeEdits: db.prepare<[string, number]>("UPDATE messages SET text = '' WHERE room = ? AND kind = 'edit' AND ref = ? AND text <> ''"),
      editText: db.prepare<[string, number, string, number]>('UPDATE messages SET text = ?, edited = ? WHERE room = ? AND seq = ?'),
      seatRole: db.prepare<[string, string, string]>('UPDATE seats SET role = ? WHERE room = ? AND id = ?'),
      seatMute: db.prepare<[number | null, string, string]>('UPDATE seats SET muted_until = ? WHERE room = ? AND id = ?'),
      bucket: db.prepare<[string], { tokens: number; at: number }>('SELECT tokens, at FROM buckets WHERE key = ?'),
      setBucket: db.prepare<[string, number, number, number]>('INSERT OR REPLACE INTO buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)'),
      pruneBuckets: db.prepare<[number]>('DELETE FROM buckets WHERE full_at <= ?'),
      listRooms: db.prepare<[], { name: string; members: number; connected: number; last_seq: number }>(
        `SELECT seats.room AS name, COUNT(*) AS members, COUNT(seats.holder) AS connected, rooms.last_seq AS last_seq
         FROM seats JOIN rooms ON rooms.name = seats.room GROUP BY seats.room ORDER BY seats.room`,
      ),
      seat: db.prepare<[string, string], SeatRow>('SELECT * FROM seats WHERE room = ? AND id = ?'),
      seatByKey: db.prepare<[string, string], SeatRow>('SELECT * FROM seats WHERE room = ? AND key = ?'),
      seatCount: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM seats WHERE room = ?'),
      seats: db.prepare<[string], SeatRow>('SELECT * FROM seats WHERE room = ? ORDER BY rowid'),
      insertSeat: db.prepare<[string, string, string, string, string | null, string, number, number, string, string | null, number | null]>(
        'INSERT INTO seats (room, id, nick, key, trip, holder, hold_until, holdable, joined_at, role, address, muted_until) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)',
      ),
      holdSeat: db.prepare<[string, string, string]>('UPDATE seats SET holder = ?, hold_until = NULL WHERE room = ? AND id = ?'),
      awaySeat: db.prepare<[number, string, string]>('UPDATE seats SET holder = NULL, hold_until = ? WHERE room = ? AND id = ?'),
      renameSeat: db.prepare<[string, string, string, string]>('UPDATE seats SET nick = ?, key = ? WHERE room = ? AND id = ?'),
      deleteSeat: db.prepare<[string, string]>('DELETE FROM seats WHERE room = ? AND id = ?'),
      orphans: db.prepare<[{ prefix: string }], SeatRow>(
        'SELECT * FROM seats WHERE holder IS NOT NULL AND substr(holder, 1, length(@prefix)) <> @prefix ORDER BY rowid',
      ),
      expiredHolds: db.prepare<[number], SeatRow>(
        'SELECT * FROM seats WHERE holder IS NULL AND hold_until IS NOT NULL AND hold_until <= ? ORDER BY rowid',
      ),
      nextHold: db.prepare<[], { next: number | null }>('SELECT MIN(hold_until) AS next FROM seats WHERE holder IS NULL'),
    };
    const s = this.#s;
    const appendOne = (input: NewEntry): AppendResult => {
      const clientId = input.clientId ?? null;
      if (clientId !== null) {
        const earlier = s.byClientId.get(input.room, clientId);
        if (earlier !== undefined) return { entry: toEntry(earlier), duplicate: true };
      }
      s.createRoom.run(input.room, input.ts, input.ts, input.ts, newEpoch());
      const bumped = s.bumpSeq.get(input.ts, input.room);
      if (bumped === undefined) throw new Error(`room ${input.room} vanished during append`);
      const trip = input.trip ?? null;
      const author = input.author ?? null;
      const ref = input.ref ?? null;
      const refNick = input.refNick ?? null;
      s.insert.run(input.room, bumped.last_seq, input.ts, input.kind, input.nick, input.text, clientId, trip, author, ref, refNick);
      if (!BARE_KINDS.has(input.kind)) s.keep.run(input.room);
      const entry: StoredEntry = {
        room: input.room,
        seq: bumped.last_seq,
        ts: input.ts,
        kind: input.kind,
        nick: input.nick,
        text: input.text,
        clientId,
        trip,
        author,
        ref,
        refNick,
        edited: null,
      };
      this.#events.push({ type: 'entries', room: input.room, entries: [entry] });
      return { entry, duplicate: false };
    };
    const seatChanged = (room: string, change: SeatChange): number => {
      const bumped = s.bumpSeats.get(room);
      if (bumped === undefined) throw new Error(`room ${room} vanished during a seat change`);
      this.#events.push({ type: 'seat', room, version: bumped.seat_version, change });
      return bumped.seat_version;
    };
    const forget = (room: string): void => {
      s.deleteHistory.run(room);
      s.deleteOpTrips.run(room);
      s.deleteRestrictions.run(room);
      s.deleteInvites.run(room);
      s.deleteRoom.run(room);
    };
    const release = (room: string, row: SeatRow, reason: string, ts: number): ReleaseResult => {
      s.deleteSeat.run(room, row.id);
      const version = seatChanged(room, { op: 'delete', id: row.id, reason });
      const { entry } = appendOne({ room, ts, kind: 'leave', nick: row.nick, text: reason, trip: row.trip });
      const emptied = s.seatCount.get(room)?.n === 0;
      if (emptied) s.empty.run(ts, room);
      // Nothing but comings and goings: nothing to keep (the next use starts a new epoch).
      const forgotten = emptied && s.getRoom.get(room)?.kept === 0;
      if (forgotten) forget(room);
      return { entry, seat: toSeat(row), version, emptied, forgotten };
    };
    const restrictions = (room: string, kind: 'ban' | 'mute'): Restriction[] => s.restrictions.all(room, kind).map(toRestriction);
    // One transaction, so one WAL fsync under synchronous=FULL, for the batch.
    this.#appendManyTx = db.transaction((inputs: readonly NewEntry[]) => inputs.map(appendOne));
    this.#expireTx = db.transaction((cutoff: number): string[] => {
      const names = s.expiring.all(cutoff).map((r) => r.name);
      for (const name of names) forget(name);
      return names;
    });
    this.#claimTx = db.transaction((claim: SeatClaim): ClaimResult => {
      const { room, seat, ts } = claim;
      if (s.seatByKey.get(room, seat.key) !== undefined) return { ok: false, reason: 'taken' };
      if ((s.seatCount.get(room)?.n ?? 0) >= claim.maxSeats) return { ok: false, reason: 'full' };
      const existing = s.getRoom.get(room);
      const address = seat.address ?? null;
      let role: Role = 'user';
      let madeOwner = false;
      if (claim.ownerKey != null && existing?.owner_key === claim.ownerKey) role = 'owner';
      else if (existing === undefined && claim.newOwnerKey != null) {
        role = 'owner';
        madeOwner = true;
      } else if (seat.trip !== null && existing !== undefined && s.isOpTrip.get(room, seat.trip) !== undefined) role = 'operator';
      let usedInvite = false;
      if (existing !== undefined) {
        if (role !== 'owner') {
          const ban = restrictionFor(restrictions(room, 'ban'), address, seat.trip, ts);
          if (ban !== null) return { ok: false, reason: 'banned', until: ban.until };
        }
        if (role === 'user' && (existing.locked === 1 || existing.password !== null)) {
          const invite = claim.invite == null ? undefined : s.invite.get(room, claim.invite);
          if (invite !== undefined && invite.until > ts) usedInvite = true;
          else if (existing.locked === 1) return { ok: false, reason: 'locked' };
          else if (claim.password !== existing.password) return { ok: false, reason: 'password' };
        }
      }
      s.createRoom.run(room, ts, ts, null, newEpoch());
      s.occupy.run(room);
      if (usedInvite && claim.invite != null) s.useInvite.run(room, claim.invite);
      if (madeOwner && claim.newOwnerKey != null) s.setOwner.run(claim.newOwnerKey, room);
      const muted = existing === undefined ? null : mutedUntil(restrictions(room, 'mute'), address, seat.trip, ts);
      s.insertSeat.run(room, seat.id, seat.nick, seat.key, seat.trip, seat.holder, seat.holdable ? 1 : 0, ts, role, address, muted);
      const record: SeatRecord = { ...seat, address, holdUntil: null, joinedAt: ts, role, mutedUntil: muted };
      const version = seatChanged(room, { op: 'set', seat: record });
      const { entry } = appendOne({ room, ts, kind: 'join', nick: seat.nick, text: '', trip: seat.trip });
      return { ok: true, entry, version, seat: record, epoch: s.getRoom.get(room)?.epoch ?? '', madeOwner, usedInvite };
    });
    this.#resumeTx = db.transaction((room: string, id: string, holder: string): ResumeResult | null => {
      const row = s.seat.get(room, id);
      if (row === undefined) return null;
      s.holdSeat.run(holder, room, id);
      const seat = { ...toSeat(row), holder, holdUntil: null };
      const version = seatChanged(room, { op: 'set', seat });
      const record = s.getRoom.get(room);
      return { seat, previousHolder: row.holder, lastSeq: record?.last_seq ?? 0, version, epoch: record?.epoch ?? '' };
    });
    this.#awayTx = db.transaction((room: string, id: string, holder: string, holdUntil: number): AwayResult | null => {
      const row = s.seat.get(room, id);
      if (row === undefined || row.holder !== holder) return null;
      s.awaySeat.run(holdUntil, room, id);
      const seat = { ...toSeat(row), holder: null, holdUntil };
      return { seat, version: seatChanged(room, { op: 'set', seat }) };
    });
    this.#renameTx = db.transaction((room: string, id: string, holder: string, nick: string, key: string, ts: number): RenameResult => {
      const row = s.seat.get(room, id);
      if (row === undefined || row.holder !== holder) return { ok: false, reason: 'gone' };
      const other = s.seatByKey.get(room, key);
      if (other !== undefined && other.id !== id) return { ok: false, reason: 'taken' };
      s.renameSeat.run(nick, key, room, id);
      const seat = { ...toSeat(row), nick, key };
      const version = seatChanged(room, { op: 'set', seat });
      const { entry } = appendOne({ room, ts, kind: 'rename', nick, text: row.nick, trip: row.trip });
      return { ok: true, entry, version, seat };
    });
    this.#releaseTx = db.transaction((request: ReleaseRequest): ReleaseResult | null => {
      const { room } = request;
      const row =
        request.id !== undefined ? s.seat.get(room, request.id) : request.key !== undefined ? s.seatByKey.get(room, request.key) : undefined;
      if (row === undefined) return null;
      if (request.holder !== undefined && row.holder !== request.holder) return null;
      if (request.expired === true && (row.holder !== null || row.hold_until === null || row.hold_until > request.ts)) return null;
      return release(room, row, request.reason, request.ts);
    });
    this.#sweepTx = db.transaction((now: number, graceMs: number): SeatSweep => {
      let released = 0;
      let orphaned = 0;
      for (const row of s.orphans.all({ prefix: `${this.nodeId}/` })) {
        orphaned++;
        if (row.holdable === 0 || graceMs <= 0) {
          release(row.room, row, 'lost', now);
          released++;
        } else {
          s.awaySeat.run(now + graceMs, row.room, row.id);
          seatChanged(row.room, { op: 'set', seat: { ...toSeat(row), holder: null, holdUntil: now + graceMs } });
        }
      }
      for (const row of s.expiredHolds.all(now)) {
        release(row.room, row, 'lost', now);
        released++;
      }
      return { released, orphaned, nextHoldUntil: s.nextHold.get()?.next ?? null };
    });
    this.#moderateTx = db.transaction((request: ModerationRequest): ModerationResult => {
      const { room, ts, change, notice } = request;
      const existing = s.getRoom.get(room);
      // Refusals first: nothing is created or stored for them.
      switch (change.op) {
        case 'role':
          if (s.seat.get(room, change.seat) === undefined) return { ok: false, reason: 'gone' };
          break;
        case 'unban':
          if (!restrictions(room, 'ban').some((b) => change.ids.includes(b.id))) return { ok: false, reason: 'not-found' };
          break;
        case 'unmute': {
          const seat = change.seat === null ? undefined : s.seat.get(room, change.seat);
          const lifts = restrictions(room, 'mute').some((m) => change.ids.includes(m.id));
          if (!lifts && (seat === undefined || seat.muted_until === null)) return { ok: false, reason: 'not-found' };
          break;
        }
        case 'delete': {
          const target = s.entry.get(room, change.seq);
          if (target === undefined || !DELETABLE_KINDS.has(target.kind as EntryKind)) return { ok: false, reason: 'not-found' };
          if (change.author !== undefined && target.author !== change.author) return { ok: false, reason: 'not-yours' };
          if (change.since !== undefined && target.ts < change.since) return { ok: false, reason: 'too-late' };
          break;
        }
        default:
          break;
      }
      if (existing === undefined) s.createRoom.run(room, ts, ts, ts, newEpoch());
      // A room with moderation in its history is worth keeping (a ban must outlive its last member).
      s.keep.run(room);
      const modEntry = (): StoredEntry => appendOne({ room, ts, kind: 'mod', nick: notice.nick, text: notice.text, trip: notice.trip }).entry;
      const seatSet = (id: string): { version: number; change: SeatChange } => {
        const row = s.seat.get(room, id);
        if (row === undefined) throw new Error(`seat ${id} vanished during moderation`);
        const seatChange: SeatChange = { op: 'set', seat: toSeat(row) };
        return { version: seatChanged(room, seatChange), change: seatChange };
      };
      const add = (kind: 'ban' | 'mute', r: Restriction): void => {
        s.pruneRestrictions.run(room, kind, ts);
        s.addRestriction.run(room, kind, r.id, r.nick, r.key, r.address, r.trip, r.by, r.at, r.until);
      };
      switch (change.op) {
        case 'role': {
          s.seatRole.run(change.role, room, change.seat);
          const trip = s.seat.get(room, change.seat)?.trip ?? null;
          if (trip !== null && change.trip === 'add') s.addOpTrip.run(room, trip);
          if (trip !== null && change.trip === 'remove') s.removeOpTrip.run(room, trip);
          const seat = seatSet(change.seat);
          return { ok: true, entry: modEntry(), seat };
        }
        case 'ban': {
          add('ban', change.restriction);
          const row = change.seat === null ? undefined : s.seat.get(room, change.seat);
          if (row === undefined) return { ok: true, entry: modEntry() };
          const released = release(room, row, notice.text, ts);
          return { ok: true, entry: released.entry, seat: { version: released.version, change: { op: 'delete', id: row.id, reason: notice.text } } };
        }
        case 'unban':
          for (const id of change.ids) s.removeRestriction.run(room, 'ban', id);
          return { ok: true, entry: modEntry() };
        case 'mute': {
          add('mute', change.restriction);
          const row = change.seat === null ? undefined : s.seat.get(room, change.seat);
          if (row === undefined) return { ok: true, entry: modEntry() };
          s.seatMute.run(change.restriction.until ?? FOREVER, room, row.id);
          const seat = seatSet(row.id);
          return { ok: true, entry: modEntry(), seat };
        }
        case 'unmute': {
          for (const id of change.ids) s.removeRestriction.run(room, 'mute', id);
          const row = change.seat === null ? undefined : s.seat.get(room, change.seat);
          if (row === undefined || row.muted_until === null) return { ok: true, entry: modEntry() };
          s.seatMute.run(null, room, row.id);
          const seat = seatSet(row.id);
          return { ok: true, entry: modEntry(), seat };
        }
        case 'lock':
          s.setLocked.run(change.locked ? 1 : 0, room);
          return { ok: true, entry: modEntry() };
        case 'password':
          s.setPassword.run(change.hash, room);
          return { ok: true, entry: modEntry() };
        case 'topic':
          s.setTopic.run(change.topic, room);
          return { ok: true, entry: modEntry() };
        case 'delete':
          s.tombstone.run(room, change.seq);
          s.supersedeEdits.run(room, change.seq);
          return { ok: true, entry: modEntry() };
        case 'invite':
          s.pruneInvites.run(room, ts);
          s.addInvite.run(room, change.hash, change.until);
          return { ok: true, entry: modEntry() };
      }
    });
    this.#editTx = db.transaction((request: EditRequest): EditResult => {
      const { room, seq } = request;
      const earlier = request.clientId === null ? undefined : s.byClientId.get(room, request.clientId);
      if (earlier !== undefined) return { ok: true, entry: toEntry(earlier), duplicate: true };
      const target = s.entry.get(room, seq);
      if (target === undefined || !EDITABLE_KINDS.has(target.kind as EntryKind)) return { ok: false, reason: 'not-found' };
      if (target.author !== request.author) return { ok: false, reason: 'not-yours' };
      if (target.ts < request.since) return { ok: false, reason: 'too-late' };
      s.supersedeEdits.run(room, seq);
      s.editText.run(request.text, request.ts, room, seq);
      const { entry } = appendOne({
        room,
        ts: request.ts,
        kind: 'edit',
        nick: request.nick,
        text: request.text,
        clientId: request.clientId,
        trip: request.trip,
        author: request.author,
        ref: seq,
      });
      return { ok: true, entry, duplicate: false };
    });
    this.#tokenTx = db.transaction((key: string, capacity: number, perHour: number, now: number): TokenResult => {
      // Multiplying before dividing keeps whole numbers whole (30 minutes at 2 an hour is exactly one token).
      const row = s.bucket.get(key);
      const tokens = row === undefined ? capacity : Math.min(capacity, row.tokens + (Math.max(0, now - row.at) * perHour) / 3_600_000);
      const ok = tokens >= 1;
      const left = ok ? tokens - 1 : tokens;
      const msFor = (n: number): number => (perHour > 0 ? Math.ceil((n * 3_600_000) / perHour) : Number.MAX_SAFE_INTEGER);
      s.setBucket.run(key, left, now, now + msFor(capacity - left));
      if (++this.#takes % BUCKET_PRUNE_EVERY === 0) s.pruneBuckets.run(now);
      if (ok) return { ok: true };
      return { ok: false, retryAfterMs: perHour > 0 ? msFor(1 - tokens) : Number.POSITIVE_INFINITY };
    });
  }

  /** The durability settings in force on this connection (for startup logs and tests). */
  settings(): { journalMode: string; synchronous: 'OFF' | 'NORMAL' | 'FULL' | 'EXTRA' } {
    this.#check();
    const names = ['OFF', 'NORMAL', 'FULL', 'EXTRA'] as const;
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      synchronous: names[Number(this.#db.pragma('synchronous', { simple: true }))] ?? 'OFF',
    };
  }

  async start(): Promise<void> {
    this.#check();
  }

  health(): StoreHealth {
    return this.#closed ? { ok: false, reason: 'store closed' } : { ok: true };
  }

  async getRoom(room: string): Promise<RoomRecord | null> {
    this.#check();
    const row = this.#s.getRoom.get(room);
    return row === undefined ? null : toRoom(row);
  }

  async append(entry: NewEntry): Promise<AppendResult> {
    return (await this.appendMany([entry]))[0]!;
  }

  async appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]> {
    return this.#tx(() => this.#appendManyTx(entries));
  }

  async lastEntries(room: string, limit: number, maxSeq = Number.MAX_SAFE_INTEGER): Promise<StoredEntry[]> {
    this.#check();
    if (limit <= 0) return [];
    return this.#s.last.all(room, maxSeq, limit).map(toEntry);
  }

  async entriesAfter(room: string, afterSeq: number, limit: number, maxSeq = Number.MAX_SAFE_INTEGER): Promise<StoredEntry[]> {
    this.#check();
    if (limit <= 0) return [];
    return this.#s.after.all(room, afterSeq, maxSeq, limit).map(toEntry);
  }

  async expireRooms(cutoff: number): Promise<string[]> {
    this.#check();
    return this.#expireTx(cutoff);
  }

  async listRooms(): Promise<RoomSummary[]> {
    this.#check();
    return this.#s.listRooms.all().map((r) => ({ name: r.name, members: r.members, connected: r.connected, lastSeq: r.last_seq }));
  }

  async claimSeat(claim: SeatClaim): Promise<ClaimResult> {
    return this.#tx(() => this.#claimTx(claim));
  }

  async resumeSeat(room: string, id: string, holder: string, _ts: number): Promise<ResumeResult | null> {
    return this.#tx(() => this.#resumeTx(room, id, holder));
  }

  async awaySeat(room: string, id: string, holder: string, holdUntil: number): Promise<AwayResult | null> {
    return this.#tx(() => this.#awayTx(room, id, holder, holdUntil));
  }

  async renameSeat(room: string, id: string, holder: string, nick: string, key: string, ts: number): Promise<RenameResult> {
    return this.#tx(() => this.#renameTx(room, id, holder, nick, key, ts));
  }

  async releaseSeat(request: ReleaseRequest): Promise<ReleaseResult | null> {
    return this.#tx(() => this.#releaseTx(request));
  }

  async seats(room: string): Promise<SeatSnapshot> {
    this.#check();
    const read = this.#db.transaction(() => ({
      version: this.#s.getRoom.get(room)?.seat_version ?? 0,
      seats: this.#s.seats.all(room).map(toSeat),
    }));
    return read();
  }

  async sweepSeats(now: number, graceMs: number): Promise<SeatSweep> {
    return this.#tx(() => this.#sweepTx(now, graceMs));
  }

  async policy(room: string, now: number): Promise<RoomPolicy> {
    this.#check();
    const read = this.#db.transaction((): RoomPolicy => {
      const row = this.#s.getRoom.get(room);
      const list = (kind: 'ban' | 'mute'): Restriction[] => activeRestrictions(this.#s.restrictions.all(room, kind).map(toRestriction), now);
      return {
        ownerKey: row?.owner_key ?? null,
        locked: row?.locked === 1,
        password: row?.password ?? null,
        topic: row?.topic ?? null,
        opTrips: this.#s.opTrips.all(room).map((r) => r.trip),
        bans: list('ban'),
        mutes: list('mute'),
      };
    });
    return read();
  }

  async moderate(request: ModerationRequest): Promise<ModerationResult> {
    return this.#tx(() => this.#moderateTx(request));
  }

  async editEntry(request: EditRequest): Promise<EditResult> {
    return this.#tx(() => this.#editTx(request));
  }

  async takeToken(key: string, capacity: number, perHour: number, now: number): Promise<TokenResult> {
    return this.#tx(() => this.#tokenTx(key, capacity, perHour, now));
  }

  async follow(room: string, listener: RoomListener): Promise<() => void> {
    this.#check();
    return this.#bus.follow(room, listener);
  }

  async signal(room: string, data: Record<string, unknown>): Promise<void> {
    this.#check();
    this.#bus.emit({ type: 'signal', room, data });
  }

  async serverSecret(name: string): Promise<Buffer> {
    this.#check();
    this.#db.prepare('INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)').run(name, randomBytes(32));
    const row = this.#db.prepare<[string], { value: Buffer }>('SELECT value FROM secrets WHERE name = ?').get(name);
    if (row === undefined) throw new Error(`secret ${name} vanished`);
    return Buffer.from(row.value);
  }

  onResync(): void {
    // One process: nothing is ever missed.
  }

  async flush(): Promise<void> {
    this.#check();
    // Commits are already durable (synchronous=FULL); this folds the WAL back
    // into the main file so a stopped server leaves one tidy file.
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    this.#db.close();
    this.#lock?.release();
  }

  /** Runs a write transaction and announces its events once it has committed (none if it rolled back). */
  #tx<T>(transaction: () => T): T {
    this.#check();
    this.#events = [];
    let result: T;
    try {
      result = transaction();
    } catch (error) {
      this.#events = [];
      throw error;
    }
    const events = this.#events;
    this.#events = [];
    // A batch's entries go out as one event per room run.
    let run: (RoomEvent & { type: 'entries' }) | null = null;
    for (const event of events) {
      if (event.type === 'entries' && run !== null && run.room === event.room) {
        run.entries.push(...event.entries);
        continue;
      }
      if (run !== null) this.#bus.emit(run);
      run = null;
      if (event.type === 'entries') run = { ...event, entries: [...event.entries] };
      else this.#bus.emit(event);
    }
    if (run !== null) this.#bus.emit(run);
    return result;
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }
}
