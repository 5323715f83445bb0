/**
 * Limits per client address (see address.ts for what an address is), kept
 * by each node in memory: concurrent connections over every door together,
 * WebSocket handshakes and TCP connections per minute, and chat lines per
 * second over all of the address's connections. (Rooms created per hour are
 * counted cluster-wide, in the store: see `Hub`.)
 *
 * Why per node: these limits protect the node that holds the sockets and
 * does the work, and are checked on every line; a shared counter would put
 * a store round trip on every message. A client spread over N nodes by a
 * load balancer gets N times the limits, which stay far below what hurts.
 *
 * Memory: one small entry per address with a connection, or with a bucket
 * that is not full again yet; the others are swept away as they are found.
 */
import type { Clock } from './clock.js';
import { TokenBucket } from './rate-limit.js';

export interface AddressLimitOptions {
  /** Concurrent connections per address, all doors together; 0: no limit. */
  connections: number;
  /** WebSocket handshakes and TCP connections per minute per address (all at once is fine); 0: no limit. */
  handshakesPerMinute: number;
  /** Chat lines (messages and commands) per second per address, over all its connections; bursts of 4 s worth; 0: no limit. */
  messagesPerSecond: number;
  /** Rooms created per hour per address, cluster-wide (counted by the hub through the store); 0: no limit. */
  roomsPerHour: number;
}

/**
 * The defaults, chosen so that a real group behind one NAT never meets
 * them (docs: README, "Limits per address"):
 * - 500 connections: a 250-person office or school behind one address,
 *   each with a phone and a laptop open; one attacker's 500 idle sockets
 *   cost a few MB.
 * - 600 handshakes a minute, all at once allowed: after a server restart,
 *   all 500 of that office reconnect within their backoff.
 * - 50 lines a second (bursts of 200): a busy group of 250 writes well under
 *   one line a second in total; the measured attack (1,000 connections each
 *   under the per-connection rate) needed thousands a second.
 * - 100 new rooms an hour: nobody makes more than a few; an address filling
 *   the store with rooms is held to 100 an hour (and rooms left with nothing
 *   in them are forgotten at once).
 */
export const DEFAULT_ADDRESS_LIMITS: Readonly<AddressLimitOptions> = {
  connections: 500,
  handshakesPerMinute: 600,
  messagesPerSecond: 50,
  roomsPerHour: 100,
};

/** How many seconds' worth of lines an address may send at once. */
const MESSAGE_BURST_SECONDS = 4;

export type LimitVerdict = { ok: true } | { ok: false; reason: 'connections' | 'handshakes' | 'messages'; retryAfterMs: number; message: string };

interface Entry {
  connections: number;
  handshakes: TokenBucket | null;
  messages: TokenBucket | null;
}

export class AddressLimits {
  readonly options: Readonly<AddressLimitOptions>;
  readonly #clock: Clock;
  readonly #entries = new Map<string, Entry>();
  #sweepAt = 1024;

  /** @throws RangeError on a negative or non-integer limit. */
  constructor(options: Partial<AddressLimitOptions>, clock: Clock) {
    this.options = Object.freeze({ ...DEFAULT_ADDRESS_LIMITS, ...options });
    for (const [name, value] of Object.entries(this.options)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`address limit ${name} must be a whole number >= 0`);
    }
    this.#clock = clock;
  }

  /** Addresses remembered now (tests). */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * A new connection (a WebSocket handshake, a TCP connection) from
   * `address`: counts it as a handshake and checks that the address may
   * open one more connection. The connection itself is counted by `opened`.
   */
  handshake(address: string): LimitVerdict {
    const entry = this.#entry(address);
    const { connections, handshakesPerMinute } = this.options;
    if (connections > 0 && entry.connections >= connections) {
      return {
        ok: false,
        reason: 'connections',
        retryAfterMs: 60_000,
        message: `too many connections from your address (at most ${connections}); close some first`,
      };
    }
    if (handshakesPerMinute > 0) {
      entry.handshakes ??= new TokenBucket(handshakesPerMinute, handshakesPerMinute / 60, this.#clock);
      if (!entry.handshakes.take()) {
        return {
          ok: false,
          reason: 'handshakes',
          retryAfterMs: Math.max(1, entry.handshakes.msUntilToken() ?? 60_000),
          message: `too many new connections from your address (at most ${handshakesPerMinute} a minute); try again shortly`,
        };
      }
    }
    return { ok: true };
  }

  /** A connection from `address` is open; call the returned function (once; later calls do nothing) when it closes. */
  opened(address: string): () => void {
    const entry = this.#entry(address);
    entry.connections++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      // An entry with connections is never swept, so this is still the one in the map.
      entry.connections--;
    };
  }

  /** A chat line from `address`. */
  message(address: string): LimitVerdict {
    const { messagesPerSecond } = this.options;
    if (messagesPerSecond === 0) return { ok: true };
    const entry = this.#entry(address);
    entry.messages ??= new TokenBucket(messagesPerSecond * MESSAGE_BURST_SECONDS, messagesPerSecond, this.#clock);
    if (entry.messages.take()) return { ok: true };
    return {
      ok: false,
      reason: 'messages',
      retryAfterMs: Math.max(1, entry.messages.msUntilToken() ?? 60_000),
      message: `slow down: too many messages from your address (at most ${messagesPerSecond} a second)`,
    };
  }

  #entry(address: string): Entry {
    let entry = this.#entries.get(address);
    if (entry === undefined) {
      if (this.#entries.size >= this.#sweepAt) this.#sweep();
      entry = { connections: 0, handshakes: null, messages: null };
      this.#entries.set(address, entry);
    }
    return entry;
  }

  /** Forgets the addresses with nothing to remember; the next sweep waits until the map doubles. */
  #sweep(): void {
    for (const [address, entry] of this.#entries) {
      if (entry.connections === 0 && (entry.handshakes?.full ?? true) && (entry.messages?.full ?? true)) this.#entries.delete(address);
    }
    this.#sweepAt = Math.max(1024, this.#entries.size * 2);
  }
}
