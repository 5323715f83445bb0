/**
 * A `wschat.v1` chat session, shared by the browser client (web/) and the
 * terminal client: it joins a room, keeps the member's place across lost
 * connections and turns the wire protocol into typed events for a UI.
 *
 * It touches no DOM and no node: module. The socket comes from a factory
 * (./socket.ts); timers and randomness are injectable so that tests drive it
 * deterministically.
 *
 * Recovery rules (issue 3, "Recovery"):
 * - Every (re)connect sends `join` with the nickname, the resume token of the
 *   last `welcome` and the last sequence number delivered, so the welcome
 *   carries exactly what was missed and gives the nickname back.
 * - Entries are delivered in sequence order, each once: anything at or below
 *   the last delivered seq is dropped. When the welcome says `more`, the rest
 *   is paged in with `history` requests up to the welcome's `lastSeq`, and
 *   live entries that arrive meanwhile wait in a buffer behind the pages.
 * - A lost connection is retried after a full-jitter exponential backoff
 *   capped at 30 s (./backoff.ts); the attempt count restarts at each welcome.
 * - Messages sent while offline wait in an outbox with their client ids and
 *   are sent after the next welcome; an entry leaves the outbox only on its
 *   `ack` or a final `error` naming its id. Resends keep the id; the server
 *   stores a message once per id.
 *
 * Pacing (docs/protocol.md, "Pacing"): whatever is queued, pasted or piped,
 * the session never gets itself closed for flooding and never reorders lines.
 * - Requests are paced by a token bucket mirroring the welcome's `rateLimit`
 *   with a reserve (PACING_BURST_RESERVE tokens, PACING_RATE_SHARE of the
 *   rate), so that requests the network bunches up still fit the server's.
 * - One outbox entry is on the wire at a time; the next goes after its ack or
 *   its final error. A refused entry can then not be overtaken by a later one.
 * - RATE_LIMITED and UNAVAILABLE with `retryAfter` keep the entry at the
 *   head of the outbox and send it again after that delay; INTERNAL is
 *   retried after a backoff, MAX_INTERNAL_RETRIES times. Every other error
 *   for an entry is final.
 *
 * Close codes (ChatCloseCode in src/chat/messages.ts):
 * - 1000 after this client sent `/quit` (or called `close()`): ended, no reconnect.
 *   1000 without a `/quit` from us is treated as a lost connection.
 * - 4001 REPLACED: the session was resumed on another connection (another tab
 *   holding the same resume token). Reconnecting would steal it back and
 *   ping-pong forever: ended.
 * - 1008 policy: kicked or banned (a `removed` event says which, by whom,
 *   and until when), or closed for flooding. Coming straight back would
 *   defeat the point: ended (`kicked`, `banned` or `policy`; a UI may offer
 *   a manual rejoin, never after a ban).
 *
 * Joins the room refuses for good (BANNED, LOCKED, INVITE_INVALID) end the
 * session (`refused`); a room that needs a password asks for it
 * (`passwordRequired`, then `setPassword`).
 * - Anything else (1001 server restart, 1006 network, 1011, ...): reconnect.
 */
import type {
  AckEvent,
  AdvertisedRateLimit,
  ChatCloseCode,
  DeleteMessage,
  EditMessage,
  EntryEvent,
  ErrorCode,
  HistoryEvent,
  HistoryRequest,
  InviteEvent,
  JoinMessage,
  MemberInfo,
  PROTOCOL,
  RemovedEvent,
  Role,
  SendMessage,
  ServerEvent,
  TypingMessage,
  WelcomeEvent,
} from '../chat/messages.js';
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import { Emitter } from './emitter.js';
import { randomId } from './random.js';
import type { ConnectFailure, SocketFactory, SocketLike } from './socket.js';

// Values mirrored from src/chat/messages.ts, which this file may only import
// types from (it is bundled for the browser); the annotations make the
// compiler check that they still agree.
const SUBPROTOCOL: typeof PROTOCOL = 'wschat.v1';
const CLOSE_NORMAL: (typeof ChatCloseCode)['NORMAL'] = 1000;
const CLOSE_POLICY: (typeof ChatCloseCode)['POLICY_VIOLATION'] = 1008;
const CLOSE_REPLACED: (typeof ChatCloseCode)['REPLACED'] = 4001;

/** `offline` covers both "waiting to retry" and "ended". */
export type ConnectionState = 'connecting' | 'online' | 'offline';

/** Why a session stopped for good. */
export type EndReason =
  /** This client sent `/quit`. */
  | 'quit'
  /** `close()` was called. */
  | 'closed'
  /** Close code 4001: the session continues on another connection. */
  | 'replaced'
  /** Close code 1008 without a `removed` event: flooding. */
  | 'policy'
  /** Removed from the room by an operator, an owner or the console (the text says by whom). */
  | 'kicked'
  /** Banned from the room: joining again will not work until the ban ends or is lifted. */
  | 'banned'
  /** The server refused the room name (ROOM_INVALID). */
  | 'room-invalid'
  /** A connection attempt failed in a way retrying cannot fix (HTTP 4xx, untrusted certificate...). */
  | 'refused'
  /** The room refused the join for good: banned, locked, or an invite that no longer works (the text says which). */
  | 'denied';

export interface StateDetail {
  /** Reconnection attempts since the last welcome. */
  attempt: number;
  /** `offline` with a retry scheduled: the delay, ms. */
  retryInMs?: number;
  /** `offline` after a close: the close code and reason received (or why the attempt failed). */
  code?: number;
  reason?: string;
}

/**
 * An `error` event from the server (or one the session made up, with code
 * INTERNAL). `message` is the server's, as a sentence: capitalised and
 * ending with a full stop (see `asSentence`).
 */
export interface SessionError {
  code: ErrorCode;
  message: string;
  id?: string;
  /** RATE_LIMITED: when the server said the request may come again, ms. */
  retryAfter?: number;
}

