import { randomBytes } from 'node:crypto';
import type { Clock, Timer } from './clock.js';
import type { JoinResult, Logger, Member, Outcome } from './member.js';
import {
  ChatCloseCode,
  type EntryEvent,
  ErrorCode,
  entryToEvent,
  type LeaveReason,
  type MemberInfo,
  type ServerEvent,
  type WelcomeEvent,
} from './messages.js';
import { checkNickname, NICK_MAX_LENGTH, nicknameKey } from './nickname.js';
import type { AppendResult, ChatStore, EntryKind, StoredEntry } from './store/store.js';

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
  maxMembersPerRoom: number;
}

/** What the hub provides to its rooms. */
export interface RoomHost {
  readonly store: ChatStore;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: RoomSettings;
  /** Called after an operation when the room has no seat and nothing queued: the hub may drop it. */
  roomIdle(room: Room): void;
}

/**
 * A nickname held in a room. `member` is the connection using it, or null
 * while the member is away (connection lost, grace period running).
 */
export class Seat {
  member: Member | null = null;
  graceTimer: Timer | null = null;

  constructor(
    public nick: string,
    public key: string,
    /** Given to the client in its welcome; presenting it again takes the seat back. */
    readonly token: string,
  ) {}
}

/** What `Room.admit` needs; the member validated the nickname already. */
export interface AdmitRequest {
  nick: string;
  key: string;
  resumeToken: string | undefined;
  lastSeq: number | undefined;
  uniquify: boolean;
}

/** A post waiting for its batch to be stored. */
interface PendingPost {
  member: Member;
  seat: Seat;
  kind: 'message' | 'action';
  text: string;
  clientId: string | null;
  resolve: (outcome: Outcome) => void;
  reject: (error: unknown) => void;
}

/** Members' flushes of the live list are coalesced over at most this many queued operations. */
const MEMBERS_COALESCE = 32;

/**
 * One live room: its seats (nicknames in use, including held ones), the
 * broadcast, and a queue that runs the room's operations one at a time. Every
 * operation that stores an entry or changes who is seated goes through the
 * queue, so sequence numbers, acknowledgements, broadcasts and welcomes leave
 * in one order: a joiner's welcome holds exactly the entries before it, and
 * every later entry reaches it live.
 */
export class Room {
  readonly name: string;
  readonly #host: RoomHost;
  /** In seating order; keyed by resume token. */
  readonly #seats = new Map<string, Seat>();
  /** Keyed by nickname fold key, for uniqueness. */
  readonly #byKey = new Map<string, Seat>();
  #lastSeq = 0;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  #membersDirty = false;
  #deferred = 0;
  /** Posts waiting to be stored together; null when the next post must open a new batch. */
  #openBatch: PendingPost[] | null = null;
  /** Set by shutdown(): no new seats, no grace periods. */
  #shutDown = false;

  constructor(name: string, host: RoomHost) {
    this.name = name;
    this.#host = host;
  }

  /** The last sequence number handed out in this room (as far as this process knows). */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Seats, including members who are away. */
  get size(): number {
    return this.#seats.size;
  }

