/**
 * Moderation: who may do what to whom in a room, and doing it through the
 * store (the state seam), so that it holds across restarts and nodes.
 *
 * Levels, lowest first: `user`, `operator` (named by an owner, `/op NICK`),
 * `owner` (whoever created the room, or proves its owner key: `/op KEY`),
 * `admin` (the server's console, in every room). An action on a member
 * needs a level above the member's role: an operator cannot kick another
 * operator or an owner; an owner can; the console can do anything.
 *
 * Everything here is stateless: targets are looked up in the store's seat
 * list at the time of the action, and each change is one atomic store
 * operation with its notice (src/chat/notices.ts). The rooms that serve the
 * members concerned learn of it from the room's feed and seat changes, on
 * every node (room.ts closes a removed member's connection, updates roles
 * and mutes).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.js';
import type { RoomModeration } from './commands/command.js';
import { formatDuration } from './duration.js';
import { EDIT_WINDOW_MS, ErrorCode, type Level } from './messages.js';
import type { Refusal } from './member.js';
import { checkNickname } from './nickname.js';
import { encodeDetail, type ModDetail } from './notices.js';
import type { ChatStore, ModerationChange, Restriction, Role, SeatChange, SeatRecord, StoredEntry } from './store/store.js';

/** How long an invite works. */
export const INVITE_TTL_MS = 24 * 3_600_000;
/** Longest topic, in characters. */
export const TOPIC_MAX = 200;
/** Room passwords: 1-200 characters. */
export const PASSWORD_MAX = 200;

const RANK: Record<Level, number> = { user: 0, operator: 1, owner: 2, admin: 3 };

/** Whether `level` is at least `needed`. */
export function atLeast(level: Level, needed: Level): boolean {
  return RANK[level] >= RANK[needed];
}

/**
 * The stored form of a secret that is random and long (an owner key, an
 * invite code): SHA-256 is enough, nobody can guess the input.
 */
export function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url');
}

/** A new random code (owner keys, invites): 128 bits, 22 characters of A-Za-z0-9_-. */
export function newCode(): string {
  return randomBytes(16).toString('base64url');
}

const SCRYPT = { N: 16_384, r: 8, p: 1 } as const;