/** What the user typed, as the session sees it; `edit` and `delete` of an own entry (`edit()`, `deleteEntry()`). */
export type OutboxKind = 'message' | 'action' | 'command' | 'edit' | 'delete';

/** One of this client's own sends, from `send()` until its ack. */
export interface OutboxItem {
  /** Client message id: the same on every resend. */
  readonly id: string;
  /** What was typed; an edit's new text; empty for a delete. */
  readonly text: string;
  /** `action` for `/me ...`, `command` for any other `/...` except `//`, else `message`; `edit`, `delete`. */
  readonly kind: OutboxKind;
  /** A reply (`message`, `action`): the seq it answers. */
  readonly replyTo?: number;
  /** `edit`, `delete`: the seq of the entry. */
  readonly target?: number;
  /** `queued`: waiting for a connection or its turn; `sent`: on the wire, awaiting its ack. */
  status: 'queued' | 'sent';
}

/** How often `typing()` tells the server while the user keeps typing, ms. */
export const TYPING_INTERVAL_MS = 3000;
/** Never more often than this, even right after a line was sent (the server takes a burst of 3, then 1 a second). */
export const TYPING_MIN_GAP_MS = 1000;

/** The parts of a welcome a UI shows. */
export interface WelcomeInfo {
  room: string;
  nick: string;
  resumeToken: string;
  resumed: boolean;
  reset: boolean;
  maxMessage: number;
  /** The server's request budget the session paces itself by (assumed when the server did not say). */
  rateLimit: AdvertisedRateLimit;
  /** The room's topic, null when none. */
  topic: string | null;
  /** Our standing in the room. */
  role: Role;
  /** We created the room: its owner key (keep it to be the owner again). */
  ownerKey?: string;
  /** The room's numbering (seqs of another epoch mean other entries). */
  epoch: string;
}

export type SessionEvents = {
  /** The connection state changed. */
  state: [state: ConnectionState, detail: StateDetail];
  /** Joined (first time or again); `entry` events for the history follow. */
  welcome: [welcome: WelcomeInfo];
  /** The room lost its history (the server restarted without its data): clear what is shown. */
  reset: [];
  /** A room entry, in sequence order, never twice. */
  entry: [entry: EntryEvent];
  /** Every entry missed while away has been delivered; live entries follow. */
  caughtUp: [lastSeq: number];
  members: [members: MemberInfo[]];
  /** Our own nickname changed (`/nick`, or the server normalised the one asked for). */
  nick: [nick: string, from: string];
  /** Output of a command. `id` is the client id of the command when the server says. */
  info: [text: string, id: string | undefined];
  /** An error that is not about a nickname on join nor about an outbox entry. */
  error: [error: SessionError];
  /** The join was refused for the nickname (NICK_TAKEN, NICK_INVALID): call `setNick`. */
  nickRequired: [error: SessionError];
  /** The room needs a password (PASSWORD_REQUIRED, PASSWORD_WRONG): call `setPassword`. */
  passwordRequired: [error: SessionError];
  /** Our role changed; `ownerKey` when we proved the room's owner key (`/op KEY`). */
  role: [role: Role, ownerKey: string | undefined];
  /** An invite we asked for (`/invite`). */
  invite: [invite: InviteEvent];
  /** Someone else is typing (a hint: show it for a few seconds, or until their line comes). */
  typing: [nick: string, trip: string | undefined];
  /** We were kicked or banned; the session ends (`kicked`, `banned`) when the connection closes. */
  removed: [removed: RemovedEvent];
  /** `send()` accepted an item into the outbox. */
  pending: [item: OutboxItem];
  /** The server acknowledged an item; `seq` when it stored an entry. */
  acked: [item: OutboxItem, seq: number | undefined];
  /** The server refused an item (too long, rate limited, unknown command...). */
  failed: [item: OutboxItem, error: SessionError];
  /** The session stopped for good; nothing more will happen. */
  ended: [reason: EndReason, code: number | undefined, text: string, failure: ConnectFailure | undefined];
};

/** setTimeout/clearTimeout and a clock, injectable for tests. Handles are opaque. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Milliseconds on a monotonic clock (for pacing). */
  now(): number;
}

const platformTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  now: () => performance.now(),
};

export interface SessionOptions {
  /** The room's WebSocket URL, e.g. `wss://chat.example/r/team`. */
  url: string;
  /** The nickname to join with. */
  nick: string;
  socketFactory: SocketFactory;
  /** A resume token saved from an earlier welcome (e.g. before a page reload). */
  resumeToken?: string;
  /** The last seq already shown, when resuming a view that survived (rare; usually omitted). */
  lastSeq?: number;
  /** The room's password, sent with every join. */
  password?: string;
  /** An invite code (from an invite link), sent with joins until one succeeds. */
  invite?: string;
  /** The room's owner key, sent with every join. */
  ownerKey?: string;
  /** Default 0.5 s doubling up to 30 s. */
  backoff?: BackoffOptions;
  /** Time allowed from opening a socket to its welcome before trying again, ms (default 15000). */
  joinTimeoutMs?: number;
  /** `limit` of history page requests; the server's default when omitted. */
  historyPageSize?: number;
  timers?: Timers;
  /** [0, 1), for jitter. Default Math.random (jitter needs no CSPRNG). */
  random?: () => number;
  /** Client message ids. Default: 16 characters from globalThis.crypto. */
  newId?: () => string;
  /** Errors thrown by event listeners; default: rethrown from a microtask. */
  onListenerError?: (error: unknown) => void;
}

const NICK_ERRORS: ReadonlySet<string> = new Set<ErrorCode>(['NICK_TAKEN', 'NICK_INVALID']);
const PASSWORD_ERRORS: ReadonlySet<string> = new Set<ErrorCode>(['PASSWORD_REQUIRED', 'PASSWORD_WRONG']);
/** Join refusals that trying again will not change. */
const FINAL_ERRORS: ReadonlySet<string> = new Set<ErrorCode>(['BANNED', 'LOCKED', 'INVITE_INVALID']);

