import assert from 'node:assert/strict';
import { ManualClock } from '../../src/chat/clock.js';
import { Hub, type HubOptions } from '../../src/chat/hub.js';
import type { JoinRequest, Member, MemberConnection } from '../../src/chat/member.js';
import type { ServerEvent } from '../../src/chat/messages.js';
import { MemoryStore } from '../../src/chat/store/memory.js';
import type { ChatStore } from '../../src/chat/store/store.js';

/**
 * A transport double: encodes to JSON (or to a tagged string for another
 * format), records what it was sent, and reports its closing to the member
 * on the next microtask like a real transport.
 */
export class FakeConnection implements MemberConnection<string> {
  readonly remote: string;
  readonly format: string;
  readonly canSwitchRooms: boolean;
  /** The client address key (limits, bans); undefined: unknown, as in most tests. */
  readonly address: string | undefined;
  /** False for a door without resume tokens (plain, TCP). */
  readonly resumable: boolean | undefined;
  member: Member | null = null;
  readonly received: ServerEvent[] = [];
  readonly rawReceived: string[] = [];
  closed: { code: number; reason: string } | null = null;
  encodeCalls = 0;

  constructor(options: ConnectionOptions = {}) {
    this.format = options.format ?? 'json';
    this.remote = options.remote ?? '127.0.0.1:40000';
    this.canSwitchRooms = options.canSwitchRooms ?? false;
    this.address = options.address;
    this.resumable = options.resumable;
  }

  encode(event: ServerEvent): string | null {
    this.encodeCalls++;
    return `${this.format}|${JSON.stringify(event)}`;
  }

  sendEncoded(encoded: string): void {
    if (this.closed !== null) return;
    this.rawReceived.push(encoded);
    this.received.push(JSON.parse(encoded.slice(encoded.indexOf('|') + 1)) as ServerEvent);
  }

  close(code: number, reason: string): void {
    if (this.closed !== null) return;
    this.closed = { code, reason };
    queueMicrotask(() => this.member?.disconnected());
  }

  /** Simulates the network dropping the connection. */
  drop(): void {
    this.closed ??= { code: 1006, reason: '' };
    this.member?.disconnected();
  }

  /** Events of one type. */
  of<T extends ServerEvent['type']>(type: T): Extract<ServerEvent, { type: T }>[] {
    return this.received.filter((e): e is Extract<ServerEvent, { type: T }> => e.type === type);
  }

  /** The last event of one type. */
  last<T extends ServerEvent['type']>(type: T): Extract<ServerEvent, { type: T }> {
    const all = this.of(type);
    const event = all[all.length - 1];
    assert.ok(event, `no ${type} event received; got ${this.received.map((e) => e.type).join(', ')}`);
    return event;
  }

  /** Sequence numbers of the history entries received live and in welcomes, in arrival order. */
  seqs(): number[] {
    const out: number[] = [];
    for (const e of this.received) {
      if (e.type === 'welcome') out.push(...e.history.map((h) => h.seq));
      else if (e.type === 'history') out.push(...e.entries.map((h) => h.seq));
      else if ('seq' in e && e.type !== 'ack' && typeof e.seq === 'number') out.push(e.seq);
    }
    return out;
  }

  clear(): void {
    this.received.length = 0;
    this.rawReceived.length = 0;
  }
}

/** How a test connection presents itself. */
export interface ConnectionOptions {
  format?: string;
  remote?: string;
  canSwitchRooms?: boolean;
  /** The client's address key, e.g. "203.0.113.9". */
  address?: string;
  resumable?: boolean;
}

export interface TestHub {
  hub: Hub;
  clock: ManualClock;
  store: ChatStore;
  /** A new connection and its member. */
  connect(options?: ConnectionOptions & { room?: string }): { conn: FakeConnection; member: Member };
  /** Connects and joins; asserts success. */
  join(nick: string, options?: ConnectionOptions & { room?: string } & Omit<JoinRequest, 'nick' | 'room'>): Promise<{ conn: FakeConnection; member: Member }>;
}

/** A hub on a memory store and a manual clock. */
export function makeHub(options: Partial<HubOptions> = {}): TestHub {
  const clock = new ManualClock();
  const store = options.store ?? new MemoryStore();
  const hub = new Hub({ clock, ...options, store });
  const connect: TestHub['connect'] = (opts = {}) => {
    const conn = new FakeConnection(opts);
    const member = hub.connect(conn, opts.room === undefined ? {} : { room: opts.room });
    conn.member = member;
    return { conn, member };
  };
  return {
    hub,
    clock,
    store,
    connect,
    async join(nick, opts = {}) {
      const { room, format, canSwitchRooms, address, resumable, remote, ...request } = opts;
      const pair = connect({
        ...(format === undefined ? {} : { format }),
        ...(canSwitchRooms ? { canSwitchRooms } : {}),
        ...(address === undefined ? {} : { address }),
        ...(resumable === undefined ? {} : { resumable }),
        ...(remote === undefined ? {} : { remote }),
      });
      const result = await pair.member.join({ ...request, nick, ...(room === undefined ? {} : { room }) });
      assert.ok(result.ok, `join of ${nick} failed: ${JSON.stringify(result)}`);
      return pair;
    },
  };
}
