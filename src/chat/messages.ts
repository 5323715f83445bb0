import { decodeDetail, describeDetail, type ModAction, type ModDetail } from './notices.js';
import type { Role, StoredEntry } from './store/store.js';

/**
 * The `wschat.v1` wire protocol: one JSON object per WebSocket text message,
 * discriminated by `type`. Documented, with examples, in docs/protocol.md.
 *
 * The server events below are also the hub's internal event model: the JSON
 * transport sends them as they are, the plain-text and TCP transports format
 * them (see `formatPlain`).
 */

/** The WebSocket subprotocol name. */
export const PROTOCOL = 'wschat.v1';

/** Close codes the chat uses (RFC 6455 §7.4.1 codes, plus two from the private range 4000-4999). */
export const ChatCloseCode = {
  /** `/quit`. */
  NORMAL: 1000,
  /** Server shutting down. */
  GOING_AWAY: 1001,
  /** Flooding, repeated malformed input, kicked or banned from the room. */
  POLICY_VIOLATION: 1008,
  /** Internal error: a transport failed to encode or send. */
  INTERNAL_ERROR: 1011,
  /** The member's session was resumed on another connection; do not reconnect. */
  REPLACED: 4001,
  /** The connection did not join a room within the server's deadline; reconnect when ready to join. */
  JOIN_TIMEOUT: 4002,
} as const;

