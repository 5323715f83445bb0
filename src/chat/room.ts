import { randomBytes } from 'node:crypto';
import type { Clock, Timer } from './clock.js';
import type { JoinResult, Logger, Member, Outcome } from './member.js';
import {
  ChatCloseCode,
  EDIT_WINDOW_MS,
  type EntryEvent,
  ErrorCode,
  entryToEvent,
  type LeaveReason,
  type MemberInfo,
  type ServerEvent,
  type WelcomeEvent,
} from './messages.js';
import { editRefusal, newCode, secretHash, verifyPassword } from './moderation.js';
import { checkNickname, NICK_MAX_LENGTH } from './nickname.js';
import { formatDuration } from './duration.js';
import { decodeDetail } from './notices.js';
import { FOREVER } from './store/restrictions.js';
import type {
  AppendResult,
  ChatStore,
  ClaimRefusal,
  EntryKind,
  ReleaseResult,
  Role,
  RoomEvent,
  SeatChange,
  SeatRecord,
  StoredEntry,
} from './store/store.js';
import { seatId } from './store/seat-id.js';
import type { Refusal } from './member.js';

/** Limits and timings of a room (a subset of the hub's configuration). */
export interface RoomSettings {
  /** Entries in the welcome of a join without `lastSeq`. */
  historySize: number;
  /** Most entries in one welcome after `lastSeq` or one `history` page. */
  maxReplay: number;
  /** Most text (UTF-16 code units, summed) in one welcome or history page; at least one entry is always sent. */
  maxReplayChars: number;
  maxMessage: number;
  /** How long a dropped member's nickname is held. */
  graceMs: number;
  /** How long the seat of a connection that said `hold` is kept, unseen, after it closes (a page reloading). */
  leaveHoldMs: number;
  maxMembersPerRoom: number;
  /** How long a gap in a room's feed may wait for the missing entries to arrive before they are read from the log. */
  gapWaitMs: number;
}

/** What the hub provides to its rooms. */
export interface RoomHost {
  readonly store: ChatStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: RoomSettings;
  /** Called when the room has no local seat and nothing queued: the hub may drop it. */
  roomIdle(room: Room): void;
  /**
   * A join is about to create the room (it has no record): whether the
   * client's address may create one more (the per-address rooms-per-hour
   * limit); null when it may.
   */
  newRoom(address: string | null): Promise<Refusal | null>;
  /** Every entry this node releases to the room's members, in seq order (the console's activity log). */
  onEntry?(room: string, entry: StoredEntry): void;
}

/**
 * This node's side of a seat (the seat itself lives in the store): the local
 * connection using it, the grace timer while it is away, and how far its
 * member has been given the room's entries.
 */
export class Seat {
  member: Member | null = null;
  /** The connection id this node holds the seat with in the store, or null while away. */
  holder: string | null = null;
  graceTimer: Timer | null = null;
  /** The highest seq sent to the member (in its welcome or live). */
  cursor = 0;
  /** Entries that arrived while the welcome was being put together; sent right after it. Null once welcomed. */
  pending: StoredEntry[] | null = null;
  /** This node is freeing the seat (its own quit, move, expiry): the store's announcement of it is no news. */
  leaving = false;
  /** The member's role in the room and its mute, as the store last said (seat changes keep them up to date). */
  role: Role = 'user';
  mutedUntil: number | null = null;

  constructor(
    /** `seatId(token)`. */
    readonly id: string,
    /** Given to the client in its welcome; presenting it again takes the seat back. */
    public token: string,
    public nick: string,
    public key: string,
    public trip: string | null,
    readonly holdable: boolean,
  ) {}

  /** Takes the role and mute from the seat's record. */
  update(record: SeatRecord): void {
    this.role = record.role;
    this.mutedUntil = record.mutedUntil;
  }
}

/** What `Room.admit` needs; the member validated the nickname already. */
export interface AdmitRequest {
  nick: string;
  key: string;
  trip?: string | null;
  resumeToken: string | undefined;
  lastSeq: number | undefined;
  /** The room epoch the client's `lastSeq` belongs to, when it knows it. */
  epoch?: string | undefined;
  uniquify: boolean;
  /** The client's address key (address.ts) and its hash (what bans and mutes keep); null when unknown. */
  address?: string | null;
  addressHash?: string | null;
  /** The room password (wschat.v1 `password`). */
  password?: string | undefined;
  /** An invite code (wschat.v1 `invite`). */
  invite?: string | undefined;
  /** What a text door's user typed when asked: the password or an invite code, whichever the room takes. */
  passcode?: string | undefined;
  /** The room's owner key. */
  ownerKey?: string | undefined;
}

/** What a reply answers: the entry's seq and its nickname then. */
export interface ReplyTarget {
  seq: number;
  nick: string;
}

/** What `typing` signals carry between nodes (store.signal): the seat, not to echo to it, and who. */
interface TypingSignal {
  seat: string;
  nick: string;
  trip: string | null;
}

