import { createHmac } from 'node:crypto';
import { AddressLimits, type AddressLimitOptions } from './address-limits.js';
import { type Clock, systemClock, type Timer } from './clock.js';
import type { Command } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import { type Logger, Member, type MemberConnection, type MemberHost, type MemberSettings } from './member.js';
import { ChatCloseCode, ErrorCode, type MemberInfo } from './messages.js';
import { DEFAULT_RATE_LIMIT, type RateLimitOptions } from './rate-limit.js';
import { ADMIN, Moderation } from './moderation.js';
import { memberInfo, Room, type RoomHost, type RoomSettings } from './room.js';
import { DEFAULT_ROOM, isValidRoomName } from './room-name.js';
import type { ChatStore, RoomSummary, StoredEntry } from './store/store.js';
import { checkMessageText, DEFAULT_MAX_MESSAGE } from './text.js';
import { deriveTripcode } from './tripcode.js';

export interface HubOptions {
  store: ChatStore;
  /** Default: the system clock. Tests pass a ManualClock. */
  clock?: Clock;
  /** Entries in the welcome of a fresh join (`--history`). Default 50. */
  historySize?: number;
  /** Most entries in one welcome after `lastSeq`, or in one `history` page. Default 500. */
  maxReplay?: number;
  /** Most text in one welcome or history page (summed UTF-16 units). Default 512 KiB. */
  maxReplayChars?: number;
  /** Longest message, in characters (`--max-message`). Default 4000. */
  maxMessage?: number;
  /** How long a dropped member's nickname is held. Default 2 minutes. */
  graceMs?: number;
  /**
   * How long the seat of a connection that said `hold` (a page unloading)
   * is kept after it closes, unseen, for the page to come back (a reload).
   * Default 5 s; at most `graceMs`.
   */
  leaveHoldMs?: number;
  /** History of a room empty this long is deleted (`--room-ttl`). Default 24 hours. */
  roomTtlMs?: number;
  /** How often expired rooms are looked for. Default 1 minute (capped to roomTtlMs). */
  sweepIntervalMs?: number;
  /**
   * How often seats are swept: holds that ended with no local timer (after a
   * restart, or on a node that died) and seats of nodes that are gone.
   * Default 5 s.
   */
  seatSweepIntervalMs?: number;
  /** How long a room's feed waits for a missing entry before reading it from the log. Default 50 ms. */
  gapWaitMs?: number;
  /** Per-connection input rate limit. */
  rateLimit?: Partial<RateLimitOptions>;
  /** Seats per room (including away members). Default 10 000. */
  maxMembersPerRoom?: number;
  /** Requests a member may have queued. Default 64. */
  maxPendingPerMember?: number;
  /** Limits per client address (see address-limits.ts for the defaults and why). */
  addressLimits?: Partial<AddressLimitOptions>;
  /** Default: none. */
  commands?: readonly Command[];
  /** Default: silent. */
  log?: Logger;
}

/** Sees every entry released to the members of a room this node serves, in seq order (the console's activity log). */
export type ActivityListener = (room: string, entry: StoredEntry) => void;

/** The hub's effective configuration. */
export interface HubConfig extends RoomSettings, MemberSettings {
  roomTtlMs: number;
  sweepIntervalMs: number;
  seatSweepIntervalMs: number;
}

export type { RoomSummary };

/** The result of a console action. */
export type AdminOutcome = { ok: true; rooms: number } | { ok: false; code: ErrorCode; message: string };

export interface ConnectOptions {
  /** The room a `join` without a room goes to (the WebSocket URL's room). Default "lobby". */
  room?: string;
}

const HOUR = 3_600_000;

/**
 * The chat: live rooms, the members of every transport, the console's powers
 * and the expiry of old rooms. Transports call `connect` for each new
 * connection and talk to the returned `Member`.
 */
export class Hub {
  readonly config: Readonly<HubConfig>;
  readonly store: ChatStore;
  readonly clock: Clock;
  /** This node's per-address limits (connections, handshakes, lines). */
  readonly limits: AddressLimits;
  /** The moderation powers, for members' commands and the console. */
  readonly moderation: Moderation;
  readonly #log: Logger;
  readonly #rooms = new Map<string, Room>();
  readonly #members = new Set<Member>();
  readonly #memberHost: MemberHost;
  readonly #roomHost: RoomHost;
  #sweepTimer: Timer | null = null;
  #sweeping: Promise<void> = Promise.resolve();
  #seatTimer: Timer | null = null;
  #tripSalt: Promise<Uint8Array> | null = null;
  #addressSalt: Promise<Uint8Array> | null = null;
  readonly #activity = new Set<ActivityListener>();
  #seatSweeping: Promise<void> = Promise.resolve();
  #started = false;
  #closed = false;

