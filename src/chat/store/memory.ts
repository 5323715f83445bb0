import { randomBytes } from 'node:crypto';
import { LocalBus } from './local-bus.js';
import type {
  AppendResult,
  AwayResult,
  ChatStore,
  ClaimResult,
  NewEntry,
  ReleaseRequest,
  ReleaseResult,
  RenameResult,
  ResumeResult,
  RoomListener,
  RoomRecord,
  RoomSummary,
  SeatChange,
  SeatClaim,
  SeatRecord,
  SeatSnapshot,
  SeatSweep,
  StoreHealth,
  StoredEntry,
} from './store.js';

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
}

/** A store that keeps everything in process memory (`--memory`, tests). One node. */
export class MemoryStore implements ChatStore {
  readonly nodeId: string;
  readonly #rooms = new Map<string, MemoryRoom>();
  readonly #maxEntries: number;
  readonly #bus = new LocalBus();
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
        r.entries = [];
        r.byClientId.clear();
        r.record.emptiedAt = null;
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
    const r = this.#room(claim.room, claim.ts);
    if (r.byKey.has(claim.seat.key)) return { ok: false, reason: 'taken' };
    if (r.seats.size >= claim.maxSeats) return { ok: false, reason: 'full' };
    const seat: SeatRecord = { ...claim.seat, holdUntil: null, joinedAt: claim.ts };
    r.seats.set(seat.id, seat);
    r.byKey.set(seat.key, seat.id);
    r.record.emptiedAt = null;
    const version = this.#seatChanged(r, { op: 'set', seat: { ...seat } });
    const { entry } = this.#append({ room: claim.room, ts: claim.ts, kind: 'join', nick: seat.nick, text: '', trip: seat.trip });
    this.#emitEntries([{ entry, duplicate: false }]);
    return { ok: true, entry, version, seat: { ...seat }, epoch: r.record.epoch };
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

  async follow(room: string, listener: RoomListener): Promise<() => void> {
    this.#check();
    return this.#bus.follow(room, listener);
  }

  async signal(room: string, data: Record<string, unknown>): Promise<void> {
    this.#check();
    this.#bus.emit({ type: 'signal', room, data });
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
    };
    r.record.lastSeq = entry.seq;
    r.record.lastActivity = input.ts;
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

  #release(r: MemoryRoom, seat: SeatRecord, reason: string, ts: number): ReleaseResult {
    r.seats.delete(seat.id);
    r.byKey.delete(seat.key);
    const emptied = r.seats.size === 0;
    const version = this.#seatChanged(r, { op: 'delete', id: seat.id, reason });
    const { entry } = this.#append({ room: r.record.name, ts, kind: 'leave', nick: seat.nick, text: reason, trip: seat.trip });
    if (emptied) r.record.emptiedAt = ts;
    this.#emitEntries([{ entry, duplicate: false }]);
    return { entry, seat: { ...seat }, version, emptied };
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
      };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }
}