/** A post waiting for its batch to be stored. */
interface PendingPost {
  member: Member;
  seat: Seat;
  kind: 'message' | 'action';
  text: string;
  clientId: string | null;
  reply: ReplyTarget | null;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

/** Members' flushes of the live list are coalesced over at most this many queued operations. */
const MEMBERS_COALESCE = 32;
/** Attempts at "nick-2", "nick-3"... when a generated nickname is taken. */
const UNIQUIFY_ATTEMPTS = 98;

/**
 * One room as this node serves it: the local members and their seats, a
 * cache of every node's seats (the member list), the room's feed (every
 * entry delivered to the local members once, in seq order, whichever node
 * appended it), and a queue that runs the local operations one at a time.
 *
 * The seats themselves, the log and the numbering live in the store, which
 * changes them atomically; this object keeps only what is cheap to rebuild.
 *
 * Ordering. Each local member has a cursor: an entry reaches it only if its
 * seq is above the cursor, and entries are released to members strictly in
 * seq order. A welcome is put together at one snapshot seq (the member's
 * "joined" notice, or the room's last seq when resuming) and holds exactly
 * the entries up to it; everything after reaches the member live, after the
 * welcome. When entries arrive out of order (two nodes appending at once),
 * the later ones wait for the gap to close, and a gap still open after
 * `gapWaitMs` is filled from the log: a node that missed an announcement
 * (a blip of its Redis connection) loses nothing.
 */
export class Room {
  readonly name: string;
  readonly #host: RoomHost;
  /** The store's connection-id prefix for this node. */
  readonly #node: string;
  /** Seats this node serves (held by a local connection, or away with a local grace timer), in seating order. */
  readonly #local = new Map<string, Seat>();
  /** Every node's seats, in joining order, at `#seatVersion`. */
  #seats = new Map<string, SeatRecord>();
  #seatVersion = 0;
  /** Seat changes that arrived ahead of a missing one, by version. */
  readonly #seatBacklog = new Map<number, SeatChange>();
  #seatRefresh: Promise<void> | null = null;
  /** The highest seq released to the local members; null until the room follows its feed. */
  #cursor: number | null = null;
  /** Entries above the cursor waiting for the ones before them, by seq. */
  readonly #buffer = new Map<number, StoredEntry>();
  #gapTimer: Timer | null = null;
  #filling: Promise<void> | null = null;
  #following: Promise<void> | null = null;
  #unfollow: (() => void) | null = null;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #membersDirty = false;
  #membersFlushScheduled = false;
  #deferred = 0;
  /** Posts waiting to be stored together; null when the next post must open a new batch. */
  #openBatch: PendingPost[] | null = null;
  /** Set by shutdown(): no new seats, no grace periods. */
  #shutDown = false;
  #dropped = false;
  /** The room's epoch as this object knows it; null while it has no record. */
  #epoch: string | null = null;

  constructor(name: string, host: RoomHost) {
    this.name = name;
    this.#host = host;
    this.#node = `${host.store.nodeId}/`;
  }

  /** The highest sequence number delivered here (0 before the room follows its feed). */
  get lastSeq(): number {
    return this.#cursor ?? 0;
  }

  /** Seats this node serves, including away ones with a local grace timer. */
  get size(): number {
    return this.#local.size;
  }