/** What a server that does not advertise its `rateLimit` is assumed to allow (the server's defaults). */
export const ASSUMED_RATE_LIMIT: Readonly<AdvertisedRateLimit> = { burst: 20, perSecond: 5 };
/** Tokens of the server's burst kept in reserve for requests the network bunches up. */
export const PACING_BURST_RESERVE = 2;
/** The share of the server's rate the session uses. */
export const PACING_RATE_SHARE = 0.9;
/** Resends of an entry the server failed to store (INTERNAL) before it counts as failed. */
export const MAX_INTERNAL_RETRIES = 5;

/** `/quit`, in any case, alone or with arguments. */
const QUIT_COMMAND = /^\/quit(?:\s|$)/i;
const ACTION_COMMAND = /^\/me(?:\s|$)/i;

/** Classifies what the user typed the way the server will (`//` sends a literal `/`). */
export function outboxKind(text: string): OutboxKind {
  if (!text.startsWith('/') || text.startsWith('//')) return 'message';
  return ACTION_COMMAND.test(text) ? 'action' : 'command';
}

interface CatchUp {
  /** The welcome's lastSeq: page until delivered up to here. */
  target: number;
  /** The id of the page request on the wire; '' while the next one waits for its turn. */
  requestId: string;
  /** Live entries received while paging, delivered after the pages. */
  buffer: EntryEvent[];
}

/**
 * Server errors read as sentences: "the nickname bob is taken" becomes "The
 * nickname bob is taken." Text already ending in punctuation keeps it.
 */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const first = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…:)]$/.test(first) ? first : `${first}.`;
}

/**
 * One member's session in one room. Create it, add listeners, call `start()`.
 * Methods never throw except where noted.
 */
export class ChatSession extends Emitter<SessionEvents> {
  private readonly url: string;
  private readonly factory: SocketFactory;
  private readonly backoff: BackoffOptions;
  private readonly joinTimeoutMs: number;
  private readonly pageSize: number | undefined;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly newId: () => string;

  private _state: ConnectionState = 'offline';
  private _nick: string;
  private _room: string | undefined;
  private _resumeToken: string | undefined;
  private _lastSeq: number | undefined;
  /** The room epoch of `_lastSeq` (from the last welcome). */
  private _epoch: string | undefined;
  private _members: MemberInfo[] = [];
  private _maxMessage: number | undefined;
  private _ended: EndReason | undefined;
  private readonly _outbox = new Map<string, OutboxItem>();
  private _role: Role = 'user';
  private _topic: string | null = null;
  private password: string | undefined;
  private invite: string | undefined;
  private ownerKey: string | undefined;
  /** A `removed` event came: the close that follows ends the session with its reason. */
  private removed: RemovedEvent | null = null;

  private started = false;
  private socket: SocketLike | null = null;
  /** The current socket's opening handshake is done. */
  private opened = false;
  /** The current socket has received its welcome. */
  private joined = false;
  /** A join was refused for its nickname, or for its password; waiting for `setNick` / `setPassword`. */
  private awaitingNick = false;
  /** `/quit` was sent: the close that follows ends the session. */
  private quitting = false;
  private catchUp: CatchUp | null = null;
  private attempt = 0;
  private retryTimer: unknown = null;
  private joinTimer: unknown = null;

  // Pacing (see the module comment).
  private budget: AdvertisedRateLimit = ASSUMED_RATE_LIMIT;
  private tokens = 0;
  private tokensAt = 0;
  /** Nothing is sent before this time (after RATE_LIMITED or INTERNAL). */
  private holdUntil = 0;
  /** The outbox entry on the wire, awaiting its answer. */
  private inFlight: string | null = null;
  private pumpTimer: unknown = null;
  /** INTERNAL answers so far, by outbox id. */
  private readonly internalFailures = new Map<string, number>();
  /** When `typing` last went out (timers.now()), or null. */
  private typingSentAt: number | null = null;
  /** A line went out since: the others stopped showing us typing, so the next `typing` need not wait the full interval. */
  private typingRearmed = false;
  /** A `typing` held back by TYPING_MIN_GAP_MS, sent when the gap is over. */
  private typingTimer: unknown = null;

  /** @throws TypeError when `url`, `nick` or `socketFactory` is missing. */
  constructor(options: SessionOptions) {
    super(options.onListenerError);
    if (typeof options.url !== 'string' || options.url === '') throw new TypeError('url is required');
    if (typeof options.nick !== 'string') throw new TypeError('nick is required');
    if (typeof options.socketFactory !== 'function') throw new TypeError('socketFactory is required');
    this.url = options.url;
    this._nick = options.nick;
    this.factory = options.socketFactory;
    this._resumeToken = options.resumeToken;
    this._lastSeq = options.lastSeq;
    this.password = options.password;
    this.invite = options.invite;
    this.ownerKey = options.ownerKey;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.joinTimeoutMs = options.joinTimeoutMs ?? 15_000;
    this.pageSize = options.historyPageSize;
    this.timers = options.timers ?? platformTimers;
    this.random = options.random ?? Math.random;
    this.newId = options.newId ?? (() => randomId(16));
  }

  // ---- what a UI reads ----

