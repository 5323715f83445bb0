/**
 * The HTTP door: `wschat.v1` over plain HTTP requests, for networks where
 * WebSockets do not get through (corporate proxies that refuse the upgrade
 * or buffer it, some hotel and mobile-carrier networks). The same JSON
 * objects as the WebSocket door, the same `Member`, so the same join, resume,
 * acks, idempotent ids, rate limits and rooms; only the framing differs.
 *
 * Down: long-polling. `GET .../events?after=N` is answered with every event
 * numbered above N, at once if there are some, else as soon as one comes, else
 * empty after `pollMs`. Up: `POST .../send`, one client message per line.
 * Why long-polling and not server-sent events (docs/protocol.md, "The HTTP
 * door", says it for users):
 * - Proxies that buffer responses until they end (antivirus and corporate
 *   proxies: the networks this door is for) never deliver an endless SSE
 *   stream; every poll answer ends, so it gets through them.
 * - Liveness without a ping the client can answer: each poll ends within
 *   `pollMs`, and a client that does not poll again within `livenessMs` is
 *   gone (away, as a WebSocket that stops answering pings), whatever a
 *   half-open TCP connection seems to say.
 * - Acknowledged delivery: a poll's `after` confirms what the client has, and
 *   only that is forgotten. An answer lost on the way (a proxy cut the
 *   connection) is sent again by the next poll: no gap, no duplicate.
 * - The client sees status codes (an expired session, a refused origin),
 *   which EventSource hides, and reconnects on its own schedule instead of
 *   EventSource's.
 * Acks and errors come down the poll with everything else, in the member's
 * order, never in the POST's answer: one ordered channel, as on a WebSocket.
 *
 * A session id (192 random bits, a capability: who holds it may speak as the
 * session) ties the requests together; it is not the resume token, which
 * never leaves the `welcome`. Memory per session is bounded (`highWaterMark`
 * bytes of unacknowledged events, then the session is closed as too slow, as
 * a WebSocket is), and so is the number of sessions.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Clock, systemClock, type Timer } from '../clock.js';
import type { Hub } from '../hub.js';
import type { Logger, Member, MemberConnection } from '../member.js';
import { ChatCloseCode, PROTOCOL, parseClientMessage, type ServerEvent } from '../messages.js';
import { DEFAULT_ROOM, ROOM_NAME_RULE, roomName } from '../room-name.js';
import { DEFAULT_JOIN_TIMEOUT_MS } from './websocket-common.js';

/** The format key of this door's members: events are JSON text, as on the WebSocket door, without a frame. */
export const HTTP_FORMAT = 'wschat.v1+http';

/** A poll is held this long before it is answered empty (below the usual 30-60 s idle timeouts of proxies). */
export const DEFAULT_POLL_MS = 25_000;
/** A session with no poll waiting or arriving for this long is gone. With the poll, at most 55 s: within the WebSocket heartbeat's 60 s. */
export const DEFAULT_LIVENESS_MS = 30_000;
/** Unacknowledged event bytes a session may hold before it counts as too slow. As the WebSocket door's send buffer. */
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Largest POST body, bytes: the WebSocket door's largest message. */
export const DEFAULT_MAX_BODY = 256 * 1024;
/** Most client messages in one POST: the member's queue bound. */
export const DEFAULT_MAX_LINES = 64;
/** Most sessions at once on this server. */
export const DEFAULT_MAX_SESSIONS = 10_000;

interface Encoded {
  text: string;
  bytes: number;
}

interface Queued extends Encoded {
  n: number;
}

/** How a session ended, as the client is told: a WebSocket close code and reason. */
export interface DoorClose {
  code: number;
  reason: string;
}

/** The answer to one poll. `next`: the number of the last event in it (the next poll's `after`). */
export interface PollAnswer {
  next: number;
  events: readonly string[];
  close: DoorClose | null;
}

/** The session's half of a held poll: called once with the answer. */
export type PollResponder = (answer: PollAnswer) => void;

/** Why a poll cannot be served: its `after` is past what was sent, or behind what was already confirmed. */
export type PollRefusal = 'ahead' | 'behind';

