/**
 * The state seam of the chat: everything that must outlive a process or be
 * seen by another node sits behind `ChatStore`.
 *
 * - The room log: sequence numbers, idempotency by client message id,
 *   history, trimming and expiry.
 * - Seats: a nickname held in a room, by a live connection on some node or,
 *   for the grace period after its connection was lost, by nobody. A seat is
 *   found again by its resume token (stored only as a hash) on any node.
 * - The room bus: every change above is announced to the nodes that follow
 *   the room, so their members see it live.
 *
 * Three implementations pass one contract suite (test/chat/store/contract.ts):
 * `MemoryStore` (tests, `--memory`), `SqliteStore` (the embedded default, one
 * node) and `RedisStore` (several nodes). The hub and rooms keep only what is
 * cheap to rebuild from the store: which local connection sits in which seat,
 * a cache of the seat list, and how far each room's feed has been delivered.
 *
 * - Moderation: each room's owner key (a hash), operator tripcodes, bans and
 *   mutes (by address hash and tripcode, with expiry), the lock flag, the
 *   password (a hash), single-use invites (hashes) and the topic; the role
 *   and mute of each seat live in the seat itself.
 * - Token buckets shared by every node (rooms created per address).
 * - Edits: an author's message or action changed in place (its text, an
 *   `edited` time), with an `edit` entry of its own that tells followers and
 *   clients resuming after it (`editEntry`); deletions by their author are
 *   the moderators' tombstones with the author and time checked (`moderate`).
 *
 * Every operation that changes a seat does it atomically with the notice it
 * causes (a "joined", "left" or rename entry): a seat is never freed without
 * its "left" notice, and never freed twice, whichever node asks and however
 * many ask at once. Seat changes carry a per-room version so a cache can tell
 * a missed change from a repeated one; entries carry their sequence number for
 * the same reason. Every moderation change is stored atomically with its
 * notice (a `mod` entry, or the "left" notice of the seat it frees), so other
 * nodes learn of it from the room's feed, in order.
 *
 * A room's life: its record is created by the first entry. When its last
 * seat is freed and it holds nothing but join, leave and rename notices (no
 * message, console line or moderation notice), it is forgotten at once:
 * record, notices and settings. A room without seats is forgotten after the
 * TTL whatever it holds (`expireRooms`). Either way its epoch changes when the
 * name is used again, and its numbering starts from 1.
 */

/**
 * What an entry is. `join`, `leave` and `rename` are the notices; for them
 * `nick` is the member concerned and `text` holds the detail (`rename`: the
 * previous nickname; `leave`: the reason; `join`: empty). `edit` says that
 * its author changed the entry `ref` to `text` (the text is emptied when a
 * later edit or a deletion supersedes it, so an old version of a text is
 * never kept).
 */
export type EntryKind = 'message' | 'action' | 'admin' | 'join' | 'leave' | 'rename' | 'mod' | 'deleted' | 'edit';

export const ENTRY_KINDS: readonly EntryKind[] = ['message', 'action', 'admin', 'join', 'leave', 'rename', 'mod', 'deleted', 'edit'];

/**
 * Entries that do not make a room worth keeping once it is empty: a room
 * whose history holds only these is forgotten when its last seat is freed.
 */
export const BARE_KINDS: ReadonlySet<EntryKind> = new Set<EntryKind>(['join', 'leave', 'rename']);

/**
 * Entries `/delete` may turn into tombstones. A tombstone keeps its seq, time,
 * client id (a resend is still a duplicate) and author, and loses its kind,
 * nickname, tripcode, text, reply and edit time: kind `deleted`, nick and
 * text empty. The text of the entry's last `edit` is emptied too.
 */
export const DELETABLE_KINDS: ReadonlySet<EntryKind> = new Set<EntryKind>(['message', 'action', 'admin']);

/** Entries their author may edit (`editEntry`). */
export const EDITABLE_KINDS: ReadonlySet<EntryKind> = new Set<EntryKind>(['message', 'action']);