  /** Local members with a live connection. */
  get connectedCount(): number {
    let n = 0;
    for (const seat of this.#local.values()) if (seat.member !== null) n++;
    return n;
  }

  /** Operations queued or running. */
  get pendingOps(): number {
    return this.#pending;
  }

  /** The member list (every node's members), in joining order. */
  memberList(): MemberInfo[] {
    return [...this.#seats.values()].map((s) => memberInfo(s));
  }

  /** Resolves once every operation queued so far, and any catching up of the feed, has finished. */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail;
      if (this.#filling !== null) await this.#filling;
      if (this.#seatRefresh !== null) await this.#seatRefresh;
      if (tail === this.#tail && this.#filling === null && this.#seatRefresh === null) return;
    }
  }

  /**
   * Runs `op` after every operation queued before it. The returned promise
   * settles with `op`'s result; a failure does not stop the queue.
   */
  run<T>(op: () => Promise<T>): Promise<T> {
    // Posts after this operation must not join a batch queued before it.
    this.#openBatch = null;
    return this.#enqueue(op);
  }

  #enqueue<T>(op: () => Promise<T>): Promise<T> {
    this.#pending++;
    const result = this.#tail.then(async () => {
      try {
        return await op();
      } finally {
        this.#pending--;
        this.#afterOp();
      }
    });
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  // -------------------------------------------------------------------------
  // Operations (each queued)

  /** Seats `member` (fresh, or resuming a held seat by token) and sends its welcome. */
  admit(member: Member, request: AdmitRequest): Promise<JoinResult> {
    return this.run(async () => {
      if (member.closed || this.#shutDown) return { ok: false, code: ErrorCode.NOT_JOINED, message: 'connection closed' };
      await this.#follow();
      const store = this.#host.store;
      const holder = `${this.#node}${member.id}`;
      const now = this.#host.clock.now();
      let seat: Seat | null = null;
      let snapshot = 0;
      let resumed = false;
      let epoch = '';
      if (request.resumeToken !== undefined) {
        const id = seatId(request.resumeToken);
        const result = await store.resumeSeat(this.name, id, holder, now);
        if (result !== null) {
          resumed = true;
          snapshot = result.lastSeq;
          epoch = result.epoch;
          const record = result.seat;
          if (result.epoch !== this.#epoch) this.#adoptEpoch(result.epoch, result.lastSeq, result.version - 1);
          seat = this.#local.get(id) ?? null;
          if (seat === null) {
            seat = new Seat(id, request.resumeToken, record.nick, record.key, record.trip, record.holdable);
            this.#local.set(id, seat);
          }
          seat.update(record);
          const previous = seat.member;
          if (previous !== null && previous !== member) {
            // The same client came back before its old connection was noticed dead (a flaky mobile link).
            previous.detach(seat);
            previous.closeConnection(ChatCloseCode.REPLACED, 'resumed on another connection');
          }
          seat.graceTimer?.cancel();
          seat.graceTimer = null;
          seat.member = member;
          seat.holder = holder;
          seat.cursor = snapshot;
          seat.pending = [];
          member.attach(this, seat);
          this.#applySeat(result.version, { op: 'set', seat: record });
        }
      }
      let ownerKey: string | undefined;
      if (seat === null) {
        if (this.#seats.size >= this.#host.settings.maxMembersPerRoom) {
          return { ok: false, code: ErrorCode.ROOM_FULL, message: 'this room is full' };
        }
        if (this.#local.size === 0) {
          // Nobody here: the room may have been forgotten (or never made) since this object last looked.
          const record = await store.getRoom(this.name);
          if (record === null) {
            const refused = await this.#host.newRoom(request.address ?? null);
            if (refused !== null) return refused;
          }
          if ((record?.epoch ?? null) !== this.#epoch) this.#adoptEpoch(record?.epoch ?? null, record?.lastSeq ?? 0, 0);
        }
        const token = randomBytes(24).toString('base64url');
        const id = seatId(token);
        const holdable = member.conn.resumable !== false;
        const trip = request.trip ?? null;
        const credentials = await this.#credentials(request, now);
        const newOwnerKey = newCode();
        const candidates = request.uniquify ? this.#variants(request.nick, request.key) : [{ nick: request.nick, key: request.key }];
        let claimed: { nick: string; key: string; entry: StoredEntry; version: number; record: SeatRecord } | null = null;
        for (const candidate of candidates) {
          const result = await store.claimSeat({
            room: this.name,
            seat: { id, nick: candidate.nick, key: candidate.key, trip, holder, holdable, address: request.addressHash ?? null },
            ts: now,
            maxSeats: this.#host.settings.maxMembersPerRoom,
            ...credentials,
            newOwnerKey: secretHash(newOwnerKey),
          });
          if (result.ok) {
            claimed = { ...candidate, entry: result.entry, version: result.version, record: result.seat };
            epoch = result.epoch;
            if (result.madeOwner) ownerKey = newOwnerKey;
            break;
          }
          if (result.reason !== 'taken') return refusalOf(result, request);
        }
        if (claimed === null) {
          return { ok: false, code: ErrorCode.NICK_TAKEN, message: `the nickname ${request.nick} is taken in this room` };
        }
        // A room forgotten and made again meanwhile (possibly by another node): its numbering starts over.
        if (epoch !== this.#epoch) this.#adoptEpoch(epoch, claimed.entry.seq - 1, claimed.version - 1);
        // Everyone already here sees the notice; the joiner sees it in its welcome.
        this.#receive([claimed.entry]);
        seat = new Seat(id, token, claimed.nick, claimed.key, trip, holdable);
        seat.update(claimed.record);
        seat.member = member;
        seat.holder = holder;
        seat.cursor = claimed.entry.seq;
        seat.pending = [];
        snapshot = claimed.entry.seq;
        this.#local.set(id, seat);
        member.attach(this, seat);
        this.#applySeat(claimed.version, { op: 'set', seat: claimed.record });
      }
      // Entries this node already released to its members (a feed ahead of
      // the snapshot) go into the welcome too; the rest reach the member live.
      snapshot = Math.max(snapshot, this.#cursor ?? 0);
      seat.cursor = snapshot;
      try {
        // A lastSeq from another epoch numbers entries that no longer exist.
        const lastSeq = request.epoch !== undefined && request.epoch !== epoch ? Number.POSITIVE_INFINITY : request.lastSeq;
        await this.#welcome(member, seat, lastSeq, snapshot, resumed, epoch, ownerKey);
      } catch (error) {
        this.#abandon(seat, resumed);
        throw error;
      }
      return { ok: true, room: this.name, nick: seat.nick, resumed };
    });
  }

  /**
   * What the join proves: the owner key and invite (as hashes, which the
   * store compares) and the password (checked here against the stored
   * scrypt hash; the store is given that hash back as the proof).
   */
  async #credentials(request: AdmitRequest, now: number): Promise<{ ownerKey: string | null; invite: string | null; password: string | null }> {
    const invite = request.invite ?? request.passcode;
    const password = request.password ?? request.passcode;
    let proof: string | null = null;
    if (password !== undefined) {
      const policy = await this.#host.store.policy(this.name, now);
      if (policy.password !== null && (await verifyPassword(password, policy.password))) proof = policy.password;
    }
    return {
      ownerKey: request.ownerKey === undefined ? null : secretHash(request.ownerKey),
      invite: invite === undefined ? null : secretHash(invite),
      password: proof,
    };
  }

  /** The room was forgotten and made again: its numbering and seat versions start over. */
  #adoptEpoch(epoch: string | null, cursor: number, seatVersion: number): void {
    this.#epoch = epoch;
    this.#cursor = cursor;
    this.#buffer.clear();
    this.#gapTimer?.cancel();
    this.#gapTimer = null;
    this.#seats = new Map();
    this.#seatVersion = seatVersion;
    this.#seatBacklog.clear();
    this.#membersDirty = true;
    if (seatVersion > 0) this.#refreshSeats();
  }

  async #welcome(
    member: Member,
    seat: Seat,
    lastSeq: number | undefined,
    snapshot: number,
    resumed: boolean,
    epoch: string,
    ownerKey: string | undefined,
  ): Promise<void> {
    const store = this.#host.store;
    let history: EntryEvent[];
    let more = false;
    const reset = lastSeq !== undefined && lastSeq > snapshot;
    if (lastSeq !== undefined && !reset) {
      ({ entries: history, more } = await this.#page(lastSeq, this.#host.settings.maxReplay, snapshot));
    } else {
      const last = await store.lastEntries(this.name, this.#host.settings.historySize, snapshot);
      history = this.#budget(last).entries;
    }
    await this.#seatsAtLeast();
    const { topic } = await store.policy(this.name, this.#host.clock.now());
    const welcome: WelcomeEvent = {
      type: 'welcome',
      room: this.name,
      nick: seat.nick,
      ...(seat.trip === null ? {} : { trip: seat.trip }),
      resumeToken: seat.token,
      resumed,
      reset,
      members: this.memberList(),
      history,
      lastSeq: snapshot,
      more,
      maxMessage: this.#host.settings.maxMessage,
      epoch,
      topic,
      role: seat.role,
      ...(ownerKey === undefined ? {} : { ownerKey }),
    };
    if (seat.member !== member) return;
    member.send(welcome);
    const pending = seat.pending ?? [];
    seat.pending = null;
    for (const entry of pending) this.#deliverTo(seat, entry, entryToEvent(entry), new Map());
  }

  /**
   * A seat taken whose welcome could not be sent (the store failed): the
   * member is not seated. A resumed seat goes back to being away (the client
   * retries with its token); a fresh one is freed, since its client never
   * got the token.
   */
  #abandon(seat: Seat, resumed: boolean): void {
    const member = seat.member;
    if (member !== null) member.detach(seat);
    seat.member = null;
    seat.pending = null;
    const holder = seat.holder;
    if (holder === null) return;
    if (resumed && seat.holdable && this.#host.settings.graceMs > 0) this.#goAway(seat, holder);
    else this.#releaseHeld(seat, holder, 'lost');
  }

  /**
   * Marks the seat away in the store for the grace period, then starts its
   * timer. If the store cannot be reached, tries again: a seat must not stay
   * held by a connection that is gone.
   */
  #goAway(seat: Seat, holder: string, attempt = 0): void {
    const holdUntil = this.#host.clock.now() + this.#host.settings.graceMs;
    this.#retrying(seat, attempt, async () => {
      const result = await this.#host.store.awaySeat(this.name, seat.id, holder, holdUntil);
      if (seat.member !== null) return;
      if (result === null) {
        // Taken back on another connection (another node) meanwhile.
        this.#forget(seat);
        return;
      }
      seat.holder = null;
      this.#applySeat(result.version, { op: 'set', seat: result.seat });
      this.#startGrace(seat, Math.max(0, holdUntil - this.#host.clock.now()));
    }, (next) => this.#goAway(seat, holder, next));
  }

  /** Frees a seat still held by `holder` (with its notice), trying again while the store cannot be reached. */
  #releaseHeld(seat: Seat, holder: string, reason: string, attempt = 0): void {
    this.#retrying(seat, attempt, async () => {
      if (seat.member !== null) return;
      await this.#release(seat, reason, { holder });
      if (seat.member === null) this.#forget(seat);
    }, (next) => this.#releaseHeld(seat, holder, reason, next));
  }

  /** Runs `op` in the queue; on failure keeps the seat served here and calls `again` after a backoff. */
  #retrying(seat: Seat, attempt: number, op: () => Promise<void>, again: (attempt: number) => void): void {
    void this.run(async () => {
      if (this.#local.get(seat.id) !== seat) return;
      try {
        await op();
      } catch (error) {
        this.#host.log('warn', 'updating a seat failed; trying again', this.#fields(error));
        seat.graceTimer?.cancel();
        seat.graceTimer = this.#host.clock.setTimeout(() => {
          seat.graceTimer = null;
          again(attempt + 1);
        }, Math.min(1000 * 2 ** attempt, 15_000));
      }
    });
  }