/** Stable error codes carried by `error` events. */
export const ErrorCode = {
  BAD_JSON: 'BAD_JSON',
  BAD_MESSAGE: 'BAD_MESSAGE',
  UNKNOWN_TYPE: 'UNKNOWN_TYPE',
  BAD_FIELD: 'BAD_FIELD',
  NOT_JOINED: 'NOT_JOINED',
  ALREADY_JOINED: 'ALREADY_JOINED',
  ROOM_INVALID: 'ROOM_INVALID',
  ROOM_FULL: 'ROOM_FULL',
  NICK_INVALID: 'NICK_INVALID',
  NICK_TAKEN: 'NICK_TAKEN',
  EMPTY_MESSAGE: 'EMPTY_MESSAGE',
  MESSAGE_TOO_LONG: 'MESSAGE_TOO_LONG',
  RATE_LIMITED: 'RATE_LIMITED',
  /** The chat's storage (Redis) cannot be reached for a moment: retry after `retryAfter` ms. */
  UNAVAILABLE: 'UNAVAILABLE',
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  BAD_COMMAND: 'BAD_COMMAND',
  /** The command needs a higher level in the room (operator, owner). */
  FORBIDDEN: 'FORBIDDEN',
  /** Banned from the room: by address or tripcode, until `message` says. */
  BANNED: 'BANNED',
  /** The room is locked: only an invite lets a newcomer in. */
  LOCKED: 'LOCKED',
  /** The room has a password and the join had none. */
  PASSWORD_REQUIRED: 'PASSWORD_REQUIRED',
  /** The password given is not the room's. */
  PASSWORD_WRONG: 'PASSWORD_WRONG',
  /** The invite was used already, has expired, or never existed. */
  INVITE_INVALID: 'INVITE_INVALID',
  /** Muted in this room: messages and actions are refused until the mute ends. */
  MUTED: 'MUTED',
  /** `edit`, `delete` or a reply named an entry that is not there (deleted, never was, or not one that can be edited or answered). */
  NOT_FOUND: 'NOT_FOUND',
  /** `edit` or `delete` of one's own entry after the time allowed (15 minutes). */
  TOO_LATE: 'TOO_LATE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// ---------------------------------------------------------------------------
// Client -> server

/** Enter the room named by the connection's URL. */
export interface JoinMessage {
  type: 'join';
  nick: string;
  /** From a previous `welcome`: takes the nickname back within the grace period. */
  resumeToken?: string;
  /** The last sequence number the client saw: the welcome carries exactly what came after it. */
  lastSeq?: number;
  /** The room epoch of that `lastSeq` (from the welcome): if the room's numbering started over since, the welcome says `reset`. */
  epoch?: string;
  /** The room's password, when it has one. */
  password?: string;
  /** A single-use invite code (from an invite link): lets one newcomer into a locked or password room. */
  invite?: string;
  /** The room's owner key (from the welcome that created the room): the seat is the owner's. */
  ownerKey?: string;
}

/** A chat line, or a command when `text` starts with `/` (`//` sends a literal `/`). */
export interface SendMessage {
  type: 'message';
  /** Client message id: a resend with the same id is not stored twice. */
  id: string;
  text: string;
  /** A reply: the seq of the message, action or console line it answers (ignored for commands other than `/me`). */
  replyTo?: number;
}

/** Changes the text of one's own message or action, within EDIT_WINDOW_MS of posting it. */
export interface EditMessage {
  type: 'edit';
  id: string;
  seq: number;
  text: string;
}

/** Deletes one's own message or action (within EDIT_WINDOW_MS), or, for an operator, any message, action or console line. */
export interface DeleteMessage {
  type: 'delete';
  id: string;
  seq: number;
}

/** The member is typing: shown to the others for a few seconds, never stored. */
export interface TypingMessage {
  type: 'typing';
}

/**
 * This connection is about to close on purpose and may be back at once (a
 * page unloading: a reload, or a tab closing, which a page cannot tell
 * apart). When it closes, the seat is held for HOLD_ON_LEAVE_MS only, showing
 * nothing; a connection resuming it meanwhile (the reloaded page) carries
 * on unseen, else the member leaves (`quit`).
 */
export interface HoldMessage {
  type: 'hold';
}

/** How long an author may edit or delete its message or action. */
export const EDIT_WINDOW_MS = 15 * 60_000;

/** Entries after `afterSeq` (to page through a long resume). */
export interface HistoryRequest {
  type: 'history';
  id: string;
  afterSeq: number;
  limit?: number;
}

export type ClientMessage = JoinMessage | SendMessage | HistoryRequest | EditMessage | DeleteMessage | TypingMessage | HoldMessage;

// ---------------------------------------------------------------------------
// Server -> client

/**
 * One line of the live member list. `away`: connection lost, nickname held
 * for the grace period. `trip`: the member's tripcode, when it joined as
 * `nick#secret` (see tripcode.ts); absent otherwise.
 */
export interface MemberInfo {
  nick: string;
  trip?: string;
  away: boolean;
  /** Absent for ordinary members. */
  role?: 'operator' | 'owner';
}

/** What a `leave` notice says happened. */
export type LeaveReason = 'quit' | 'lost' | 'kicked' | 'banned' | 'flood' | 'moved';

/** A member's standing in its room; the console is `admin`. */
export type Level = Role | 'admin';

export type { Role } from './store/store.js';

export type { ModAction } from './notices.js';

export interface ChatMessageEvent {
  type: 'message';
  seq: number;
  ts: number;
  nick: string;
  /** The sender's tripcode, when it has one. */
  trip?: string;
  text: string;
  /** A reply: the seq of the entry it answers, and that entry's nickname then. */
  replyTo?: number;
  replyNick?: string;
  /** Edited by its author: when, last (ms since the epoch). `text` is the edited text. */
  edited?: number;
}

/** `/me`: rendered as "* nick text". */
export interface ActionEvent {
  type: 'action';
  seq: number;
  ts: number;
  nick: string;
  /** The sender's tripcode, when it has one. */
  trip?: string;
  text: string;
  replyTo?: number;
  replyNick?: string;
  edited?: number;
}

/**
 * The author of entry `edits` changed its text to `text` (a history entry
 * of its own: a client that comes back after it learns the change from it).
 * `text` is empty when a later edit or a deletion of that entry superseded
 * this one: then there is nothing to apply.
 */
export interface EditEvent {
  type: 'edit';
  seq: number;
  ts: number;
  nick: string;
  trip?: string;
  edits: number;
  text: string;
}

/** A member is typing (`typing` from its client): for a few seconds, until its message arrives. Never stored. */
export interface TypingEvent {
  type: 'typing';
  nick: string;
  trip?: string;
}

export interface NoticeEvent {
  type: 'notice';
  seq: number;
  ts: number;
  /** `mod`: a moderation action (see `action`). */
  event: 'join' | 'leave' | 'rename' | 'mod';
  /** The member concerned (the new nickname for `rename`); for `mod`, who acted. */
  nick: string;
  /** The tripcode of `nick`, when it has one. */
  trip?: string;
  /** Ready-to-show text, e.g. "alice joined", "alice was banned by bob for 1h". */
  text: string;
  /** `rename` only: the previous nickname. */
  from?: string;
  /** `leave` only. */
  reason?: LeaveReason;
  /** `mod` only: what was done. */
  action?: ModAction;
  /** `mod`, and `leave` when kicked or banned: who acted (a nickname, or "Administrator"), and its tripcode. */
  by?: string;
  byTrip?: string;
  /** `mod`: the member acted on. */
  target?: string;
  targetTrip?: string;
  /** A ban or mute: until when (ms since the epoch); null: until lifted. */
  until?: number | null;
  /** `mod` `topic`: the new topic (null: cleared). */
  topic?: string | null;
  /** `mod` `delete`: the seq of the entry removed; clients stop showing it. */
  deleted?: number;
}

/** A deleted entry (a tombstone): what it was is gone, its place in the numbering stays. */
export interface DeletedEvent {
  type: 'deleted';
  seq: number;
  ts: number;
  /** Always empty (so that every entry has a nick and a text). */
  nick: '';
  text: '';
}

/** A line from the server's console. */
export interface AdminEvent {
  type: 'admin';
  seq: number;
  ts: number;
  nick: 'Administrator';
  text: string;
}

/** Everything that is stored in a room's history and has a sequence number. */
export type EntryEvent = ChatMessageEvent | ActionEvent | NoticeEvent | AdminEvent | DeletedEvent | EditEvent;

export interface WelcomeEvent {
  type: 'welcome';
  room: string;
  nick: string;
  /** Your tripcode, when you joined as `nick#secret`. */
  trip?: string;
  resumeToken: string;
  /** True when `resumeToken` gave back a held nickname (no "joined" notice was sent). */
  resumed: boolean;
  /** True when the join's `lastSeq` is ahead of the room: its history was lost; drop local state. */
  reset: boolean;
  members: MemberInfo[];
  history: EntryEvent[];
  /** The room's last sequence number at the moment of joining; live events follow it. */
  lastSeq: number;
  /** More entries after `history` were left out (page with `history` requests up to `lastSeq`). */
  more: boolean;
  /** The longest message text accepted, in characters. */
  maxMessage: number;
  /**
   * Changes when the room's numbering starts over (its storage lost it):
   * send it back with `lastSeq` on the next join.
   */
  epoch: string;
  /**
   * This connection's request budget (`--rate`, `--burst`): a client that
   * stays within it is never answered RATE_LIMITED. Absent from servers
   * older than this field.
   */
  rateLimit?: AdvertisedRateLimit;
  /** The room's topic, or null (always sent by this server; optional for clients of older ones). */
  topic?: string | null;
  /** Your standing in the room (always sent by this server; absent means `user`). */
  role?: Role;
  /** This join created the room: its owner key, shown once. Keep it to be the owner again (join `ownerKey`, or `/op KEY`). */
  ownerKey?: string;
}

/** The token bucket every request but a connection's first `join` draws from. */
export interface AdvertisedRateLimit {
  /** Requests a connection may send at once. */
  burst: number;
  /** Requests per second after the burst (the bucket's refill rate); 0: never refilled. */
  perSecond: number;
}

/** A `message` request succeeded; `seq` when it stored an entry. */
export interface AckEvent {
  type: 'ack';
  id: string;
  seq?: number;
}

export interface MembersEvent {
  type: 'members';
  members: MemberInfo[];
}

/** Your own nickname changed. */
export interface RenamedEvent {
  type: 'renamed';
  nick: string;
  from: string;
}

/** Output of a command (`/who`, `/help`). */
export interface InfoEvent {
  type: 'info';
  text: string;
  id?: string;
}

export interface ErrorEvent {
  type: 'error';
  code: ErrorCode;
  message: string;
  /** The id of the request this answers, when it had one. */
  id?: string;
  /**
   * When trying again may work (RATE_LIMITED, UNAVAILABLE): how long to wait
   * first, in milliseconds; the same id may be sent again then. Absent on
   * RATE_LIMITED when the budget never refills.
   */
  retryAfter?: number;
}

export interface HistoryEvent {
  type: 'history';
  id: string;
  entries: EntryEvent[];
  more: boolean;
}

/** Your role in the room changed (`/op`, `/deop`, `/op KEY`); `ownerKey` echoes the key you proved. */
export interface RoleEvent {
  type: 'role';
  role: Role;
  ownerKey?: string;
}

/** You were removed from the room; the connection closes (1008) right after. Do not rejoin by yourself. */
export interface RemovedEvent {
  type: 'removed';
  reason: 'kicked' | 'banned';
  by: string;
  /** `banned`: until when (ms since the epoch), null: until lifted. */
  until?: number | null;
  /** Ready to show: "You were banned from this room by bob for 1h". */
  text: string;
}

/** The answer to `/invite`: a code that lets one newcomer in, once. */
export interface InviteEvent {
  type: 'invite';
  /** The id of the request that made it. */
  id?: string;
  room: string;
  code: string;
  /** Until when it works (ms since the epoch). */
  expiresAt: number;
}

export type ServerEvent =
  | EntryEvent
  | WelcomeEvent
  | AckEvent
  | MembersEvent
  | RenamedEvent
  | InfoEvent
  | ErrorEvent
  | HistoryEvent
  | RoleEvent
  | RemovedEvent
  | InviteEvent
  | TypingEvent;

// ---------------------------------------------------------------------------
// Strict validation of client messages

/** Client message ids and resume tokens: short, URL-safe, no surprises in logs. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const RESUME_TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
/** Raw string fields longer than this are refused whatever the configured limits. */
const MAX_STRING_FIELD = 65_536;

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; error: { code: ErrorCode; message: string; id?: string } };