function scryptAsync(secret: string, salt: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(secret.normalize('NFC'), salt, length, { ...SCRYPT, maxmem: 64 * 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/**
 * A room password as stored: people choose guessable passwords, so scrypt
 * (RFC 7914) with a random salt, "scrypt$N$r$p$salt$hash".
 */
export async function hashPassword(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(secret, salt, 32);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Whether `secret` is the password stored as `stored` (constant-time comparison); false for anything unreadable. */
export async function verifyPassword(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  if (Number(n) !== SCRYPT.N || Number(r) !== SCRYPT.r || Number(p) !== SCRYPT.p) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(secret, Buffer.from(salt, 'base64url'), expected.length);
  return expected.length > 0 && timingSafeEqual(actual, expected);
}

/** Who acts: a member (its seat) or the console. */
export interface Actor {
  nick: string;
  trip: string | null;
  level: Level;
  /** The acting member's seat, null for the console. */
  seatId: string | null;
}

/** The console as an actor. */
export const ADMIN: Actor = { nick: 'Administrator', trip: null, level: 'admin', seatId: null };

/** A moderation action's answer to the one who asked: a line to show, or why not. */
export type ModOutcome = { ok: true; text: string; entry?: StoredEntry; seat?: { version: number; change: SeatChange } } | Refusal;

export interface InviteOutcome {
  ok: true;
  code: string;
  expiresAt: number;
  text: string;
}

export interface ModerationHost {
  readonly store: ChatStore;
  readonly clock: Clock;
  /**
   * A change was stored: the node's own room (if it serves this one) takes
   * it at once, so that the command's answer comes after its effect here;
   * other nodes learn of it from the room's feed.
   */
  applied?(room: string, entry: StoredEntry, seat: { version: number; change: SeatChange } | undefined): void;
}

/** Why an edit or a delete of one's own entry was refused (the store's reason). */
export function editRefusal(reason: string, action: 'edit' | 'delete', seq: number): Refusal {
  switch (reason) {
    case 'not-yours':
      return { ok: false, code: ErrorCode.FORBIDDEN, message: `you can only ${action} your own messages (and only from the session that sent them)` };
    case 'too-late':
      return { ok: false, code: ErrorCode.TOO_LATE, message: `messages can be ${action === 'edit' ? 'edited' : 'deleted'} for ${EDIT_WINDOW_MS / 60_000} minutes after they are sent` };
    default:
      return { ok: false, code: ErrorCode.NOT_FOUND, message: `there is no message ${seq} to ${action} (it may have been deleted)` };
  }
}

function refuse(code: ErrorCode, message: string): Refusal {
  return { ok: false, code, message };
}

const LEVEL_NAMES: Record<Level, string> = { user: 'members', operator: 'operators and owners', owner: 'owners', admin: 'the administrator' };

/** The refusal for an action that needs `needed`. */
export function forbidden(action: string, needed: Level): Refusal {
  return refuse(ErrorCode.FORBIDDEN, `only ${LEVEL_NAMES[needed]} of this room can ${action}`);
}

/** A member as replies name it: the nickname and its tripcode. */
function named(seat: SeatRecord): string {
  return seat.trip === null ? seat.nick : `${seat.nick} !${seat.trip}`;
}

export class Moderation {
  readonly #store: ChatStore;
  readonly #clock: Clock;
  readonly #host: ModerationHost;

  constructor(host: ModerationHost) {
    this.#store = host.store;
    this.#clock = host.clock;
    this.#host = host;
  }

  /** `/op KEY` (claims ownership with the room's owner key) or `/op NICK` (an owner makes a member an operator). */
  async op(room: string, actor: Actor, arg: string): Promise<ModOutcome & { ownerKey?: string }> {
    if (actor.seatId !== null) {
      const policy = await this.#store.policy(room, this.#clock.now());
      if (policy.ownerKey !== null && /^[A-Za-z0-9_-]{8,64}$/.test(arg) && safeEqual(secretHash(arg), policy.ownerKey)) {
        if (actor.level === 'owner') return { ok: true, text: 'You are an owner of this room already' };
        const result = await this.#store.moderate({
          room,
          ts: this.#clock.now(),
          change: { op: 'role', seat: actor.seatId, role: 'owner' },
          notice: this.#notice(actor, { action: 'owner', by: actor.nick }),
        });
        if (!result.ok) return refuse(ErrorCode.NOT_JOINED, 'join a room first');
        // Not `applied` here: the member applies it, once it has told its client the key (member.ts).
        return { ok: true, text: 'You are an owner of this room', entry: result.entry, ownerKey: arg, ...(result.seat === undefined ? {} : { seat: result.seat }) };
      }
    }
    if (!atLeast(actor.level, 'owner')) return forbidden('name operators (or that is not the owner key)', 'owner');
    const target = await this.#target(room, arg);
    if (!target.ok) return target;
    const seat = target.seat;
    if (seat.role !== 'user') return { ok: true, text: `${named(seat)} is an ${seat.role} already` };
    return this.#apply(room, actor, { op: 'role', seat: seat.id, role: 'operator', trip: 'add' }, { action: 'op', ...this.#parties(actor, seat) }, `${named(seat)} is now an operator`);
  }

  /** `/deop NICK`: an owner takes a member's operator role (and its tripcode's). */
  async deop(room: string, actor: Actor, nick: string): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'owner')) return forbidden('remove operators', 'owner');
    const target = await this.#target(room, nick);
    if (!target.ok) return target;
    const seat = target.seat;
    if (seat.role === 'user') return refuse(ErrorCode.BAD_COMMAND, `${named(seat)} is not an operator`);
    if (!outranks(actor.level, seat.role)) return refuse(ErrorCode.FORBIDDEN, `${named(seat)} is an owner of this room`);
    return this.#apply(room, actor, { op: 'role', seat: seat.id, role: 'user', trip: 'remove' }, { action: 'deop', ...this.#parties(actor, seat) }, `${named(seat)} is no longer an operator`);
  }

  /** `/kick NICK`: frees the member's seat; it may come back (unlike a ban). */
  async kick(room: string, actor: Actor, nick: string): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('kick', 'operator');
    const target = await this.#target(room, nick);
    if (!target.ok) return target;
    const seat = target.seat;
    const refused = this.#mayActOn(actor, seat, 'kick');
    if (refused !== null) return refused;
    const detail = this.#detail(actor, { action: 'kick', ...this.#parties(actor, seat) });
    const reason = encodeDetail(detail);
    const result = await this.#store.releaseSeat({ room, id: seat.id, reason, ts: this.#clock.now() });
    if (result === null) return refuse(ErrorCode.NICK_INVALID, `nobody called ${nick} in ${room}`);
    this.#host.applied?.(room, result.entry, { version: result.version, change: { op: 'delete', id: seat.id, reason } });
    return { ok: true, text: `${named(seat)} was kicked`, entry: result.entry };
  }

  /** `/ban NICK [DURATION]`: by the member's address and tripcode; it is removed and cannot come back under any name. */
  async ban(room: string, actor: Actor, nick: string, durationMs: number | null): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('ban', 'operator');
    const target = await this.#target(room, nick);
    if (!target.ok) return target;
    const seat = target.seat;
    const refused = this.#mayActOn(actor, seat, 'ban');
    if (refused !== null) return refused;
    const restriction = this.#restriction(actor, seat, durationMs);
    return this.#apply(
      room,
      actor,
      { op: 'ban', restriction, seat: seat.id },
      { action: 'ban', ...this.#parties(actor, seat), for: durationMs, until: restriction.until },
      `${named(seat)} is banned${durationMs === null ? '' : ` for ${formatDuration(durationMs)}`}`,
    );
  }

  /** `/unban NICK|ID`: lifts the bans made for that nickname (or with that id). */
  async unban(room: string, actor: Actor, target: string): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('unban', 'operator');
    const policy = await this.#store.policy(room, this.#clock.now());
    const matching = matches(policy.bans, target);
    if (matching.length === 0) return refuse(ErrorCode.BAD_COMMAND, `no ban for ${target} in this room; /bans lists them`);
    const first = matching[0]!;
    return this.#apply(
      room,
      actor,
      { op: 'unban', ids: matching.map((b) => b.id) },
      { action: 'unban', by: actor.nick, target: first.nick, ...(first.trip === null ? {} : { targetTrip: first.trip }) },
      `the ban on ${first.nick} is lifted`,
    );
  }

  /** `/bans`: the bans in force, one line each. */
  async bans(room: string, actor: Actor): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('list the bans', 'operator');
    const now = this.#clock.now();
    const policy = await this.#store.policy(room, now);
    if (policy.bans.length === 0) return { ok: true, text: `no bans in ${room}` };
    const lines = policy.bans.map((b) => {
      const what = [b.address === null ? null : 'address', b.trip === null ? null : `tripcode !${b.trip}`].filter((x) => x !== null).join(' and ');
      const until = b.until === null ? 'until lifted' : `for ${formatDuration(Math.max(1000, b.until - now))} more`;
      return `  ${b.id}  ${b.nick} (by ${what || 'nickname only'}), banned by ${b.by}, ${until}`;
    });
    return { ok: true, text: [`${policy.bans.length} ban${policy.bans.length === 1 ? '' : 's'} in ${room}:`, ...lines].join('\n') };
  }

  /** `/mute NICK [DURATION]`: the member (and its address and tripcode, should it come back) cannot post. */
  async mute(room: string, actor: Actor, nick: string, durationMs: number | null): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('mute', 'operator');
    const target = await this.#target(room, nick);
    if (!target.ok) return target;
    const seat = target.seat;
    const refused = this.#mayActOn(actor, seat, 'mute');
    if (refused !== null) return refused;
    const restriction = this.#restriction(actor, seat, durationMs);
    return this.#apply(
      room,
      actor,
      { op: 'mute', restriction, seat: seat.id },
      { action: 'mute', ...this.#parties(actor, seat), for: durationMs, until: restriction.until },
      `${named(seat)} is muted${durationMs === null ? '' : ` for ${formatDuration(durationMs)}`}`,
    );
  }

  /** `/unmute NICK`: lifts the mutes of a member present, or those made for that nickname. */
  async unmute(room: string, actor: Actor, nick: string): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('unmute', 'operator');
    const now = this.#clock.now();
    const [policy, seats] = await Promise.all([this.#store.policy(room, now), this.#store.seats(room)]);
    const check = checkNickname(nick);
    const seat = check.ok ? seats.seats.find((s) => s.key === check.key) : undefined;
    const ids = new Set(matches(policy.mutes, nick).map((m) => m.id));
    if (seat !== undefined) {
      for (const m of policy.mutes) if ((m.address !== null && m.address === seat.address) || (m.trip !== null && m.trip === seat.trip)) ids.add(m.id);
    }
    if (ids.size === 0 && (seat === undefined || seat.mutedUntil === null)) return refuse(ErrorCode.BAD_COMMAND, `${nick} is not muted`);
    const name = seat === undefined ? (policy.mutes.find((m) => ids.has(m.id))?.nick ?? nick) : seat.nick;
    const trip = seat?.trip ?? null;
    return this.#apply(
      room,
      actor,
      { op: 'unmute', ids: [...ids], seat: seat?.id ?? null },
      { action: 'unmute', by: actor.nick, target: name, ...(trip === null ? {} : { targetTrip: trip }) },
      `${name} can speak again`,
    );
  }

  /** `/lock`, `/unlock`: newcomers need an invite (members stay). */
  async lock(room: string, actor: Actor, locked: boolean): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden(locked ? 'lock the room' : 'unlock the room', 'operator');
    const policy = await this.#store.policy(room, this.#clock.now());
    if (policy.locked === locked) return { ok: true, text: `the room is ${locked ? 'locked' : 'not locked'} already` };
    return this.#apply(room, actor, { op: 'lock', locked }, { action: locked ? 'lock' : 'unlock', by: actor.nick }, locked ? 'the room is locked' : 'the room is unlocked');
  }

  /** `/topic`: the topic now. */
  async showTopic(room: string): Promise<ModOutcome> {
    const { topic } = await this.#store.policy(room, this.#clock.now());
    return { ok: true, text: topic === null ? `${room} has no topic` : `Topic of ${room}: ${topic}` };
  }

  /** `/topic TEXT` (null clears it). The text was checked by the caller (checkTopic). */
  async topic(room: string, actor: Actor, topic: string | null): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('set the topic', 'operator');
    return this.#apply(room, actor, { op: 'topic', topic }, { action: 'topic', by: actor.nick, topic }, topic === null ? 'the topic is cleared' : 'the topic is set');
  }

  /**
   * A member deleting an entry (wschat.v1 `delete`): its own message or
   * action within EDIT_WINDOW_MS (the store checks the author and the
   * time in the same step), or, for an operator, what `/delete` may.
   */
  async deleteEntry(room: string, actor: Actor, seq: number): Promise<ModOutcome> {
    const anyone = atLeast(actor.level, 'operator') || actor.seatId === null;
    const change: ModerationChange = anyone
      ? { op: 'delete', seq }
      : { op: 'delete', seq, author: actor.seatId as string, since: this.#clock.now() - EDIT_WINDOW_MS };
    return this.#apply(room, actor, change, { action: 'delete', by: actor.nick, seq }, '', (reason) => editRefusal(reason, 'delete', seq));
  }

  /** `/delete SEQ`: the entry becomes a tombstone; clients stop showing it. */
  async delete(room: string, actor: Actor, seq: number): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'operator')) return forbidden('delete messages', 'operator');
    return this.#apply(room, actor, { op: 'delete', seq }, { action: 'delete', by: actor.nick, seq }, `message ${seq} is deleted`, () =>
      refuse(ErrorCode.BAD_COMMAND, `no message ${seq} to delete (only messages, actions and console lines can be)`),
    );
  }

  /** `/password SECRET` (null removes it): newcomers need it, or an invite. */
  async password(room: string, actor: Actor, secret: string | null): Promise<ModOutcome> {
    if (!atLeast(actor.level, 'owner')) return forbidden('set the password', 'owner');
    const hash = secret === null ? null : await hashPassword(secret);
    return this.#apply(
      room,
      actor,
      { op: 'password', hash },
      { action: 'password', by: actor.nick, on: secret !== null },
      secret === null ? 'the room has no password now' : 'the room has a password now: newcomers need it (or an invite)',
    );
  }

  /** `/invite`: a code that lets one newcomer in, once, within INVITE_TTL_MS. */
  async invite(room: string, actor: Actor): Promise<InviteOutcome | Refusal> {
    if (!atLeast(actor.level, 'operator')) return forbidden('make invites', 'operator');
    const code = newCode();
    const expiresAt = this.#clock.now() + INVITE_TTL_MS;
    const result = await this.#apply(room, actor, { op: 'invite', hash: secretHash(code), until: expiresAt }, { action: 'invite', by: actor.nick }, '');
    if (!result.ok) return result;
    return { ok: true, code, expiresAt, text: `an invite for ${room}` };
  }

  // -------------------------------------------------------------------------

  async #target(room: string, nick: string): Promise<{ ok: true; seat: SeatRecord } | Refusal> {
    const notFound = refuse(ErrorCode.NICK_INVALID, `nobody called ${nick.slice(0, 64)} in ${room}`);
    const check = checkNickname(nick);
    if (!check.ok) return notFound;
    const seat = (await this.#store.seats(room)).seats.find((s) => s.key === check.key);
    return seat === undefined ? notFound : { ok: true, seat };
  }

  /** Null when `actor` may kick, ban or mute `seat`; else why not. */
  #mayActOn(actor: Actor, seat: SeatRecord, action: string): Refusal | null {
    if (seat.id === actor.seatId) return refuse(ErrorCode.BAD_COMMAND, `you cannot ${action} yourself`);
    if (!outranks(actor.level, seat.role)) return refuse(ErrorCode.FORBIDDEN, `${named(seat)} is an ${seat.role} of this room: you cannot ${action} them`);
    return null;
  }

  /** The actor and the member acted on, as a notice names them. */
  #parties(actor: Actor, seat: SeatRecord): Pick<ModDetail, 'by' | 'target' | 'targetTrip'> {
    return { by: actor.nick, target: seat.nick, ...(seat.trip === null ? {} : { targetTrip: seat.trip }) };
  }

  #detail(actor: Actor, detail: ModDetail): ModDetail {
    const out: ModDetail = { ...detail, by: actor.nick };
    if (actor.trip !== null) out.byTrip = actor.trip;
    return out;
  }

  #notice(actor: Actor, detail: ModDetail): { nick: string; trip: string | null; text: string } {
    return { nick: actor.nick, trip: actor.trip, text: encodeDetail(this.#detail(actor, detail)) };
  }

  #restriction(actor: Actor, seat: SeatRecord, durationMs: number | null): Restriction {
    const at = this.#clock.now();
    return {
      id: randomBytes(4).toString('base64url'),
      nick: seat.nick,
      key: seat.key,
      address: seat.address,
      trip: seat.trip,
      by: actor.nick,
      at,
      until: durationMs === null ? null : at + durationMs,
    };
  }

  async #apply(
    room: string,
    actor: Actor,
    change: ModerationChange,
    detail: ModDetail,
    text: string,
    notFound: (reason: string) => Refusal = () => refuse(ErrorCode.NICK_INVALID, `that member is no longer in ${room}`),
  ): Promise<ModOutcome> {
    const result = await this.#store.moderate({ room, ts: this.#clock.now(), change, notice: this.#notice(actor, detail) });
    if (!result.ok) return notFound(result.reason);
    this.#host.applied?.(room, result.entry, result.seat);
    return { ok: true, text, entry: result.entry };
  }
}