  /**
   * Stores a member's message or action, acknowledges it (when it has a
   * client id), then broadcasts it. Posts that reach the room in the same
   * event-loop turn, with no other operation queued between them, are
   * stored together (group commit: one transaction, one fsync) and then
   * acknowledged and broadcast one by one, in order.
   */
  post(member: Member, seat: Seat, kind: 'message' | 'action', text: string, clientId: string | null, reply: ReplyTarget | null = null): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const post: PendingPost = { member, seat, kind, text, clientId, reply, resolve, reject };
      if (this.#openBatch !== null) {
        this.#openBatch.push(post);
        return;
      }
      const batch = [post];
      this.#openBatch = batch;
      void this.#enqueue(async () => {
        // Let the rest of this turn's input join the batch.
        await new Promise((next) => setImmediate(next));
        if (this.#openBatch === batch) this.#openBatch = null;
        await this.#commitPosts(batch);
      });
    });
  }

  async #commitPosts(batch: PendingPost[]): Promise<void> {
    const live: PendingPost[] = [];
    const now = this.#host.clock.now();
    for (const post of batch) {
      if (!this.#holds(post.member, post.seat)) post.resolve(notJoined());
      else if (post.seat.mutedUntil !== null && post.seat.mutedUntil > now) post.resolve(mutedRefusal(post.seat.mutedUntil));
      else live.push(post);
    }
    if (live.length === 0) return;
    const ts = this.#host.clock.now();
    const inputs = live.map((p) => ({
      room: this.name,
      ts,
      kind: p.kind,
      nick: p.seat.nick,
      text: p.text,
      clientId: p.clientId,
      trip: p.seat.trip,
      author: p.seat.id,
      ref: p.reply?.seq ?? null,
      refNick: p.reply?.nick ?? null,
    }));
    let results: AppendResult[];
    try {
      const store = this.#host.store;
      results = inputs.length === 1 ? [await store.append(inputs[0]!)] : await store.appendMany(inputs);
    } catch (error) {
      for (const post of live) post.reject(error);
      return;
    }
    for (let i = 0; i < live.length; i++) {
      const post = live[i]!;
      const { entry } = results[i]!;
      if (post.clientId !== null) post.member.send({ type: 'ack', id: post.clientId, seq: entry.seq });
    }
    // A resend of a stored message is acknowledged again, but the room saw it already.
    this.#receive(results.filter((r) => !r.duplicate).map((r) => r.entry));
    for (const post of live) post.resolve({ ok: true });
  }

  /**
   * The entry a reply may answer: a message, action or console line of this
   * room, with its nickname; null when there is none (deleted, trimmed, not
   * one of those).
   */
  async replyTarget(seq: number): Promise<ReplyTarget | null> {
    const [entry] = await this.#host.store.entriesAfter(this.name, seq - 1, 1);
    if (entry === undefined || entry.seq !== seq) return null;
    if (entry.kind === 'message' || entry.kind === 'action') return { seq, nick: entry.nick };
    if (entry.kind === 'admin') return { seq, nick: 'Administrator' };
    return null;
  }

  /**
   * The member edits its own message or action (EDIT_WINDOW_MS at most
   * after posting it; the store checks both, atomically): acknowledged with
   * the seq of the `edit` entry, which then reaches everyone.
   */
  edit(member: Member, seat: Seat, seq: number, text: string, clientId: string | null): Promise<Outcome> {
    return this.run(async () => {
      if (!this.#holds(member, seat)) return notJoined();
      const now = this.#host.clock.now();
      if (seat.mutedUntil !== null && seat.mutedUntil > now) return mutedRefusal(seat.mutedUntil);
      const result = await this.#host.store.editEntry({
        room: this.name,
        seq,
        text,
        author: seat.id,
        since: now - EDIT_WINDOW_MS,
        ts: now,
        nick: seat.nick,
        trip: seat.trip,
        clientId,
      });
      if (!result.ok) return editRefusal(result.reason, 'edit', seq);
      if (clientId !== null) member.send({ type: 'ack', id: clientId, seq: result.entry.seq });
      if (!result.duplicate) this.#receive([result.entry]);
      return { ok: true };
    });
  }

  /**
   * The member is typing: told to the room's members on every node (but
   * the member itself) through the store's bus, never stored.
   */
  typing(seat: Seat): void {
    const signal: TypingSignal = { seat: seat.id, nick: seat.nick, trip: seat.trip };
    this.#host.store.signal(this.name, { typing: signal }).catch((error: unknown) => {
      // Typing is a hint: one lost is no loss.
      this.#host.log('warn', 'a typing signal was not sent', this.#fields(error));
    });
  }

  /** Gives the seat a new nickname (validated by the caller), with a notice. */
  rename(member: Member, seat: Seat, nick: string, key: string): Promise<Outcome> {
    return this.run(async () => {
      if (!this.#holds(member, seat) || seat.holder === null) return notJoined();
      if (nick === seat.nick) {
        member.send({ type: 'info', text: `You are already ${nick}` });
        return { ok: true };
      }
      const result = await this.#host.store.renameSeat(this.name, seat.id, seat.holder, nick, key, this.#host.clock.now());
      if (!result.ok) {
        if (result.reason === 'gone') return notJoined();
        return { ok: false, code: ErrorCode.NICK_TAKEN, message: `the nickname ${nick} is taken in this room` };
      }
      const from = seat.nick;
      seat.nick = nick;
      seat.key = key;
      member.send({ type: 'renamed', nick, from });
      this.#applySeat(result.version, { op: 'set', seat: result.seat });
      this.#receive([result.entry]);
      return { ok: true };
    });
  }

  /**
   * The member's connection is gone: hold its seat for the grace period, then
   * leave. A seat that cannot be resumed (no token on its door) is freed at once.
   * `leaving`: the client said `hold` (a page unloading): the seat stays as
   * it is, unseen, for `leaveHoldMs`; taken back by then (a reload, on any
   * node), nobody saw anything, else the member leaves (`quit`).
   */
  away(member: Member, seat: Seat, leaving = false): Promise<void> {
    return this.run(async () => {
      if (!this.#holds(member, seat) || this.#shutDown) return;
      const holder = seat.holder;
      seat.member = null;
      member.detach(seat);
      // A brief hold changes nothing anyone sees.
      if (!leaving) this.#membersDirty = true;
      if (holder === null) return;
      if (this.#host.settings.graceMs <= 0 || !seat.holdable) this.#releaseHeld(seat, holder, 'lost');
      else if (leaving) this.#holdBriefly(seat, holder);
      else this.#goAway(seat, holder);
    });
  }

  /**
   * The seat stays held by `holder` (a connection that is gone) for
   * `leaveHoldMs`, then leaves with "quit" if still so. A resume here
   * cancels the timer (admit); one on another node changes the holder, and
   * the release's `holder` condition then frees nothing.
   */
  #holdBriefly(seat: Seat, holder: string): void {
    seat.graceTimer?.cancel();
    seat.graceTimer = this.#host.clock.setTimeout(() => {
      seat.graceTimer = null;
      if (seat.member === null) this.#releaseHeld(seat, holder, 'quit');
    }, this.#host.settings.leaveHoldMs);
  }

  #startGrace(seat: Seat, ms: number): void {
    seat.graceTimer?.cancel();
    seat.graceTimer = this.#host.clock.setTimeout(() => {
      seat.graceTimer = null;
      this.run(async () => {
        if (seat.member !== null || this.#local.get(seat.id) !== seat) return;
        await this.#release(seat, 'lost', { expired: true });
        // Whether or not we freed it (another node's sweep may have), this node no longer serves it.
        if (seat.member === null && this.#local.get(seat.id) === seat) this.#forget(seat);
      }).catch((error: unknown) => this.#host.log('error', 'ending a grace period failed', this.#fields(error)));
    }, ms);
  }

  /** Frees the seat now, with a "left" notice. */
  depart(seat: Seat, reason: LeaveReason): Promise<void> {
    return this.run(async () => {
      if (this.#local.get(seat.id) !== seat) return;
      await this.#release(seat, reason, seat.holder === null ? {} : { holder: seat.holder });
    });
  }

  /**
   * A moderation change this node stored (moderation.ts): its notice and
   * seat change take effect here at once (a kicked member is closed before
   * the command is answered); the store's announcement of them is then no news.
   */
  applied(entry: StoredEntry, seat: { version: number; change: SeatChange } | undefined): void {
    if (this.#dropped || this.#cursor === null) return;
    if (seat !== undefined) this.#applySeat(seat.version, seat.change);
    this.#receive([entry]);
    this.#scheduleMembersFlush();
  }

  /** Stores and broadcasts a line from the server console. */
  postAdmin(text: string): Promise<number> {
    return this.run(async () => {
      await this.#follow();
      const { entry } = await this.#host.store.append({
        room: this.name,
        ts: this.#host.clock.now(),
        kind: 'admin',
        nick: 'Administrator',
        text,
      });
      this.#receive([entry]);
      return entry.seq;
    });
  }

  /** Entries after `afterSeq`, at most `limit`, within the size budget. */
  history(afterSeq: number, limit: number): Promise<{ entries: EntryEvent[]; more: boolean }> {
    return this.run(() => this.#page(afterSeq, limit));
  }

  /**
   * Server shutdown: cancels grace periods and closes every local connection
   * with 1001, without notices (the members will be back after the restart,
   * or on another node). Their seats stay held in the store; `release()`
   * marks them away.
   */
  shutdown(): { id: string; holder: string; holdable: boolean }[] {
    this.#shutDown = true;
    const held: { id: string; holder: string; holdable: boolean }[] = [];
    for (const seat of this.#local.values()) {
      seat.graceTimer?.cancel();
      seat.graceTimer = null;
      if (seat.holder !== null) held.push({ id: seat.id, holder: seat.holder, holdable: seat.holdable });
      const member = seat.member;
      if (member === null) continue;
      seat.member = null;
      member.detach(seat);
      member.closeConnection(ChatCloseCode.GOING_AWAY, 'server shutting down');
    }
    this.#gapTimer?.cancel();
    this.#gapTimer = null;
    return held;
  }

  /** Stops following the feed (the hub dropped the room). */
  drop(): void {
    this.#dropped = true;
    this.#gapTimer?.cancel();
    this.#gapTimer = null;
    this.#unfollow?.();
    this.#unfollow = null;
  }

  /**
   * The store may have lost events (a reconnection): read the seats again
   * and catch up on the log.
   */
  resync(): void {
    if (this.#dropped || this.#cursor === null) return;
    this.#refreshSeats();
    this.#fill();
  }

  // -------------------------------------------------------------------------
  // Following the store

  /** Starts following the room's events, once; sets the feed's starting point. */
  #follow(): Promise<void> {
    this.#following ??= (async () => {
      try {
        const unfollow = await this.#host.store.follow(this.name, (event) => this.#onEvent(event));
        if (this.#dropped) {
          unfollow();
          return;
        }
        this.#unfollow = unfollow;
        const [record, snapshot] = await Promise.all([this.#host.store.getRoom(this.name), this.#host.store.seats(this.name)]);
        this.#epoch = record?.epoch ?? null;
        this.#cursor = Math.max(this.#cursor ?? 0, record?.lastSeq ?? 0);
        if (snapshot.version >= this.#seatVersion) this.#resetSeats(snapshot.version, snapshot.seats);
        this.#drain();
      } catch (error) {
        this.#following = null;
        this.#unfollow?.();
        this.#unfollow = null;
        throw error;
      }
    })();
    return this.#following;
  }

  #onEvent(event: RoomEvent): void {
    if (this.#dropped) return;
    switch (event.type) {
      case 'entries':
        this.#receive(event.entries);
        break;
      case 'seat':
        this.#applySeat(event.version, event.change);
        this.#scheduleMembersFlush();
        break;
      case 'signal':
        this.#onSignal(event.data);
        break;
    }
  }

  /** A typing signal (from any node): to every local member but the one typing. */
  #onSignal(data: Record<string, unknown>): void {
    const typing = data.typing;
    if (typeof typing !== 'object' || typing === null) return;
    const { seat, nick, trip } = typing as Partial<TypingSignal>;
    if (typeof seat !== 'string' || typeof nick !== 'string') return;
    const event: ServerEvent = typeof trip === 'string' ? { type: 'typing', nick, trip } : { type: 'typing', nick };
    const cache = new Map<string, unknown>();
    for (const local of this.#local.values()) {
      if (local.id !== seat && local.pending === null) local.member?.deliver(event, cache);
    }
  }

  // -------------------------------------------------------------------------
  // The feed: entries to local members, once each, in seq order

  #receive(entries: readonly StoredEntry[]): void {
    for (const entry of entries) {
      if (this.#cursor !== null && entry.seq <= this.#cursor) continue;
      this.#buffer.set(entry.seq, entry);
    }
    this.#drain();
  }

  #drain(): void {
    if (this.#cursor === null) return;
    for (;;) {
      const entry = this.#buffer.get(this.#cursor + 1);
      if (entry === undefined) break;
      this.#buffer.delete(entry.seq);
      this.#cursor = entry.seq;
      this.#deliver(entry);
    }
    // Entries at or below the cursor (delivered through another path meanwhile).
    for (const seq of this.#buffer.keys()) if (seq <= this.#cursor) this.#buffer.delete(seq);
    if (this.#buffer.size === 0) {
      this.#gapTimer?.cancel();
      this.#gapTimer = null;
    } else if (this.#gapTimer === null && this.#filling === null) {
      this.#gapTimer = this.#host.clock.setTimeout(() => {
        this.#gapTimer = null;
        this.#fill();
      }, this.#host.settings.gapWaitMs);
    }
  }

  /** Reads what the feed is missing from the log. */
  #fill(): void {
    if (this.#filling !== null || this.#cursor === null || this.#dropped) return;
    const from = this.#cursor;
    this.#filling = (async () => {
      try {
        const entries = await this.#host.store.entriesAfter(this.name, from, this.#host.settings.maxReplay);
        const first = entries[0];
        if (first !== undefined && this.#cursor !== null && first.seq > this.#cursor + 1) {
          // The log no longer has them (trimmed): nothing can be done but move on.
          this.#host.log('warn', 'entries missing from the log were skipped', { room: this.name, from: this.#cursor, to: first.seq - 1 });
          this.#cursor = first.seq - 1;
        }
        this.#filling = null;
        this.#receive(entries);
        if (entries.length >= this.#host.settings.maxReplay) this.#fill();
      } catch (error) {
        this.#filling = null;
        this.#host.log('warn', 'catching up on a room failed; trying again', this.#fields(error));
        if (!this.#dropped && this.#gapTimer === null) {
          this.#gapTimer = this.#host.clock.setTimeout(() => {
            this.#gapTimer = null;
            this.#fill();
          }, Math.max(this.#host.settings.gapWaitMs, 1000));
        }
      }
    })();
  }

  #deliver(entry: StoredEntry): void {
    this.#host.onEntry?.(this.name, entry);
    const event = entryToEvent(entry);
    const cache = new Map<string, unknown>();
    for (const seat of this.#local.values()) this.#deliverTo(seat, entry, event, cache);
  }

  #deliverTo(seat: Seat, entry: StoredEntry, event: ServerEvent, cache: Map<string, unknown>): void {
    const member = seat.member;
    if (member === null || entry.seq <= seat.cursor) return;
    if (seat.pending !== null) {
      seat.pending.push(entry);
      return;
    }
    seat.cursor = entry.seq;
    member.deliver(event, cache);
  }

  // -------------------------------------------------------------------------
  // Seats

  /** Applies a seat change at `version`; a change from the future waits for the ones before it (or a fresh read). */
  #applySeat(version: number, change: SeatChange): void {
    if (version <= this.#seatVersion) return;
    if (version > this.#seatVersion + 1) {
      this.#seatBacklog.set(version, change);
      this.#refreshSeats();
      return;
    }
    this.#change(change);
    this.#seatVersion = version;
    for (;;) {
      const next = this.#seatBacklog.get(this.#seatVersion + 1);
      if (next === undefined) break;
      this.#seatBacklog.delete(this.#seatVersion + 1);
      this.#change(next);
      this.#seatVersion++;
    }
    for (const v of this.#seatBacklog.keys()) if (v <= this.#seatVersion) this.#seatBacklog.delete(v);
  }

  #change(change: SeatChange): void {
    this.#membersDirty = true;
    if (change.op === 'set') {
      this.#seats.set(change.seat.id, change.seat);
      this.#roleChange(change.seat);
      this.#checkLocal(change.seat.id, change.seat, '');
    } else {
      this.#seats.delete(change.id);
      this.#checkLocal(change.id, null, change.reason);
    }
  }

  #resetSeats(version: number, seats: readonly SeatRecord[]): void {
    this.#seats = new Map(seats.map((s) => [s.id, s]));
    this.#seatVersion = version;
    this.#membersDirty = true;
    for (const v of this.#seatBacklog.keys()) if (v <= version) this.#seatBacklog.delete(v);
    for (const seat of [...this.#local.values()]) this.#checkLocal(seat.id, this.#seats.get(seat.id) ?? null, '');
  }

  /** Reads the seat list again (a change was missed); coalesced. */
  #refreshSeats(): void {
    if (this.#seatRefresh !== null || this.#dropped) return;
    this.#seatRefresh = (async () => {
      try {
        const snapshot = await this.#host.store.seats(this.name);
        if (snapshot.version > this.#seatVersion) this.#resetSeats(snapshot.version, snapshot.seats);
        this.#scheduleMembersFlush();
      } catch (error) {
        this.#host.log('warn', 'reading the member list failed', this.#fields(error));
      } finally {
        this.#seatRefresh = null;
      }
    })();
  }

  /** Before a welcome: the cached list is at least as new as the store's (it may lag behind a missed change). */
  async #seatsAtLeast(): Promise<void> {
    if (this.#seatBacklog.size === 0) return;
    this.#refreshSeats();
    if (this.#seatRefresh !== null) await this.#seatRefresh;
  }

  /** A local seat's role or mute changed (by any node): take it, and tell the member about a new role. */
  #roleChange(record: SeatRecord): void {
    const seat = this.#local.get(record.id);
    if (seat === undefined) return;
    const before = seat.role;
    seat.update(record);
    if (record.role !== before && seat.member !== null && seat.pending === null) seat.member.send({ type: 'role', role: record.role });
  }

  /**
   * What a seat change means for the local member in that seat: freed
   * elsewhere (kicked or banned, a sweep released it) or taken over by
   * another connection (resumed on another node).
   */
  #checkLocal(id: string, record: SeatRecord | null, reason: string): void {
    const seat = this.#local.get(id);
    if (seat === undefined) return;
    const member = seat.member;
    if (record === null) {
      // Our own release, announced before its reply came back: the reply handles it.
      if (seat.leaving) return;
      this.#forget(seat);
      seat.member = null;
      if (member === null || !member.holdsSeat(seat)) return;
      member.detach(seat);
      removeMember(member, reason);
      return;
    }
    // Held by another connection now (resumed elsewhere, maybe on another
    // node). A seat going away (holder null) is only ever this node's doing.
    if (record.holder !== null && record.holder !== seat.holder) {
      this.#forget(seat);
      seat.member = null;
      if (member === null || !member.holdsSeat(seat)) return;
      member.detach(seat);
      member.closeConnection(ChatCloseCode.REPLACED, 'resumed on another connection');
    }
  }

  /** This node stops serving the seat. */
  #forget(seat: Seat): void {
    seat.graceTimer?.cancel();
    seat.graceTimer = null;
    seat.holder = null;
    if (this.#local.get(seat.id) === seat) this.#local.delete(seat.id);
  }

  async #release(seat: Seat, reason: string, condition: { holder?: string; expired?: boolean }): Promise<void> {
    seat.leaving = true;
    let result: ReleaseResult | null;
    try {
      result = await this.#host.store.releaseSeat({
        room: this.name,
        id: seat.id,
        reason,
        ts: this.#host.clock.now(),
        ...condition,
      });
    } finally {
      seat.leaving = false;
    }
    if (result === null) return;
    this.#released(result.version, seat.id, reason, [result.entry]);
  }

  /** A seat was freed by an operation of this node: its notice and the change. */
  #released(version: number, id: string, reason: string, entries: StoredEntry[]): void {
    const seat = this.#local.get(id);
    if (seat !== undefined) {
      this.#forget(seat);
      const member = seat.member;
      seat.member = null;
      if (member !== null) {
        member.detach(seat);
        if (reason === 'kicked' || decodeDetail(reason) !== null) removeMember(member, reason);
      }
    }
    this.#receive(entries);
    this.#applySeat(version, { op: 'delete', id, reason });
  }

  // -------------------------------------------------------------------------

  async #page(afterSeq: number, limit: number, maxSeq?: number): Promise<{ entries: EntryEvent[]; more: boolean }> {
    const rows = await this.#host.store.entriesAfter(this.name, afterSeq, limit + 1, maxSeq);
    const page = this.#budget(rows.slice(0, limit));
    return { entries: page.entries, more: rows.length > limit || page.cut };
  }

  /** Keeps the first entries whose texts fit in maxReplayChars (at least one). */
  #budget(rows: StoredEntry[]): { entries: EntryEvent[]; cut: boolean } {
    const entries: EntryEvent[] = [];
    let chars = 0;
    for (const row of rows) {
      chars += row.text.length + row.nick.length;
      if (entries.length > 0 && chars > this.#host.settings.maxReplayChars) return { entries, cut: true };
      entries.push(entryToEvent(row));
    }
    return { entries, cut: false };
  }

  #broadcast(event: ServerEvent): void {
    const cache = new Map<string, unknown>();
    for (const seat of this.#local.values()) {
      if (seat.pending === null) seat.member?.deliver(event, cache);
    }
  }

  #afterOp(): void {
    if (this.#membersDirty) {
      this.#deferred++;
      if (this.#pending === 0 || this.#deferred >= MEMBERS_COALESCE) this.#flushMembers();
    }
    this.#maybeIdle();
  }

  #flushMembers(): void {
    this.#membersDirty = false;
    this.#deferred = 0;
    this.#broadcast({ type: 'members', members: this.memberList() });
  }

  /** Seat changes from other nodes: one member list per burst. */
  #scheduleMembersFlush(): void {
    if (this.#membersFlushScheduled || !this.#membersDirty) return;
    this.#membersFlushScheduled = true;
    setImmediate(() => {
      this.#membersFlushScheduled = false;
      if (this.#membersDirty && this.#pending === 0) this.#flushMembers();
      this.#maybeIdle();
    });
  }

  #maybeIdle(): void {
    if (this.#pending === 0 && this.#local.size === 0 && this.#filling === null) this.#host.roomIdle(this);
  }

  /** Whether `member` still sits in `seat` here. */
  #holds(member: Member, seat: Seat): boolean {
    return this.#local.get(seat.id) === seat && seat.member === member;
  }

  /** The nickname asked for, then "nick-2", "nick-3"... shortened to fit, skipping those the cache knows are taken. */
  #variants(nick: string, key: string): { nick: string; key: string }[] {
    const taken = new Set([...this.#seats.values()].map((s) => s.key));
    const out: { nick: string; key: string }[] = [];
    if (!taken.has(key)) out.push({ nick, key });
    const chars = Array.from(nick);
    for (let i = 2; i < 2 + UNIQUIFY_ATTEMPTS && out.length < 4; i++) {
      const suffix = `-${i}`;
      const candidate = `${chars.slice(0, NICK_MAX_LENGTH - suffix.length).join('').trimEnd()}${suffix}`;
      const check = checkNickname(candidate);
      if (check.ok && !taken.has(check.key)) out.push({ nick: check.nick, key: check.key });
    }
    return out;
  }

  #fields(error: unknown): Record<string, unknown> {
    return { room: this.name, error: String(error) };
  }
}