type FieldCheck = (value: unknown) => string | null;

const boundedString: FieldCheck = (v) =>
  typeof v !== 'string' ? 'must be a string' : v.length > MAX_STRING_FIELD ? 'is too long' : null;
const clientId: FieldCheck = (v) =>
  typeof v === 'string' && CLIENT_ID_PATTERN.test(v) ? null : 'must be 1-64 characters of A-Za-z0-9_.:-';
const resumeToken: FieldCheck = (v) =>
  typeof v === 'string' && RESUME_TOKEN_PATTERN.test(v) ? null : 'must be a token from a welcome';
const epochField: FieldCheck = (v) => (typeof v === 'string' && /^[A-Za-z0-9_-]{0,32}$/.test(v) ? null : 'must be an epoch from a welcome');
const secretField: FieldCheck = (v) =>
  typeof v === 'string' && v.length >= 1 && v.length <= 200 ? null : 'must be a string of 1-200 characters';
const tokenField: FieldCheck = (v) => (typeof v === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(v) ? null : 'must be a code of 8-64 of A-Za-z0-9_-');
const sequence: FieldCheck = (v) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? null : 'must be a non-negative integer';
const positive: FieldCheck = (v) =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 ? null : 'must be a positive integer';

interface FieldSpec {
  required: boolean;
  check: FieldCheck;
}

