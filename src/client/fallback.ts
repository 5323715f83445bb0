/**
 * Which transport a chat session uses: WebSocket when it gets through, the
 * server's HTTP door (./http-socket.ts) when it does not, and WebSocket again
 * as soon as it works. A `SocketFactory` for `ChatSession` that picks for
 * each connection attempt; no DOM, so the rule is tested with fakes.
 *
 * The rule (docs/protocol.md, "Falling back to the HTTP door"):
 * - A WebSocket attempt fails when it ends before any message came through:
 *   the handshake refused or never done (a proxy that answers the upgrade
 *   with an error, or holds it: `openTimeoutMs`), or a connection that opened
 *   but passed nothing (a proxy that accepts the upgrade and then buffers or
 *   drops frames: the session's join timeout closes it). A browser cannot
 *   tell a proxy's refusal from a server that is down (both are a 1006 with
 *   no status), so speed says nothing; the HTTP attempt decides.
 * - After `fallbackAfter` (2) such failures in a row, the next attempt uses
 *   the HTTP door. If it works (a message arrives), a WebSocket probe (below)
 *   goes out at once: the failures may have been a server restarting, not
 *   the network. If the probe fails too, WebSockets are blocked on this
 *   network: every attempt uses HTTP from then on. If the HTTP attempt
 *   fails as well, the server is down, not the WebSocket: the next attempt
 *   is a WebSocket again, and one more failure tries HTTP again.
 * - While on HTTP, a probe opens a WebSocket every `probeIntervalMs` (and on
 *   `probeNow()`, e.g. when the network changes): it sends a `history`
 *   request, which the server answers (`NOT_JOINED`) without joining anyone;
 *   an answer proves frames pass both ways. Then the HTTP connection is
 *   dropped without telling the server and the session reconnects at once
 *   over WebSocket; its join resumes the seat with its token, the server
 *   closes the HTTP session with 4001, and nobody sees the member away.
 */
import { Emitter } from './emitter.js';
import type { ChatSession, Timers } from './session.js';
import type { ConnectFailure, SocketFactory, SocketLike } from './socket.js';

export type TransportKind = 'websocket' | 'http';

export interface FallbackOptions {
  /** WebSocket connections (the browser's, through `fromEventSocket`). */
  websocket: SocketFactory;
  /** HTTP door connections (`httpSocketFactory`). */
  http: SocketFactory;
  timers?: Timers;
  /** WebSocket attempts in a row that pass nothing before the HTTP door is tried. Default 2. */
  fallbackAfter?: number;
  /** A WebSocket handshake not done within this time has failed, ms. Default 10 000. */
  openTimeoutMs?: number;
  /** While on HTTP, how often to find out whether WebSockets get through again, ms. Default 60 000. */
  probeIntervalMs?: number;
  /** A probe with no answer within this time failed, ms. Default 10 000. */
  probeTimeoutMs?: number;
}

export type FallbackEvents = {
  /** The transport that carries the session now (when a connection starts working). */
  transport: [kind: TransportKind];
  /** A probe ended: whether WebSockets get through. */
  probe: [ok: boolean];
};

const platformTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/** A socket that can be let go without telling the server (HttpSocket). */
interface Abandonable {
  abandon(reason: string): void;
}

function canAbandon(socket: SocketLike): socket is SocketLike & Abandonable {
  return typeof (socket as Partial<Abandonable>).abandon === 'function';
}

/** The reason given to the session when its HTTP connection is dropped for a WebSocket. */
export const SWITCH_REASON = 'moving to WebSocket';

/** One connection attempt, watched: did it open, did anything come through. */
class Attempt implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((text: string) => void) | null = null;
  onclose: ((code: number, reason: string, failure?: ConnectFailure) => void) | null = null;
  opened = false;
  working = false;
  ended = false;

  constructor(
    readonly kind: TransportKind,
    readonly inner: SocketLike,
  ) {}

  send(text: string): void {
    this.inner.send(text);
  }

  close(code?: number, reason?: string): void {
    this.inner.close(code, reason);
  }
}