  /** @throws RangeError when an option is out of range. */
  constructor(options: HubOptions) {
    const rateLimit = { ...DEFAULT_RATE_LIMIT, ...options.rateLimit };
    const roomTtlMs = options.roomTtlMs ?? 24 * HOUR;
    const config: HubConfig = {
      historySize: options.historySize ?? 50,
      maxReplay: options.maxReplay ?? 500,
      maxReplayChars: options.maxReplayChars ?? 512 * 1024,
      maxMessage: options.maxMessage ?? DEFAULT_MAX_MESSAGE,
      graceMs: options.graceMs ?? 120_000,
      leaveHoldMs: Math.min(options.leaveHoldMs ?? 5000, options.graceMs ?? 120_000),
      roomTtlMs,
      sweepIntervalMs: Math.min(options.sweepIntervalMs ?? 60_000, Math.max(roomTtlMs, 1000)),
      maxMembersPerRoom: options.maxMembersPerRoom ?? 10_000,
      maxPendingPerMember: options.maxPendingPerMember ?? 64,
      seatSweepIntervalMs: options.seatSweepIntervalMs ?? 5000,
      gapWaitMs: options.gapWaitMs ?? 50,
      rateLimit,
    };
    requireRange('historySize', config.historySize, 0);
    requireRange('maxReplay', config.maxReplay, 1);
    requireRange('maxReplayChars', config.maxReplayChars, 1);
    requireRange('maxMessage', config.maxMessage, 1);
    requireRange('graceMs', config.graceMs, 0);
    requireRange('leaveHoldMs', config.leaveHoldMs, 0);
    requireRange('roomTtlMs', config.roomTtlMs, 0);
    requireRange('sweepIntervalMs', config.sweepIntervalMs, 1);
    requireRange('maxMembersPerRoom', config.maxMembersPerRoom, 1);
    requireRange('maxPendingPerMember', config.maxPendingPerMember, 1);
    requireRange('seatSweepIntervalMs', config.seatSweepIntervalMs, 1);
    requireRange('gapWaitMs', config.gapWaitMs, 0);
    requireRange('rateLimit.burst', rateLimit.burst, 1);
    requireRange('rateLimit.perSecond', rateLimit.perSecond, 0);
    requireRange('rateLimit.maxStrikes', rateLimit.maxStrikes, 0);
    requireRange('rateLimit.strikeDecayPerSecond', rateLimit.strikeDecayPerSecond, 0);
    this.config = Object.freeze(config);
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => undefined);
    this.limits = new AddressLimits(options.addressLimits ?? {}, this.clock);
    this.moderation = new Moderation({
      store: this.store,
      clock: this.clock,
      applied: (room, entry, seat) => this.#rooms.get(room)?.applied(entry, seat),
    });
    const commands = options.commands ?? COMMANDS;
    this.#memberHost = {
      settings: config,
      clock: this.clock,
      log: this.#log,
      commands,
      room: (name) => this.#room(name),
      forget: (member) => {
        this.#members.delete(member);
      },
      tripcode: async (secret) => {
        // The salt lives in the store, so every node and every restart gives the same code.
        this.#tripSalt ??= this.store.serverSecret('tripcode').catch((error: unknown) => {
          this.#tripSalt = null;
          throw error;
        });
        return deriveTripcode(secret, await this.#tripSalt);
      },
      addressHash: (address) => this.addressHash(address),
      limitMessage: (address) => this.limits.message(address),
      moderation: this.moderation,
    };
    this.#roomHost = {
      store: this.store,
      clock: this.clock,
      log: this.#log,
      settings: config,
      roomIdle: (room) => {
        if (room.size === 0 && room.pendingOps === 0 && this.#rooms.get(room.name) === room) {
          this.#rooms.delete(room.name);
          room.drop();
        }
      },
      newRoom: async (address) => {
        const perHour = this.limits.options.roomsPerHour;
        if (address === null || perHour === 0) return null;
        // Counted in the store, so the limit holds across every node; keyed by a hash, like bans.
        const taken = await this.store.takeToken(`rooms:${await this.addressHash(address)}`, perHour, perHour, this.clock.now());
        if (taken.ok) return null;
        const minutes = Math.max(1, Math.ceil(taken.retryAfterMs / 60_000));
        return {
          ok: false,
          code: ErrorCode.RATE_LIMITED,
          message: `too many new rooms from your address (at most ${perHour} an hour): try again in ${minutes} minute${minutes === 1 ? '' : 's'}, or join an existing room`,
          retryAfter: taken.retryAfterMs,
        };
      },
      onEntry: (room, entry) => {
        for (const listener of this.#activity) listener(room, entry);
      },
    };
  }

  /**
   * Follows the activity of the rooms this node serves (joins, leaves,
   * messages...), as the console shows it.
   * @returns a function that stops following.
   */
  onActivity(listener: ActivityListener): () => void {
    this.#activity.add(listener);
    return () => this.#activity.delete(listener);
  }

  /**
   * What the store keeps of a client address (for bans, mutes and the
   * rooms-per-hour buckets): an HMAC under a secret the store keeps, so a
   * copy of the store does not list who connected from where.
   * @throws whatever the store throws reading its secret.
   */
  async addressHash(address: string): Promise<string> {
    this.#addressSalt ??= this.store.serverSecret('address').catch((error: unknown) => {
      this.#addressSalt = null;
      throw error;
    });
    return createHmac('sha256', await this.#addressSalt)
      .update(address)
      .digest('base64url')
      .slice(0, 22);
  }

  /**
   * Starts the store (which takes over the seats a previous run left held:
   * they are away from now for the grace period), then the periodic sweeps
   * of seats and of expired rooms.
   * @throws whatever the store throws.
   */
  async start(): Promise<void> {
    if (this.#started || this.#closed) return;
    this.#started = true;
    await this.store.start({ now: this.clock.now(), graceMs: this.config.graceMs });
    this.store.onResync(() => {
      for (const room of this.#rooms.values()) room.resync();
    });
    await this.#sweepSeatsNow();
    this.#scheduleSweep();
  }

  /**
   * Registers a new connection. Nothing is sent until the member joins.
   * After `close()`, the connection is closed at once with 1001.
   * @throws RangeError if `options.room` is not a valid room name (validate URLs before).
   */
  connect(conn: MemberConnection, options: ConnectOptions = {}): Member {
    const room = options.room ?? DEFAULT_ROOM;
    if (!isValidRoomName(room)) throw new RangeError(`invalid room name: ${JSON.stringify(String(room).slice(0, 80))}`);
    const member = new Member(this.#memberHost, conn, room);
    if (this.#closed) {
      member.closeConnection(ChatCloseCode.GOING_AWAY, 'server shutting down');
    } else {
      this.#members.add(member);
    }
    return member;
  }

  /** Connections registered and not yet disconnected. */
  get connectionCount(): number {
    return this.#members.size;
  }

  /** Rooms with at least one seat (present or away), on every node, by name. */
  rooms(): Promise<RoomSummary[]> {
    return this.store.listRooms();
  }

  /** Rooms this node serves members of. */
  get localRoomCount(): number {
    return this.#rooms.size;
  }

  /** The member list of `room` (every node's members), or null when it has none. */
  async members(room: string): Promise<MemberInfo[] | null> {
    const snapshot = await this.store.seats(room);
    if (snapshot.seats.length === 0) return null;
    return snapshot.seats.map(memberInfo);
  }

  /** A console line to every room with members, on every node, from "Administrator". */
  async broadcastAdmin(text: string): Promise<AdminOutcome> {
    const check = checkMessageText(text, this.config.maxMessage);
    if (!check.ok) return { ok: false, code: check.code, message: check.message };
    const rooms = await this.store.listRooms();
    await Promise.all(rooms.map((r) => this.#postAdmin(r.name, check.text)));
    return { ok: true, rooms: rooms.length };
  }

  /** A console line to one room with members. */
  async say(room: string, text: string): Promise<AdminOutcome> {
    if (!isValidRoomName(room) || (await this.store.seats(room)).seats.length === 0) {
      return { ok: false, code: ErrorCode.ROOM_INVALID, message: `no room ${room} with members` };
    }
    const check = checkMessageText(text, this.config.maxMessage);
    if (!check.ok) return { ok: false, code: check.code, message: check.message };
    await this.#postAdmin(room, check.text);
    return { ok: true, rooms: 1 };
  }

  /** Removes `nick` from `room`, on whichever node it is (a "was kicked by Administrator" notice; its connection closes with 1008). */
  async kick(room: string, nick: string): Promise<AdminOutcome> {
    if (!isValidRoomName(room) || (await this.store.seats(room)).seats.length === 0) {
      return { ok: false, code: ErrorCode.ROOM_INVALID, message: `no room ${room} with members` };
    }
    const outcome = await this.moderation.kick(room, ADMIN, nick);
    return outcome.ok ? { ok: true, rooms: 1 } : outcome;
  }

  async #postAdmin(room: string, text: string): Promise<void> {
    const local = this.#rooms.get(room);
    if (local !== undefined) {
      await local.postAdmin(text);
      return;
    }
    // Nobody here follows the room: the store announces it to the nodes that do.
    await this.store.append({ room, ts: this.clock.now(), kind: 'admin', nick: 'Administrator', text });
  }

  /**
   * Deletes the history of rooms empty for longer than roomTtlMs; returns their names.
   * @throws whatever the store throws.
   */
  async sweep(): Promise<string[]> {
    const expired = await this.store.expireRooms(this.clock.now() - this.config.roomTtlMs);
    if (expired.length > 0) this.#log('info', 'deleted the history of expired rooms', { rooms: expired.length });
    return expired;
  }

  /** Resolves when every queued room operation and a running sweep have finished (tests; shutdown). */
  async idle(): Promise<void> {
    await this.#sweeping;
    await this.#seatSweeping;
    for (;;) {
      const rooms = [...this.#rooms.values()];
      await Promise.all(rooms.map((r) => r.idle()));
      if (rooms.every((r) => r.pendingOps === 0) && [...this.#rooms.values()].every((r) => r.pendingOps === 0)) return;
    }
  }

  /**
   * Graceful shutdown: stops the sweeps, closes every connection with 1001
   * (no "left" notices: members come back after the restart, or on another
   * node), marks their seats away for the grace period (seats that cannot be
   * resumed are freed), waits for queued operations and flushes the store.
   * The caller closes the store.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sweepTimer?.cancel();
    this.#sweepTimer = null;
    this.#seatTimer?.cancel();
    this.#seatTimer = null;
    const held: { room: string; id: string; holder: string; holdable: boolean }[] = [];
    for (const room of this.#rooms.values()) {
      for (const seat of room.shutdown()) held.push({ room: room.name, ...seat });
    }
    for (const member of this.#members) member.closeConnection(ChatCloseCode.GOING_AWAY, 'server shutting down');
    await this.idle();
    const now = this.clock.now();
    const results = await Promise.allSettled(
      held.map((s) =>
        s.holdable && this.config.graceMs > 0
          ? this.store.awaySeat(s.room, s.id, s.holder, now + this.config.graceMs)
          : this.store.releaseSeat({ room: s.room, id: s.id, holder: s.holder, reason: 'lost', ts: now }),
      ),
    );
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) this.#log('warn', 'some seats could not be released at shutdown; the next start or another node will', { seats: failed });
    for (const room of this.#rooms.values()) room.drop();
    await this.store.flush();
  }

  /** Sweeps the seats once (and schedules the next sweep). */
  async sweepSeats(): Promise<void> {
    await this.#sweepSeatsNow();
  }

  #sweepSeatsNow(): Promise<void> {
    this.#seatTimer?.cancel();
    this.#seatTimer = null;
    const run = this.#seatSweeping.then(async () => {
      let next: number | null = null;
      try {
        const sweep = await this.store.sweepSeats(this.clock.now(), this.config.graceMs);
        next = sweep.nextHoldUntil;
        if (sweep.orphaned > 0 || sweep.released > 0) {
          this.#log('info', 'seats swept', { orphaned: sweep.orphaned, released: sweep.released });
        }
      } catch (error) {
        this.#log('warn', 'sweeping seats failed', { error: String(error) });
      } finally {
        this.#scheduleSeatSweep(next);
      }
    });
    this.#seatSweeping = run;
    return run;
  }

  #scheduleSeatSweep(nextHoldUntil: number | null): void {
    if (this.#closed) return;
    const now = this.clock.now();
    let delay = this.config.seatSweepIntervalMs;
    if (nextHoldUntil !== null) delay = Math.min(delay, Math.max(0, nextHoldUntil - now));
    this.#seatTimer?.cancel();
    this.#seatTimer = this.clock.setTimeout(() => {
      this.#seatTimer = null;
      void this.#sweepSeatsNow();
    }, delay);
  }

  #room(name: string): Room {
    let room = this.#rooms.get(name);
    if (room === undefined) {
      room = new Room(name, this.#roomHost);
      this.#rooms.set(name, room);
    }
    return room;
  }

  #scheduleSweep(): void {
    if (this.#closed) return;
    this.#sweepTimer = this.clock.setTimeout(() => {
      this.#sweeping = this.sweep()
        .then(
          () => undefined,
          (error: unknown) => this.#log('error', 'room expiry failed', { error: String(error) }),
        )
        .finally(() => this.#scheduleSweep());
    }, this.config.sweepIntervalMs);
  }
}

function requireRange(name: string, value: number, min: number): void {
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new RangeError(`${name} must be a number >= ${min}`);
  }
}