  get state(): ConnectionState {
    return this._state;
  }
  /** The nickname we hold (or will ask for on the next join). */
  get nick(): string {
    return this._nick;
  }
  /** The room name from the last welcome. */
  get room(): string | undefined {
    return this._room;
  }
  get resumeToken(): string | undefined {
    return this._resumeToken;
  }
  /** The highest seq delivered through `entry` (or given in the options). */
  get lastSeq(): number | undefined {
    return this._lastSeq;
  }
  get members(): readonly MemberInfo[] {
    return this._members;
  }
  /** The longest message the server accepts, from the welcome. */
  get maxMessage(): number | undefined {
    return this._maxMessage;
  }
  /** Why the session ended, or undefined while it lives. */
  get ended(): EndReason | undefined {
    return this._ended;
  }
  /** Own sends awaiting their ack, oldest first. */
  get outbox(): readonly OutboxItem[] {
    return [...this._outbox.values()];
  }
  /** A join was refused for its nickname (or its password) and `setNick` (`setPassword`) has not been called yet. */
  get needsNick(): boolean {
    return this.awaitingNick;
  }
  /** `/quit` was sent or queued, or `leave()` called: `send()` would throw. */
  get leaving(): boolean {
    return this.quitting || this._ended !== undefined;
  }
  /** Our standing in the room (from the welcome and `role` events). */
  get role(): Role {
    return this._role;
  }
  /** The room's topic (from the welcome and topic notices). */
  get topic(): string | null {
    return this._topic;
  }

  // ---- what a UI does ----

  /** Connects (once; later calls do nothing). */
  start(): void {
    if (this.started || this._ended) return;
    this.started = true;
    this.connect();
  }

  /**
   * Sends a chat line or a command, or queues it while offline. `/quit` ends
   * the session (at once when offline).
   * @throws Error when the session has ended or is quitting.
   */
  send(text: string, options: { replyTo?: number } = {}): OutboxItem {
    if (this._ended || this.quitting) throw new Error('the session has ended');
    const kind = outboxKind(text);
    // Only lines and actions answer something; a reply to a command means nothing.
    const reply = options.replyTo !== undefined && kind !== 'command' ? { replyTo: options.replyTo } : {};
    const item: OutboxItem = { id: this.newId(), text, kind, ...reply, status: 'queued' };
    // The others stop showing us typing when our line comes: the next keystroke may say so again soon.
    if (kind !== 'command') {
      this.typingRearmed = true;
      this.clearTypingTimer();
    }
    if (QUIT_COMMAND.test(text)) {
      this.quitting = true;
      if (!this.joined && this._outbox.size === 0) {
        // Nothing to leave and nothing to deliver first: the server drops our
        // nickname when its grace period ends. (With lines still queued, the
        // /quit waits behind them for the next welcome.)
        this.end('quit', undefined, '');
        return item;
      }
    }
    this._outbox.set(item.id, item);
    this.emit('pending', item);
    this.pump();
    return item;
  }

  /**
   * Changes the text of an own message or action (the server allows it for
   * 15 minutes): queued and paced like a line, answered by `acked` (the
   * room then sends an `edit` entry) or `failed`.
   * @throws Error when the session has ended or is quitting.
   */
  edit(seq: number, text: string): OutboxItem {
    return this.enqueue({ id: this.newId(), text, kind: 'edit', target: seq, status: 'queued' });
  }

  /**
   * Deletes an own message or action (15 minutes), or any message for an
   * operator: the room then sends a `delete` notice for the tombstone.
   * @throws Error when the session has ended or is quitting.
   */
  deleteEntry(seq: number): OutboxItem {
    return this.enqueue({ id: this.newId(), text: '', kind: 'delete', target: seq, status: 'queued' });
  }

  private enqueue(item: OutboxItem): OutboxItem {
    if (this._ended || this.quitting) throw new Error('the session has ended');
    this._outbox.set(item.id, item);
    this.emit('pending', item);
    this.pump();
    return item;
  }

  /**
   * Says we are typing: sent at most every TYPING_INTERVAL_MS, or
   * TYPING_MIN_GAP_MS after a line was sent, and only while online (a
   * hint; nothing is queued). Call it on every keystroke.
   */
  typing(): void {
    if (!this.joined || !this.socket || this.quitting || this._ended) return;
    const now = this.timers.now();
    if (this.typingSentAt !== null) {
      const since = now - this.typingSentAt;
      if (this.typingRearmed && since < TYPING_MIN_GAP_MS) {
        // Typing again right after a line: say so as soon as the gap allows.
        this.typingTimer ??= this.timers.setTimeout(() => {
          this.typingTimer = null;
          this.typing();
        }, TYPING_MIN_GAP_MS - since);
        return;
      }
      if (since < TYPING_INTERVAL_MS && !this.typingRearmed) return;
    }
    this.clearTypingTimer();
    this.typingSentAt = now;
    this.typingRearmed = false;
    const message: TypingMessage = { type: 'typing' };
    this.socket.send(JSON.stringify(message));
  }

  private clearTypingTimer(): void {
    if (this.typingTimer !== null) this.timers.clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }

  /**
   * A page unloading (a reload or a closed tab, which it cannot tell apart):
   * asks the server to keep the seat for a few seconds when the connection
   * closes, unseen. A reload resumes it with the resume token; a closed tab
   * leaves when the hold ends. The session itself goes on.
   */
  hold(): void {
    if (!this.joined || !this.socket || this._ended) return;
    this.socket.send(JSON.stringify({ type: 'hold' }));
  }

  /**
   * Leaves the room now (Ctrl-C, a closing browser tab): `/quit` goes out at
   * once, ahead of anything still queued, which is not sent. The others see
   * "left" at once instead of "away" for the grace period. When not joined,
   * ends at once. Does nothing once ended.
   */
  leave(): void {
    if (this._ended) return;
    if (!this.joined || !this.socket) {
      this.end('quit', undefined, '');
      return;
    }
    this.quitting = true;
    const quit: OutboxItem = { id: this.newId(), text: '/quit', kind: 'command', status: 'queued' };
    // The head of the outbox: if the server asks to retry it, it goes first.
    const rest = [...this._outbox.values()];
    this._outbox.clear();
    const flying = this.inFlight === null ? undefined : rest.find((i) => i.id === this.inFlight);
    for (const item of [...(flying ? [flying] : []), quit, ...rest.filter((i) => i !== flying)]) this._outbox.set(item.id, item);
    this.emit('pending', quit);
    // No token needed: the reserve kept from the server's burst covers it.
    this.transmit(quit);
  }