/** What a session needs from its door. */
export interface SessionHost {
  clock: Clock;
  log: Logger;
  pollMs: number;
  livenessMs: number;
  joinTimeoutMs: number;
  highWaterMark: number;
  /** The session is over: forget its id. */
  forget(session: HttpDoorSession): void;
}

/**
 * One client of the HTTP door, without HTTP: the member's events numbered in a
 * bounded queue, the poll waiting for them, and the timers (poll hold,
 * liveness, join deadline). `HttpDoor` moves requests in and answers out;
 * tests drive this class directly.
 */
export class HttpDoorSession implements MemberConnection<Encoded> {
  readonly format = HTTP_FORMAT;
  readonly id: string;
  readonly room: string;
  readonly remote: string;
  /** The client's address key, for the limits per address and bans (see address-limits.ts). */
  readonly address: string | undefined;
  readonly #host: SessionHost;
  /** Stops counting this session against its address's connections. */
  #release: (() => void) | null = null;
  #member: Member | null = null;
  /** Events not yet confirmed by a poll, numbered #confirmed+1 .. #last. */
  #queue: Queued[] = [];
  #bytes = 0;
  #last = 0;
  #confirmed = 0;
  #close: DoorClose | null = null;
  #waiter: PollResponder | null = null;
  #holdTimer: Timer | null = null;
  #flushTimer: Timer | null = null;
  #absentTimer: Timer | null = null;
  #joinTimer: Timer | null = null;
  #forgotten = false;

  constructor(id: string, room: string, remote: string, host: SessionHost, client?: { key: string; release: () => void }) {
    this.id = id;
    this.room = room;
    this.remote = remote;
    this.address = client?.key;
    this.#release = client?.release ?? null;
    this.#host = host;
    // Until the first poll, the client is as absent as after one.
    this.#armAbsent();
  }

  /** The member the hub made for this session; starts the join deadline. */
  attach(member: Member): void {
    this.#member = member;
    if (member.closed || this.#close !== null) return;
    this.#joinTimer = this.#host.clock.setTimeout(() => {
      this.#joinTimer = null;
      if (member.joined || member.closed) return;
      this.#host.log('info', 'http door session closed: no join in time', { remote: this.remote });
      member.closeConnection(ChatCloseCode.JOIN_TIMEOUT, 'join timed out');
    }, this.#host.joinTimeoutMs);
  }

  /** The member, once attached. */
  get member(): Member | null {
    return this.#member;
  }

  /** Unconfirmed event bytes held (for tests and limits). */
  get queuedBytes(): number {
    return this.#bytes;
  }

  /** How the session ended, or null while it is open. */
  get closeInfo(): DoorClose | null {
    return this.#close;
  }

  /** A poll is held, waiting for events. */
  get polling(): boolean {
    return this.#waiter !== null;
  }