/** The moderation of one room as one actor, for command modules (commands/command.ts). */
export function bindModeration(mod: Moderation, room: string, actor: Actor): RoomModeration {
  return {
    room,
    op: (arg) => mod.op(room, actor, arg),
    deop: (nick) => mod.deop(room, actor, nick),
    kick: (nick) => mod.kick(room, actor, nick),
    ban: (nick, ms) => mod.ban(room, actor, nick, ms),
    unban: (target) => mod.unban(room, actor, target),
    bans: () => mod.bans(room, actor),
    mute: (nick, ms) => mod.mute(room, actor, nick, ms),
    unmute: (nick) => mod.unmute(room, actor, nick),
    lock: (locked) => mod.lock(room, actor, locked),
    topic: (text) => mod.topic(room, actor, text),
    showTopic: () => mod.showTopic(room),
    delete: (seq) => mod.delete(room, actor, seq),
    password: (secret) => mod.password(room, actor, secret),
    invite: () => mod.invite(room, actor),
  };
}

/** Whether a level is above a seat's role (acting on a member needs more than its role). */
function outranks(level: Level, role: Role): boolean {
  return RANK[level] > RANK[role];
}

/** The restrictions made for a nickname (by its key) or with that id. */
function matches(list: readonly Restriction[], target: string): Restriction[] {
  const check = checkNickname(target);
  return list.filter((r) => r.id === target || (check.ok && r.key === check.key));
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