  /**
   * After `nickRequired`: joins again with another nickname. Before `start()`
   * it just sets the nickname to join with. Once joined, use `send('/nick X')`.
   */
  setNick(nick: string): void {
    if (this._ended || this.joined) return;
    this._nick = nick;
    if (!this.awaitingNick) return;
    this.awaitingNick = false;
    if (this.socket && this.opened) {
      this.sendJoin();
      this.armJoinTimer(this.socket);
    } else if (!this.socket) {
      this.connect();
    }
  }

  /** After `passwordRequired`: joins again with this password (sent with every later join too), and `nick`. */
  setPassword(password: string, nick: string = this._nick): void {
    this.password = password;
    this.setNick(nick);
  }

  /** While waiting to reconnect: reconnect now (e.g. the browser says it is online again). */
  retryNow(): void {
    if (this._ended || !this.started || this.awaitingNick || this.retryTimer === null) return;
    this.connect();
  }

  /**
   * Ends the session: closes the connection with 1000, never reconnects.
   * Queued sends are dropped. The server holds the nickname for its grace
   * period ("away"); `leave()` leaves for good.
   */
  close(): void {
    if (this._ended) return;
    this.end('closed', undefined, '');
  }

  // ---- connection lifecycle ----

  private connect(): void {
    this.clearRetry();
    this.opened = false;
    this.joined = false;
    this.catchUp = null;
    this.setState('connecting', {});
    let socket: SocketLike;
    try {
      socket = this.factory(this.url, SUBPROTOCOL);
    } catch (error) {
      this.emit('error', { code: 'INTERNAL', message: `cannot connect: ${describe(error)}` });
      this.scheduleRetry(undefined, '');
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      this.opened = true;
      if (!this.awaitingNick) this.sendJoin();
    };
    socket.onmessage = (text) => {
      if (this.socket === socket) this.receive(text);
    };
    socket.onclose = (code, reason, failure) => {
      if (this.socket === socket) this.lost(code, reason, failure);
    };
    this.armJoinTimer(socket);
  }

  private sendJoin(): void {
    const join: JoinMessage = { type: 'join', nick: this._nick };
    if (this._resumeToken !== undefined) join.resumeToken = this._resumeToken;
    if (this._lastSeq !== undefined) {
      join.lastSeq = this._lastSeq;
      // The numbering our lastSeq belongs to: if the room's started over, the welcome says reset.
      if (this._epoch !== undefined) join.epoch = this._epoch;
    }
    if (this.password !== undefined) join.password = this.password;
    if (this.invite !== undefined) join.invite = this.invite;
    if (this.ownerKey !== undefined) join.ownerKey = this.ownerKey;
    this.socket?.send(JSON.stringify(join));
  }

  private armJoinTimer(socket: SocketLike): void {
    this.clearJoinTimer();
    this.joinTimer = this.timers.setTimeout(() => {
      this.joinTimer = null;
      if (this.socket !== socket || this.joined || this.awaitingNick) return;
      // A socket that neither opens nor closes (a mobile network that went
      // away mid-handshake) would otherwise hold the session forever.
      this.dropSocket();
      this.scheduleRetry(undefined, 'join timed out');
    }, this.joinTimeoutMs);
  }

  /** The current socket closed (or failed to open). */
  private lost(code: number, reason: string, failure?: ConnectFailure): void {
    this.socket = null;
    this.opened = false;
    this.joined = false;
    this.catchUp = null;
    this.clearJoinTimer();
    this.stopPacing();
    const quitSent = this.quitting && this.sentQuit();
    for (const item of this._outbox.values()) item.status = 'queued';
    if (failure?.permanent) this.end('refused', code, failure.message, failure);
    else if (quitSent) this.end('quit', code, reason);
    else if (code === CLOSE_REPLACED) this.end('replaced', code, reason);
    else if (code === CLOSE_POLICY && this.removed !== null) this.end(this.removed.reason, code, this.removed.text);
    else if (code === CLOSE_POLICY) this.end('policy', code, reason);
    else if (this.awaitingNick) {
      // Connect again once the user has picked a nickname (setNick).
      this.setState('offline', { code, reason });
    } else {
      this.scheduleRetry(code, failure?.message ?? reason);
    }
  }

  /** A `/quit` went out on the connection (as opposed to one still queued behind other lines). */
  private sentQuit(): boolean {
    for (const item of this._outbox.values()) if (item.status === 'sent' && QUIT_COMMAND.test(item.text)) return true;
    // An acknowledged /quit has left the outbox.
    return ![...this._outbox.values()].some((item) => QUIT_COMMAND.test(item.text));
  }