const SCHEMAS: Record<ClientMessage['type'], Record<string, FieldSpec>> = {
  join: {
    nick: { required: true, check: boundedString },
    resumeToken: { required: false, check: resumeToken },
    lastSeq: { required: false, check: sequence },
    epoch: { required: false, check: epochField },
    password: { required: false, check: secretField },
    invite: { required: false, check: tokenField },
    ownerKey: { required: false, check: tokenField },
  },
  message: {
    id: { required: true, check: clientId },
    text: { required: true, check: boundedString },
    replyTo: { required: false, check: positive },
  },
  history: {
    id: { required: true, check: clientId },
    afterSeq: { required: true, check: sequence },
    limit: { required: false, check: positive },
  },
  edit: {
    id: { required: true, check: clientId },
    seq: { required: true, check: positive },
    text: { required: true, check: boundedString },
  },
  delete: {
    id: { required: true, check: clientId },
    seq: { required: true, check: positive },
  },
  typing: {},
  hold: {},
};

/**
 * Parses and strictly validates one `wschat.v1` client message: valid JSON, an
 * object, a known `type`, every required field present with the right type,
 * no other field. Never throws; the error names the first problem found and
 * carries the message's `id` when it had a valid one.
 */
export function parseClientMessage(data: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return fail(ErrorCode.BAD_JSON, 'message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(ErrorCode.BAD_MESSAGE, 'message must be a JSON object');
  }
  const record = value as Record<string, unknown>;
  const id = typeof record.id === 'string' && CLIENT_ID_PATTERN.test(record.id) ? record.id : undefined;
  const type = record.type;
  if (typeof type !== 'string') return fail(ErrorCode.BAD_MESSAGE, 'message needs a string "type"', id);
  if (!Object.hasOwn(SCHEMAS, type)) {
    return fail(ErrorCode.UNKNOWN_TYPE, `unknown message type "${clip(type)}"`, id);
  }
  const schema = SCHEMAS[type as ClientMessage['type']];
  for (const key of Object.keys(record)) {
    if (key !== 'type' && !Object.hasOwn(schema, key)) {
      return fail(ErrorCode.BAD_FIELD, `unexpected field "${clip(key)}" in "${type}"`, id);
    }
  }
  for (const [key, spec] of Object.entries(schema)) {
    if (!Object.hasOwn(record, key)) {
      if (spec.required) return fail(ErrorCode.BAD_FIELD, `missing field "${key}" in "${type}"`, id);
      continue;
    }
    const problem = spec.check(record[key]);
    if (problem !== null) return fail(ErrorCode.BAD_FIELD, `field "${key}" ${problem}`, id);
  }
  return { ok: true, message: record as unknown as ClientMessage };
}