  /**
   * A poll: `after` confirms every event up to it. Answers at once when there
   * are later events or the session is closed, else holds `respond` until an
   * event comes or `pollMs` passes. A poll still held is answered (empty) and
   * replaced: one poll at a time.
   * @returns null when served or held, else why the cursor is refused.
   */
  poll(after: number, respond: PollResponder): PollRefusal | null {
    if (after > this.#last) return 'ahead';
    if (after < this.#confirmed) return 'behind';
    this.#confirm(after);
    if (this.#waiter !== null) this.#answer();
    this.#absentTimer?.cancel();
    this.#absentTimer = null;
    this.#waiter = respond;
    if (this.#queue.length > 0 || this.#close !== null) {
      this.#answer();
    } else if (!this.#forgotten) {
      this.#holdTimer = this.#host.clock.setTimeout(() => {
        this.#holdTimer = null;
        this.#answer();
      }, this.#host.pollMs);
    } else {
      this.#answer();
    }
    return null;
  }

  /** The held poll's request went away before it was answered (the client or a proxy cut it). */
  cancelPoll(respond: PollResponder): void {
    if (this.#waiter !== respond) return;
    this.#waiter = null;
    this.#holdTimer?.cancel();
    this.#holdTimer = null;
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    this.#armAbsent();
  }

  /** Client messages from a POST, one per line, handled as the WebSocket door handles text messages. */
  receive(lines: readonly string[]): void {
    const member = this.#member;
    if (member === null || this.#close !== null) return;
    for (const line of lines) {
      const parsed = parseClientMessage(line);
      if (parsed.ok) void member.handle(parsed.message);
      else member.reject(parsed.error);
    }
  }

  /** The client said goodbye (POST close): as a WebSocket client closing, the member is away, not gone. */
  clientClosed(): void {
    if (this.#close === null) this.#ended({ code: 1000, reason: 'closed by the client' });
    this.#answerIfWaiting();
    this.#forget();
  }

  /** The server is shutting down: answer the held poll now (with the 1001 the hub closed us with). */
  shutdown(): void {
    if (this.#close === null) this.#ended({ code: ChatCloseCode.GOING_AWAY, reason: 'server shutting down' });
    this.#answerIfWaiting();
    this.#forget();
  }

  // ---- MemberConnection ----

  encode(event: ServerEvent): Encoded {
    const text = JSON.stringify(event);
    return { text, bytes: Buffer.byteLength(text) };
  }

  sendEncoded(encoded: Encoded): void {
    if (this.#close !== null) return;
    this.#last++;
    this.#queue.push({ n: this.#last, text: encoded.text, bytes: encoded.bytes });
    this.#bytes += encoded.bytes;
    if (this.#bytes > this.#host.highWaterMark) {
      // As a WebSocket reader that does not keep up (websocket-common.ts):
      // closed rather than allowed to grow memory. What it missed is in the
      // room's log; it is not kept here.
      this.#host.log('warn', 'http door reader too slow, disconnected', { remote: this.remote });
      this.#queue = [];
      this.#bytes = 0;
      this.close(ChatCloseCode.POLICY_VIOLATION, 'too slow to keep up');
      return;
    }
    // Events sent together (a welcome and a member list, a burst) go in one answer.
    if (this.#waiter !== null && this.#flushTimer === null) {
      this.#flushTimer = this.#host.clock.setTimeout(() => {
        this.#flushTimer = null;
        this.#answerIfWaiting();
      }, 0);
    }
  }

  close(code: number, reason: string): void {
    if (this.#close !== null) return;
    this.#ended({ code, reason });
    // The held poll carries the close (after what is queued); a later poll
    // gets it again until the session is forgotten for absence.
    if (this.#waiter !== null && this.#flushTimer === null) {
      this.#flushTimer = this.#host.clock.setTimeout(() => {
        this.#flushTimer = null;
        this.#answerIfWaiting();
      }, 0);
    }
  }

  // ----

  /** Records the end and tells the member its connection is gone (on the next microtask, as a socket's close event would). */
  #ended(close: DoorClose): void {
    this.#close = close;
    this.#release?.();
    this.#release = null;
    this.#joinTimer?.cancel();
    this.#joinTimer = null;
    queueMicrotask(() => this.#member?.disconnected());
  }

  #confirm(after: number): void {
    if (after <= this.#confirmed) return;
    let drop = 0;
    while (drop < this.#queue.length && (this.#queue[drop]?.n ?? Number.POSITIVE_INFINITY) <= after) {
      this.#bytes -= this.#queue[drop]?.bytes ?? 0;
      drop++;
    }
    this.#queue.splice(0, drop);
    this.#confirmed = after;
  }

  #answerIfWaiting(): void {
    if (this.#waiter !== null) this.#answer();
  }

  /** Answers the held poll with everything unconfirmed, then waits for the next poll. */
  #answer(): void {
    const respond = this.#waiter;
    if (respond === null) return;
    this.#waiter = null;
    this.#holdTimer?.cancel();
    this.#holdTimer = null;
    this.#flushTimer?.cancel();
    this.#flushTimer = null;
    const answer: PollAnswer = { next: this.#last, events: this.#queue.map((q) => q.text), close: this.#close };
    this.#armAbsent();
    respond(answer);
  }

  /** Liveness: with no poll held, the client has `livenessMs` to poll again. */
  #armAbsent(): void {
    if (this.#forgotten) return;
    this.#absentTimer?.cancel();
    this.#absentTimer = this.#host.clock.setTimeout(() => {
      this.#absentTimer = null;
      if (this.#close === null) {
        this.#host.log('info', 'http door client stopped polling', { remote: this.remote });
        this.#ended({ code: 1006, reason: 'no poll in time' });
      }
      this.#forget();
    }, this.#host.livenessMs);
  }

  #forget(): void {
    if (this.#forgotten) return;
    this.#forgotten = true;
    for (const timer of [this.#holdTimer, this.#flushTimer, this.#absentTimer, this.#joinTimer]) timer?.cancel();
    this.#holdTimer = this.#flushTimer = this.#absentTimer = this.#joinTimer = null;
    this.#queue = [];
    this.#bytes = 0;
    this.#host.forget(this);
  }
}

export interface HttpDoorOptions {
  hub: Hub;
  /**
   * Whether a request's Origin may talk to the chat (as for WebSocket
   * handshakes: host-check.ts `originAllowed`); `host` is its Host header.
   */
  originAllowed: (origin: string | undefined, host: string) => boolean;
  clock?: Clock;
  log?: Logger;
  /** Default 25 s. */
  pollMs?: number;
  /** Default 30 s. */
  livenessMs?: number;
  /** Default 60 s, as the WebSocket door. */
  joinTimeoutMs?: number;
  /** Unconfirmed event bytes per session. Default 4 MiB. */
  highWaterMark?: number;
  /** Largest POST body, bytes. Default 256 KiB. */
  maxBodyBytes?: number;
  /** Most lines in one POST. Default 64. */
  maxLines?: number;
  /** Default 10 000. */
  maxSessions?: number;
  /**
   * Who the client is (the peer, or who a trusted proxy says it is), for the
   * hub's limits per address; default: no per-address limits.
   */
  clientOf?: (req: IncomingMessage) => { key: string };
}

/** A request path of the door, inside the base path. */
export interface DoorRoute {
  /** The room, or null when the path names one that is not valid. */
  room: string | null;
  /** `open` creates a session; the others name one by its id. */
  action: 'open' | 'events' | 'send' | 'close';
  session: string | null;
}

const ROUTE = /^(?:\/r\/([^/]*))?\/http(?:\/([^/]*)\/(events|send|close))?$/;

/**
 * Reads a door path: `/r/<room>/http` (or `/http` for the lobby) opens a
 * session, `/r/<room>/http/<session>/events|send|close` use one. Null for
 * every other path (not the door's).
 */
export function doorRoute(pathname: string): DoorRoute | null {
  const match = ROUTE.exec(pathname);
  if (match === null) return null;
  const room = match[1] === undefined ? DEFAULT_ROOM : match[1];
  const action = (match[3] ?? 'open') as DoorRoute['action'];
  return { room: roomName(room), action, session: match[2] ?? null };
}

const METHODS: Record<DoorRoute['action'], string> = { open: 'POST', events: 'GET', send: 'POST', close: 'POST' };

/**
 * The HTTP side of the door: routes requests to sessions, applies the
 * Origin policy and the limits, and writes the answers. The Host and HTTP
 * version checks, and the security headers, are http.ts's, which calls
 * `handle` first for every request inside the base path.
 */
export class HttpDoor {
  readonly #hub: Hub;
  readonly #originAllowed: HttpDoorOptions['originAllowed'];
  readonly #sessions = new Map<string, HttpDoorSession>();
  readonly #host: SessionHost;
  readonly #maxBody: number;
  readonly #maxLines: number;
  readonly #maxSessions: number;
  readonly #clientOf: HttpDoorOptions['clientOf'];
  #closed = false;

  /** @throws RangeError when a timing or limit is not a positive number. */
  constructor(options: HttpDoorOptions) {
    this.#hub = options.hub;
    this.#originAllowed = options.originAllowed;
    this.#maxBody = positive('maxBodyBytes', options.maxBodyBytes ?? DEFAULT_MAX_BODY);
    this.#maxLines = positive('maxLines', options.maxLines ?? DEFAULT_MAX_LINES);
    this.#maxSessions = positive('maxSessions', options.maxSessions ?? DEFAULT_MAX_SESSIONS);
    this.#clientOf = options.clientOf;
    this.#host = {
      clock: options.clock ?? systemClock,
      log: options.log ?? (() => undefined),
      pollMs: positive('pollMs', options.pollMs ?? DEFAULT_POLL_MS),
      livenessMs: positive('livenessMs', options.livenessMs ?? DEFAULT_LIVENESS_MS),
      joinTimeoutMs: positive('joinTimeoutMs', options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS),
      highWaterMark: positive('highWaterMark', options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK),
      forget: (session) => {
        if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
      },
    };
  }

  /** Sessions open or lingering (closed, keeping their close for the client's next poll). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** A session by id (tests). */
  session(id: string): HttpDoorSession | undefined {
    return this.#sessions.get(id);
  }

  /**
   * Serves `req` if `pathname` (inside the base path, decoded) is one of the
   * door's; returns false, having touched nothing, otherwise. Never throws.
   */
  handle(req: IncomingMessage, res: ServerResponse, pathname: string, url: URL): boolean {
    const route = doorRoute(pathname);
    if (route === null) return false;
    try {
      this.#serve(req, res, route, url);
    } catch (error) {
      this.#host.log('error', 'http door request failed', { error: String(error) });
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    }
    return true;
  }

  /** Server shutdown: every held poll is answered (1001, from the hub's close) and every session forgotten. */
  close(): void {
    this.#closed = true;
    for (const session of [...this.#sessions.values()]) session.shutdown();
    this.#sessions.clear();
  }

  #serve(req: IncomingMessage, res: ServerResponse, route: DoorRoute, url: URL): void {
    res.setHeader('Cache-Control', 'no-store');
    if (route.room === null) {
      drain(req);
      sendJson(res, 404, { error: ROOM_NAME_RULE });
      return;
    }
    const origin = req.headers.origin;
    // The same policy as the WebSocket handshake (server.ts): a page of another
    // site must not chat in its visitor's name.
    if (!this.#originAllowed(origin, req.headers.host ?? '')) {
      drain(req);
      sendJson(res, 403, { error: `Origin ${origin} is not allowed (see --allowed-origin)` });
      return;
    }
    if (origin !== undefined) {
      // Allowed origins other than our own fetch across origins (CORS, WHATWG
      // Fetch §3.2); for our own page these headers change nothing.
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Vary', 'Origin');
    }
    const method = req.method ?? 'GET';
    const allowed = METHODS[route.action];
    if (method === 'OPTIONS') {
      drain(req);
      res.writeHead(204, {
        'Access-Control-Allow-Methods': allowed,
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (method !== allowed) {
      drain(req);
      res.setHeader('Allow', `${allowed}, OPTIONS`);
      sendJson(res, 405, { error: `use ${allowed} here` });
      return;
    }
    if (this.#closed) {
      drain(req);
      sendJson(res, 503, { error: 'the server is shutting down' }, { 'Retry-After': '5' });
      return;
    }
    if (route.action === 'open') {
      this.#open(req, res, route.room);
      return;
    }
    const session = route.session === null ? undefined : this.#sessions.get(route.session);
    if (session === undefined || session.room !== route.room) {
      drain(req);
      sendJson(res, 404, { error: 'no such session: it expired or was closed; open a new one' });
      return;
    }
    switch (route.action) {
      case 'events':
        this.#poll(req, res, session, url);
        return;
      case 'send':
        this.#send(req, res, session).catch((error: unknown) => {
          this.#host.log('error', 'http door send failed', { error: String(error) });
          if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
        });
        return;
      case 'close':
        drain(req);
        session.clientClosed();
        res.writeHead(204);
        res.end();
        return;
    }
  }

  #open(req: IncomingMessage, res: ServerResponse, room: string): void {
    drain(req);
    if (this.#sessions.size >= this.#maxSessions) {
      this.#host.log('warn', 'http door full', { sessions: this.#sessions.size });
      sendJson(res, 503, { error: 'too many HTTP sessions on this server; try again later' }, { 'Retry-After': '10' });
      return;
    }
    // A session counts as a connection of its address, as a WebSocket does
    // (RFC 6585 §4: 429 with Retry-After when over the limit).
    const client = this.#clientOf?.(req);
    if (client !== undefined) {
      const verdict = this.#hub.limits.handshake(client.key);
      if (!verdict.ok) {
        sendJson(res, 429, { error: verdict.message }, { 'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) });
        return;
      }
    }
    let id = newSessionId();
    while (this.#sessions.has(id)) id = newSessionId();
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? 0}`;
    const counted = client === undefined ? undefined : { key: client.key, release: this.#hub.limits.opened(client.key) };
    const session = new HttpDoorSession(id, room, remote, this.#host, counted);
    this.#sessions.set(id, session);
    const member = this.#hub.connect(session, { room });
    session.attach(member);
    if (member.closed) {
      session.shutdown();
      sendJson(res, 503, { error: 'the server is shutting down' }, { 'Retry-After': '5' });
      return;
    }
    sendJson(res, 201, {
      protocol: PROTOCOL,
      session: id,
      pollMs: this.#host.pollMs,
      maxBody: this.#maxBody,
      maxLines: this.#maxLines,
    });
  }

  #poll(req: IncomingMessage, res: ServerResponse, session: HttpDoorSession, url: URL): void {
    drain(req);
    const raw = url.searchParams.get('after');
    const after = raw !== null && /^\d{1,15}$/.test(raw) ? Number(raw) : null;
    if (after === null) {
      sendJson(res, 400, { error: 'after must be the number of the last event received (0 at first)' });
      return;
    }
    let done = false;
    const respond: PollResponder = (answer) => {
      if (done) return;
      done = true;
      if (res.destroyed || res.writableEnded) return;
      sendRaw(res, 200, pollBody(answer));
    };
    const refused = session.poll(after, respond);
    if (refused !== null) {
      done = true;
      const error = refused === 'ahead' ? `after=${after} is past the last event sent` : `events up to after=${after} were already confirmed`;
      sendJson(res, 409, { error });
      return;
    }
    if (!done) {
      res.on('close', () => {
        if (done) return;
        done = true;
        session.cancelPoll(respond);
      });
    }
  }

  async #send(req: IncomingMessage, res: ServerResponse, session: HttpDoorSession): Promise<void> {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxBody) {
      tooLarge(res, req, this.#maxBody);
      return;
    }
    const body = await readBody(req, this.#maxBody);
    if (body === 'aborted') return;
    if (body === 'too-large') {
      tooLarge(res, req, this.#maxBody);
      return;
    }
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      sendJson(res, 400, { error: 'the body is not UTF-8' });
      return;
    }
    // One client message per line; a JSON text never contains a raw line feed.
    const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line)).filter((line) => line.trim() !== '');
    if (lines.length > this.#maxLines) {
      sendJson(res, 413, { error: `at most ${this.#maxLines} messages in one request` });
      return;
    }
    session.receive(lines);
    res.writeHead(204);
    res.end();
  }
}

/** 24 random bytes, base64url: 192 bits nobody can guess. */
function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

/** `{"next":N,"events":[...]}` with the events' JSON as encoded once for every member. */
export function pollBody(answer: PollAnswer): string {
  const close = answer.close === null ? '' : `,"close":${JSON.stringify(answer.close)}`;
  return `{"next":${answer.next},"events":[${answer.events.join(',')}]${close}}`;
}

function sendRaw(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  sendRaw(res, status, JSON.stringify(value), headers);
}

/** Reads the request body into memory, up to `limit` bytes. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Buffer | 'too-large' | 'aborted') => {
      if (settled) return;
      settled = true;
      resolve(value);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        req.pause();
        settle('too-large');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle(Buffer.concat(chunks, size)));
    req.on('error', () => settle('aborted'));
    req.on('close', () => settle('aborted'));
  });
}

/** 413, then the connection is closed: the rest of the body is not read. */
function tooLarge(res: ServerResponse, req: IncomingMessage, limit: number): void {
  res.setHeader('Connection', 'close');
  sendJson(res, 413, { error: `the body is over ${limit} bytes` });
  res.on('finish', () => req.socket.destroy());
}

/** Discards a body the route does not read, so that the connection can be reused. */
function drain(req: IncomingMessage): void {
  req.resume();
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a positive number`);
  return value;
}
