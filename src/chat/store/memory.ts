import type { AppendResult, ChatStore, NewEntry, RoomRecord, StoredEntry } from './store.js';

export interface MemoryStoreOptions {
  /**
   * Entries kept per room; older ones are dropped. Bounds memory for
   * `--memory`, where nothing else ever would. Default 10 000.
   */
  maxEntriesPerRoom?: number;
}

interface MemoryRoom {
  record: RoomRecord;
  /** Contiguous by seq: entries[i].seq === entries[0].seq + i. */
  entries: StoredEntry[];
  byClientId: Map<string, StoredEntry>;
}

/** A store that keeps everything in process memory (`--memory`, tests). */
export class MemoryStore implements ChatStore {
  readonly #rooms = new Map<string, MemoryRoom>();
  readonly #maxEntries: number;
  #closed = false;

  /** @throws RangeError if maxEntriesPerRoom < 1. */
  constructor(options: MemoryStoreOptions = {}) {
    this.#maxEntries = options.maxEntriesPerRoom ?? 10_000;
    if (!(this.#maxEntries >= 1)) throw new RangeError('maxEntriesPerRoom must be at least 1');
  }

  async getRoom(room: string): Promise<RoomRecord | null> {
    this.#check();
    const r = this.#rooms.get(room);
    return r === undefined ? null : { ...r.record };
  }

  async openRoom(room: string, now: number): Promise<RoomRecord> {
    this.#check();
    const r = this.#room(room, now);
    r.record.emptiedAt = null;
    return { ...r.record };
  }

  async markEmptied(room: string, now: number): Promise<void> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r !== undefined) r.record.emptiedAt = now;
  }

  async resetOccupancy(now: number): Promise<number> {
    this.#check();
    let n = 0;
    for (const r of this.#rooms.values()) {
      if (r.record.emptiedAt === null && r.entries.length > 0) {
        r.record.emptiedAt = now;
        n++;
      }
    }
    return n;
  }

  /** In memory nothing can fail halfway through, so appending one by one is all or nothing. */
  async appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]> {
    this.#check();
    const results: AppendResult[] = [];
    for (const entry of entries) results.push(await this.append(entry));
    return results;
  }

  async append(input: NewEntry): Promise<AppendResult> {
    this.#check();
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

  async lastEntries(room: string, limit: number): Promise<StoredEntry[]> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined || limit <= 0) return [];
    return this.#visible(r)
      .slice(-limit)
      .map((e) => ({ ...e }));
  }

  async entriesAfter(room: string, afterSeq: number, limit: number): Promise<StoredEntry[]> {
    this.#check();
    const r = this.#rooms.get(room);
    if (r === undefined || limit <= 0) return [];
    const visible = this.#visible(r);
    const first = visible[0];
    if (first === undefined) return [];
    const start = Math.max(0, afterSeq - first.seq + 1);
    return visible.slice(start, start + limit).map((e) => ({ ...e }));
  }

  async expireRooms(cutoff: number): Promise<string[]> {
    this.#check();
    const expired: string[] = [];
    for (const [name, r] of this.#rooms) {
      if (r.record.emptiedAt !== null && r.record.emptiedAt <= cutoff) {
        r.entries = [];
        r.byClientId.clear();
        r.record.emptiedAt = null;
        expired.push(name);
      }
    }
    return expired;
  }

  async flush(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#rooms.clear();
  }

  /** Entries within the configured window (the array may briefly hold a few more). */
  #visible(r: MemoryRoom): StoredEntry[] {
    return r.entries.length > this.#maxEntries ? r.entries.slice(-this.#maxEntries) : r.entries;
  }

  #room(name: string, now: number, emptiedAt: number | null = null): MemoryRoom {
    let r = this.#rooms.get(name);
    if (r === undefined) {
      r = {
        record: { name, createdAt: now, lastActivity: now, emptiedAt, lastSeq: 0 },
        entries: [],
        byClientId: new Map(),
      };
      this.#rooms.set(name, r);
    }
    return r;
  }

  #check(): void {
    if (this.#closed) throw new Error('store is closed');
  }
}