/** One stored history entry. */
export interface StoredEntry {
  room: string;
  /** Per-room sequence number: 1, 2, 3... with no gaps; starts again from 1 only in a new epoch (a forgotten room). */
  seq: number;
  /** Server time, milliseconds since the epoch. */
  ts: number;
  kind: EntryKind;
  nick: string;
  text: string;
  /** The sender's message id, for deduplication; null when the sender gave none. */
  clientId: string | null;
  /** The tripcode shown after the nickname, or null. */
  trip: string | null;
  /**
   * The seat (its id, `SeatRecord.id`) that posted a message or action, or
   * made an edit: whose entry it is, for editing and deleting one's own.
   * Never shown; null for the rest.
   */
  author: string | null;
  /** The entry this one points at: the one a message or action replies to, the one an `edit` changed; else null. */
  ref: number | null;
  /** A reply: the nickname of the entry it answers, as it was then; else null. */
  refNick: string | null;
  /** A message or action edited by its author: when it last was (ms since the epoch); else null. */
  edited: number | null;
}

/** An entry to append; the store assigns `seq`. */
export interface NewEntry {
  room: string;
  ts: number;
  kind: EntryKind;
  nick: string;
  text: string;
  clientId?: string | null;
  trip?: string | null;
  author?: string | null;
  /** A reply: the seq it answers (checked by the caller), and that entry's nickname. */
  ref?: number | null;
  refNick?: string | null;
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
  /** Since when the room has had no seat and still has history to expire; null while occupied. */
  emptiedAt: number | null;
  /** The last sequence number handed out (0 before the first entry). */
  lastSeq: number;
  /**
   * Changes when the room's numbering starts again from nothing (a room
   * forgotten and used again, or a store that lost its data): a client
   * holding a `lastSeq` from another epoch must drop what it shows instead
   * of trusting the numbers.
   */
  epoch: string;
}

/** One line of the cluster-wide room list. */
export interface RoomSummary {
  name: string;
  /** Seats, including away members. */
  members: number;
  /** Seats held by a live connection. */
  connected: number;
  lastSeq: number;
}

/** A member's standing in a room (the console's `admin` is above all of them and holds no seat). */
export type Role = 'user' | 'operator' | 'owner';

/** A nickname held in a room. */
export interface SeatRecord {
  /** The hash of the seat's resume token (see `seatId`); the token itself is never stored. */
  id: string;
  nick: string;
  /** The nickname's comparison key: unique per room. */
  key: string;
  trip: string | null;
  /** The connection holding the seat ("node/connection"), or null while the member is away. */
  holder: string | null;
  /** While away: when the hold ends (ms since the epoch); null while held. */
  holdUntil: number | null;
  /**
   * Whether the seat outlives its connection for the grace period. Doors
   * without resume tokens (plain WebSocket, TCP lines) have nothing to come
   * back with, so their seats are freed as soon as the connection is lost.
   */
  holdable: boolean;
  joinedAt: number;
  /** `owner`: proved the room's owner key; `operator`: named by an owner (or by tripcode). */
  role: Role;
  /** The hash of the member's address (see `Hub`), for bans and mutes; null when unknown. */
  address: string | null;
  /** While muted: until when (ms since the epoch; `FOREVER` of restrictions.ts until unmuted); else null. */
  mutedUntil: number | null;
}

/** A change to a room's seats, numbered by the room's seat version. */
export type SeatChange =
  | { op: 'set'; seat: SeatRecord }
  | { op: 'delete'; id: string; reason: string };

/** What a room's followers receive. */
export type RoomEvent =
  /** Entries appended, in seq order (a node's own appends come back too; followers drop what they have). */
  | { type: 'entries'; room: string; entries: StoredEntry[] }
  /** A seat changed; `version` is the room's seat version after the change. */
  | { type: 'seat'; room: string; version: number; change: SeatChange }
  /** An ephemeral signal between nodes (not stored). */
  | { type: 'signal'; room: string; data: Record<string, unknown> };

export type RoomListener = (event: RoomEvent) => void;

/** The seats of a room at one version. */
export interface SeatSnapshot {
  version: number;
  seats: SeatRecord[];
}

/** A seat to take. */
export interface SeatClaim {
  room: string;
  /** The store decides `role` and `mutedUntil` (from the room's owner key, operator tripcodes and mutes). */
  seat: Omit<SeatRecord, 'holdUntil' | 'joinedAt' | 'role' | 'address' | 'mutedUntil'> & { holder: string; address?: string | null };
  ts: number;
  /** Refused with `full` when the room already has this many seats. */
  maxSeats: number;
  /** The hash (`secretHash`) of the owner key the joiner presented: the seat is the owner's when it matches. */
  ownerKey?: string | null;
  /** When the room has no history and no owner yet, this key hash becomes its owner key and the seat its owner's. */
  newOwnerKey?: string | null;
  /** The hash of an invite code the joiner presented: consumed (once, ever) when the room needs one. */
  invite?: string | null;
  /** The room's password hash the joiner proved to know (verified by the caller against `RoomPolicy.password`). */
  password?: string | null;
}

