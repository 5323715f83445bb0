/**
 * The storage interface of the chat: rooms and their history. The embedded
 * SQLite store (`sqlite.ts`), the in-memory store (`memory.ts`, for `--memory`
 * and tests) and later ones (Redis) implement it, and one contract test suite
 * runs against each.
 *
 * Methods are asynchronous so that a networked store fits; the hub serialises
 * the operations of one room, so a store need not order concurrent calls for
 * the same room beyond what each call promises.
 */

/**
 * What an entry is. `join`, `leave` and `rename` are the notices; for them
 * `nick` is the member concerned and `text` holds the detail (`rename`: the
 * previous nickname; `leave`: the reason; `join`: empty).
 */
export type EntryKind = 'message' | 'action' | 'admin' | 'join' | 'leave' | 'rename';

export const ENTRY_KINDS: readonly EntryKind[] = ['message', 'action', 'admin', 'join', 'leave', 'rename'];

/** One stored history entry. */
export interface StoredEntry {
  room: string;
  /** Per-room sequence number: 1, 2, 3... with no gaps, never reused for the room name. */
  seq: number;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  kind: EntryKind;
  nick: string;
  text: string;
  /** The sender's message id, for deduplication; null when the sender gave none. */
  clientId: string | null;
}

/** An entry to append; the store assigns `seq`. */
export interface NewEntry {
  room: string;
  ts: number;
  kind: EntryKind;
  nick: string;
  text: string;
  clientId?: string | null;
}

export interface AppendResult {
  entry: StoredEntry;
  /** True when (room, clientId) was already stored: `entry` is the earlier one and nothing was written. */
  duplicate: boolean;
}

/** A room's bookkeeping. */
export interface RoomRecord {
  name: string;
  createdAt: number;
  /** Time of the last append. */
  lastActivity: number;
  /** Since when the room has had no members and still has history to expire; null while occupied. */
  emptiedAt: number | null;
  /** The last sequence number handed out (0 before the first entry). */
  lastSeq: number;
}

export interface ChatStore {
  /** The room's record, or null if the name was never used. */
  getRoom(room: string): Promise<RoomRecord | null>;

  /** Creates the room if needed and marks it occupied (`emptiedAt` = null): its history no longer expires. */
  openRoom(room: string, now: number): Promise<RoomRecord>;

  /** Marks the room as empty since `now`: its history expires `ttl` after that. */
  markEmptied(room: string, now: number): Promise<void>;

  /**
   * At startup nobody is connected: marks every room still flagged occupied
   * (the server stopped while it had members) as emptied at `now`.
   * Returns the number of rooms changed.
   */
  resetOccupancy(now: number): Promise<number>;

  /**
   * Stores an entry durably and returns it with its new sequence number; when
   * the promise resolves the entry survives a crash of the process. A `clientId`
   * already stored in the room returns the earlier entry with `duplicate: true`.
   * Creates the room (as emptied at `ts`) if it does not exist.
   */
  append(entry: NewEntry): Promise<AppendResult>;
  /**
   * Group commit: stores the entries as `append` would, one after another
   * (a `clientId` repeated within the batch is a duplicate of the first), in
   * one durable step; all or nothing. One fsync for many messages is what
   * lets a busy room keep up with a disk.
   */
  appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]>;

  /** The last `limit` entries of the room, oldest first. */
  lastEntries(room: string, limit: number): Promise<StoredEntry[]>;

  /** Up to `limit` entries with seq > `afterSeq`, oldest first. */
  entriesAfter(room: string, afterSeq: number, limit: number): Promise<StoredEntry[]>;

  /**
   * Deletes the history of every room empty since `cutoff` or earlier and
   * returns their names. The room's sequence counter is kept, so numbers are
   * never reused: a client holding an old `lastSeq` cannot mistake new entries
   * for ones it has seen.
   */
  expireRooms(cutoff: number): Promise<string[]>;

  /** Makes everything written so far durable and compacts what can be compacted. */
  flush(): Promise<void>;

  /** Flushes and releases resources; the store is unusable afterwards. */
  close(): Promise<void>;
}