/**
 * A `SocketFactory` choosing WebSocket or HTTP for each attempt, by the rule
 * above. Create one per page (what it learnt about the network outlives a
 * session), pass `factory` to each `ChatSession` and `follow` the session.
 */
export class TransportFallback extends Emitter<FallbackEvents> {
  readonly factory: SocketFactory;
  readonly #websocket: SocketFactory;
  readonly #http: SocketFactory;
  readonly #timers: Timers;
  readonly #fallbackAfter: number;
  readonly #openTimeoutMs: number;
  readonly #probeIntervalMs: number;
  readonly #probeTimeoutMs: number;
  #next: TransportKind = 'websocket';
  #current: TransportKind = 'websocket';
  #wsFailures = 0;
  /** An HTTP connection worked after WebSockets failed: they are blocked here. */
  #blocked = false;
  #live: Attempt | null = null;
  #target: { url: string; protocol: string } | null = null;
  #session: ChatSession | null = null;
  #unfollow: (() => void) | null = null;
  #probeTimer: unknown = null;
  #probing = false;

  constructor(options: FallbackOptions) {
    super();
    this.#websocket = options.websocket;
    this.#http = options.http;
    this.#timers = options.timers ?? platformTimers;
    this.#fallbackAfter = Math.max(1, options.fallbackAfter ?? 2);
    this.#openTimeoutMs = options.openTimeoutMs ?? 10_000;
    this.#probeIntervalMs = options.probeIntervalMs ?? 60_000;
    this.#probeTimeoutMs = options.probeTimeoutMs ?? 10_000;
    this.factory = (url, protocol) => this.#attempt(url, protocol);
  }

  /** The transport of the connection that worked last ('websocket' until one did). */
  get transport(): TransportKind {
    return this.#current;
  }

  /** What the next connection attempt will use. */
  get nextAttempt(): TransportKind {
    return this.#next;
  }

  /** WebSockets are known not to get through (an HTTP connection worked after they failed). */
  get blocked(): boolean {
    return this.#blocked;
  }

  /**
   * The session this factory serves: it is asked to reconnect at once when a
   * probe moves it to WebSocket, and probing stops when it ends.
   */
  follow(session: ChatSession): void {
    this.#unfollow?.();
    this.#session = session;
    const off = session.on('ended', () => {
      if (this.#session === session) this.#stopProbing();
    });
    this.#unfollow = () => {
      off();
      this.#session = null;
    };
    if (this.#blocked) this.#scheduleProbe();
  }

  /** While on HTTP: probe WebSocket now (the network may have changed). */
  probeNow(): void {
    if (!this.#blocked) return;
    this.#probe();
  }

  /** Stops probing and forgets the session. */
  stop(): void {
    this.#stopProbing();
    this.#unfollow?.();
    this.#unfollow = null;
  }

  // ----

  #attempt(url: string, protocol: string): SocketLike {
    this.#target = { url, protocol };
    const kind: TransportKind = this.#next === 'http' || this.#wsFailures >= this.#fallbackAfter ? 'http' : 'websocket';
    // May throw (an invalid URL): the session counts the attempt as failed.
    const inner = kind === 'http' ? this.#http(url, protocol) : this.#websocket(url, protocol);
    const attempt = new Attempt(kind, inner);
    let openTimer: unknown = null;
    if (kind === 'websocket') {
      openTimer = this.#timers.setTimeout(() => {
        openTimer = null;
        // A handshake a proxy holds open: give up on it (its close counts as a failure).
        if (!attempt.opened && !attempt.ended) inner.close(1000);
      }, this.#openTimeoutMs);
    }
    const clearOpenTimer = () => {
      if (openTimer !== null) this.#timers.clearTimeout(openTimer);
      openTimer = null;
    };
    inner.onopen = () => {
      attempt.opened = true;
      clearOpenTimer();
      attempt.onopen?.();
    };
    inner.onmessage = (text) => {
      if (!attempt.working) this.#working(attempt);
      attempt.onmessage?.(text);
    };
    inner.onclose = (code, reason, failure) => {
      clearOpenTimer();
      attempt.ended = true;
      const switching = reason === SWITCH_REASON && this.#live === attempt && this.#next === 'websocket';
      this.#ended(attempt);
      // An HTTP failure is never final here: the server may only be down, or
      // WebSockets may work again; the session keeps trying.
      const passed = kind === 'http' && failure?.permanent ? { ...failure, permanent: false } : failure;
      attempt.onclose?.(code, reason, passed);
      if (switching) this.#session?.retryNow();
    };
    return attempt;
  }

