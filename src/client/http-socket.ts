/**
 * `SocketLike` over the chat server's HTTP door (docs/protocol.md, "The HTTP
 * door"), for networks where WebSockets do not get through: one session
 * opened by a POST, events fetched by long-polling, client messages sent by
 * POST. The chat session above it (./session.ts) cannot tell it from a
 * WebSocket: same messages, same close codes, `onclose` exactly once.
 *
 * No DOM and no node: types: `fetch` is injected (the browser's, or Node's),
 * and so are the timers.
 *
 * - Polls are numbered by the server; `after` confirms what arrived, so an
 *   answer lost on the way comes again with the next poll and events already
 *   delivered are skipped: nothing missed, nothing twice.
 * - A poll that fails (network, 5xx, no answer within the server's hold time
 *   plus a margin) is tried again after a short delay, `pollRetries` times;
 *   then the connection counts as lost (1006), and the session reconnects
 *   and resumes by resume token and last seq as after a dropped WebSocket.
 * - Sends are queued and POSTed one request at a time (lines joined by "\n"),
 *   so they reach the server in order. A POST that fails loses the
 *   connection: its lines may or may not have arrived, and the session's
 *   resend by client id stores each message once either way.
 */
import type { Timers } from './session.js';
import type { ConnectFailure, SocketFactory, SocketLike } from './socket.js';

/** The few request fields used, a subset of the WHATWG Fetch `RequestInit`. */
export interface HttpRequestInit {
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Lets a request outlive the page (a `/quit` sent from `pagehide`). */
  keepalive?: boolean;
  cache?: 'no-store';
}

/** The part of a Fetch `Response` used. */
export interface HttpResponseLike {
  readonly status: number;
  text(): Promise<string>;
}

/** `fetch`, e.g. `(url, init) => fetch(url, init)`. Rejects on network errors, as `fetch` does. */
export type HttpFetch = (url: string, init: HttpRequestInit) => Promise<HttpResponseLike>;

export interface HttpSocketOptions {
  fetch: HttpFetch;
  /** Default: the platform's setTimeout/clearTimeout. */
  timers?: Timers;
  /** Failed polls in a row tried again before the connection counts as lost. Default 3. */
  pollRetries?: number;
  /** Delay before the first poll retry, doubled for each next one, ms. Default 250. */
  retryDelayMs?: number;
  /** How much longer than the server's poll hold a poll may take before it counts as failed, ms. Default 15 000. */
  pollMarginMs?: number;
}

/** The only protocol the door speaks. */
const PROTOCOL = 'wschat.v1';
const DEFAULT_POLL_MS = 25_000;
/** Browsers refuse `keepalive` requests whose bodies pass 64 KiB (WHATWG Fetch §4.1 step 11). */
const KEEPALIVE_MAX_BYTES = 60_000;
const TEXT = { 'Content-Type': 'text/plain;charset=UTF-8' };

const platformTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => Date.now(),
};

/**
 * The door's URL for a room's WebSocket URL: `ws://host/r/team` ->
 * `http://host/r/team/http` (wss: -> https:; http(s): URLs are taken as they are).
 * @throws TypeError for an invalid URL or another scheme.
 */