function fail(code: ErrorCode, message: string, id?: string): ParseResult {
  return { ok: false, error: id === undefined ? { code, message } : { code, message, id } };
}

/** Echoing peer-supplied text in an error: bounded, and free of control characters. */
function clip(s: string): string {
  const clean = s.replace(/[\p{Cc}\p{Cf}]/gu, '?');
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}

// ---------------------------------------------------------------------------
// The plain-text format (WebSocket without a subprotocol)

/** Readable text of a join, leave or rename notice (moderation notices: notices.ts `describeDetail`). */
export function noticeText(event: Exclude<NoticeEvent['event'], 'mod'>, nick: string, detail: string): string {
  switch (event) {
    case 'join':
      return `${nick} joined`;
    case 'rename':
      return `${detail} is now known as ${nick}`;
    case 'leave':
      switch (detail as LeaveReason) {
        case 'lost':
          return `${nick} left (connection lost)`;
        case 'kicked':
          return `${nick} was removed by the administrator`;
        case 'banned':
          return `${nick} was banned`;
        case 'flood':
          return `${nick} was disconnected for flooding`;
        case 'moved':
          return `${nick} went to another room`;
        default:
          return `${nick} left`;
      }
  }
}

/**
 * A sender as the text formats show it: the nickname, and its tripcode
 * after " !" when it has one (`alice !Ab3dEf12`). Nicknames cannot contain
 * "!" or a look-alike of it, so nobody can draw someone else's tripcode.
 */
export function senderName(nick: string, trip?: string): string {
  return trip === undefined ? nick : `${nick} !${trip}`;
}

/**
 * What starts the second and later lines of a multi-line message in the
 * plain and TCP formats: two spaces and a bar. A nickname starts with a
 * letter or digit and console lines with "***", so no such line can pass for
 * the start of another sender's line.
 */