  #working(attempt: Attempt): void {
    attempt.working = true;
    this.#live = attempt;
    if (attempt.kind === 'websocket') {
      this.#wsFailures = 0;
      this.#next = 'websocket';
    } else {
      this.#next = 'http';
      if (!this.#blocked) {
        this.#blocked = true;
        // Were the WebSocket failures the network's, or a server that was
        // down (a restart) and is back? Find out now rather than in a minute.
        this.#probe();
      }
    }
    this.#current = attempt.kind;
    this.emit('transport', attempt.kind);
  }

  #ended(attempt: Attempt): void {
    if (this.#live === attempt) this.#live = null;
    if (attempt.working) return;
    if (attempt.kind === 'websocket') {
      this.#wsFailures++;
      if (this.#wsFailures >= this.#fallbackAfter) this.#next = 'http';
    } else if (!this.#blocked) {
      // HTTP failed as well: the server is unreachable, not the WebSocket. Try
      // a WebSocket next; one more failure brings HTTP back.
      this.#next = 'websocket';
      this.#wsFailures = this.#fallbackAfter - 1;
    }
  }

  #scheduleProbe(): void {
    if (this.#probeTimer !== null || !this.#blocked || this.#session === null || this.#session.ended !== undefined) return;
    this.#probeTimer = this.#timers.setTimeout(() => {
      this.#probeTimer = null;
      this.#probe();
    }, this.#probeIntervalMs);
  }

  #stopProbing(): void {
    if (this.#probeTimer !== null) this.#timers.clearTimeout(this.#probeTimer);
    this.#probeTimer = null;
  }

  #probe(): void {
    const target = this.#target;
    if (this.#probing || target === null) return;
    this.#stopProbing();
    this.#probing = true;
    let socket: SocketLike | null = null;
    let done = false;
    let timer: unknown = null;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.#probing = false;
      if (timer !== null) this.#timers.clearTimeout(timer);
      if (socket !== null) {
        socket.onopen = null;
        socket.onmessage = null;
        socket.onclose = null;
        try {
          socket.close(1000, 'probe done');
        } catch {
          // Already closed.
        }
      }
      this.emit('probe', ok);
      if (ok) this.#backToWebSocket();
      else this.#scheduleProbe();
    };
    try {
      socket = this.#websocket(target.url, target.protocol);
    } catch {
      finish(false);
      return;
    }
    const probe = socket;
    timer = this.#timers.setTimeout(() => finish(false), this.#probeTimeoutMs);
    // Answered with NOT_JOINED: it proves frames pass both ways and joins nobody.
    probe.onopen = () => probe.send(JSON.stringify({ type: 'history', id: 'probe', afterSeq: 0 }));
    probe.onmessage = () => finish(true);
    probe.onclose = () => finish(false);
  }

  #backToWebSocket(): void {
    this.#blocked = false;
    this.#next = 'websocket';
    this.#wsFailures = 0;
    const live = this.#live;
    if (live === null || live.kind !== 'http') return;
    // Let the HTTP connection go without a word to the server: the WebSocket
    // join resumes the seat and the server closes the HTTP session (4001).
    if (canAbandon(live.inner)) live.inner.abandon(SWITCH_REASON);
    else live.inner.close(1000, SWITCH_REASON);
  }
}