  private scheduleRetry(code: number | undefined, reason: string): void {
    const delay = backoffDelay(this.attempt, this.backoff, this.random);
    this.attempt++;
    this.clearRetry();
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, delay);
    const detail: Omit<StateDetail, 'attempt'> = { retryInMs: delay, reason };
    if (code !== undefined) detail.code = code;
    this.setState('offline', detail);
  }

  /** Closes and forgets the current socket without waiting for its close event. */
  private dropSocket(): void {
    const socket = this.socket;
    this.socket = null;
    this.opened = false;
    this.joined = false;
    this.catchUp = null;
    this.stopPacing();
    for (const item of this._outbox.values()) item.status = 'queued';
    if (!socket) return;
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    try {
      socket.close(CLOSE_NORMAL);
    } catch {
      // Already closed: nothing to do.
    }
  }

  private end(reason: EndReason, code: number | undefined, text: string, failure?: ConnectFailure): void {
    if (this._ended) return;
    this._ended = reason;
    this.clearRetry();
    this.clearTypingTimer();
    this.clearJoinTimer();
    this.dropSocket();
    this.awaitingNick = false;
    const detail: Omit<StateDetail, 'attempt'> = { reason: text };
    if (code !== undefined) detail.code = code;
    this.setState('offline', detail);
    this.emit('ended', reason, code, text, failure);
  }

  private setState(state: ConnectionState, detail: Omit<StateDetail, 'attempt'>): void {
    this._state = state;
    this.emit('state', state, { attempt: this.attempt, ...detail });
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearJoinTimer(): void {
    if (this.joinTimer !== null) this.timers.clearTimeout(this.joinTimer);
    this.joinTimer = null;
  }

  // ---- server events ----

  private receive(text: string): void {
    const event = parseServerEvent(text);
    if (!event) return; // Not ours to fail on: a newer server may send types we do not know.
    switch (event.type) {
      case 'welcome':
        this.onWelcome(event);
        break;
      case 'message':
      case 'action':
      case 'notice':
      case 'admin':
      case 'deleted':
      case 'edit':
        if (!this.joined) break;
        if (this.catchUp) this.catchUp.buffer.push(event);
        else this.deliver(event);
        break;
      case 'role':
        this._role = event.role;
        if (event.ownerKey !== undefined) this.ownerKey = event.ownerKey;
        this.emit('role', event.role, event.ownerKey);
        break;
      case 'invite':
        this.emit('invite', event);
        break;
      case 'typing':
        if (this.joined) this.emit('typing', event.nick, event.trip);
        break;
      case 'removed':
        this.removed = event;
        this.emit('removed', event);
        break;
      case 'history':
        this.onHistory(event);
        break;
      case 'ack':
        this.onAck(event);
        break;
      case 'members':
        this._members = event.members;
        this.emit('members', event.members);
        break;
      case 'renamed': {
        const from = this._nick;
        this._nick = event.nick;
        this.emit('nick', event.nick, from);
        break;
      }
      case 'info':
        this.emit('info', event.text, event.id);
        break;
      case 'error': {
        const error: SessionError = { code: event.code, message: asSentence(event.message) };
        if (event.id !== undefined) error.id = event.id;
        if (typeof event.retryAfter === 'number' && Number.isFinite(event.retryAfter) && event.retryAfter >= 0) {
          // A hostile or broken server cannot park the outbox for more than a minute at a time.
          error.retryAfter = Math.min(event.retryAfter, 60_000);
        }
        this.onError(error);
        break;
      }
    }
  }

  private onWelcome(welcome: WelcomeEvent): void {
    if (this.joined) return;
    this.clearJoinTimer();
    this.joined = true;
    this.awaitingNick = false;
    this.attempt = 0;
    this._room = welcome.room;
    this._resumeToken = welcome.resumeToken;
    if (typeof welcome.epoch === 'string') this._epoch = welcome.epoch;
    this._maxMessage = welcome.maxMessage;
    this._role = welcome.role ?? 'user';
    this._topic = welcome.topic ?? null;
    if (welcome.ownerKey !== undefined) this.ownerKey = welcome.ownerKey;
    // An invite gets one person in once: it has done its work.
    this.invite = undefined;
    if (welcome.nick !== this._nick) {
      const from = this._nick;
      this._nick = welcome.nick;
      this.emit('nick', welcome.nick, from);
    }
    // Our lastSeq is ahead of the room: its history is gone. Start over. (The
    // server says so with `reset`; a room that is behind us means it too.)
    const reset = welcome.reset || (this._lastSeq !== undefined && welcome.lastSeq < this._lastSeq);
    if (reset) {
      this._lastSeq = undefined;
      this.emit('reset');
    }
    this._members = welcome.members;
    // A new connection: the server's bucket is full (the join took nothing from it).
    this.budget = validBudget(welcome.rateLimit) ?? ASSUMED_RATE_LIMIT;
    this.tokens = this.capacity();
    this.tokensAt = this.timers.now();
    this.holdUntil = 0;
    this.inFlight = null;
    this.setState('online', {});
    this.emit('welcome', {
      room: welcome.room,
      nick: welcome.nick,
      resumeToken: welcome.resumeToken,
      resumed: welcome.resumed,
      reset,
      maxMessage: welcome.maxMessage,
      rateLimit: this.budget,
      topic: this._topic,
      role: this._role,
      ...(welcome.ownerKey === undefined ? {} : { ownerKey: welcome.ownerKey }),
      epoch: this._epoch ?? '',
    });
    this.emit('members', welcome.members);
    for (const entry of welcome.history) this.deliver(entry);
    if (welcome.more && (this._lastSeq ?? 0) < welcome.lastSeq) {
      this.catchUp = { target: welcome.lastSeq, requestId: '', buffer: [] };
    } else {
      this.finishCatchUp(welcome.lastSeq);
    }
    // Page requests and our sends go out now, paced; the acks of our sends do
    // not depend on the history pages.
    this.pump();
  }

  /** Asks for the next history page (when its turn comes: see pump). */
  private requestPage(): void {
    if (!this.catchUp) return;
    this.catchUp.requestId = '';
    this.pump();
  }

  private sendPageRequest(catchUp: CatchUp): void {
    catchUp.requestId = this.newId();
    const request: HistoryRequest = { type: 'history', id: catchUp.requestId, afterSeq: this._lastSeq ?? 0 };
    if (this.pageSize !== undefined) request.limit = this.pageSize;
    this.socket?.send(JSON.stringify(request));
  }

  private onHistory(page: HistoryEvent): void {
    const catchUp = this.catchUp;
    if (!catchUp || page.id !== catchUp.requestId) return;
    const before = this._lastSeq;
    for (const entry of page.entries) this.deliver(entry);
    const progressed = this._lastSeq !== before;
    if (page.more && progressed && (this._lastSeq ?? 0) < catchUp.target) this.requestPage();
    else this.finishCatchUp(catchUp.target);
  }

  private finishCatchUp(target: number): void {
    const buffer = this.catchUp?.buffer ?? [];
    this.catchUp = null;
    // Entries up to the welcome's lastSeq were the history's to give; what is
    // still missing after the server said "no more" is gone (room retention).
    if (this._lastSeq === undefined || this._lastSeq < target) this._lastSeq = target;
    for (const entry of buffer) this.deliver(entry);
    this.emit('caughtUp', this._lastSeq);
  }

  /** Emits an entry unless it was already delivered. */
  private deliver(entry: EntryEvent): void {
    if (this._lastSeq !== undefined && entry.seq <= this._lastSeq) return;
    this._lastSeq = entry.seq;
    if (entry.type === 'notice' && entry.action === 'topic') this._topic = entry.topic ?? null;
    this.emit('entry', entry);
  }

  private onAck(ack: AckEvent): void {
    const item = this._outbox.get(ack.id);
    if (!item) return; // An ack for a resend whose first ack already came.
    this._outbox.delete(ack.id);
    this.internalFailures.delete(ack.id);
    if (this.inFlight === ack.id) this.inFlight = null;
    this.emit('acked', item, ack.seq);
    this.pump();
  }

  private onError(error: SessionError): void {
    if (error.id !== undefined) {
      const item = this._outbox.get(error.id);
      if (item) {
        if (this.inFlight === error.id) this.inFlight = null;
        const delay = this.retryDelay(error);
        if (delay !== null) {
          // Not final: the entry stays where it is, at the head of the queue.
          item.status = 'queued';
          this.holdFor(delay);
          this.pump();
          return;
        }
        this._outbox.delete(error.id);
        this.internalFailures.delete(error.id);
        if (QUIT_COMMAND.test(item.text)) this.quitting = false;
        this.emit('failed', item, error);
        this.pump();
        return;
      }
      if (this.catchUp && error.id === this.catchUp.requestId) {
        if (error.code === 'RATE_LIMITED' && error.retryAfter !== undefined) {
          this.holdFor(error.retryAfter);
          this.requestPage();
          return;
        }
        // Paging failed: reconnecting resumes from what was delivered.
        this.dropSocket();
        this.scheduleRetry(undefined, 'history request failed');
        return;
      }
    }
    if (!this.joined && this.socket) {
      // An answer to our join.
      if (NICK_ERRORS.has(error.code)) {
        this.clearJoinTimer();
        this.awaitingNick = true;
        // The token did not give the nickname back; it is of no further use.
        this._resumeToken = undefined;
        this.emit('nickRequired', error);
        return;
      }
      if (PASSWORD_ERRORS.has(error.code)) {
        this.clearJoinTimer();
        this.awaitingNick = true;
        this._resumeToken = undefined;
        this.invite = undefined;
        this.password = undefined;
        this.emit('passwordRequired', error);
        return;
      }
      if (FINAL_ERRORS.has(error.code)) {
        this.emit('error', error);
        this.end('denied', undefined, error.message);
        return;
      }
      if (error.code === 'ROOM_INVALID') {
        this.emit('error', error);
        this.end('room-invalid', undefined, error.message);
        return;
      }
      // ROOM_FULL, RATE_LIMITED, INTERNAL...: try again later.
      this.emit('error', error);
      this.dropSocket();
      this.scheduleRetry(undefined, error.message);
      return;
    }
    this.emit('error', error);
  }

  /**
   * For an error answering an outbox entry: the delay before sending it
   * again, or null when the error is final. RATE_LIMITED: the server's
   * `retryAfter` (none means the budget never refills: final). UNAVAILABLE:
   * after `retryAfter`, for as long as it lasts. INTERNAL: the server failed
   * to store it; a few resends after a backoff.
   */
  private retryDelay(error: SessionError): number | null {
    if (error.id === undefined) return null;
    if (error.code === 'RATE_LIMITED') return error.retryAfter ?? null;
    // The store is down for a moment (Redis): as long as it takes.
    if (error.code === 'UNAVAILABLE') return error.retryAfter ?? backoffDelay(this.attempt, this.backoff, this.random);
    if (error.code !== 'INTERNAL') return null;
    const failures = (this.internalFailures.get(error.id) ?? 0) + 1;
    this.internalFailures.set(error.id, failures);
    if (failures > MAX_INTERNAL_RETRIES) return null;
    return Math.max(1, backoffDelay(failures, this.backoff, this.random));
  }

  // ---- pacing ----

  /** The session's bucket: the server's burst less the reserve, at least 1. */
  private capacity(): number {
    return Math.max(1, this.budget.burst - PACING_BURST_RESERVE);
  }

  /** Nothing more goes out for `ms`, and the bucket starts again from empty, as the server's is. */
  private holdFor(ms: number): void {
    const now = this.timers.now();
    this.holdUntil = Math.max(this.holdUntil, now + ms);
    this.tokens = 0;
    this.tokensAt = now;
  }

  /** Milliseconds until a request may go out: 0 now. */
  private waitMs(): number {
    const now = this.timers.now();
    const rate = (this.budget.perSecond * PACING_RATE_SHARE) / 1000;
    this.tokens = Math.min(this.capacity(), this.tokens + Math.max(0, now - this.tokensAt) * rate);
    this.tokensAt = now;
    const held = Math.max(0, this.holdUntil - now);
    // A budget that never refills: send, and let the server's answer decide.
    if (this.tokens >= 1 || rate === 0) return held;
    return Math.max(held, Math.ceil((1 - this.tokens) / rate));
  }

  /**
   * Sends what may go out now: the next history page request, then the next
   * outbox entry if none is on the wire; sets a timer for the rest.
   */
  private pump(): void {
    if (this.pumpTimer !== null) {
      this.timers.clearTimeout(this.pumpTimer);
      this.pumpTimer = null;
    }
    while (this.joined && this.socket) {
      const page = this.catchUp !== null && this.catchUp.requestId === '' ? this.catchUp : null;
      // Nothing goes after a /quit that is out: the server closes once it is done.
      const next = page === null && this.inFlight === null && !(this.quitting && this.sentQuit()) ? this.nextQueued() : undefined;
      if (page === null && next === undefined) return;
      const wait = this.waitMs();
      if (wait > 0) {
        this.pumpTimer = this.timers.setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      this.tokens -= 1;
      if (page !== null) this.sendPageRequest(page);
      else if (next !== undefined) this.transmit(next);
    }
  }

  private nextQueued(): OutboxItem | undefined {
    for (const item of this._outbox.values()) if (item.status === 'queued') return item;
    return undefined;
  }

  private stopPacing(): void {
    if (this.pumpTimer !== null) this.timers.clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    this.inFlight = null;
  }

  private transmit(item: OutboxItem): void {
    let message: SendMessage | EditMessage | DeleteMessage;
    if (item.kind === 'edit') message = { type: 'edit', id: item.id, seq: item.target ?? 0, text: item.text };
    else if (item.kind === 'delete') message = { type: 'delete', id: item.id, seq: item.target ?? 0 };
    else message = { type: 'message', id: item.id, text: item.text, ...(item.replyTo === undefined ? {} : { replyTo: item.replyTo }) };
    this.socket?.send(JSON.stringify(message));
    item.status = 'sent';
    this.inFlight = item.id;
  }
}

/** The welcome's `rateLimit` if it is usable. */
function validBudget(value: unknown): AdvertisedRateLimit | null {
  if (typeof value !== 'object' || value === null) return null;
  const { burst, perSecond } = value as Record<string, unknown>;
  if (typeof burst !== 'number' || typeof perSecond !== 'number') return null;
  if (!(burst >= 1) || !(perSecond >= 0) || !Number.isFinite(burst) || !Number.isFinite(perSecond)) return null;
  return { burst, perSecond };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// Reading server events. The server is trusted to follow docs/protocol.md, but
// a malformed event must not break the session's bookkeeping: anything whose
// fields the session relies on are missing is ignored.

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isEntry(value: unknown): value is EntryEvent {
  if (!isRecord(value) || !isSeq(value.seq) || typeof value.ts !== 'number') return false;
  if (value.type === 'deleted') return true;
  if (typeof value.nick !== 'string' || typeof value.text !== 'string') return false;
  if (value.type === 'edit') return isSeq(value.edits);
  if ((value.type === 'message' || value.type === 'action') && !optionalReply(value)) return false;
  return value.type === 'message' || value.type === 'action' || value.type === 'notice' || value.type === 'admin';
}

/** A message's reply and edit fields, when present, are of the right types. */
function optionalReply(value: Record<string, unknown>): boolean {
  return (
    (value.replyTo === undefined || isSeq(value.replyTo)) &&
    (value.replyNick === undefined || typeof value.replyNick === 'string') &&
    (value.edited === undefined || typeof value.edited === 'number')
  );
}

const ROLES: ReadonlySet<unknown> = new Set<Role>(['user', 'operator', 'owner']);

function isMember(value: unknown): value is MemberInfo {
  return isRecord(value) && typeof value.nick === 'string' && typeof value.away === 'boolean';
}

function isList<T>(value: unknown, check: (item: unknown) => item is T): value is T[] {
  return Array.isArray(value) && value.every(check);
}

/** Parses one server event; null when it is not JSON, of an unknown type, or missing fields. */
export function parseServerEvent(text: string): ServerEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  const v = value;
  switch (v.type) {
    case 'message':
    case 'action':
    case 'notice':
    case 'admin':
    case 'edit':
      return isEntry(v) ? v : null;
    case 'typing':
      return typeof v.nick === 'string' && (v.trip === undefined || typeof v.trip === 'string') ? (v as unknown as ServerEvent) : null;
    case 'deleted':
      return isEntry(v) ? ({ type: 'deleted', seq: v.seq, ts: v.ts, nick: '', text: '' } as EntryEvent) : null;
    case 'role':
      return ROLES.has(v.role) && (v.ownerKey === undefined || typeof v.ownerKey === 'string') ? (v as unknown as ServerEvent) : null;
    case 'removed':
      return (v.reason === 'kicked' || v.reason === 'banned') && typeof v.by === 'string' && typeof v.text === 'string'
        ? (v as unknown as ServerEvent)
        : null;
    case 'invite':
      return typeof v.room === 'string' && typeof v.code === 'string' && typeof v.expiresAt === 'number' ? (v as unknown as ServerEvent) : null;
    case 'welcome':
      return typeof v.room === 'string' &&
        typeof v.nick === 'string' &&
        typeof v.resumeToken === 'string' &&
        isList(v.members, isMember) &&
        isList(v.history, isEntry) &&
        isSeq(v.lastSeq) &&
        typeof v.maxMessage === 'number'
        ? ({ ...v, resumed: v.resumed === true, reset: v.reset === true, more: v.more === true } as WelcomeEvent)
        : null;
    case 'history':
      return typeof v.id === 'string' && isList(v.entries, isEntry)
        ? ({ ...v, more: v.more === true } as HistoryEvent)
        : null;
    case 'ack':
      return typeof v.id === 'string' && (v.seq === undefined || isSeq(v.seq)) ? (v as unknown as AckEvent) : null;
    case 'members':
      return isList(v.members, isMember) ? (v as unknown as ServerEvent) : null;
    case 'renamed':
      return typeof v.nick === 'string' && typeof v.from === 'string' ? (v as unknown as ServerEvent) : null;
    case 'info':
      return typeof v.text === 'string' && (v.id === undefined || typeof v.id === 'string')
        ? (v as unknown as ServerEvent)
        : null;
    case 'error':
      return typeof v.code === 'string' && typeof v.message === 'string' && (v.id === undefined || typeof v.id === 'string')
        ? (v as unknown as ServerEvent)
        : null;
    default:
      return null;
  }
}
