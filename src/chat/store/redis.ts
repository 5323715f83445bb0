import { createHash, randomBytes } from 'node:crypto';
import { createClient, createCluster, ErrorReply } from '@redis/client';
import { deliverToFollowers } from './local-bus.js';
import * as scripts from './redis-scripts.js';
import {
  type AppendResult,
  type AwayResult,
  type ChatStore,
  type ClaimResult,
  type EditRequest,
  type EditResult,
  type EntryKind,
  type ModerationRequest,
  type ModerationResult,
  type NewEntry,
  type ReleaseRequest,
  type ReleaseResult,
  type RenameResult,
  type Restriction,
  type ResumeResult,
  type Role,
  type RoomEvent,
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
  StoreUnavailableError,
  type TokenResult,
} from './store.js';
import { activeRestrictions } from './restrictions.js';

/**
 * The store of several nodes: Redis (7.0 or later, standalone or a Redis
 * Cluster), through @redis/client (node-redis, the client Redis maintains).
 *
 * Layout. Each room's keys share the hash tag `{room}` (one Cluster slot):
 * `wschat:{room}:meta`, `:log`, `:ids`, `:seats`, `:nicks`, `:policy`,
 * `:invites`, and the sharded channel `:bus`. Every change to a room is one Lua script (./redis-scripts.ts)
 * that also announces it on the channel, so the announcements of a room are
 * in the order of its changes. Indexes across rooms (which rooms have seats,
 * which nodes are alive) live in keys of their own and are only hints: the
 * room's own keys decide.
 *
 * Fan-out. A node follows a room by SSUBSCRIBE to its channel. Pub/sub alone
 * loses what is published while a connection is down, so the rooms catch up
 * from the log: by sequence number on any gap, and entirely after every
 * reconnection of the subscriber (`onResync`).
 *
 * Durability. A script's reply comes after Redis has written (and, with
 * `appendfsync always`, fsynced) its AOF: an acknowledged message survives a
 * crash of Redis. See docs/scaling.md for the settings and what weaker ones
 * trade away.
 *
 * Nodes. Each node writes `wschat:node:<id>` with an expiry every
 * `heartbeatMs`; a node whose key expired is gone, and a sweep (any node,
 * one at a time by a lease) makes its members' seats away for the grace
 * period, after which they leave with one notice each.
 */