/** A seat as the member list shows it. */
export function memberInfo(seat: SeatRecord): MemberInfo {
  const info: MemberInfo = { nick: seat.nick, away: seat.holder === null };
  if (seat.trip !== null) info.trip = seat.trip;
  if (seat.role !== 'user') info.role = seat.role;
  return info;
}

/**
 * A member whose seat was freed by someone else: kicked or banned (the
 * reason is a moderation notice), by the console before moderation existed
 * ('kicked'), or freed for another reason (a sweep). It is told why, then
 * closed with 1008 so that its client does not come straight back.
 */
function removeMember(member: Member, reason: string): void {
  const detail = decodeDetail(reason);
  if (detail !== null) {
    const banned = detail.action === 'ban';
    const by = detail.byTrip === undefined || detail.byTrip === null ? detail.by : `${detail.by} !${detail.byTrip}`;
    const lasting = banned && detail.for !== undefined && detail.for !== null ? ` for ${formatDuration(detail.for)}` : '';
    const text = `You were ${banned ? 'banned' : 'kicked'} from this room by ${by}${lasting}.`;
    member.send({ type: 'removed', reason: banned ? 'banned' : 'kicked', by: detail.by, ...(banned ? { until: detail.until ?? null } : {}), text });
    member.closeConnection(ChatCloseCode.POLICY_VIOLATION, banned ? 'banned from the room' : 'kicked from the room');
    return;
  }
  if (reason === 'kicked') {
    member.send({ type: 'removed', reason: 'kicked', by: 'Administrator', text: 'You were removed from the room by the administrator.' });
    member.closeConnection(ChatCloseCode.POLICY_VIOLATION, 'kicked by the administrator');
    return;
  }
  member.closeConnection(ChatCloseCode.POLICY_VIOLATION, 'removed from the room');
}