/**
 * Why a claim was refused. Bans apply to everyone but an owner (by key);
 * the lock and the password to newcomers without an owner key or an
 * operator tripcode: a locked room admits them only with an invite; a room
 * with a password with an invite or the password.
 */
export type ClaimRefusal =
  | { ok: false; reason: 'taken' | 'full' | 'locked' | 'password' }
  | { ok: false; reason: 'banned'; until: number | null };

export type ClaimResult =
  | {
      ok: true;
      entry: StoredEntry;
      version: number;
      seat: SeatRecord;
      epoch: string;
      /** This claim made the joiner the owner of a new room (with `newOwnerKey`). */
      madeOwner: boolean;
      /** This claim used up its invite. */
      usedInvite: boolean;
    }
  | ClaimRefusal;

/** A seat taken back by its token. */
export interface ResumeResult {
  seat: SeatRecord;
  /** The connection that held it until now (a stale one), or null if it was away. */
  previousHolder: string | null;
  /** The room's last seq at the moment of resuming: history up to it, live after it. */
  lastSeq: number;
  version: number;
  /** The room's epoch (see `RoomRecord.epoch`). */
  epoch: string;
}

export type RenameResult =
  | { ok: true; entry: StoredEntry; version: number; seat: SeatRecord }
  | { ok: false; reason: 'taken' | 'gone' };

/** Which seat `releaseSeat` frees, and on what condition. */
export interface ReleaseRequest {
  room: string;
  /** The seat by id, or by nickname key (the console's `/kick`). */
  id?: string;
  key?: string;
  /** The `leave` notice's reason. */
  reason: string;
  ts: number;
  /** Only if the seat is still held by this connection. */
  holder?: string;
  /** Only if the seat is away and its hold ended at or before `ts`. */
  expired?: boolean;
}

export interface ReleaseResult {
  entry: StoredEntry;
  seat: SeatRecord;
  version: number;
  /** The room has no seat left. */
  emptied: boolean;
  /** Emptied with nothing worth keeping: the room was forgotten (see the module comment). */
  forgotten: boolean;
}

export interface AwayResult {
  seat: SeatRecord;
  version: number;
}

/** What a sweep of the seats did. */
export interface SeatSweep {
  /** Seats freed (with their "left" notices). */
  released: number;
  /** Seats whose node is gone, now away (or freed, when not holdable). */
  orphaned: number;
  /** The earliest hold still running, or null. */
  nextHoldUntil: number | null;
}

/** A ban or a mute in a room: by the address hash and the tripcode of the member it was made for. */
export interface Restriction {
  /** Short and random, for `/unban ID` and the lists. */
  id: string;
  /** The member's nickname then, and its comparison key (for `/unban NICK`). */
  nick: string;
  key: string;
  address: string | null;
  trip: string | null;
  /** Who made it (a nickname, or "Administrator"). */
  by: string;
  at: number;
  /** Until when (ms since the epoch), or null: until lifted. */
  until: number | null;
}

/** A room's moderation settings. */
export interface RoomPolicy {
  /** The hash (`secretHash`) of the room's owner key; null until someone owns the room. */
  ownerKey: string | null;
  /** No newcomers, but with an invite (members stay). */
  locked: boolean;
  /** The password hash (scrypt, see moderation.ts); null: no password. */
  password: string | null;
  topic: string | null;
  /** Tripcodes made operators: a member joining with one is an operator. */
  opTrips: string[];
  /** In force at the time asked for (expired ones are left out). */
  bans: Restriction[];
  mutes: Restriction[];
}

/** The policy of a room nobody configured. */
export function emptyPolicy(): RoomPolicy {
  return { ownerKey: null, locked: false, password: null, topic: null, opTrips: [], bans: [], mutes: [] };
}