export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`; a Cluster is detected and used through any of its nodes. */
  url: string;
  /** Entries kept per room in Redis (older ones are trimmed). Default 10 000. */
  maxEntriesPerRoom?: number;
  /** Default: random. */
  nodeId?: string;
  /** How often this node says it is alive. Default 2 s. */
  heartbeatMs?: number;
  /** A node silent this long is gone. Default 10 s. */
  nodeTimeoutMs?: number;
  /** Key prefix (tests). Default "wschat:". */
  prefix?: string;
  /** Called with connection trouble worth a log line. */
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** The commands this store uses, as both the standalone client and the Cluster client offer them. */
interface Commands {
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  sAdd(key: string, members: string | string[]): Promise<unknown>;
  sRem(key: string, members: string | string[]): Promise<unknown>;
  sMembers(key: string): Promise<string[]>;
  hGetAll(key: string): Promise<Record<string, string>>;
  hmGet(key: string, fields: string[]): Promise<(string | null)[]>;
  zAdd(key: string, members: { score: number; value: string }[]): Promise<unknown>;
  zRem(key: string, members: string | string[]): Promise<unknown>;
  zRangeWithScores(key: string, min: number, max: number): Promise<{ value: string; score: number }[]>;
  set(key: string, value: string, options?: { expiration?: { type: 'PX'; value: number }; condition?: 'NX' }): Promise<unknown>;
  get(key: string): Promise<string | null>;
  exists(keys: string | string[]): Promise<number>;
  pExpire(key: string, ms: number): Promise<unknown>;
  sSubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>;
  sUnsubscribe(channel: string, listener?: (message: string, channel: string) => void): Promise<void>;
  quit?(): Promise<unknown>;
  close?(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

const SCRIPTS = {
  append: script(scripts.APPEND),
  claim: script(scripts.CLAIM),
  resume: script(scripts.RESUME),
  away: script(scripts.AWAY),
  rename: script(scripts.RENAME),
  release: script(scripts.RELEASE),
  sweep: script(scripts.SWEEP),
  seats: script(scripts.SEATS),
  info: script(scripts.INFO),
  expire: script(scripts.EXPIRE),
  signal: script(scripts.SIGNAL),
  moderate: script(scripts.MODERATE),
  edit: script(scripts.EDIT),
  token: script(scripts.TOKEN),
};

/** An entry's body as stored (everything but its room and seq). */
interface Body {
  t: number;
  k: EntryKind;
  n: string;
  x: string;
  c?: string | null;
  p?: string | null;
  /** Author (seat id), ref, refNick, edited (see StoredEntry). */
  a?: string | null;
  r?: number | null;
  rn?: string | null;
  e?: number | null;
}

/** Replies that mean Redis is not serving right now (loading its AOF, a Cluster failing over...), as opposed to a bug. */
const TRANSIENT_REPLY = /^(LOADING|CLUSTERDOWN|TRYAGAIN|MASTERDOWN|READONLY|BUSY|NOREPLICAS)\b/;

export class RedisStore implements ChatStore {
  readonly nodeId: string;
  readonly #options: Required<Omit<RedisStoreOptions, 'nodeId' | 'log'>>;
  readonly #log: NonNullable<RedisStoreOptions['log']>;
  readonly #prefix: string;
  #client: Commands | null = null;
  /** The subscriber: the Cluster client itself, or a second standalone connection. */
  #subscriber: Commands | null = null;
  #cluster = false;
  readonly #followers = new Map<string, Set<RoomListener>>();
  readonly #subscribing = new Map<string, Promise<void>>();
  readonly #resync = new Set<() => void>();
  #heartbeat: ReturnType<typeof setInterval> | null = null;
  #healthy: StoreHealth = { ok: false, reason: 'not started' };
  /** Since when this node has heard from Redis without interruption (only then may it declare other nodes gone). */
  #upSince: number | null = null;
  #subscriberWasDown = false;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    this.nodeId = options.nodeId ?? randomBytes(6).toString('base64url');
    if (this.nodeId.includes('/')) throw new RangeError('a node id cannot contain "/"');
    this.#options = {
      url: options.url,
      maxEntriesPerRoom: options.maxEntriesPerRoom ?? 10_000,
      heartbeatMs: options.heartbeatMs ?? 2000,
      nodeTimeoutMs: options.nodeTimeoutMs ?? 10_000,
      prefix: options.prefix ?? 'wschat:',
    };
    if (!(this.#options.nodeTimeoutMs > this.#options.heartbeatMs)) throw new RangeError('nodeTimeoutMs must exceed heartbeatMs');
    this.#prefix = this.#options.prefix;
    this.#log = options.log ?? (() => undefined);
  }

  /**
   * Connects (detecting a Cluster), registers this node and starts its heartbeat.
   * @throws StoreUnavailableError when Redis cannot be reached; Error when it is older than 7.0.
   */
  async start(): Promise<void> {
    if (this.#client !== null) return;
    this.#checkOpen();
    const reconnectStrategy = (retries: number): number => Math.min(100 * 2 ** Math.min(retries, 5), 3000) + Math.floor(Math.random() * 100);
    const probe = createClient({ url: this.#options.url, socket: { reconnectStrategy: false, connectTimeout: 5000 } });
    probe.on('error', () => undefined);
    let clusterEnabled = false;
    try {
      await probe.connect();
      const info = await probe.info('server');
      const version = /redis_version:(\d+)\./.exec(info)?.[1];
      if (version !== undefined && Number(version) < 7) {
        throw new Error(`Redis ${version}.x is too old: wschat needs Redis 7.0 or later (sharded pub/sub)`);
      }
      clusterEnabled = /cluster_enabled:1/.test(await probe.info('cluster'));
    } catch (error) {
      if (error instanceof Error && /too old/.test(error.message)) throw error;
      throw new StoreUnavailableError(`cannot reach Redis at ${redactUrl(this.#options.url)}: ${describe(error)}`, { cause: error });
    } finally {
      probe.destroy();
    }
    this.#cluster = clusterEnabled;
    let client: Commands;
    let subscriber: Commands;
    if (clusterEnabled) {
      // The Cluster client routes each command by its first key's slot and
      // keeps a connection per shard for sharded pub/sub.
      const cluster = createCluster({
        rootNodes: [{ url: this.#options.url }],
        defaults: { socket: { reconnectStrategy, connectTimeout: 5000 }, disableOfflineQueue: true },
      });
      client = cluster as unknown as Commands;
      subscriber = client;
    } else {
      const standalone = createClient({ url: this.#options.url, socket: { reconnectStrategy, connectTimeout: 5000 }, disableOfflineQueue: true });
      client = standalone as unknown as Commands;
      subscriber = standalone.duplicate() as unknown as Commands;
    }
    this.#watch(client, 'commands');
    if (subscriber !== client) this.#watch(subscriber, 'subscriber');
    try {
      await (client as unknown as { connect(): Promise<unknown> }).connect();
      if (subscriber !== client) await (subscriber as unknown as { connect(): Promise<unknown> }).connect();
    } catch (error) {
      throw new StoreUnavailableError(`cannot reach Redis at ${redactUrl(this.#options.url)}: ${describe(error)}`, { cause: error });
    }
    this.#client = client;
    this.#subscriber = subscriber;
    this.#upSince = Date.now();
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  /** Follows a connection's state for health, and resyncs the rooms when the subscriber comes back. */
  #watch(connection: Commands, role: 'commands' | 'subscriber'): void {
    connection.on('error', (error: unknown) => {
      if (this.#closed) return;
      this.#down(`Redis connection lost (${role}): ${describe(error)}`);
    });
    connection.on('ready', () => {
      if (this.#closed) return;
      if (role === 'subscriber' || this.#cluster) {
        if (this.#subscriberWasDown) {
          this.#subscriberWasDown = false;
          this.#log('info', 'Redis connection back; catching up the rooms');
          for (const listener of this.#resync) listener();
        }
      }
    });
  }

  #down(reason: string): void {
    if (this.#healthy.ok) this.#log('warn', reason);
    this.#healthy = { ok: false, reason };
    this.#upSince = null;
    this.#subscriberWasDown = true;
  }

  async #beat(): Promise<void> {
    if (this.#closed || this.#client === null) return;
    try {
      const c = this.#client;
      await Promise.all([
        c.set(this.#nodeKey(this.nodeId), String(Date.now()), { expiration: { type: 'PX', value: this.#options.nodeTimeoutMs } }),
        c.sAdd(this.#key('nodes'), this.nodeId),
        this.#vouch([...this.#followers.keys()]),
      ]);
      if (!this.#healthy.ok) {
        this.#healthy = { ok: true };
        this.#upSince ??= Date.now();
        // Whatever was published while we could not hear it is in the log.
        if (this.#subscriberWasDown) {
          this.#subscriberWasDown = false;
          for (const listener of this.#resync) listener();
        }
      }
    } catch (error) {
      this.#down(`Redis unavailable: ${describe(error)}`);
    }
  }

  health(): StoreHealth {
    if (this.#closed) return { ok: false, reason: 'store closed' };
    return this.#healthy;
  }

  // ---- the room log ----

  async getRoom(room: string): Promise<RoomRecord | null> {
    const meta = await this.#call(() => this.#c.hGetAll(this.#roomKey(room, 'meta')));
    if (meta.lastSeq === undefined) return null;
    return {
      name: room,
      createdAt: Number(meta.createdAt),
      lastActivity: Number(meta.lastActivity),
      emptiedAt: meta.emptiedAt === '' || meta.emptiedAt === undefined ? null : Number(meta.emptiedAt),
      lastSeq: Number(meta.lastSeq),
      epoch: meta.epoch ?? '',
    };
  }

  async append(entry: NewEntry): Promise<AppendResult> {
    return (await this.appendMany([entry]))[0]!;
  }

  async appendMany(entries: readonly NewEntry[]): Promise<AppendResult[]> {
    const results: AppendResult[] = new Array(entries.length);
    // One script per room run (a batch is almost always one room).
    let i = 0;
    while (i < entries.length) {
      const room = entries[i]!.room;
      let j = i;
      while (j < entries.length && entries[j]!.room === room) j++;
      const run = entries.slice(i, j);
      const args = [newEpoch(), String(this.#options.maxEntriesPerRoom), String(run.length)];
      for (const e of run) args.push(String(e.ts), bodyOf(e), e.clientId ?? '', e.kind);
      const reply = asArray(await this.#run('append', room, args));
      const created = Number(reply[reply.length - 1]) === 1;
      for (let k = 0; k < run.length; k++) {
        const seq = Number(reply[k * 3]);
        const body = String(reply[k * 3 + 1]);
        results[i + k] = { entry: toEntry(room, seq, body), duplicate: Number(reply[k * 3 + 2]) === 1 };
      }
      if (created) await this.#indexEmptied(room, run[0]!.ts);
      i = j;
    }
    return results;
  }

  async lastEntries(room: string, limit: number, maxSeq = Number.MAX_SAFE_INTEGER): Promise<StoredEntry[]> {
    if (limit <= 0) return [];
    const record = await this.getRoom(room);
    if (record === null) return [];
    const last = Math.min(record.lastSeq, maxSeq);
    return this.#range(room, Math.max(0, last - limit), last);
  }

  async entriesAfter(room: string, afterSeq: number, limit: number, maxSeq = Number.MAX_SAFE_INTEGER): Promise<StoredEntry[]> {
    if (limit <= 0) return [];
    const record = await this.getRoom(room);
    if (record === null) return [];
    const last = Math.min(record.lastSeq, maxSeq, afterSeq + limit);
    return this.#range(room, afterSeq, last);
  }

  /** Entries with from < seq <= to that are still kept. */
  async #range(room: string, from: number, to: number): Promise<StoredEntry[]> {
    if (to <= from) return [];
    const fields: string[] = [];
    for (let s = from + 1; s <= to; s++) fields.push(String(s));
    const bodies = await this.#call(() => this.#c.hmGet(this.#roomKey(room, 'log'), fields));
    const out: StoredEntry[] = [];
    bodies.forEach((body, k) => {
      if (body !== null) out.push(toEntry(room, from + 1 + k, body));
    });
    return out;
  }

  async expireRooms(cutoff: number): Promise<string[]> {
    const candidates = await this.#call(() => this.#c.zRangeWithScores(this.#key('emptied'), 0, -1));
    const expired: string[] = [];
    for (const { value: room, score } of candidates) {
      if (score > cutoff) continue;
      const result = Number(await this.#run('expire', room, [String(cutoff)]));
      if (result === 1) expired.push(room);
      // Expired, occupied again, or gone: either way no longer waiting to expire.
      if (result !== 0 || (await this.getRoom(room))?.emptiedAt === null) await this.#call(() => this.#c.zRem(this.#key('emptied'), room));
    }
    return expired;
  }

  async listRooms(): Promise<RoomSummary[]> {
    const rooms = await this.#call(() => this.#c.zRangeWithScores(this.#key('rooms'), 0, -1));
    const out: RoomSummary[] = [];
    for (const { value: room } of rooms) {
      const [seats, connected, lastSeq] = asArray(await this.#run('info', room, [])).map(Number);
      if ((seats ?? 0) > 0) out.push({ name: room, members: seats ?? 0, connected: connected ?? 0, lastSeq: lastSeq ?? 0 });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ---- seats ----

  async claimSeat(claim: SeatClaim): Promise<ClaimResult> {
    const { room, seat, ts } = claim;
    // Vouch for the room before taking the seat, so a sweep cannot drop it from the index in between.
    await this.#vouch([room]);
    const reply = asArray(
      await this.#run('claim', room, [
        newEpoch(),
        String(this.#options.maxEntriesPerRoom),
        seat.id,
        seat.nick,
        seat.key,
        seat.trip ?? '',
        seat.holder,
        seat.holdable ? '1' : '0',
        String(ts),
        String(claim.maxSeats),
        seat.address ?? '',
        claim.ownerKey ?? '',
        claim.newOwnerKey ?? '',
        claim.invite ?? '',
        claim.password ?? '',
      ]),
    );
    switch (reply[0]) {
      case 'ok':
        break;
      case 'banned': {
        const until = Number(reply[1]);
        return { ok: false, reason: 'banned', until: until < 0 ? null : until };
      }
      case 'full':
      case 'locked':
      case 'password':
        return { ok: false, reason: reply[0] };
      default:
        return { ok: false, reason: 'taken' };
    }
    await this.#call(() => this.#c.zRem(this.#key('emptied'), room));
    return {
      ok: true,
      version: Number(reply[1]),
      seat: toSeat(String(reply[2])),
      entry: toEntry(room, Number(reply[3]), String(reply[4])),
      epoch: String(reply[5]),
      madeOwner: Number(reply[6]) === 1,
      usedInvite: Number(reply[7]) === 1,
    };
  }

  async resumeSeat(room: string, id: string, holder: string): Promise<ResumeResult | null> {
    await this.#vouch([room]);
    const reply = await this.#run('resume', room, [id, holder]);
    if (reply === null || reply === false) return null;
    const [version, seat, previous, lastSeq, epoch] = asArray(reply);
    return {
      version: Number(version),
      seat: toSeat(String(seat)),
      previousHolder: previous === '' ? null : String(previous),
      lastSeq: Number(lastSeq),
      epoch: String(epoch),
    };
  }

  async awaySeat(room: string, id: string, holder: string, holdUntil: number): Promise<AwayResult | null> {
    const reply = await this.#run('away', room, [id, holder, String(holdUntil)]);
    if (reply === null || reply === false) return null;
    const [version, seat] = asArray(reply);
    return { version: Number(version), seat: toSeat(String(seat)) };
  }

  async renameSeat(room: string, id: string, holder: string, nick: string, key: string, ts: number): Promise<RenameResult> {
    const reply = asArray(await this.#run('rename', room, [newEpoch(), String(this.#options.maxEntriesPerRoom), id, holder, nick, key, String(ts)]));
    if (reply[0] !== 'ok') return { ok: false, reason: reply[0] === 'taken' ? 'taken' : 'gone' };
    return { ok: true, version: Number(reply[1]), seat: toSeat(String(reply[2])), entry: toEntry(room, Number(reply[3]), String(reply[4])) };
  }

  async releaseSeat(request: ReleaseRequest): Promise<ReleaseResult | null> {
    const { room } = request;
    const reply = await this.#run('release', room, [
      newEpoch(),
      String(this.#options.maxEntriesPerRoom),
      request.id ?? '',
      request.key ?? '',
      request.reason,
      String(request.ts),
      request.holder ?? '',
      request.expired === true ? '1' : '0',
    ]);
    if (reply === null || reply === false) return null;
    const [version, seat, seq, body, emptied, forgotten] = asArray(reply);
    const result = {
      version: Number(version),
      seat: toSeat(String(seat)),
      entry: toEntry(room, Number(seq), String(body)),
      emptied: Number(emptied) === 1,
      forgotten: Number(forgotten) === 1,
    };
    if (result.forgotten) await this.#call(() => this.#c.zRem(this.#key('emptied'), room));
    else if (result.emptied) await this.#indexEmptied(room, request.ts);
    return result;
  }

  async seats(room: string): Promise<SeatSnapshot> {
    const [version, ...seats] = asArray(await this.#run('seats', room, []));
    return { version: Number(version ?? 0), seats: seats.map((s) => toSeat(String(s))).sort(byJoining) };
  }

  async sweepSeats(now: number, graceMs: number): Promise<SeatSweep> {
    const sweep: SeatSweep = { released: 0, orphaned: 0, nextHoldUntil: null };
    const c = this.#c;
    // One sweeper at a time (a lease); the scripts would keep two correct, just busier.
    const lease = this.#key('sweeper');
    const leaseMs = Math.max(2 * this.#options.heartbeatMs, 4000);
    const got = await this.#call(() => c.set(lease, this.nodeId, { condition: 'NX', expiration: { type: 'PX', value: leaseMs } }));
    if (got === null) {
      if ((await this.#call(() => c.get(lease))) !== this.nodeId) return sweep;
      await this.#call(() => c.pExpire(lease, leaseMs));
    }
    // Only a node that has heard Redis for a whole node timeout may judge
    // others gone by their silence: after an outage everyone needs time to
    // beat again. A holder whose node is not even in the node list (it was
    // judged gone already) is gone either way.
    const judge = this.#upSince !== null && Date.now() - this.#upSince >= this.#options.nodeTimeoutMs;
    const nodes = await this.#call(() => c.sMembers(this.#key('nodes')));
    const live: string[] = [];
    const dead: string[] = [];
    for (const node of nodes) {
      const alive = node === this.nodeId || !judge || (await this.#call(() => c.exists(this.#nodeKey(node)))) === 1;
      (alive ? live : dead).push(node);
    }
    const rooms = await this.#call(() => c.zRangeWithScores(this.#key('rooms'), 0, -1));
    const staleBefore = Date.now() - 3 * this.#options.nodeTimeoutMs;
    for (const { value: room, score } of rooms) {
      const args = [newEpoch(), String(this.#options.maxEntriesPerRoom), String(now), String(graceMs), ...live];
      const [released, orphaned, next, left] = asArray(await this.#run('sweep', room, args)).map(Number);
      sweep.released += released ?? 0;
      sweep.orphaned += orphaned ?? 0;
      if (next !== undefined && next >= 0 && (sweep.nextHoldUntil === null || next < sweep.nextHoldUntil)) sweep.nextHoldUntil = next;
      if (left === 0) {
        if ((released ?? 0) > 0) await this.#indexEmptied(room, now);
        // Nobody has vouched for it lately and it has no seat: out of the index.
        if (score < staleBefore) await this.#call(() => c.zRem(this.#key('rooms'), room));
      }
    }
    if (judge && dead.length > 0) await this.#call(() => c.sRem(this.#key('nodes'), dead));
    return sweep;
  }

  // ---- moderation ----

  async policy(room: string, now: number): Promise<RoomPolicy> {
    const raw = await this.#call(() => this.#c.hGetAll(this.#roomKey(room, 'policy')));
    const list = <T>(field: string): T[] => {
      const value = raw[field];
      if (value === undefined) return [];
      const parsed: unknown = JSON.parse(value);
      // Lua's cjson writes an empty table as {}.
      return Array.isArray(parsed) ? (parsed as T[]) : [];
    };
    const restrictions = (field: string): Restriction[] => activeRestrictions(list<Restriction>(field).map(toRestriction), now);
    return {
      ownerKey: raw.ownerKey ?? null,
      locked: raw.locked === '1',
      password: raw.password ?? null,
      topic: raw.topic ?? null,
      opTrips: list<string>('opTrips'),
      bans: restrictions('bans'),
      mutes: restrictions('mutes'),
    };
  }

  async moderate(request: ModerationRequest): Promise<ModerationResult> {
    const { room, change, notice } = request;
    const { op, ...rest } = change;
    const reply = asArray(
      await this.#run('moderate', room, [
        newEpoch(),
        String(this.#options.maxEntriesPerRoom),
        String(request.ts),
        op,
        JSON.stringify(rest),
        notice.nick,
        notice.trip ?? '',
        notice.text,
      ]),
    );
    if (reply[0] === 'gone' || reply[0] === 'not-found' || reply[0] === 'not-yours' || reply[0] === 'too-late') return { ok: false, reason: reply[0] };
    const entry = toEntry(room, Number(reply[1]), String(reply[2]));
    // A room the notice created is in the index of rooms to expire once empty.
    if ((await this.getRoom(room))?.emptiedAt != null) await this.#indexEmptied(room, request.ts);
    if (reply.length < 6) return { ok: true, entry };
    const version = Number(reply[3]);
    const seatChange: SeatChange =
      reply[4] === 'set'
        ? { op: 'set', seat: toSeat(String(reply[5])) }
        : { op: 'delete', id: String(reply[5]), reason: notice.text };
    return { ok: true, entry, seat: { version, change: seatChange } };
  }

  async editEntry(request: EditRequest): Promise<EditResult> {
    const reply = asArray(
      await this.#run('edit', request.room, [
        newEpoch(),
        String(this.#options.maxEntriesPerRoom),
        String(request.seq),
        request.text,
        request.author,
        String(request.since),
        String(request.ts),
        request.nick,
        request.trip ?? '',
        request.clientId ?? '',
      ]),
    );
    const verdict = reply[0];
    if (verdict === 'not-found' || verdict === 'not-yours' || verdict === 'too-late') return { ok: false, reason: verdict };
    return { ok: true, entry: toEntry(request.room, Number(reply[1]), String(reply[2])), duplicate: verdict === 'dup' };
  }

  async takeToken(key: string, capacity: number, perHour: number, now: number): Promise<TokenResult> {
    const { sha, source } = SCRIPTS.token;
    const options = { keys: [this.#key(`bucket:${key}`)], arguments: [String(capacity), String(perHour), String(now)] };
    const reply = asArray(
      await this.#call(async () => {
        try {
          return await this.#c.evalSha(sha, options);
        } catch (error) {
          if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) return await this.#c.eval(source, options);
          throw error;
        }
      }),
    );
    if (Number(reply[0]) === 1) return { ok: true };
    const wait = Number(reply[1]);
    return { ok: false, retryAfterMs: wait < 0 ? Number.POSITIVE_INFINITY : wait };
  }

  /**
   * Says the rooms are in use (the room index's score is when a node last
   * vouched for them). Called before taking a seat, and at every heartbeat
   * for the rooms this node follows (those it serves members of).
   */
  async #vouch(rooms: string[]): Promise<void> {
    if (rooms.length === 0) return;
    const now = Date.now();
    await this.#call(() => this.#c.zAdd(this.#key('rooms'), rooms.map((value) => ({ score: now, value }))));
  }

  async #indexEmptied(room: string, ts: number): Promise<void> {
    await this.#call(() => this.#c.zAdd(this.#key('emptied'), [{ score: ts, value: room }]));
  }

  // ---- the room bus ----

  async follow(room: string, listener: RoomListener): Promise<() => void> {
    this.#checkOpen();
    let set = this.#followers.get(room);
    if (set === undefined) {
      set = new Set();
      this.#followers.set(room, set);
    }
    set.add(listener);
    try {
      await this.#subscribe(room);
    } catch (error) {
      this.#unfollow(room, listener);
      throw error;
    }
    return () => this.#unfollow(room, listener);
  }

  #subscribe(room: string): Promise<void> {
    let pending = this.#subscribing.get(room);
    if (pending === undefined) {
      const channel = this.#roomKey(room, 'bus');
      pending = this.#call(() => this.#sub.sSubscribe(channel, (message) => this.#onMessage(room, message))).catch((error: unknown) => {
        this.#subscribing.delete(room);
        throw error;
      });
      this.#subscribing.set(room, pending);
    }
    return pending;
  }

  #unfollow(room: string, listener: RoomListener): void {
    const set = this.#followers.get(room);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size > 0) return;
    this.#followers.delete(room);
    const subscribed = this.#subscribing.get(room);
    this.#subscribing.delete(room);
    if (subscribed === undefined || this.#closed) return;
    void subscribed
      .then(() => {
        // Followed again meanwhile: keep the subscription.
        if (this.#followers.has(room) || this.#subscriber === null) return;
        return this.#sub.sUnsubscribe(this.#roomKey(room, 'bus'));
      })
      .catch(() => undefined);
  }

  #onMessage(room: string, message: string): void {
    const set = this.#followers.get(room);
    if (set === undefined) return;
    let event: RoomEvent;
    try {
      event = parseBusMessage(room, message);
    } catch (error) {
      this.#log('error', 'unreadable message on a room channel', { room, error: describe(error) });
      return;
    }
    deliverToFollowers(set, event);
  }

  async signal(room: string, data: Record<string, unknown>): Promise<void> {
    await this.#run('signal', room, [JSON.stringify(data)]);
  }

  async serverSecret(name: string): Promise<Buffer> {
    const key = this.#key(`secret:${name}`);
    await this.#call(() => this.#c.set(key, randomBytes(32).toString('base64'), { condition: 'NX' }));
    const value = await this.#call(() => this.#c.get(key));
    if (value === null) throw new Error(`secret ${name} vanished`);
    return Buffer.from(value, 'base64');
  }

  onResync(listener: () => void): void {
    this.#resync.add(listener);
  }

  // ---- lifecycle ----

  async flush(): Promise<void> {
    // Every reply already waited for Redis's own durability (appendfsync).
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#heartbeat !== null) clearInterval(this.#heartbeat);
    const client = this.#client;
    const subscriber = this.#subscriber;
    this.#client = null;
    this.#subscriber = null;
    if (client !== null) {
      // Leave the node list at once rather than by timeout.
      await Promise.allSettled([client.sRem(this.#key('nodes'), this.nodeId), client.set(this.#nodeKey(this.nodeId), '0', { expiration: { type: 'PX', value: 1 } })]);
    }
    for (const c of new Set([subscriber, client])) {
      if (c === null) continue;
      try {
        if (c.close !== undefined) await c.close();
        else if (c.quit !== undefined) await c.quit();
      } catch {
        c.destroy?.();
      }
    }
  }

  // -------------------------------------------------------------------------

  get #c(): Commands {
    this.#checkOpen();
    if (this.#client === null) throw new StoreUnavailableError('the Redis store has not been started');
    return this.#client;
  }

  get #sub(): Commands {
    this.#checkOpen();
    if (this.#subscriber === null) throw new StoreUnavailableError('the Redis store has not been started');
    return this.#subscriber;
  }

  /** Runs a room script: EVALSHA, loading the script on NOSCRIPT (a restarted Redis has none cached). */
  async #run(name: keyof typeof SCRIPTS, room: string, args: string[]): Promise<unknown> {
    const { sha, source } = SCRIPTS[name];
    const keys = ['meta', 'log', 'ids', 'seats', 'nicks', 'bus', 'policy', 'invites'].map((k) => this.#roomKey(room, k));
    return this.#call(async () => {
      try {
        return await this.#c.evalSha(sha, { keys, arguments: args });
      } catch (error) {
        if (error instanceof ErrorReply && error.message.startsWith('NOSCRIPT')) {
          return await this.#c.eval(source, { keys, arguments: args });
        }
        throw error;
      }
    });
  }

  /** Runs a command; errors that mean "Redis is not serving now" become StoreUnavailableError. */
  async #call<T>(op: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await op();
    } catch (error) {
      if (error instanceof StoreUnavailableError) throw error;
      if (error instanceof ErrorReply && !TRANSIENT_REPLY.test(error.message)) throw error;
      if (error instanceof Error && /closed/.test(error.message) && this.#closed) throw new Error('store is closed');
      this.#down(`Redis unavailable: ${describe(error)}`);
      throw new StoreUnavailableError(`the chat store (Redis) is unavailable: ${describe(error)}`, { cause: error });
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('store is closed');
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`;
  }

  #nodeKey(node: string): string {
    return `${this.#prefix}node:${node}`;
  }

  #roomKey(room: string, part: string): string {
    return `${this.#prefix}{${room}}:${part}`;
  }
}

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

function bodyOf(e: NewEntry): string {
  const body: Body = { t: e.ts, k: e.kind, n: e.nick, x: e.text };
  if (e.clientId !== undefined && e.clientId !== null) body.c = e.clientId;
  if (e.trip !== undefined && e.trip !== null) body.p = e.trip;
  if (e.author !== undefined && e.author !== null) body.a = e.author;
  if (e.ref !== undefined && e.ref !== null) body.r = e.ref;
  if (e.refNick !== undefined && e.refNick !== null) body.rn = e.refNick;
  return JSON.stringify(body);
}

function toEntry(room: string, seq: number, raw: string): StoredEntry {
  return bodyToEntry(room, seq, JSON.parse(raw) as Body);
}

function bodyToEntry(room: string, seq: number, b: Body): StoredEntry {
  return {
    room,
    seq,
    ts: b.t,
    kind: b.k,
    nick: b.n,
    text: b.x,
    clientId: b.c ?? null,
    trip: b.p ?? null,
    author: b.a ?? null,
    ref: b.r ?? null,
    refNick: b.rn ?? null,
    edited: b.e ?? null,
  };
}

interface StoredSeat {
  id: string;
  nick: string;
  key: string;
  trip?: string;
  holder?: string;
  holdUntil?: number;
  holdable: boolean;
  joinedAt: number;
  ord: number;
  /** Absent in seats stored before moderation existed. */
  role?: Role;
  address?: string;
  mutedUntil?: number;
}

const seatOrder = new WeakMap<SeatRecord, number>();

function toSeat(raw: string): SeatRecord {
  return storedToSeat(JSON.parse(raw) as StoredSeat);
}

function storedToSeat(s: StoredSeat): SeatRecord {
  const seat: SeatRecord = {
    id: s.id,
    nick: s.nick,
    key: s.key,
    trip: s.trip ?? null,
    holder: s.holder ?? null,
    holdUntil: s.holdUntil ?? null,
    holdable: s.holdable,
    joinedAt: s.joinedAt,
    role: s.role ?? 'user',
    address: s.address ?? null,
    mutedUntil: s.mutedUntil ?? null,
  };
  seatOrder.set(seat, s.ord);
  return seat;
}

/** A restriction as the Lua scripts keep it (cjson turns a JSON null into its own null, written back as null). */
function toRestriction(r: Restriction): Restriction {
  return {
    id: String(r.id),
    nick: String(r.nick),
    key: String(r.key),
    address: r.address ?? null,
    trip: r.trip ?? null,
    by: String(r.by),
    at: Number(r.at),
    until: r.until === null || r.until === undefined ? null : Number(r.until),
  };
}

function byJoining(a: SeatRecord, b: SeatRecord): number {
  return (seatOrder.get(a) ?? 0) - (seatOrder.get(b) ?? 0);
}

function parseBusMessage(room: string, message: string): RoomEvent {
  const m = JSON.parse(message) as { e?: [number, Body][]; s?: number; c?: SeatChange & { seat?: StoredSeat }; g?: Record<string, unknown> };
  if (m.e !== undefined) {
    return { type: 'entries', room, entries: m.e.map(([seq, body]) => bodyToEntry(room, seq, body)) };
  }
  if (m.s !== undefined && m.c !== undefined) {
    const change: SeatChange = m.c.op === 'set' ? { op: 'set', seat: storedToSeat(m.c.seat as StoredSeat) } : { op: 'delete', id: m.c.id, reason: m.c.reason };
    return { type: 'seat', room, version: m.s, change };
  }
  return { type: 'signal', room, data: m.g ?? {} };
}

function asArray(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected reply from a store script: ${JSON.stringify(reply)}`);
  return reply;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}