export const CONTINUATION = '  | ';

/** `first` before the first line of `text`, CONTINUATION before each later one. */
export function prefixLines(first: string, text: string, continuation: string = CONTINUATION): string[] {
  return text.split('\n').map((line, i) => (i === 0 ? first : continuation) + line);
}

/**
 * Formats a stored entry for the plain-text format: one string (one
 * WebSocket message) per entry; a multi-line text keeps its newlines, with
 * CONTINUATION at the start of each later line.
 */
export function plainEntry(entry: EntryEvent): string {
  switch (entry.type) {
    case 'message':
      return prefixLines(`${senderName(entry.nick, entry.trip)} :: ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`).join('\n');
    case 'action':
      return prefixLines(`* ${senderName(entry.nick, entry.trip)} ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`).join('\n');
    case 'notice':
      return entry.text;
    case 'admin':
      return prefixLines('*** Administrator :: ', entry.text).join('\n');
    case 'deleted':
      return '(a deleted message)';
    case 'edit':
      return editLines(entry).join('\n');
  }
}

/** What the text doors show before a reply's text: "(replying to bob) ". */
export function replyMark(entry: { replyTo?: number; replyNick?: string }): string {
  return entry.replyTo === undefined ? '' : `(replying to ${entry.replyNick ?? 'an earlier message'}) `;
}

/** What the text doors show after an edited text: " (edited)". */
export function editedMark(entry: { edited?: number }): string {
  return entry.edited === undefined ? '' : ' (edited)';
}

/**
 * An edit as the text doors show it: `alice edited a message: the new text`
 * (later lines with CONTINUATION), or `alice edited a message` when it was
 * superseded. It starts with the editor's name, as a notice does.
 */
export function editLines(entry: EditEvent): string[] {
  const who = senderName(entry.nick, entry.trip);
  return entry.text === '' ? [`${who} edited a message`] : prefixLines(`${who} edited a message: `, entry.text);
}

/**
 * The seed-style plain-text format: each element is one WebSocket text
 * message. Chat lines arrive as `nick :: text` (`nick !trip :: text` with a
 * tripcode), continuation lines of a multi-line message as `  | text`,
 * notices as plain lines, console lines as `*** Administrator :: text`;
 * acknowledgements and member-list updates are not shown (an empty array).
 * docs/protocol.md says why no nickname or text can draw a console line or
 * another sender's line.
 */
export function formatPlain(event: ServerEvent): string[] {
  switch (event.type) {
    case 'message':
    case 'action':
    case 'notice':
    case 'admin':
      return [plainEntry(event)];
    case 'welcome': {
      const lines = event.history.map(plainEntry);
      const others = event.members.filter((m) => m.nick !== event.nick).map((m) => senderName(m.nick, m.trip));
      lines.push(
        `You are ${senderName(event.nick, event.trip)} in ${event.room}. ${others.length === 0 ? 'Nobody else is here.' : `Also here: ${others.join(', ')}.`} Type /nick NAME to change your name, /help for commands.`,
      );
      return lines;
    }
    case 'renamed':
      return [`You are now known as ${event.nick}`];
    case 'info':
      return [event.text];
    case 'error':
      return [`Error: ${event.message}`];
    case 'history':
      return event.entries.map(plainEntry);
    case 'deleted':
    case 'edit':
      return [plainEntry(event)];
    case 'role':
      return [roleText(event.role)];
    case 'removed':
      return [event.text];
    case 'invite':
      return [inviteText(event)];
    case 'ack':
    case 'members':
    case 'typing':
      return [];
  }
}

/**
 * The parts of a stored history entry (the store's `StoredEntry`) that make
 * its wire form (store.ts imports no Node module, so the browser bundle may read its types).
 */
export type EntryRecord = Pick<StoredEntry, 'seq' | 'ts' | 'kind' | 'nick' | 'text' | 'trip'> &
  Partial<Pick<StoredEntry, 'ref' | 'refNick' | 'edited'>>;

