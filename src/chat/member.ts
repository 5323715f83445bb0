import type { LimitVerdict } from './address-limits.js';
import type { Clock } from './clock.js';
import type { Command, CommandContext, RoomModeration } from './commands/command.js';
import { findCommand, parseCommandLine } from './commands/index.js';
import {
  type AdvertisedRateLimit,
  ChatCloseCode,
  type ClientMessage,
  ErrorCode,
  type ErrorEvent,
  type LeaveReason,
  type Level,
  type ServerEvent,
} from './messages.js';
import { type Actor, atLeast, bindModeration, forbidden, type Moderation } from './moderation.js';
import { checkNickname } from './nickname.js';
import { RateLimiter, type RateLimitOptions, TokenBucket } from './rate-limit.js';
import type { ReplyTarget, Room, Seat } from './room.js';
import { checkRoomName } from './room-name.js';
import { StoreUnavailableError } from './store/store.js';
import { checkMessageText } from './text.js';

/**
 * The transport side of a member: what a transport (WebSocket `wschat.v1`
 * JSON, WebSocket plain text, raw TCP lines) implements for each connection.
 *
 * Broadcast encodes each event once per format: the room calls `encode` on
 * one member of each distinct `format` and hands the same value to
 * `sendEncoded` of every member with that format. `encode` must therefore
 * depend only on the format and the event, never on the member.
 */
export interface MemberConnection<Encoded = unknown> {
  /** A key shared by every connection that encodes events the same way, e.g. "wschat.v1". */
  readonly format: string;
  /** The peer, for logs ("203.0.113.9:51234"). */
  readonly remote: string;
  /**
   * The client's address key (address.ts `addressKey`: an IPv4 address or
   * an IPv6 /64, read through trusted proxies), for the per-address limits,
   * bans and mutes; undefined when unknown (none of those apply then).
   */
  readonly address?: string;
  /** True if the member may move between rooms (`/join`). Default false. */
  readonly canSwitchRooms?: boolean;
  /**
   * False for doors whose clients cannot resume (no resume token: plain
   * WebSocket, TCP lines): their nickname is freed, with a "left" notice, as
   * soon as the connection is lost. Default true.
   */
  readonly resumable?: boolean;
  /**
   * Turns an event into what `sendEncoded` takes (a string, a Buffer, a
   * prepared frame...), or null when this format does not carry that event
   * (plain text shows no acknowledgements). May throw only on bugs.
   */
  encode(event: ServerEvent): Encoded | null;
  /**
   * Queues encoded bytes for the peer. Must not throw and must not block; a
   * peer that cannot keep up is the transport's to close (then it calls
   * `Member.disconnected()`). Calls after the connection closed are ignored.
   */
  sendEncoded(encoded: Encoded): void;
  /**
   * Closes the connection with a WebSocket close code (see `ChatCloseCode`)
   * and a short reason; the transport then calls `Member.disconnected()`.
   * Idempotent.
   */
  close(code: number, reason: string): void;
}

/** A join as a transport asks for it. */
export interface JoinRequest {
  /** Default: the room given to `Hub.connect`. */
  room?: string;
  nick: string;
  resumeToken?: string;
  lastSeq?: number;
  /** The room epoch `lastSeq` belongs to. */
  epoch?: string;
  /**
   * When the nickname is taken, try "nick-2", "nick-3"... instead of failing
   * (for generated nicknames such as the plain clients' ip:port).
   */
  uniquify?: boolean;
  /** The room's password. */
  password?: string;
  /** An invite code. */
  invite?: string;
  /** A text door's answer to "password or invite code": tried as both. */
  passcode?: string;
  /** The room's owner key. */
  ownerKey?: string;
}

/** Why a request was refused; `retryAfter` (ms) when trying again later may work. */
export interface Refusal {
  ok: false;
  code: ErrorCode;
  message: string;
  retryAfter?: number;
}

export type JoinResult = { ok: true; room: string; nick: string; resumed: boolean } | Refusal;

/** The result of an operation that may be refused. */
export type Outcome = { ok: true } | Refusal;

/** How long a client should wait before retrying a request the store could not serve. */
export const UNAVAILABLE_RETRY_MS = 2000;

/**
 * What to tell the client about a request that threw: the store being
 * unreachable (Redis down) is worth retrying; anything else is a bug, and
 * its text stays in the log.
 */