export function doorUrl(socketUrl: string): string {
  const url = new URL(socketUrl);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  else if (url.protocol === 'wss:') url.protocol = 'https:';
  else if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`not a chat URL: ${socketUrl}`);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/http`;
  url.search = '';
  url.hash = '';
  return url.toString();
}

/** A factory for `ChatSession`'s `socketFactory`. */
export function httpSocketFactory(options: HttpSocketOptions): SocketFactory {
  return (url, protocol) => new HttpSocket(url, protocol, options);
}

type State = 'opening' | 'open' | 'closed';

interface Envelope {
  next: number;
  events: unknown[];
  close?: { code: number; reason: string };
}

/** One HTTP door session as a `SocketLike`. */
export class HttpSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((text: string) => void) | null = null;
  onclose: ((code: number, reason: string, failure?: ConnectFailure) => void) | null = null;

  readonly #fetch: HttpFetch;
  readonly #timers: Timers;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #marginMs: number;
  readonly #base: string;
  #state: State = 'opening';
  #session = '';
  #cursor = 0;
  #pollMs = DEFAULT_POLL_MS;
  #maxLines = 64;
  #maxBody = 256 * 1024;
  #queue: string[] = [];
  #posting = false;
  readonly #controllers = new Set<AbortController>();
  #wake: (() => void) | null = null;
  #wakeTimer: unknown = null;

  /** Starts opening at once; the callbacks fire from later events, never before this returns. */
  constructor(url: string, protocol: string, options: HttpSocketOptions) {
    this.#fetch = options.fetch;
    this.#timers = options.timers ?? platformTimers;
    this.#retries = options.pollRetries ?? 3;
    this.#retryDelayMs = options.retryDelayMs ?? 250;
    this.#marginMs = options.pollMarginMs ?? 15_000;
    let base = '';
    try {
      base = doorUrl(url);
    } catch (error) {
      this.#base = '';
      this.#fail(`Cannot connect to ${url}: ${describe(error)}`, true, 'network');
      return;
    }
    this.#base = base;
    if (protocol !== PROTOCOL) {
      this.#fail(`The HTTP door speaks ${PROTOCOL} only, not ${protocol}.`, true, 'http');
      return;
    }
    void this.#open();
  }

  /** The number of the last event received (tests). */
  get cursor(): number {
    return this.#cursor;
  }

  send(text: string): void {
    if (this.#state !== 'open') return;
    this.#queue.push(text);
    this.#flush();
  }

  /** Ends the session: the server is told (the member is then away, as after a WebSocket close), `onclose` follows. */
  close(code = 1000, reason = ''): void {
    if (this.#state === 'closed') return;
    const session = this.#session;
    this.#finish(code, reason);
    if (session !== '') this.#tellClosed(session);
  }

  /**
   * Ends without telling the server (`onclose(1006, reason)`): the member
   * stays present until a new connection resumes its seat (the server closes
   * this session with 4001 then) or the server's liveness timeout passes.
   * For moving the session to another transport without showing it away.
   */
  abandon(reason: string): void {
    this.#finish(1006, reason);
  }

  // ----

  async #open(): Promise<void> {
    let response: HttpResponseLike;
    let text: string;
    try {
      response = await this.#request(this.#base, { method: 'POST', headers: TEXT, body: '', cache: 'no-store' });
      text = await response.text();
    } catch (error) {
      if (this.#state === 'opening') this.#fail(`Cannot reach ${hostOf(this.#base)} over HTTP: ${describe(error)}.`, false, 'network');
      return;
    }
    if (response.status !== 201 && response.status !== 200) {
      if (this.#state !== 'opening') return;
      const transient = response.status >= 500 || response.status === 408 || response.status === 429;
      this.#fail(`The server refused the HTTP connection: ${response.status} ${errorText(text)}`, !transient, 'http');
      return;
    }
    const opened = parseOpen(text);
    if (opened === null) {
      if (this.#state === 'opening') {
        this.#fail(`${hostOf(this.#base)} answered, but not as a wschat HTTP door: is it a wschat server?`, true, 'http');
      }
      return;
    }
    if (this.#state !== 'opening') {
      // Closed while opening: free the session the server just made.
      this.#tellClosed(opened.session);
      return;
    }
    this.#session = opened.session;
    this.#pollMs = opened.pollMs;
    this.#maxLines = opened.maxLines;
    this.#maxBody = opened.maxBody;
    this.#state = 'open';
    this.onopen?.();
    void this.#pollLoop();
  }

  async #pollLoop(): Promise<void> {
    let failures = 0;
    while (this.#state === 'open') {
      const url = `${this.#base}/${this.#session}/events?after=${this.#cursor}`;
      let status: number;
      let text: string;
      try {
        const response = await this.#request(url, { method: 'GET', cache: 'no-store' }, this.#pollMs + this.#marginMs);
        status = response.status;
        text = await response.text();
      } catch (error) {
        status = 0;
        text = describe(error);
      }
      if (this.#state !== 'open') return;
      if (status === 200) {
        const envelope = parseEnvelope(text);
        if (envelope === null) {
          this.#lost('the server sent an answer that is not the HTTP door’s');
          return;
        }
        failures = 0;
        this.#deliver(envelope);
        continue;
      }
      if (status === 404) {
        // Expired (we were away too long) or the server restarted: the session reconnects and resumes.
        this.#lost('the server no longer knows this HTTP session');
        return;
      }
      const transient = status === 0 || status >= 500 || status === 408 || status === 429;
      if (!transient || failures >= this.#retries) {
        this.#lost(status === 0 ? `polling failed: ${text}` : `polling failed: HTTP ${status} ${errorText(text)}`);
        return;
      }
      await this.#sleep(this.#retryDelayMs * 2 ** failures);
      failures++;
    }
  }

  #deliver(envelope: Envelope): void {
    const first = envelope.next - envelope.events.length + 1;
    if (first > this.#cursor + 1 || envelope.next < this.#cursor) {
      this.#lost('events were lost between the server and this client');
      return;
    }
    // Events already delivered (an answer that came twice) are skipped.
    const skip = this.#cursor + 1 - first;
    this.#cursor = envelope.next;
    for (let i = skip; i < envelope.events.length; i++) {
      if (this.#state !== 'open') return;
      this.onmessage?.(JSON.stringify(envelope.events[i]));
    }
    if (envelope.close !== undefined && this.#state === 'open') this.#finish(envelope.close.code, envelope.close.reason);
  }

  #flush(): void {
    if (this.#posting || this.#queue.length === 0 || this.#state !== 'open') return;
    const batch: string[] = [];
    let bytes = 0;
    while (this.#queue.length > 0 && batch.length < this.#maxLines) {
      const next = this.#queue[0] ?? '';
      const size = utf8Length(next) + 1;
      if (batch.length > 0 && bytes + size > this.#maxBody) break;
      batch.push(next);
      bytes += size;
      this.#queue.shift();
    }
    const body = batch.join('\n');
    this.#posting = true;
    const init: HttpRequestInit = { method: 'POST', headers: TEXT, body, cache: 'no-store' };
    // A /quit sent as the page goes away must still leave.
    if (bytes <= KEEPALIVE_MAX_BYTES) init.keepalive = true;
    this.#fetch(`${this.#base}/${this.#session}/send`, init).then(
      (response) => {
        if (this.#state !== 'open') return;
        if (response.status === 204 || response.status === 200) {
          this.#posting = false;
          this.#flush();
        } else {
          this.#lost(`sending failed: HTTP ${response.status}`);
        }
      },
      (error: unknown) => {
        if (this.#state === 'open') this.#lost(`sending failed: ${describe(error)}`);
      },
    );
  }

  /** A fetch that is aborted when the socket closes, or after `timeoutMs`. */
  async #request(url: string, init: HttpRequestInit, timeoutMs?: number): Promise<HttpResponseLike> {
    const controller = new AbortController();
    this.#controllers.add(controller);
    const timer = timeoutMs === undefined ? null : this.#timers.setTimeout(() => controller.abort(), timeoutMs);
    try {
      return await this.#fetch(url, { ...init, signal: controller.signal });
    } finally {
      if (timer !== null) this.#timers.clearTimeout(timer);
      this.#controllers.delete(controller);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#wakeTimer = this.#timers.setTimeout(() => {
        this.#wakeTimer = null;
        this.#wake = null;
        resolve();
      }, ms);
    });
  }

  #tellClosed(session: string): void {
    this.#fetch(`${this.#base}/${session}/close`, { method: 'POST', headers: TEXT, body: '', keepalive: true, cache: 'no-store' }).catch(
      () => undefined,
    );
  }

  /** The connection is lost (as a WebSocket's 1006); the session reconnects. */
  #lost(reason: string): void {
    this.#finish(1006, reason);
  }

  /** A connection attempt failed. */
  #fail(message: string, permanent: boolean, kind: ConnectFailure['kind']): void {
    this.#finish(1006, message, { permanent, message, kind });
  }

  #finish(code: number, reason: string, failure?: ConnectFailure): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#queue = [];
    for (const controller of this.#controllers) controller.abort();
    this.#controllers.clear();
    if (this.#wakeTimer !== null) this.#timers.clearTimeout(this.#wakeTimer);
    this.#wakeTimer = null;
    this.#wake?.();
    this.#wake = null;
    // As a WebSocket's close event: from a later task, never inside the caller's call.
    queueMicrotask(() => this.onclose?.(code, reason, failure));
  }
}

