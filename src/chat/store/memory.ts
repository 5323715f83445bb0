import { randomBytes } from 'node:crypto';
import { LocalBus } from './local-bus.js';
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
  emptyPolicy,
  type ModerationRequest,
  type ModerationResult,
  type NewEntry,
  type ReleaseRequest,
  type ReleaseResult,
  type RenameResult,
  type Restriction,
  type ResumeResult,
  type Role,
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
import { activeRestrictions, FOREVER, mutedUntil, restrictionFor } from './restrictions.js';

export interface MemoryStoreOptions {
  /**
   * Entries kept per room; older ones are dropped. Bounds memory for
   * `--memory`, where nothing else ever would. Default 10 000.
   */
  maxEntriesPerRoom?: number;
  /** Default: random. */
  nodeId?: string;
}

interface MemoryRoom {
  record: RoomRecord;
  /** Contiguous by seq: entries[i].seq === entries[0].seq + i. */
  entries: StoredEntry[];
  byClientId: Map<string, StoredEntry>;
  /** In joining order. */
  seats: Map<string, SeatRecord>;
  /** Nickname key -> seat id. */
  byKey: Map<string, string>;
  version: number;
  /** Holds more than join/leave/rename notices (see BARE_KINDS). */
  kept: boolean;
  ownerKey: string | null;
  locked: boolean;
  password: string | null;
  topic: string | null;
  opTrips: Set<string>;
  bans: Restriction[];
  mutes: Restriction[];
  /** Invite code hash -> until. */
  invites: Map<string, number>;
}

/** Buckets kept before the full ones are forgotten. */
const BUCKETS_BEFORE_PRUNE = 10_000;

/** A store that keeps everything in process memory (`--memory`, tests). One node. */
export class MemoryStore implements ChatStore {
  readonly nodeId: string;
  readonly #rooms = new Map<string, MemoryRoom>();
  readonly #maxEntries: number;
  readonly #bus = new LocalBus();
  readonly #secrets = new Map<string, Buffer>();
  readonly #buckets = new Map<string, { tokens: number; at: number; full: number }>();
  #closed = false;

  /** @throws RangeError if maxEntriesPerRoom < 1. */
  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = options.maxEntriesPerRoom ?? 10_000;
    if (!(this.#maxEntries >= 1)) throw new RangeError('maxEntriesPerRoom must be at least 1');
    this.nodeId = options.nodeId ?? randomBytes(6).toString('base64url');
  }

  async start(): Promise<void> {
    this.#check();
  }

  health(): StoreHealth {
    return this.#closed ? { ok: false, reason: 'store closed' } : { ok: true };
  }

  async getRoom(room: string): Promise<RoomRecord | null> {
    this.#check();
    const r = this.#rooms.get(room);
    return r === undefined ? null : { ...r.record };
  }

  /** In memory nothing can fail halfway through, so appending one by one is all or nothing. */
  async appendMany(inputs: readonly NewEntry[]): Promise<AppendResult[]> {
    this.#check();
    const results = inputs.map((input) => this.#append(input));
    this.#emitEntries(results);
    return results;
  }

  async append(input: NewEntry): Promise<AppendResult> {
    return (await this.appendMany([input]))[0]!;
  }

  async lastEntries(room: string, limit: number, maxSeq = Number.POSITIVE_INFINITY): Promise<StoredEntry[]> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined || limit <= 0) return [];
    const visible = this.#visible(r).filter((e) => e.seq <= maxSeq);
    return visible.slice(-limit).map((e) => ({ ...e }));
  }