export function failureOf(error: unknown, what: string): Refusal {
  if (error instanceof StoreUnavailableError) {
    return {
      ok: false,
      code: ErrorCode.UNAVAILABLE,
      message: `${what}: the chat's storage is unavailable for a moment; trying again will work once it is back`,
      retryAfter: UNAVAILABLE_RETRY_MS,
    };
  }
  return { ok: false, code: ErrorCode.INTERNAL, message: `${what}: internal error; try again` };
}

/** Logger shared by the hub, rooms and members. */
export type Logger = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** Limits and timings a member needs (a subset of the hub's configuration). */
export interface MemberSettings {
  maxMessage: number;
  maxReplay: number;
  maxPendingPerMember: number;
  rateLimit: RateLimitOptions;
}

/** What the hub provides to its members. */
export interface MemberHost {
  readonly settings: MemberSettings;
  readonly clock: Clock;
  readonly log: Logger;
  readonly commands: readonly Command[];
  /** The live room called `name`, created if needed. The caller must use it synchronously. */
  room(name: string): Room;
  /** The member's connection is gone. */
  forget(member: Member): void;
  /** The tripcode of a secret typed after "#" in a join nickname. */
  tripcode(secret: string): Promise<string>;
  /** What the store keeps of a client address (an HMAC). */
  addressHash(address: string): Promise<string>;
  /** The per-address limit on chat lines (every connection of the address together). */
  limitMessage(address: string): LimitVerdict;
  readonly moderation: Moderation;
}

/** When a request refused because 64 are already queued may come again, ms. */
const RETRY_QUEUE_FULL_MS = 1000;
/**
 * `typing` signals a member may send: a burst of 3, one a second after
 * that. Clients send one every few seconds while the user types; more are
 * dropped, and count as strikes (they cost every member of the room).
 */
const TYPING_BURST = 3;
const TYPING_PER_SECOND = 1;
/** `/quit`, alone or with arguments, in any case (as commands/quit.ts reads it). */
const QUIT_LINE = /^\/quit(?:\s|$)/i;
const closedResult: Refusal = { ok: false, code: ErrorCode.NOT_JOINED, message: 'connection closed' };
let nextMemberId = 1;

/**
 * The hub's side of one connection: its nickname and room once joined, its
 * rate limit, and the serial queue its requests go through (so a transport
 * may fire requests without awaiting them and still get answers in order:
 * a `join` immediately followed by messages works).
 *
 * Every method answers through the connection (welcome, ack, error...); the
 * returned promises are for transports that need the outcome (TCP login) and
 * never reject.
 */
export class Member {
  readonly id = nextMemberId++;
  readonly conn: MemberConnection;
  readonly #host: MemberHost;
  readonly #defaultRoom: string;
  readonly #limiter: RateLimiter;
  #room: Room | null = null;
  #seat: Seat | null = null;
  /** No more input is processed and nothing more is sent. */
  #closed = false;
  /** The transport reported the connection gone. */
  #gone = false;
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;
  /** A `join` was asked for on this connection: only the first one is free of the rate limit. */
  #joinAsked = false;
  /** The client said `hold`: its seat is kept briefly when the connection closes, then left (Room.away). */
  #leaving = false;
  /** Made on the first `typing` (most connections never send one). */
  #typingBucket: TokenBucket | null = null;

  /** Created by `Hub.connect`. */
  constructor(host: MemberHost, conn: MemberConnection, defaultRoom: string) {
    this.#host = host;
    this.conn = conn;
    this.#defaultRoom = defaultRoom;
    this.#limiter = new RateLimiter(host.settings.rateLimit, host.clock);
  }

  /** The current nickname; null before joining. */
  get nick(): string | null {
    return this.#seat?.nick ?? null;
  }

  /** The current room's name; null before joining. */
  get room(): string | null {
    return this.#room?.name ?? null;
  }

  /** The member's level in its room: its seat's role (`user` before joining). */
  get level(): Level {
    return this.#seat?.role ?? 'user';
  }

  get joined(): boolean {
    return this.#seat !== null;
  }

  /** True once the connection is closing or gone. */
  get closed(): boolean {
    return this.#closed;
  }

  get canSwitchRooms(): boolean {
    return this.conn.canSwitchRooms === true;
  }

  // -------------------------------------------------------------------------
  // Requests from the transport

  /** Dispatches a validated `wschat.v1` client message. */
  handle(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'join': {
        const request: JoinRequest = { nick: message.nick };
        if (message.resumeToken !== undefined) request.resumeToken = message.resumeToken;
        if (message.lastSeq !== undefined) request.lastSeq = message.lastSeq;
        if (message.epoch !== undefined) request.epoch = message.epoch;
        if (message.password !== undefined) request.password = message.password;
        if (message.invite !== undefined) request.invite = message.invite;
        if (message.ownerKey !== undefined) request.ownerKey = message.ownerKey;
        return this.join(request).then(() => undefined);
      }
      case 'message':
        return this.input(message.text, message.id, message.replyTo ?? null);
      case 'history':
        return this.history(message.afterSeq, message.limit, message.id);
      case 'edit':
        return this.edit(message.seq, message.text, message.id);
      case 'delete':
        return this.deleteEntry(message.seq, message.id);
      case 'typing':
        this.typing();
        return Promise.resolve();
      case 'hold':
        // Costs nothing, as /quit: a page unloading must always be able to say it.
        this.#leaving = true;
        return Promise.resolve();
    }
  }

  /**
   * Joins a room (answered by `welcome` or `error`). With a valid
   * `resumeToken` for that room, takes back the held nickname without a
   * "joined" notice; with `lastSeq`, the welcome carries exactly the entries
   * after it.
   */
  join(request: JoinRequest): Promise<JoinResult> {
    const refused = this.#gate(undefined, !this.#joinAsked);
    this.#joinAsked = true;
    if (refused !== null) return Promise.resolve(refused);
    return this.#serial<JoinResult>(closedResult, () => this.#join(request));
  }

  /**
   * A line typed by the user: a command if it starts with "/" (but not "//"),
   * otherwise a chat message. Answered by `ack` (with `seq` when stored) or
   * `error`, carrying `clientId` when given.
   */
  input(text: string, clientId: string | null = null, replyTo: number | null = null): Promise<void> {
    // Leaving costs no token: a tab closing with an empty bucket must still
    // be able to say goodbye (else it shows as away for the grace period).
    const quitting = QUIT_LINE.test(text);
    if (this.#gate(clientId ?? undefined, quitting) !== null) return Promise.resolve();
    // Every connection of the address together: refused without a strike,
    // since the others sharing the address (a NAT) are not this connection's fault.
    const address = this.conn.address;
    if (address !== undefined && !quitting) {
      const verdict = this.#host.limitMessage(address);
      if (!verdict.ok) {
        this.#error(ErrorCode.RATE_LIMITED, verdict.message, clientId, verdict.retryAfterMs);
        return Promise.resolve();
      }
    }
    return this.#serial(undefined, () => this.#input(text, clientId, replyTo));
  }

  /** Edits an own message or action (answered by `ack` with the edit's seq, or `error`). */
  edit(seq: number, text: string, clientId: string): Promise<void> {
    if (this.#gate(clientId) !== null) return Promise.resolve();
    return this.#serial(undefined, async () => {
      const room = this.#room;
      const seat = this.#seat;
      if (room === null || seat === null) {
        this.#error(ErrorCode.NOT_JOINED, 'join a room first', clientId);
        return;
      }
      const check = checkMessageText(text, this.#host.settings.maxMessage);
      if (!check.ok) {
        this.#error(check.code, check.message, clientId);
        return;
      }
      let outcome: Outcome;
      try {
        outcome = await room.edit(this, seat, seq, check.text, clientId);
      } catch (error) {
        this.#host.log('error', 'editing a message failed', { room: room.name, error: String(error) });
        outcome = failureOf(error, 'the message could not be edited');
      }
      if (!outcome.ok) this.#error(outcome.code, outcome.message, clientId, outcome.retryAfter);
    });
  }

  /**
   * Deletes an own message or action (within EDIT_WINDOW_MS), or, for an
   * operator, any message, action or console line: the moderators'
   * tombstone and notice (moderation.ts). Answered by `ack` with the
   * notice's seq, or `error`.
   */
  deleteEntry(seq: number, clientId: string): Promise<void> {
    if (this.#gate(clientId) !== null) return Promise.resolve();
    return this.#serial(undefined, async () => {
      const room = this.#room;
      const seat = this.#seat;
      if (room === null || seat === null) {
        this.#error(ErrorCode.NOT_JOINED, 'join a room first', clientId);
        return;
      }
      const actor: Actor = { nick: seat.nick, trip: seat.trip, level: seat.role, seatId: seat.id };
      const outcome = await this.#host.moderation.deleteEntry(room.name, actor, seq);
      if (!outcome.ok) this.#error(outcome.code, outcome.message, clientId, outcome.retryAfter);
      else this.send(outcome.entry === undefined ? { type: 'ack', id: clientId } : { type: 'ack', id: clientId, seq: outcome.entry.seq });
    });
  }

  /** The member is typing: the room's other members are told (never stored). Over its budget: dropped, a strike. */
  typing(): void {
    if (this.#closed) return;
    const room = this.#room;
    const seat = this.#seat;
    if (room === null || seat === null) return;
    this.#typingBucket ??= new TokenBucket(TYPING_BURST, TYPING_PER_SECOND, this.#host.clock);
    if (!this.#typingBucket.take()) {
      if (this.#limiter.strike() === 'flood') this.#terminate('flooding', 'flood');
      return;
    }
    if (seat.mutedUntil !== null && seat.mutedUntil > this.#host.clock.now()) return;
    room.typing(seat);
  }

  /** Entries after `afterSeq` (at most `limit`, capped by the hub's maxReplay), answered by a `history` event. */
  history(afterSeq: number, limit: number | undefined, id: string): Promise<void> {
    if (this.#gate(id) !== null) return Promise.resolve();
    return this.#serial(undefined, async () => {
      const room = this.#room;
      if (room === null) {
        this.#error(ErrorCode.NOT_JOINED, 'join a room first', id);
        return;
      }
      const max = this.#host.settings.maxReplay;
      const page = await room.history(afterSeq, Math.min(limit ?? max, max));
      this.send({ type: 'history', id, entries: page.entries, more: page.more });
    });
  }

  /**
   * Bad input from the peer (malformed JSON, unknown type...): answers with
   * the error and counts a strike; repeated abuse closes the connection with
   * 1008.
   */
  reject(error: { code: ErrorCode; message: string; id?: string }): void {
    if (this.#closed) return;
    this.#error(error.code, error.message, error.id);
    if (this.#limiter.strike() === 'flood') this.#terminate('too many bad messages', 'flood');
  }

  /**
   * The transport reports the connection closed (whoever closed it). A joined
   * member becomes "away": its nickname is held for the grace period, and the
   * "left" notice is sent only if it does not come back in time. Idempotent.
   */
  disconnected(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#closed = true;
    this.#host.forget(this);
    void this.#serial(undefined, async () => {
      const room = this.#room;
      const seat = this.#seat;
      if (room !== null && seat !== null) await room.away(this, seat, this.#leaving);
    }, true);
  }

  // -------------------------------------------------------------------------
  // Used by Room and Hub (internal)

  /** @internal Sends one event to this member only. */
  send(event: ServerEvent): void {
    // The welcome tells the client its request budget (see #gate); the room
    // builds the welcome and knows nothing of rate limits.
    if (event.type === 'welcome' && event.rateLimit === undefined) event = { ...event, rateLimit: this.#advertisedRateLimit() };
    this.deliver(event, new Map());
  }

  /** @internal Sends a broadcast event, encoding it at most once per format across the room (`cache`). */
  deliver(event: ServerEvent, cache: Map<string, unknown>): void {
    if (this.#closed) return;
    const format = this.conn.format;
    let encoded: unknown;
    if (cache.has(format)) {
      encoded = cache.get(format);
    } else {
      try {
        encoded = this.conn.encode(event);
      } catch (error) {
        this.#host.log('error', 'encoding an event failed', { format, type: event.type, error: String(error) });
        encoded = null;
      }
      cache.set(format, encoded);
    }
    if (encoded === null || encoded === undefined) return;
    try {
      this.conn.sendEncoded(encoded);
    } catch (error) {
      this.#host.log('error', 'sending to a member failed', { remote: this.conn.remote, error: String(error) });
      this.closeConnection(ChatCloseCode.INTERNAL_ERROR, '');
    }
  }

  /** @internal The room seated this member. */
  attach(room: Room, seat: Seat): void {
    this.#room = room;
    this.#seat = seat;
  }

  /** @internal Whether this member sits in `seat` now. */
  holdsSeat(seat: Seat): boolean {
    return this.#seat === seat;
  }

  /** @internal The member no longer holds `seat` (left, kicked, resumed elsewhere, moved). */
  detach(seat: Seat): void {
    if (this.#seat !== seat) return;
    this.#room = null;
    this.#seat = null;
  }

  /** @internal Stops processing and closes the connection; does not leave the room (see `disconnected`). */
  closeConnection(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close(code, reason);
    } catch (error) {
      this.#host.log('error', 'closing a connection failed', { remote: this.conn.remote, error: String(error) });
    }
  }

  // -------------------------------------------------------------------------

  /**
   * Rate limit and queue bound, checked when a request arrives. Returns the
   * refusal, or null to go ahead. `free`: the connection's first join, which
   * takes no token, so the advertised burst is all the client's to use.
   * A refusal says when to retry: when the bucket holds a token again, or,
   * when the queue is full, after RETRY_QUEUE_FULL_MS.
   */
  #gate(id: string | undefined, free = false): Refusal | null {
    if (this.#closed) return closedResult;
    const queueFull = this.#pending >= this.#host.settings.maxPendingPerMember;
    const verdict = queueFull ? this.#limiter.strike() : free ? 'ok' : this.#limiter.check();
    if (verdict === 'ok') return null;
    const retryAfter = queueFull ? RETRY_QUEUE_FULL_MS : this.#limiter.retryAfterMs();
    const message = queueFull
      ? 'Slow down: the server is still working on your earlier requests.'
      : `Slow down: too many messages${retryAfter === null ? '.' : `; try again in ${(retryAfter / 1000).toFixed(1)} s.`}`;
    this.#error(ErrorCode.RATE_LIMITED, message, id, retryAfter ?? undefined);
    if (verdict === 'flood') this.#terminate('flooding', 'flood');
    return retryAfter === null
      ? { ok: false, code: ErrorCode.RATE_LIMITED, message }
      : { ok: false, code: ErrorCode.RATE_LIMITED, message, retryAfter };
  }

  /** What the welcome advertises: the bucket #gate draws from. */
  #advertisedRateLimit(): AdvertisedRateLimit {
    const { burst, perSecond } = this.#host.settings.rateLimit;
    return { burst, perSecond };
  }

  /**
   * Runs `op` after every earlier request of this member. Requests still
   * queued when the connection closes are dropped (`skipped`); the client
   * resends unacknowledged messages with the same ids. `always` is for the
   * disconnect handler.
   */
  #serial<T>(skipped: T, op: () => Promise<T>, always = false): Promise<T> {
    this.#pending++;
    const run = async (): Promise<T> => {
      try {
        if (this.#closed && !always) return skipped;
        return await op();
      } catch (error) {
        this.#host.log(error instanceof StoreUnavailableError ? 'warn' : 'error', 'request failed', {
          remote: this.conn.remote,
          error: String(error),
        });
        const failure = failureOf(error, 'the request failed');
        this.#error(failure.code, failure.message, undefined, failure.retryAfter);
        return skipped;
      } finally {
        this.#pending--;
      }
    };
    const result = this.#tail.then(run);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  async #join(request: JoinRequest): Promise<JoinResult> {
    if (this.#seat !== null) return this.#refuse(ErrorCode.ALREADY_JOINED, `already in room ${this.room}`);
    const named = checkRoomName(request.room ?? this.#defaultRoom);
    if (!named.ok) return this.#refuse(ErrorCode.ROOM_INVALID, named.message);
    const name = named.name;
    const check = checkNickname(request.nick);
    if (!check.ok) return this.#refuse(check.code, check.message);
    let result: JoinResult;
    try {
      const trip = check.secret === null ? null : await this.#host.tripcode(check.secret);
      const address = this.conn.address ?? null;
      result = await this.#host.room(name).admit(this, {
        nick: check.nick,
        key: check.key,
        trip,
        resumeToken: request.resumeToken,
        lastSeq: request.lastSeq,
        epoch: request.epoch,
        uniquify: request.uniquify === true,
        address,
        addressHash: address === null ? null : await this.#host.addressHash(address),
        password: request.password,
        invite: request.invite,
        passcode: request.passcode,
        ownerKey: request.ownerKey,
      });
    } catch (error) {
      // Not seated (the room gave the seat back): the client may try again.
      this.#host.log('warn', 'join failed', { room: name, error: String(error) });
      result = failureOf(error, 'could not join');
    }
    if (!result.ok) this.#error(result.code, result.message, undefined, result.retryAfter);
    return result;
  }

  async #input(text: string, clientId: string | null, replyTo: number | null): Promise<void> {
    const command = parseCommandLine(text);
    if (command !== null) {
      await this.#command(command.name, command.args, clientId, replyTo);
      return;
    }
    if (this.#seat === null) {
      this.#error(ErrorCode.NOT_JOINED, 'join a room first', clientId);
      return;
    }
    const check = checkMessageText(text.startsWith('//') ? text.slice(1) : text, this.#host.settings.maxMessage);
    if (!check.ok) {
      this.#error(check.code, check.message, clientId);
      return;
    }
    const outcome = await this.#post('message', check.text, clientId, replyTo);
    if (!outcome.ok) this.#error(outcome.code, outcome.message, clientId, outcome.retryAfter);
  }

  async #command(name: string, args: string, clientId: string | null, replyTo: number | null = null): Promise<void> {
    const onThisDoor = this.#host.commands.filter((c) => c.available === undefined || c.available(this));
    const command = findCommand(name, onThisDoor);
    if (command === undefined) {
      const shown = name === '' ? '/' : `/${name.replace(/[\p{Cc}\p{Cf}]/gu, '?').slice(0, 32)}`;
      this.#error(ErrorCode.UNKNOWN_COMMAND, `unknown command ${shown}; type /help for the list`, clientId);
      return;
    }
    if (command.requires === 'joined' && this.#seat === null) {
      this.#error(ErrorCode.NOT_JOINED, 'join a room first', clientId);
      return;
    }
    const level = this.level;
    if (!atLeast(level, command.level ?? 'user')) {
      const refusal = forbidden(`use /${command.name}`, command.level ?? 'user');
      this.#error(refusal.code, refusal.message, clientId);
      return;
    }
    const available = onThisDoor.filter((c) => atLeast(level, c.level ?? 'user'));
    let answered = false;
    const ack = (seq?: number): void => {
      if (answered) return;
      answered = true;
      if (clientId !== null) this.send(seq === undefined ? { type: 'ack', id: clientId } : { type: 'ack', id: clientId, seq });
    };
    const fail = (code: ErrorCode, message: string): void => {
      if (answered) return;
      answered = true;
      this.#error(code, message, clientId);
    };
    const context: CommandContext = {
      args,
      clientId,
      nick: this.nick,
      room: this.room,
      canSwitchRooms: this.canSwitchRooms,
      commands: available,
      level,
      moderation: this.#moderation(),
      send: (event) => this.send(event),
      reply: (text) => this.send(clientId === null ? { type: 'info', text } : { type: 'info', text, id: clientId }),
      fail,
      rename: async (raw) => {
        const check = checkNickname(raw);
        if (!check.ok) {
          fail(check.code, check.message);
          return false;
        }
        const room = this.#room;
        const seat = this.#seat;
        const outcome =
          room === null || seat === null ? notJoined() : await room.rename(this, seat, check.nick, check.key);
        if (!outcome.ok) fail(outcome.code, outcome.message);
        return outcome.ok;
      },
      act: async (raw) => {
        const check = checkMessageText(raw, this.#host.settings.maxMessage);
        if (!check.ok) {
          fail(check.code, check.message);
          return false;
        }
        const outcome = await this.#post('action', check.text, clientId, replyTo);
        if (!outcome.ok) fail(outcome.code, outcome.message);
        else answered = true; // #post acknowledged it, with its seq
        return outcome.ok;
      },
      members: () => this.#room?.memberList() ?? [],
      quit: async () => {
        ack();
        await this.#leave('quit');
        this.closeConnection(ChatCloseCode.NORMAL, 'bye');
      },
      switchRoom: async (name, passcode) => {
        const outcome = await this.#switchRoom(name, passcode);
        if (!outcome.ok) fail(outcome.code, outcome.message);
        return outcome.ok;
      },
    };
    try {
      await command.run(context);
    } catch (error) {
      this.#host.log('error', 'command failed', { command: command.name, error: String(error) });
      const failure = failureOf(error, `/${command.name} failed`);
      if (!answered) {
        answered = true;
        this.#error(failure.code, failure.message, clientId, failure.retryAfter);
      }
    }
    ack();
  }

  /**
   * Stores an entry from this member; the room acknowledges (before
   * broadcasting) when `clientId` is set. `replyTo`: the entry it answers,
   * which must be a message, action or console line of the room.
   */
  async #post(kind: 'message' | 'action', text: string, clientId: string | null, replyTo: number | null = null): Promise<Outcome> {
    const room = this.#room;
    const seat = this.#seat;
    if (room === null || seat === null) return notJoined();
    try {
      let reply: ReplyTarget | null = null;
      if (replyTo !== null) {
        reply = await room.replyTarget(replyTo);
        if (reply === null) return { ok: false, code: ErrorCode.NOT_FOUND, message: `there is no message ${replyTo} to reply to (it may have been deleted)` };
      }
      return await room.post(this, seat, kind, text, clientId, reply);
    } catch (error) {
      this.#host.log('error', 'storing a message failed', { room: room.name, error: String(error) });
      return failureOf(error, 'the message could not be stored');
    }
  }

  /** Moderation in the member's room, acting as this member (null before joining). */
  #moderation(): RoomModeration | null {
    const room = this.#room;
    const seat = this.#seat;
    if (room === null || seat === null) return null;
    const actor: Actor = { nick: seat.nick, trip: seat.trip, level: seat.role, seatId: seat.id };
    const mod = this.#host.moderation;
    return {
      ...bindModeration(mod, room.name, actor),
      op: async (arg) => {
        const outcome = await mod.op(room.name, actor, arg);
        if (outcome.ok && outcome.ownerKey !== undefined && outcome.entry !== undefined) {
          // Said at once, with the key the client proved (a browser keeps
          // it); then the room takes the change, which is no news to this seat.
          if (this.#seat === seat) {
            seat.role = 'owner';
            this.send({ type: 'role', role: 'owner', ownerKey: outcome.ownerKey });
          }
          room.applied(outcome.entry, outcome.seat);
        }
        return outcome;
      },
    };
  }

  async #switchRoom(raw: string, passcode?: string): Promise<Outcome> {
    const from = this.#room;
    const seat = this.#seat;
    if (from === null || seat === null) return notJoined();
    const named = checkRoomName(raw);
    if (!named.ok) return { ok: false, code: ErrorCode.ROOM_INVALID, message: named.message };
    const name = named.name;
    if (name === from.name) {
      this.send({ type: 'info', text: `You are already in ${name}` });
      return { ok: true };
    }
    // Take the seat in the new room first: if the nickname is taken there, stay where we are.
    const address = this.conn.address ?? null;
    const result = await this.#host.room(name).admit(this, {
      nick: seat.nick,
      key: seat.key,
      trip: seat.trip,
      resumeToken: undefined,
      lastSeq: undefined,
      uniquify: false,
      address,
      addressHash: address === null ? null : await this.#host.addressHash(address),
      passcode,
    });
    if (!result.ok) return result;
    await from.depart(seat, 'moved');
    return { ok: true };
  }

  /** Leaves the current room now, with a notice. */
  async #leave(reason: LeaveReason): Promise<void> {
    const room = this.#room;
    const seat = this.#seat;
    if (room === null || seat === null) return;
    this.detach(seat);
    await room.depart(seat, reason);
  }

  /** Closes with 1008 and leaves at once (no grace period for a connection we threw out). */
  #terminate(reason: string, leave: LeaveReason): void {
    if (this.#closed) return;
    const room = this.#room;
    const seat = this.#seat;
    if (room !== null && seat !== null) {
      this.detach(seat);
      room.depart(seat, leave).catch((error: unknown) => {
        this.#host.log('error', 'leaving a room failed', { room: room.name, error: String(error) });
      });
    }
    this.closeConnection(ChatCloseCode.POLICY_VIOLATION, reason);
  }

  #refuse(code: ErrorCode, message: string): JoinResult {
    this.#error(code, message);
    return { ok: false, code, message };
  }

  #error(code: ErrorCode, message: string, id?: string | null, retryAfter?: number): void {
    const event: ErrorEvent = { type: 'error', code, message };
    if (id !== undefined && id !== null) event.id = id;
    if (retryAfter !== undefined) event.retryAfter = retryAfter;
    this.send(event);
  }
}

function notJoined(): Outcome {
  return { ok: false, code: ErrorCode.NOT_JOINED, message: 'join a room first' };
}