  /** Members with a live connection. */
  get connectedCount(): number {
    let n = 0;
    for (const seat of this.#seats.values()) if (seat.member !== null) n++;
    return n;
  }

  /** Operations queued or running. */
  get pendingOps(): number {
    return this.#pending;
  }

  /** The live member list, in seating order. */
  memberList(): MemberInfo[] {
    return [...this.#seats.values()].map((s) => ({ nick: s.nick, away: s.member === null }));
  }

  /** Resolves once every operation queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail;
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
      const held = request.resumeToken === undefined ? undefined : this.#seats.get(request.resumeToken);
      let seat: Seat;
      let resumed = false;
      if (held !== undefined) {
        seat = held;
        resumed = true;
        const previous = held.member;
        if (previous !== null && previous !== member) {
          // The same client came back before its old connection was noticed dead (a flaky mobile link).
          previous.detach(held);
          previous.closeConnection(ChatCloseCode.REPLACED, 'resumed on another connection');
        }
        if (previous === null) this.#membersDirty = true;
        held.graceTimer?.cancel();
        held.graceTimer = null;
        held.member = member;
        member.attach(this, held);
      } else {
        let { nick, key } = request;
        if (this.#byKey.has(key)) {
          const free = request.uniquify ? this.#freeVariant(nick) : null;
          if (free === null) {
            return { ok: false, code: ErrorCode.NICK_TAKEN, message: `the nickname ${nick} is taken in this room` };
          }
          ({ nick, key } = free);
        }
        if (this.#seats.size >= this.#host.settings.maxMembersPerRoom) {
          return { ok: false, code: ErrorCode.ROOM_FULL, message: 'this room is full' };
        }
        const entry = await this.#withOccupancy(async () => {
          if (this.#seats.size === 0) {
            const record = await this.#host.store.openRoom(this.name, this.#host.clock.now());
            this.#lastSeq = Math.max(this.#lastSeq, record.lastSeq);
          }
          return (await this.#append('join', nick, '', null)).entry;
        });
        this.#broadcast(entryToEvent(entry));
        seat = new Seat(nick, key, randomBytes(24).toString('base64url'));
        this.#seats.set(seat.token, seat);
        this.#byKey.set(key, seat);
        seat.member = member;
        member.attach(this, seat);
        this.#membersDirty = true;
      }
      let history: EntryEvent[];
      let more = false;
      const reset = request.lastSeq !== undefined && request.lastSeq > this.#lastSeq;
      if (request.lastSeq !== undefined && !reset) {
        ({ entries: history, more } = await this.#page(request.lastSeq, this.#host.settings.maxReplay));
      } else {
        const last = await this.#host.store.lastEntries(this.name, this.#host.settings.historySize);
        history = this.#budget(last).entries;
      }
      const welcome: WelcomeEvent = {
        type: 'welcome',
        room: this.name,
        nick: seat.nick,
        resumeToken: seat.token,
        resumed,
        reset,
        members: this.memberList(),
        history,
        lastSeq: this.#lastSeq,
        more,
        maxMessage: this.#host.settings.maxMessage,
      };
      member.send(welcome);
      return { ok: true, room: this.name, nick: seat.nick, resumed };
    });
  }

  /**
   * Stores a member's message or action, acknowledges it (when it has a
   * client id), then broadcasts it. Posts that reach the room in the same
   * event-loop turn, with no other operation queued between them, are
   * stored together (group commit: one transaction, one fsync) and then
   * acknowledged and broadcast one by one, in order.
   */
  post(member: Member, seat: Seat, kind: 'message' | 'action', text: string, clientId: string | null): Promise<Outcome> {
    return new Promise<Outcome>((resolve, reject) => {
      const post: PendingPost = { member, seat, kind, text, clientId, resolve, reject };
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
    for (const post of batch) {
      if (this.#holds(post.member, post.seat)) live.push(post);
      else post.resolve(notJoined());
    }
    if (live.length === 0) return;
    const ts = this.#host.clock.now();
    const inputs = live.map((p) => ({ room: this.name, ts, kind: p.kind, nick: p.seat.nick, text: p.text, clientId: p.clientId }));
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
      const { entry, duplicate } = results[i]!;
      if (!duplicate) this.#lastSeq = Math.max(this.#lastSeq, entry.seq);
      if (post.clientId !== null) post.member.send({ type: 'ack', id: post.clientId, seq: entry.seq });
      // A resend of a stored message: the room saw it already.
      if (!duplicate) this.#broadcast(entryToEvent(entry));
      post.resolve({ ok: true });
    }
  }

  /** Gives the seat a new nickname (validated by the caller), with a notice. */
  rename(member: Member, seat: Seat, nick: string, key: string): Promise<Outcome> {
    return this.run(async () => {
      if (!this.#holds(member, seat)) return notJoined();
      if (nick === seat.nick) {
        member.send({ type: 'info', text: `You are already ${nick}` });
        return { ok: true };
      }
      const other = this.#byKey.get(key);
      if (other !== undefined && other !== seat) {
        return { ok: false, code: ErrorCode.NICK_TAKEN, message: `the nickname ${nick} is taken in this room` };
      }
      const from = seat.nick;
      const { entry } = await this.#append('rename', nick, from, null);
      this.#byKey.delete(seat.key);
      seat.nick = nick;
      seat.key = key;
      this.#byKey.set(key, seat);
      member.send({ type: 'renamed', nick, from });
      this.#broadcast(entryToEvent(entry));
      this.#membersDirty = true;
      return { ok: true };
    });
  }

  /** The member's connection is gone: hold its seat for the grace period, then leave. */
  away(member: Member, seat: Seat): Promise<void> {
    return this.run(async () => {
      if (!this.#holds(member, seat) || this.#shutDown) return;
      seat.member = null;
      member.detach(seat);
      this.#membersDirty = true;
      const graceMs = this.#host.settings.graceMs;
      if (graceMs <= 0) {
        await this.#depart(seat, 'lost');
        return;
      }
      seat.graceTimer = this.#host.clock.setTimeout(() => {
        this.run(async () => {
          if (seat.member === null && this.#present(seat)) await this.#depart(seat, 'lost');
        }).catch((error: unknown) => this.#host.log('error', 'ending a grace period failed', this.#fields(error)));
      }, graceMs);
    });
  }

  /** Frees the seat now, with a "left" notice. */
  depart(seat: Seat, reason: LeaveReason): Promise<void> {
    return this.run(() => this.#depart(seat, reason));
  }

  /** Removes the member called `nick` (present or away) and closes its connection with 1008. */
  kick(nick: string): Promise<boolean> {
    return this.run(async () => {
      const seat = this.#byKey.get(nicknameKey(nick));
      if (seat === undefined) return false;
      const member = seat.member;
      member?.send({ type: 'info', text: 'You were removed from the room by the administrator' });
      await this.#depart(seat, 'kicked');
      member?.closeConnection(ChatCloseCode.POLICY_VIOLATION, 'kicked by the administrator');
      return true;
    });
  }

  /** Stores and broadcasts a line from the server console. */
  postAdmin(text: string): Promise<number> {
    return this.run(async () => {
      const { entry } = await this.#append('admin', 'Administrator', text, null);
      this.#broadcast(entryToEvent(entry));
      return entry.seq;
    });
  }

  /** Entries after `afterSeq`, at most `limit`, within the size budget. */
  history(afterSeq: number, limit: number): Promise<{ entries: EntryEvent[]; more: boolean }> {
    return this.run(() => this.#page(afterSeq, limit));
  }

  /**
   * Server shutdown: cancels grace periods and closes every connection with
   * 1001, without notices (the members will be back after the restart).
   */
  shutdown(): void {
    this.#shutDown = true;
    for (const seat of this.#seats.values()) {
      seat.graceTimer?.cancel();
      seat.graceTimer = null;
      const member = seat.member;
      if (member === null) continue;
      seat.member = null;
      member.detach(seat);
      member.closeConnection(ChatCloseCode.GOING_AWAY, 'server shutting down');
    }
  }

  // -------------------------------------------------------------------------

  async #depart(seat: Seat, reason: LeaveReason): Promise<void> {
    if (!this.#present(seat)) return;
    this.#seats.delete(seat.token);
    this.#byKey.delete(seat.key);
    seat.graceTimer?.cancel();
    seat.graceTimer = null;
    const member = seat.member;
    seat.member = null;
    member?.detach(seat);
    this.#membersDirty = true;
    try {
      const { entry } = await this.#append('leave', seat.nick, reason, null);
      this.#broadcast(entryToEvent(entry));
    } finally {
      if (this.#seats.size === 0) await this.#host.store.markEmptied(this.name, this.#host.clock.now());
    }
  }

  /** Runs `op`; if it fails while nobody is seated, the room is marked empty again so its history can expire. */
  async #withOccupancy<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (error) {
      if (this.#seats.size === 0) {
        await this.#host.store.markEmptied(this.name, this.#host.clock.now()).catch(() => undefined);
      }
      throw error;
    }
  }

  async #append(kind: EntryKind, nick: string, text: string, clientId: string | null) {
    const result = await this.#host.store.append({
      room: this.name,
      ts: this.#host.clock.now(),
      kind,
      nick,
      text,
      clientId,
    });
    if (!result.duplicate) this.#lastSeq = Math.max(this.#lastSeq, result.entry.seq);
    return result;
  }

  async #page(afterSeq: number, limit: number): Promise<{ entries: EntryEvent[]; more: boolean }> {
    const rows = await this.#host.store.entriesAfter(this.name, afterSeq, limit + 1);
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
    for (const seat of this.#seats.values()) seat.member?.deliver(event, cache);
  }

  #afterOp(): void {
    if (this.#membersDirty) {
      this.#deferred++;
      if (this.#pending === 0 || this.#deferred >= MEMBERS_COALESCE) {
        this.#membersDirty = false;
        this.#deferred = 0;
        this.#broadcast({ type: 'members', members: this.memberList() });
      }
    }
    if (this.#pending === 0 && this.#seats.size === 0) this.#host.roomIdle(this);
  }

  #present(seat: Seat): boolean {
    return this.#seats.get(seat.token) === seat;
  }

  #holds(member: Member, seat: Seat): boolean {
    return this.#present(seat) && seat.member === member;
  }

  /** "nick-2", "nick-3"... shortened to fit, the first one free and valid. */
  #freeVariant(nick: string): { nick: string; key: string } | null {
    const chars = Array.from(nick);
    for (let i = 2; i < 100; i++) {
      const suffix = `-${i}`;
      const candidate = `${chars.slice(0, NICK_MAX_LENGTH - suffix.length).join('').trimEnd()}${suffix}`;
      const check = checkNickname(candidate);
      if (check.ok && !this.#byKey.has(check.key)) return { nick: check.nick, key: check.key };
    }
    return null;
  }

  #fields(error: unknown): Record<string, unknown> {
    return { room: this.name, error: String(error) };
  }
}

function notJoined(): Outcome {
  return { ok: false, code: ErrorCode.NOT_JOINED, message: 'join a room first' };
}