/** A moderation change; each is stored with its notice (see `ModerationRequest`). */
export type ModerationChange =
  /** A seat's role; `trip` adds the seat's tripcode to (or removes it from) the operator tripcodes. */
  | { op: 'role'; seat: string; role: Role; trip?: 'add' | 'remove' }
  /** A ban; the seat, when still there, is freed with the notice as its "left" notice (`seat.reason`). */
  | { op: 'ban'; restriction: Restriction; seat: string | null }
  | { op: 'unban'; ids: string[] }
  /** A mute; the seat, when still there, is muted until `restriction.until`. */
  | { op: 'mute'; restriction: Restriction; seat: string | null }
  /** Lifts these mutes and the seat's mute. */
  | { op: 'unmute'; ids: string[]; seat: string | null }
  | { op: 'lock'; locked: boolean }
  | { op: 'password'; hash: string | null }
  | { op: 'topic'; topic: string | null }
  /**
   * Turns a message, action or console line into a tombstone. With
   * `author`, only an entry of that seat (refused `not-yours`); with
   * `since`, only one stored at or after that time (refused `too-late`):
   * a member deleting its own.
   */
  | { op: 'delete'; seq: number; author?: string; since?: number }
  /** A single-use invite, by the hash of its code. */
  | { op: 'invite'; hash: string; until: number };

export interface ModerationRequest {
  room: string;
  ts: number;
  change: ModerationChange;
  /**
   * The notice: a `mod` entry with the `nick` and `trip` of the one who
   * acted and `text` encoding the details (src/chat/notices.ts). A ban that
   * frees a seat stores it as that seat's `leave` entry instead (the seat's
   * nick and trip, `text` as the reason), so one entry tells both.
   */
  notice: { nick: string; trip: string | null; text: string };
}

export type ModerationResult =
  | {
      ok: true;
      entry: StoredEntry;
      /** The seat changed (role, mute) or freed (ban), with the room's seat version after it. */
      seat?: { version: number; change: SeatChange };
    }
  /**
   * `gone`: the seat named is not there (role); `not-found`: nothing to lift
   * or delete; `not-yours`, `too-late`: a delete's `author` or `since` do not match.
   */
  | { ok: false; reason: 'gone' | 'not-found' | 'not-yours' | 'too-late' };

/** An author changing the text of its message or action. */
export interface EditRequest {
  room: string;
  /** The entry to change: a message or action. */
  seq: number;
  /** Its new text (checked by the caller). */
  text: string;
  /** Only an entry of this seat (`StoredEntry.author`). */
  author: string;
  /** Only an entry stored at or after this time. */
  since: number;
  ts: number;
  /** The `edit` entry's nickname and tripcode (the author's now). */
  nick: string;
  trip: string | null;
  /** The `edit` entry's client id: a resend of the same request changes nothing and returns the first one. */
  clientId: string | null;
}

export type EditResult =
  | {
      ok: true;
      /** The `edit` entry (followers receive it). */
      entry: StoredEntry;
      /** The request's client id was stored already: `entry` is the earlier one and nothing changed. */
      duplicate: boolean;
    }
  /** `not-found`: no message or action `seq` (deleted, trimmed, never was); `not-yours`; `too-late`: older than `since`. */
  | { ok: false; reason: 'not-found' | 'not-yours' | 'too-late' };

/** Whether a token was taken from a bucket, or how long until one is there. */
export type TokenResult = { ok: true } | { ok: false; retryAfterMs: number };

/** Whether the store can serve requests right now. */
export type StoreHealth = { ok: true } | { ok: false; reason: string };