/** A JSON object's fields, or null when the text is not JSON or not an object. */
function parseObject(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function parseOpen(text: string): { session: string; pollMs: number; maxLines: number; maxBody: number } | null {
  const v = parseObject(text);
  if (v === null) return null;
  if (v.protocol !== PROTOCOL || typeof v.session !== 'string' || !/^[A-Za-z0-9_-]{16,128}$/.test(v.session)) return null;
  return {
    session: v.session,
    pollMs: bounded(v.pollMs, 1, 300_000, DEFAULT_POLL_MS),
    maxLines: bounded(v.maxLines, 1, 10_000, 64),
    maxBody: bounded(v.maxBody, 1024, 64 * 1024 * 1024, 256 * 1024),
  };
}

function parseEnvelope(text: string): Envelope | null {
  const v = parseObject(text);
  if (v === null) return null;
  if (!Number.isSafeInteger(v.next) || (v.next as number) < 0 || !Array.isArray(v.events)) return null;
  const envelope: Envelope = { next: v.next as number, events: v.events };
  if (v.close !== undefined) {
    const close = v.close as Record<string, unknown> | null;
    if (typeof close !== 'object' || close === null || !Number.isInteger(close.code) || typeof close.reason !== 'string') return null;
    envelope.close = { code: close.code as number, reason: close.reason };
  }
  return envelope;
}

function bounded(value: unknown, min: number, max: number, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : fallback;
}

/** The server's `{"error": "..."}`, or the start of whatever it sent. */
function errorText(text: string): string {
  try {
    const value = JSON.parse(text) as { error?: unknown };
    if (typeof value.error === 'string') return value.error;
  } catch {
    // Not JSON: a proxy's page, perhaps.
  }
  return text.replace(/\s+/g, ' ').trim().slice(0, 200);
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