  async entriesAfter(room: string, afterSeq: number, limit: number, maxSeq = Number.POSITIVE_INFINITY): Promise<StoredEntry[]> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined || limit <= 0) return [];
    const visible = this.#visible(r);
    const first = visible[0];
    if (first === undefined) return [];
    const start = Math.max(0, afterSeq - first.seq + 1);
    return visible
      .slice(start, start + limit)
      .filter((e) => e.seq <= maxSeq)
      .map((e) => ({ ...e }));
  }

  async expireRooms(cutoff: number): Promise<string[]> {
    this.#check();
    const expired: string[] = [];
    for (const [name, r] of this.#rooms) {
      if (r.seats.size === 0 && r.record.emptiedAt !== null && r.record.emptiedAt <= cutoff) {
        this.#rooms.delete(name);
        expired.push(name);
      }
    }
    return expired;
  }

  async listRooms(): Promise<RoomSummary[]> {
    this.#check();
    const out: RoomSummary[] = [];
    for (const r of this.#rooms.values()) {
      if (r.seats.size === 0) continue;
      let connected = 0;
      for (const seat of r.seats.values()) if (seat.holder !== null) connected++;
      out.push({ name: r.record.name, members: r.seats.size, connected, lastSeq: r.record.lastSeq });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async claimSeat(claim: SeatClaim): Promise<ClaimResult> {
    this.#check();
    const existing = this.#rooms.get(claim.room);
    if (existing?.byKey.has(claim.seat.key)) return { ok: false, reason: 'taken' };
    if (existing !== undefined && existing.seats.size >= claim.maxSeats) return { ok: false, reason: 'full' };
    const address = claim.seat.address ?? null;
    const trip = claim.seat.trip;
    let role: Role = 'user';
    let madeOwner = false;
    if (claim.ownerKey != null && existing?.ownerKey === claim.ownerKey) role = 'owner';
    else if (existing === undefined && claim.newOwnerKey != null) {
      role = 'owner';
      madeOwner = true;
    } else if (trip !== null && existing?.opTrips.has(trip)) role = 'operator';
    let usedInvite = false;
    if (existing !== undefined) {
      if (role !== 'owner') {
        const ban = restrictionFor(existing.bans, address, trip, claim.ts);
        if (ban !== null) return { ok: false, reason: 'banned', until: ban.until };
      }
      if (role === 'user' && (existing.locked || existing.password !== null)) {
        const inviteUntil = claim.invite == null ? undefined : existing.invites.get(claim.invite);
        if (inviteUntil !== undefined && inviteUntil > claim.ts) usedInvite = true;
        else if (existing.locked) return { ok: false, reason: 'locked' };
        else if (claim.password !== existing.password) return { ok: false, reason: 'password' };
      }
    }
    const r = this.#room(claim.room, claim.ts);
    if (usedInvite && claim.invite != null) r.invites.delete(claim.invite);
    if (madeOwner) r.ownerKey = claim.newOwnerKey ?? null;
    const seat: SeatRecord = {
      ...claim.seat,
      address,
      holdUntil: null,
      joinedAt: claim.ts,
      role,
      mutedUntil: mutedUntil(r.mutes, address, trip, claim.ts),
    };
    r.seats.set(seat.id, seat);
    r.byKey.set(seat.key, seat.id);
    r.record.emptiedAt = null;
    const version = this.#seatChanged(r, { op: 'set', seat: { ...seat } });
    const { entry } = this.#append({ room: claim.room, ts: claim.ts, kind: 'join', nick: seat.nick, text: '', trip: seat.trip });
    this.#emitEntries([{ entry, duplicate: false }]);
    return { ok: true, entry, version, seat: { ...seat }, epoch: r.record.epoch, madeOwner, usedInvite };
  }

  async resumeSeat(room: string, id: string, holder: string, _ts: number): Promise<ResumeResult | null> {
    this.#check();
    const r = this.#rooms.get(room);
    const seat = r?.seats.get(id);
    if (r === undefined || seat === undefined) return null;
    const previousHolder = seat.holder;
    seat.holder = holder;
    seat.holdUntil = null;
    const version = this.#seatChanged(r, { op: 'set', seat: { ...seat } });
    return { seat: { ...seat }, previousHolder, lastSeq: r.record.lastSeq, version, epoch: r.record.epoch };
  }

  async awaySeat(room: string, id: string, holder: string, holdUntil: number): Promise<AwayResult | null> {
    this.#check();
    const r = this.#rooms.get(room);
    const seat = r?.seats.get(id);
    if (r === undefined || seat === undefined || seat.holder !== holder) return null;
    seat.holder = null;
    seat.holdUntil = holdUntil;
    const version = this.#seatChanged(r, { op: 'set', seat: { ...seat } });
    return { seat: { ...seat }, version };
  }

  async renameSeat(room: string, id: string, holder: string, nick: string, key: string, ts: number): Promise<RenameResult> {
    this.#check();
    const r = this.#rooms.get(room);
    const seat = r?.seats.get(id);
    if (r === undefined || seat === undefined || seat.holder !== holder) return { ok: false, reason: 'gone' };
    const other = r.byKey.get(key);
    if (other !== undefined && other !== id) return { ok: false, reason: 'taken' };
    const from = seat.nick;
    r.byKey.delete(seat.key);
    seat.nick = nick;
    seat.key = key;
    r.byKey.set(key, id);
    const version = this.#seatChanged(r, { op: 'set', seat: { ...seat } });
    const { entry } = this.#append({ room, ts, kind: 'rename', nick, text: from, trip: seat.trip });
    this.#emitEntries([{ entry, duplicate: false }]);
    return { ok: true, entry, version, seat: { ...seat } };
  }

  async releaseSeat(request: ReleaseRequest): Promise<ReleaseResult | null> {
    this.#check();
    const r = this.#rooms.get(request.room);
    if (r === undefined) return null;
    const id = request.id ?? (request.key === undefined ? undefined : r.byKey.get(request.key));
    const seat = id === undefined ? undefined : r.seats.get(id);
    if (seat === undefined) return null;
    if (request.holder !== undefined && seat.holder !== request.holder) return null;
    if (request.expired === true && (seat.holder !== null || seat.holdUntil === null || seat.holdUntil > request.ts)) return null;
    return this.#release(r, seat, request.reason, request.ts);
  }

  async seats(room: string): Promise<SeatSnapshot> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined) return { version: 0, seats: [] };
    return { version: r.version, seats: [...r.seats.values()].map((s) => ({ ...s })) };
  }

  async sweepSeats(now: number, graceMs: number): Promise<SeatSweep> {
    this.#check();
    const mine = `${this.nodeId}/`;
    let released = 0;
    let orphaned = 0;
    let next: number | null = null;
    for (const r of this.#rooms.values()) {
      for (const seat of [...r.seats.values()]) {
        if (seat.holder !== null && !seat.holder.startsWith(mine)) {
          orphaned++;
          if (!seat.holdable || graceMs <= 0) {
            this.#release(r, seat, 'lost', now);
            released++;
            continue;
          }
          seat.holder = null;
          seat.holdUntil = now + graceMs;
          this.#seatChanged(r, { op: 'set', seat: { ...seat } });
        }
        if (seat.holder === null && seat.holdUntil !== null) {
          if (seat.holdUntil <= now) {
            this.#release(r, seat, 'lost', now);
            released++;
          } else if (next === null || seat.holdUntil < next) {
            next = seat.holdUntil;
          }
        }
      }
    }
    return { released, orphaned, nextHoldUntil: next };
  }

  async policy(room: string, now: number): Promise<RoomPolicy> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined) return emptyPolicy();
    return {
      ownerKey: r.ownerKey,
      locked: r.locked,
      password: r.password,
      topic: r.topic,
      opTrips: [...r.opTrips],
      bans: activeRestrictions(r.bans, now).map((b) => ({ ...b })),
      mutes: activeRestrictions(r.mutes, now).map((m) => ({ ...m })),
    };
  }

  async moderate(request: ModerationRequest): Promise<ModerationResult> {
    this.#check();
    const { change, ts, notice } = request;
    const existing = this.#rooms.get(request.room);
    // Refusals first: nothing is created or stored for them.
    switch (change.op) {
      case 'role':
        if (existing?.seats.get(change.seat) === undefined) return { ok: false, reason: 'gone' };
        break;
      case 'unban':
        if (existing === undefined || !existing.bans.some((b) => change.ids.includes(b.id))) return { ok: false, reason: 'not-found' };
        break;
      case 'unmute': {
        const seat = change.seat === null ? undefined : existing?.seats.get(change.seat);
        const lifts = existing?.mutes.some((m) => change.ids.includes(m.id)) === true;
        if (!lifts && (seat === undefined || seat.mutedUntil === null)) return { ok: false, reason: 'not-found' };
        break;
      }
      case 'delete': {
        const target = existing === undefined ? undefined : this.#entry(existing, change.seq);
        if (target === undefined || !DELETABLE_KINDS.has(target.kind)) return { ok: false, reason: 'not-found' };
        if (change.author !== undefined && target.author !== change.author) return { ok: false, reason: 'not-yours' };
        if (change.since !== undefined && target.ts < change.since) return { ok: false, reason: 'too-late' };
        break;
      }
      default:
        break;
    }
    const r = this.#room(request.room, ts, ts);
    // A room with moderation in its history is worth keeping (a ban must outlive its last member).
    r.kept = true;
    const modEntry = (): StoredEntry => {
      const { entry } = this.#append({ room: request.room, ts, kind: 'mod', nick: notice.nick, text: notice.text, trip: notice.trip });
      this.#emitEntries([{ entry, duplicate: false }]);
      return entry;
    };
    switch (change.op) {
      case 'role': {
        const seat = r.seats.get(change.seat)!;
        seat.role = change.role;
        if (seat.trip !== null && change.trip === 'add') r.opTrips.add(seat.trip);
        if (seat.trip !== null && change.trip === 'remove') r.opTrips.delete(seat.trip);
        const seatChange: SeatChange = { op: 'set', seat: { ...seat } };
        const version = this.#seatChanged(r, seatChange);
        return { ok: true, entry: modEntry(), seat: { version, change: seatChange } };
      }
      case 'ban': {
        r.bans = [...activeRestrictions(r.bans, ts), { ...change.restriction }];
        const seat = change.seat === null ? undefined : r.seats.get(change.seat);
        if (seat === undefined) return { ok: true, entry: modEntry() };
        const released = this.#release(r, seat, notice.text, ts);
        return { ok: true, entry: released.entry, seat: { version: released.version, change: { op: 'delete', id: seat.id, reason: notice.text } } };
      }
      case 'unban':
        r.bans = r.bans.filter((b) => !change.ids.includes(b.id));
        return { ok: true, entry: modEntry() };
      case 'mute': {
        r.mutes = [...activeRestrictions(r.mutes, ts), { ...change.restriction }];
        const seat = change.seat === null ? undefined : r.seats.get(change.seat);
        if (seat === undefined) return { ok: true, entry: modEntry() };
        seat.mutedUntil = change.restriction.until ?? FOREVER;
        const seatChange: SeatChange = { op: 'set', seat: { ...seat } };
        const version = this.#seatChanged(r, seatChange);
        return { ok: true, entry: modEntry(), seat: { version, change: seatChange } };
      }
      case 'unmute': {
        r.mutes = r.mutes.filter((m) => !change.ids.includes(m.id));
        const seat = change.seat === null ? undefined : r.seats.get(change.seat);
        if (seat === undefined || seat.mutedUntil === null) return { ok: true, entry: modEntry() };
        seat.mutedUntil = null;
        const seatChange: SeatChange = { op: 'set', seat: { ...seat } };
        const version = this.#seatChanged(r, seatChange);
        return { ok: true, entry: modEntry(), seat: { version, change: seatChange } };
      }
      case 'lock':
        r.locked = change.locked;
        return { ok: true, entry: modEntry() };
      case 'password':
        r.password = change.hash;
        return { ok: true, entry: modEntry() };
      case 'topic':
        r.topic = change.topic;
        return { ok: true, entry: modEntry() };
      case 'delete': {
        const index = r.entries.findIndex((e) => e.seq === change.seq);
        const target = r.entries[index]!;
        r.entries[index] = { ...target, kind: 'deleted', nick: '', text: '', trip: null, ref: null, refNick: null, edited: null };
        if (target.clientId !== null) r.byClientId.set(target.clientId, r.entries[index]!);
        this.#supersedeEdits(r, change.seq);
        return { ok: true, entry: modEntry() };
      }
      case 'invite':
        for (const [hash, until] of r.invites) if (until <= ts) r.invites.delete(hash);
        r.invites.set(change.hash, change.until);
        return { ok: true, entry: modEntry() };
    }
  }

  async editEntry(request: EditRequest): Promise<EditResult> {
    this.#check();
    const r = this.#rooms.get(request.room);
    if (r === undefined) return { ok: false, reason: 'not-found' };
    const earlier = request.clientId === null ? undefined : r.byClientId.get(request.clientId);
    if (earlier !== undefined) return { ok: true, entry: { ...earlier }, duplicate: true };
    const target = this.#entry(r, request.seq);
    if (target === undefined || !EDITABLE_KINDS.has(target.kind)) return { ok: false, reason: 'not-found' };
    if (target.author !== request.author) return { ok: false, reason: 'not-yours' };
    if (target.ts < request.since) return { ok: false, reason: 'too-late' };
    this.#supersedeEdits(r, request.seq);
    // Entries are replaced, never changed, so that copies handed out stay as they were.
    const index = r.entries.indexOf(target);
    const changed: StoredEntry = { ...target, text: request.text, edited: request.ts };
    r.entries[index] = changed;
    if (changed.clientId !== null) r.byClientId.set(changed.clientId, changed);
    const { entry } = this.#append({
      room: request.room,
      ts: request.ts,
      kind: 'edit',
      nick: request.nick,
      text: request.text,
      clientId: request.clientId,
      trip: request.trip,
      author: request.author,
      ref: request.seq,
    });
    this.#emitEntries([{ entry, duplicate: false }]);
    return { ok: true, entry, duplicate: false };
  }

  async takeToken(key: string, capacity: number, perHour: number, now: number): Promise<TokenResult> {
    this.#check();
    // Multiplying before dividing keeps whole numbers whole (30 minutes at 2 an hour is exactly one token).
    const refill = (ms: number): number => (ms * perHour) / 3_600_000;
    const bucket = this.#buckets.get(key) ?? { tokens: capacity, at: now, full: now };
    const tokens = Math.min(capacity, bucket.tokens + refill(Math.max(0, now - bucket.at)));
    const ok = tokens >= 1;
    const left = ok ? tokens - 1 : tokens;
    const msFor = (n: number): number => (perHour > 0 ? Math.ceil((n * 3_600_000) / perHour) : Number.POSITIVE_INFINITY);
    this.#buckets.set(key, { tokens: left, at: now, full: now + msFor(capacity - left) });
    if (this.#buckets.size > BUCKETS_BEFORE_PRUNE) {
      for (const [k, b] of this.#buckets) if (b.full <= now) this.#buckets.delete(k);
    }
    return ok ? { ok: true } : { ok: false, retryAfterMs: msFor(1 - tokens) };
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
    let secret = this.#secrets.get(name);
    if (secret === undefined) {
      secret = randomBytes(32);
      this.#secrets.set(name, secret);
    }
    return Buffer.from(secret);
  }

  onResync(): void {
    // Nothing is ever missed in one process.
  }

  async flush(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#rooms.clear();
  }

  // -------------------------------------------------------------------------

  #append(input: NewEntry): AppendResult {
    const r = this.#room(input.room, input.ts, input.ts);
    const clientId = input.clientId ?? null;
    if (clientId !== null) {
      const earlier = r.byClientId.get(clientId);
      if (earlier !== undefined) return { entry: { ...earlier }, duplicate: true };
    }
    const entry: StoredEntry = {
      room: input.room,
      seq: r.record.lastSeq + 1,
      ts: input.ts,
      kind: input.kind,
      nick: input.nick,
      text: input.text,
      clientId,
      trip: input.trip ?? null,
      author: input.author ?? null,
      ref: input.ref ?? null,
      refNick: input.refNick ?? null,
      edited: null,
    };
    r.record.lastSeq = entry.seq;
    r.record.lastActivity = input.ts;
    if (!BARE_KINDS.has(entry.kind)) r.kept = true;
    r.entries.push(entry);
    if (clientId !== null) r.byClientId.set(clientId, entry);
    // Trim in batches so the array copy is amortised over many appends.
    if (r.entries.length > this.#maxEntries + Math.ceil(this.#maxEntries / 8)) {
      for (const old of r.entries.splice(0, r.entries.length - this.#maxEntries)) {
        if (old.clientId !== null) r.byClientId.delete(old.clientId);
      }
    }
    return { entry: { ...entry }, duplicate: false };
  }

  /** The stored entry `seq` of a room, within the window. */
  #entry(r: MemoryRoom, seq: number): StoredEntry | undefined {
    const visible = this.#visible(r);
    const first = visible[0];
    return first === undefined ? undefined : visible[seq - first.seq];
  }

  /** Empties the text of the `edit` entries of `seq`: a later edit or a deletion replaced what they say. */
  #supersedeEdits(r: MemoryRoom, seq: number): void {
    r.entries.forEach((e, i) => {
      if (e.kind !== 'edit' || e.ref !== seq || e.text === '') return;
      const blank: StoredEntry = { ...e, text: '' };
      r.entries[i] = blank;
      if (blank.clientId !== null) r.byClientId.set(blank.clientId, blank);
    });
  }

  #release(r: MemoryRoom, seat: SeatRecord, reason: string, ts: number): ReleaseResult {
    r.seats.delete(seat.id);
    r.byKey.delete(seat.key);
    const emptied = r.seats.size === 0;
    const version = this.#seatChanged(r, { op: 'delete', id: seat.id, reason });
    const { entry } = this.#append({ room: r.record.name, ts, kind: 'leave', nick: seat.nick, text: reason, trip: seat.trip });
    if (emptied) r.record.emptiedAt = ts;
    // Nothing but comings and goings: nothing to keep (the next use starts a new epoch).
    const forgotten = emptied && !r.kept;
    if (forgotten && this.#rooms.get(r.record.name) === r) this.#rooms.delete(r.record.name);
    this.#emitEntries([{ entry, duplicate: false }]);
    return { entry, seat: { ...seat }, version, emptied, forgotten };
  }

  #seatChanged(r: MemoryRoom, change: SeatChange): number {
    r.version++;
    this.#bus.emit({ type: 'seat', room: r.record.name, version: r.version, change });
    return r.version;
  }

  #emitEntries(results: AppendResult[]): void {
    const fresh = results.filter((r) => !r.duplicate).map((r) => r.entry);
    if (fresh.length === 0) return;
    const byRoom = new Map<string, StoredEntry[]>();
    for (const entry of fresh) {
      const list = byRoom.get(entry.room);
      if (list === undefined) byRoom.set(entry.room, [entry]);
      else list.push(entry);
    }
    for (const [room, entries] of byRoom) this.#bus.emit({ type: 'entries', room, entries });
  }

  /** Entries within the configured window (the array may briefly hold a few more). */
  #visible(r: MemoryRoom): StoredEntry[] {
    return r.entries.length > this.#maxEntries ? r.entries.slice(-this.#maxEntries) : r.entries;
  }

  #room(name: string, now: number, emptiedAt: number | null = null): MemoryRoom {
    let r = this.#rooms.get(name);
    if (r === undefined) {
      r = {
        record: { name, createdAt: now, lastActivity: now, emptiedAt, lastSeq: 0, epoch: randomBytes(6).toString('base64url') },
        entries: [],
        byClientId: new Map(),
        seats: new Map(),
        byKey: new Map(),
        version: 0,
        kept: false,
        ownerKey: null,
        locked: false,
        password: null,
        topic: null,
        opTrips: new Set(),
        bans: [],
        mutes: [],
        invites: new Map(),
      };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }
}