/** What a member is told when a join is refused by the room's rules. */
function refusalOf(result: ClaimRefusal, request: AdmitRequest): Refusal {
  switch (result.reason) {
    case 'full':
      return { ok: false, code: ErrorCode.ROOM_FULL, message: 'this room is full' };
    case 'banned':
      return {
        ok: false,
        code: ErrorCode.BANNED,
        message: result.until === null ? 'you are banned from this room' : `you are banned from this room until ${utc(result.until)}`,
      };
    case 'locked':
      return request.invite !== undefined || request.passcode !== undefined
        ? { ok: false, code: ErrorCode.INVITE_INVALID, message: 'this invite was used already or has expired: ask for a new one' }
        : { ok: false, code: ErrorCode.LOCKED, message: 'this room is locked: nobody new can join without an invite' };
    case 'password':
      if (request.password !== undefined || request.passcode !== undefined) {
        return { ok: false, code: ErrorCode.PASSWORD_WRONG, message: 'wrong password for this room' };
      }
      // An invite that no longer works, into a room with a password: the password still does.
      return {
        ok: false,
        code: ErrorCode.PASSWORD_REQUIRED,
        message: request.invite !== undefined ? 'this invite was used already or has expired; the room needs its password' : 'this room needs a password',
      };
    case 'taken':
      return { ok: false, code: ErrorCode.NICK_TAKEN, message: `the nickname ${request.nick} is taken in this room` };
  }
}

function mutedRefusal(until: number): Outcome {
  return {
    ok: false,
    code: ErrorCode.MUTED,
    message: until >= FOREVER ? 'you are muted in this room' : `you are muted in this room until ${utc(until)}`,
  };
}

/** "2026-11-30 14:05 UTC". */
function utc(ts: number): string {
  return `${new Date(ts).toISOString().replace('T', ' ').slice(0, 16)} UTC`;
}

function notJoined(): Outcome {
  return { ok: false, code: ErrorCode.NOT_JOINED, message: 'join a room first' };
}

/** Entry kinds a member may post. */
export type PostKind = Extract<EntryKind, 'message' | 'action'>;