/**
 * The store could not be reached (Redis down): the request may be retried.
 * Posts answered with this stay in the client's outbox.
 */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export interface ChatStore {
  /** This process's id among the nodes sharing the store. Connection ids (`holder`) start with it and a "/". */
  readonly nodeId: string;

  /**
   * Connects, and takes over what a previous run of a single-node store left
   * behind: seats held by connections of a process that is gone become away
   * for `graceMs` (or are freed at once when not holdable).
   * @throws when the store cannot be opened or reached.
   */
  start(options: { now: number; graceMs: number }): Promise<void>;

  health(): StoreHealth;

  // ---- the room log ----

  /** The room's record, or null if the name was never used. */
  getRoom(room: string): Promise<RoomRecord | null>;

  /**
   * Stores entries durably, one after another (a `clientId` repeated within
   * the batch is a duplicate of the first), in one durable step: all or
   * nothing. When the promise resolves the entries survive a crash of the
   * process (and, for Redis with `appendfsync always`, of Redis). A
   * `clientId` already stored in the room returns the earlier entry with
   * `duplicate: true`. Creates the room (as emptied at `ts`) if needed.
   * Followers of the room receive the new entries.
   */
  appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]>;
  /** `appendMany` of one entry. */
  append(entry: NewEntry): Promise<AppendResult>;

  /** The last `limit` entries of the room with seq <= `maxSeq` (default: all), oldest first. */
  lastEntries(room: string, limit: number, maxSeq?: number): Promise<StoredEntry[]>;

  /** Up to `limit` entries with `afterSeq` < seq <= `maxSeq` (default: all), oldest first. */
  entriesAfter(room: string, afterSeq: number, limit: number, maxSeq?: number): Promise<StoredEntry[]>;

  /**
   * Forgets every room without seats since `cutoff` or earlier (record,
   * history, settings, invites) and returns their names. The name starts
   * afresh when used again: numbering from 1, a new epoch.
   */
  expireRooms(cutoff: number): Promise<string[]>;

  /** Rooms with at least one seat, across every node. */
  listRooms(): Promise<RoomSummary[]>;

  // ---- seats ----

  /**
   * Takes a free nickname: the seat and its "joined" notice, atomically,
   * after the room's admission rules (see `SeatClaim`, `ClaimRefusal`). The
   * room becomes occupied. A refused claim changes nothing (an invite is not
   * used up).
   */
  claimSeat(claim: SeatClaim): Promise<ClaimResult>;

  /** Takes the seat back by id for `holder`, whoever held it; null when there is no such seat. No notice. */
  resumeSeat(room: string, id: string, holder: string, ts: number): Promise<ResumeResult | null>;

  /** The connection `holder` was lost: its seat is away until `holdUntil`. Null if it no longer holds the seat. */
  awaySeat(room: string, id: string, holder: string, holdUntil: number): Promise<AwayResult | null>;

  /** A new nickname for the seat held by `holder`, with its notice. */
  renameSeat(room: string, id: string, holder: string, nick: string, key: string, ts: number): Promise<RenameResult>;

  /** Frees a seat with its "left" notice, atomically; null if no seat matched the request. */
  releaseSeat(request: ReleaseRequest): Promise<ReleaseResult | null>;

  /** The room's seats, in joining order. */
  seats(room: string): Promise<SeatSnapshot>;

  // ---- moderation ----

  /** The room's moderation settings, with the bans and mutes in force at `now`. */
  policy(room: string, now: number): Promise<RoomPolicy>;

  /**
   * Applies a moderation change and stores its notice, atomically; followers
   * receive the notice (and the seat change). Creates the room if needed
   * (then it is kept: it has a moderation notice).
   */
  moderate(request: ModerationRequest): Promise<ModerationResult>;

  /**
   * Changes the text of a message or action of `request.author` stored since
   * `request.since`, atomically with its `edit` entry (an announcement, and
   * what a client resuming after it learns the change from): the entry's
   * text is replaced in place, `edited` set to `ts`, and the text of the
   * entry's previous `edit` emptied. A refused request changes nothing.
   */
  editEntry(request: EditRequest): Promise<EditResult>;

  /**
   * Takes one token from the bucket `key` (created full), shared by every
   * node: `capacity` tokens, refilled at `perHour` an hour. Buckets that are
   * full again are forgotten.
   */
  takeToken(key: string, capacity: number, perHour: number, now: number): Promise<TokenResult>;

  /**
   * Frees seats whose hold ended by `now`, and makes away (for `graceMs`)
   * seats held by connections of nodes that are gone. Safe to run on every
   * node at once: each seat is freed once.
   */
  sweepSeats(now: number, graceMs: number): Promise<SeatSweep>;

  // ---- the room bus ----

  /**
   * Follows a room: `listener` receives its events from now on (possibly
   * some from just before). Resolves once following has begun.
   * @returns a function that stops following.
   */
  follow(room: string, listener: RoomListener): Promise<() => void>;

  /** Sends an ephemeral signal to every follower of the room, on every node (this one included). */
  signal(room: string, data: Record<string, unknown>): Promise<void>;

  /**
   * Called when followers may have missed events (a reconnection to Redis):
   * each room's follower should catch up from the log and the seat list.
   */
  onResync(listener: () => void): void;

  /**
   * A random secret kept by the store under `name`, created on first use and
   * the same on every node and after every restart (the tripcode salt).
   */
  serverSecret(name: string): Promise<Uint8Array>;

  // ---- lifecycle ----

  /** Makes everything written so far durable and compacts what can be compacted. */
  flush(): Promise<void>;

  /** Flushes and releases resources (and the data directory's lock); the store is unusable afterwards. */
  close(): Promise<void>;
}