/** What a member is told when its role changes. */
export function roleText(role: Role): string {
  switch (role) {
    case 'owner':
      return 'You are an owner of this room: /help lists what you can do.';
    case 'operator':
      return 'You are an operator of this room: /help lists what you can do.';
    case 'user':
      return 'You are no longer an operator of this room.';
  }
}

/** An invite as the text doors show it. */
export function inviteText(event: InviteEvent): string {
  const until = new Date(event.expiresAt).toISOString().replace('T', ' ').slice(0, 16);
  return `Invite code for ${event.room} (lets one person in, once, until ${until} UTC): ${event.code} (link: /r/${encodeURIComponent(event.room)}#invite=${event.code})`;
}

/** The wire form of a stored history entry. */
export function entryToEvent(entry: EntryRecord): EntryEvent {
  const { seq, ts, nick, text } = entry;
  const trip = entry.trip === null ? {} : { trip: entry.trip };
  const who = senderName(nick, entry.trip ?? undefined);
  const ref = entry.ref ?? null;
  const extra = {
    ...(ref === null ? {} : { replyTo: ref, ...(entry.refNick === null || entry.refNick === undefined ? {} : { replyNick: entry.refNick }) }),
    ...(entry.edited === null || entry.edited === undefined ? {} : { edited: entry.edited }),
  };
  switch (entry.kind) {
    case 'message':
      return { type: 'message', seq, ts, nick, ...trip, text, ...extra };
    case 'action':
      return { type: 'action', seq, ts, nick, ...trip, text, ...extra };
    case 'edit':
      return { type: 'edit', seq, ts, nick, ...trip, edits: ref ?? 0, text };
    case 'admin':
      return { type: 'admin', seq, ts, nick: 'Administrator', text };
    case 'join':
      return { type: 'notice', seq, ts, event: 'join', nick, ...trip, text: noticeText('join', who, '') };
    case 'rename':
      return { type: 'notice', seq, ts, event: 'rename', nick, ...trip, from: text, text: noticeText('rename', who, text) };
    case 'leave': {
      const detail = decodeDetail(text);
      if (detail !== null) {
        // Kicked or banned by someone: the notice tells who, and for how long.
        const reason: LeaveReason = detail.action === 'ban' ? 'banned' : 'kicked';
        const full = { ...detail, target: nick, targetTrip: entry.trip };
        return { type: 'notice', seq, ts, event: 'leave', nick, ...trip, reason, ...byFields(detail), ...lastingFields(detail), text: describeDetail(full) };
      }
      return {
        type: 'notice',
        seq,
        ts,
        event: 'leave',
        nick,
        ...trip,
        reason: text as LeaveReason,
        text: noticeText('leave', who, text),
      };
    }
    case 'mod': {
      const detail = decodeDetail(text) ?? { action: 'topic', by: nick, topic: null };
      const event: NoticeEvent = { type: 'notice', seq, ts, event: 'mod', nick, ...trip, action: detail.action, ...byFields({ ...detail, by: nick, byTrip: entry.trip }), text: describeDetail({ ...detail, by: nick, byTrip: entry.trip }) };
      if (detail.target !== undefined) event.target = detail.target;
      if (detail.targetTrip !== undefined && detail.targetTrip !== null) event.targetTrip = detail.targetTrip;
      if (detail.action === 'topic') event.topic = detail.topic ?? null;
      if (detail.action === 'delete' && detail.seq !== undefined) event.deleted = detail.seq;
      return { ...event, ...lastingFields(detail) };
    }
    case 'deleted':
      return { type: 'deleted', seq, ts, nick: '', text: '' };
  }
}

function byFields(detail: ModDetail): { by: string; byTrip?: string } {
  return detail.byTrip === undefined || detail.byTrip === null ? { by: detail.by } : { by: detail.by, byTrip: detail.byTrip };
}

function lastingFields(detail: ModDetail): { until?: number | null } {
  return detail.action === 'ban' || detail.action === 'mute' ? { until: detail.until ?? null } : {};
}
