import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { type Clock, systemClock, type Timer } from '../clock.js';
import type { Hub } from '../hub.js';
import type { Logger, Member, MemberConnection } from '../member.js';
import {
  ChatCloseCode,
  type EntryEvent,
  ErrorCode,
  editedMark,
  editLines,
  inviteText,
  prefixLines,
  replyMark,
  roleText,
  type ServerEvent,
  senderName,
} from '../messages.js';
import { addressKey } from '../address.js';
import { DEFAULT_ROOM } from '../room-name.js';

/**
 * Raw TCP lines, for `nc` and `telnet`: the server asks for a login id (the
 * nickname), asks again while it is taken or invalid, asks for the room's
 * password (or an invite code) when it has one or is locked, then relays
 * lines. A
 * chat line shows as `[nick] text` (`[nick !trip] text` with a tripcode), an
 * action as `* nick text`, a notice as a plain line, a console line as
 * `*** [Administrator] text`; later lines of a multi-line text start with
 * `  | `. `/join ROOM` moves
 * to another room; `/quit` leaves.
 *
 * Input is UTF-8, one line per LF (a CR before it is dropped, a CR anywhere
 * else is removed: it is not a line break). A line longer
 * than `maxLineBytes` is refused and skipped up to its end without being
 * buffered. A reader so slow that its socket's send buffer passes
 * `highWaterMark` is disconnected.
 */
export interface TcpLinesOptions {
  hub: Hub;
  /** The room everyone logs into. Default "lobby". */
  room?: string;
  /** Default 8 KiB. */
  maxLineBytes?: number;
  /** Bytes queued for one socket before it counts as too slow. Default 1 MiB. */
  highWaterMark?: number;
  /** Time allowed to log in. Default 2 minutes. */
  loginTimeoutMs?: number;
  /**
   * Liveness, as the WebSocket heartbeat does it (30 s + 30 s): a logged-in
   * peer that sent nothing for `idleProbeMs` is asked to send a line, and is
   * disconnected if nothing comes within `idleTimeoutMs` more. Defaults 30 s
   * and 30 s. See docs/protocol.md for why this door must ask.
   */
  idleProbeMs?: number;
  idleTimeoutMs?: number;
  /** Time allowed for a closing socket to flush before it is destroyed. Default 5 s. */
  closeTimeoutMs?: number;
  clock?: Clock;
  log?: Logger;
}

/** The format key of this transport's members. */
export const TCP_FORMAT = 'tcp-lines';

const EOL = '\r\n';
const PROMPT = 'Login id (your nickname): ';
/** Wrong passwords or codes before the connection is closed. */
const PASSCODE_TRIES = 3;
/** Refusals a password or an invite code may get past. */
const NEEDS_PASSCODE: ReadonlySet<string> = new Set([ErrorCode.PASSWORD_REQUIRED, ErrorCode.PASSWORD_WRONG, ErrorCode.LOCKED, ErrorCode.INVITE_INVALID]);
/**
 * Why asking: `nc` and most line clients answer nothing by themselves (no
 * ping, no Telnet option negotiation), and TCP keepalive is answered by the
 * peer's kernel even when the process is frozen (Ctrl-Z, a stopped
 * container), so only the user can show the other end is alive.
 */
const IDLE_PROBE = '*** Still there? Send any line (Enter will do) to stay connected.';
/** Lines held while a login is being decided. */
const MAX_BACKLOG = 64;

/**
 * The lines of an entry. The first line names the sender; later lines of a
 * multi-line text start with CONTINUATION ("  | "), which no first line can
 * start with: a nickname starts with a letter or digit and cannot contain
 * "[", "]" or "!", and console lines start with "***".
 */
function entryLines(entry: EntryEvent): string[] {
  switch (entry.type) {
    case 'message':
      return prefixLines(`[${senderName(entry.nick, entry.trip)}] ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`);
    case 'action':
      return prefixLines(`* ${senderName(entry.nick, entry.trip)} ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`);
    case 'notice':
      return [entry.text];
    case 'admin':
      return prefixLines('*** [Administrator] ', entry.text);
    case 'deleted':
      return ['(a deleted message)'];
    case 'edit':
      return editLines(entry);
  }
}

/** The lines (without line ends) this transport shows for an event; none for acks and member lists. */
export function formatTcp(event: ServerEvent): string[] {
  switch (event.type) {
    case 'message':
    case 'action':
    case 'notice':
    case 'admin':
    case 'deleted':
    case 'edit':
      return entryLines(event);
    case 'role':
      return [`*** ${roleText(event.role)}`];
    case 'removed':
      return [`*** ${event.text}`];
    case 'invite':
      return [`*** ${inviteText(event)}`];
    case 'welcome': {
      const others = event.members.filter((m) => m.nick !== event.nick).map((m) => senderName(m.nick, m.trip));
      return [
        ...event.history.flatMap(entryLines),
        `*** You are ${senderName(event.nick, event.trip)} in ${event.room}. ${others.length === 0 ? 'Nobody else is here.' : `Also here: ${others.join(', ')}.`}`,
        '*** Type a line to chat; /help lists the commands.',
      ];
    }
    case 'history':
      return event.entries.flatMap(entryLines);
    case 'renamed':
      return [`*** You are now known as ${event.nick}`];
    case 'info':
      return event.text.split('\n');
    case 'error':
      return [`Error: ${event.message}`];
    case 'ack':
    case 'members':
    case 'typing':
      return [];
  }
}

/** Encodes an event once for every TCP member: UTF-8 bytes with CRLF line ends. */
export function encodeTcp(event: ServerEvent): Buffer | null {
  const lines = formatTcp(event);
  return lines.length === 0 ? null : Buffer.from(lines.map((l) => l + EOL).join(''), 'utf8');
}

type State = 'login' | 'passcode' | 'chat' | 'closing';

class TcpLinesConnection implements MemberConnection<Buffer> {
  readonly format = TCP_FORMAT;
  /** A TCP client has no resume token: its nickname is freed when it goes. */
  readonly resumable = false;
  readonly remote: string;
  readonly address: string | undefined;
  readonly canSwitchRooms = true;
  readonly member: Member;
  readonly #socket: Socket;
  readonly #options: TcpOptions;
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #state: State = 'login';
  #partial: Buffer[] = [];
  #partialBytes = 0;
  #discarding = false;
  #loginPending = false;
  #backlog: string[] = [];
  #timer: Timer | null = null;
  /** When the peer last sent anything (clock ms). */
  #lastInput: number;
  /** The idle check's timer, once logged in. */
  #idleTimer: Timer | null = null;
  /** A probe was sent and not answered yet. */
  #probed = false;
  /** The nickname waiting for the room's password or an invite code, and the tries left. */
  #waiting: { nick: string; tries: number } | null = null;

  constructor(socket: Socket, hub: Hub, options: TcpOptions, address: string | undefined) {
    this.#socket = socket;
    this.#options = options;
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    this.address = address;
    this.member = hub.connect(this, { room: options.room });
    this.#lastInput = options.clock.now();
    socket.setNoDelay(true);
    // Keepalive finds peers whose host or network is gone; the idle check
    // (below) finds the ones whose process is frozen.
    socket.setKeepAlive(true, options.idleProbeMs);
    socket.on('data', (chunk: Buffer) => {
      this.#lastInput = this.#options.clock.now();
      this.#probed = false;
      this.#onData(chunk);
    });
    socket.on('error', (error) => options.log('warn', 'tcp socket error', { remote: this.remote, error: error.message }));
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      this.#state = 'closing';
      this.#timer?.cancel();
      this.#idleTimer?.cancel();
      this.member.disconnected();
    });
    this.#timer = options.clock.setTimeout(() => {
      if (this.#state === 'login') this.close(ChatCloseCode.POLICY_VIOLATION, 'login timed out');
    }, options.loginTimeoutMs);
    this.#write(`Welcome to wschat.${EOL}${PROMPT}`);
  }

  encode(event: ServerEvent): Buffer | null {
    return encodeTcp(event);
  }

  sendEncoded(bytes: Buffer): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(bytes);
    if (this.#socket.writableLength > this.#options.highWaterMark) {
      // Cannot keep up: dropping it protects the memory of everyone else.
      this.#options.log('warn', 'tcp reader too slow, disconnected', { remote: this.remote });
      this.#state = 'closing';
      this.#socket.destroy();
    }
  }

  close(code: number, reason: string): void {
    if (this.#state === 'closing') return;
    this.#state = 'closing';
    this.#timer?.cancel();
    this.#idleTimer?.cancel();
    const text = code === ChatCloseCode.NORMAL ? 'Bye.' : reason === '' ? 'Disconnected.' : `Disconnected: ${reason}.`;
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.end(`*** ${text}${EOL}`);
    this.#timer = this.#options.clock.setTimeout(() => this.#socket.destroy(), this.#options.closeTimeoutMs);
  }

  /**
   * One timer at a time: when it fires, either input came meanwhile (wait
   * for the rest of the interval), or a probe goes out, or an unanswered
   * probe ends the connection.
   */
  #scheduleIdleCheck(delayMs: number): void {
    this.#idleTimer?.cancel();
    this.#idleTimer = this.#options.clock.setTimeout(() => this.#idleCheck(), delayMs);
  }

  #idleCheck(): void {
    if (this.#state !== 'chat') return;
    const { clock, idleProbeMs, idleTimeoutMs } = this.#options;
    const quiet = clock.now() - this.#lastInput;
    if (this.#probed) {
      this.#options.log('info', 'tcp peer did not answer the idle check, disconnected', { remote: this.remote });
      this.close(ChatCloseCode.POLICY_VIOLATION, `no answer within ${Math.round(idleTimeoutMs / 1000)} s`);
      return;
    }
    if (quiet < idleProbeMs) {
      this.#scheduleIdleCheck(idleProbeMs - quiet);
      return;
    }
    this.#probed = true;
    this.#write(`${IDLE_PROBE}${EOL}`);
    this.#scheduleIdleCheck(idleTimeoutMs);
  }

  #write(text: string): void {
    if (!this.#socket.destroyed && !this.#socket.writableEnded) this.#socket.write(text);
  }

  #onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) break;
      this.#endOfLine(chunk.subarray(start, newline));
      start = newline + 1;
    }
    if (start >= chunk.length || this.#discarding) return;
    const rest = chunk.subarray(start);
    if (this.#partialBytes + rest.length > this.#options.maxLineBytes) {
      this.#tooLong();
      return;
    }
    this.#partial.push(rest);
    this.#partialBytes += rest.length;
  }

  #endOfLine(tail: Buffer): void {
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    if (this.#partialBytes + tail.length > this.#options.maxLineBytes) {
      this.#tooLong();
      this.#discarding = false;
      return;
    }
    let bytes = this.#partial.length === 0 ? tail : Buffer.concat([...this.#partial, tail]);
    this.#partial = [];
    this.#partialBytes = 0;
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    let line: string;
    try {
      line = this.#decoder.decode(bytes);
    } catch {
      this.member.reject({ code: ErrorCode.BAD_MESSAGE, message: 'line is not valid UTF-8' });
      return;
    }
    // Only LF ends a line (CRLF counts as one end). A CR anywhere else is a
    // control character, not a line break: without this the chat's text
    // rules would store "a\rb" as two lines.
    line = line.replaceAll('\r', '');
    this.#dispatch(line);
  }

  #tooLong(): void {
    this.#partial = [];
    this.#partialBytes = 0;
    this.#discarding = true;
    this.member.reject({
      code: ErrorCode.MESSAGE_TOO_LONG,
      message: `line longer than ${this.#options.maxLineBytes} bytes, ignored`,
    });
  }

  #dispatch(line: string): void {
    if (this.#state === 'closing') return;
    if (this.#loginPending) {
      if (this.#backlog.length >= MAX_BACKLOG) {
        this.close(ChatCloseCode.POLICY_VIOLATION, 'flooding');
        return;
      }
      this.#backlog.push(line);
      return;
    }
    if (this.#state === 'chat') {
      if (line.trim() !== '') void this.member.input(line);
      return;
    }
    if (this.#state === 'passcode' && this.#waiting !== null) {
      const passcode = line.trim();
      if (passcode === '') {
        this.#write(this.#passcodePrompt());
        return;
      }
      if (passcode.toLowerCase() === '/quit') {
        this.close(ChatCloseCode.NORMAL, 'bye');
        return;
      }
      this.#enter(this.#waiting.nick, passcode);
      return;
    }
    this.#login(line.trim());
  }

  #passcodePrompt(): string {
    return `Password or invite code for ${this.#options.room}: `;
  }

  #login(nick: string): void {
    if (nick === '') {
      this.#write(PROMPT);
      return;
    }
    if (nick.toLowerCase() === '/quit') {
      this.close(ChatCloseCode.NORMAL, 'bye');
      return;
    }
    if (nick.startsWith('/')) {
      this.#write(`Log in first: type a nickname.${EOL}${PROMPT}`);
      return;
    }
    this.#enter(nick, undefined);
  }

  /** Joins as `nick` (with a password or an invite code); on the answer: chat, ask for a code, or ask for a nickname again. */
  #enter(nick: string, passcode: string | undefined): void {
    this.#loginPending = true;
    void this.member.join({ nick, ...(passcode === undefined ? {} : { passcode }) }).then((result) => {
      this.#loginPending = false;
      if (this.#state === 'closing') return;
      if (result.ok) {
        this.#state = 'chat';
        this.#waiting = null;
        this.#timer?.cancel();
        this.#timer = null;
        this.#scheduleIdleCheck(this.#options.idleProbeMs);
      } else if (NEEDS_PASSCODE.has(result.code)) {
        const tries = (this.#waiting?.tries ?? PASSCODE_TRIES + 1) - 1;
        if (tries <= 0) {
          this.close(ChatCloseCode.POLICY_VIOLATION, 'too many wrong passwords');
          return;
        }
        this.#waiting = { nick, tries };
        this.#state = 'passcode';
        this.#write(this.#passcodePrompt());
      } else {
        this.#waiting = null;
        this.#state = 'login';
        this.#write(PROMPT);
      }
      const backlog = this.#backlog;
      this.#backlog = [];
      for (const line of backlog) this.#dispatch(line);
    });
  }
}

type TcpOptions = Required<Omit<TcpLinesOptions, 'hub' | 'log'>> & { log: Logger };

/** A TCP server speaking the line protocol to one hub. */
export class TcpLinesServer {
  readonly #hub: Hub;
  readonly #options: TcpOptions;
  readonly #server: Server;
  readonly #connections = new Set<TcpLinesConnection>();

  constructor(options: TcpLinesOptions) {
    this.#hub = options.hub;
    this.#options = {
      room: options.room ?? DEFAULT_ROOM,
      maxLineBytes: options.maxLineBytes ?? 8192,
      highWaterMark: options.highWaterMark ?? 1024 * 1024,
      loginTimeoutMs: options.loginTimeoutMs ?? 120_000,
      idleProbeMs: options.idleProbeMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      closeTimeoutMs: options.closeTimeoutMs ?? 5000,
      clock: options.clock ?? systemClock,
      log: options.log ?? (() => undefined),
    };
    this.#server = createServer((socket) => {
      if (socket.remoteAddress === undefined) {
        socket.destroy();
        return;
      }
      // Per client address, counted with the WebSocket doors (address-limits.ts).
      const address = addressKey(socket.remoteAddress);
      const verdict = this.#hub.limits.handshake(address);
      if (!verdict.ok) {
        socket.on('error', () => undefined);
        socket.end(`*** Sorry: ${verdict.message}.${EOL}`);
        this.#options.clock.setTimeout(() => socket.destroy(), this.#options.closeTimeoutMs);
        return;
      }
      socket.once('close', this.#hub.limits.opened(address));
      const connection = new TcpLinesConnection(socket, this.#hub, this.#options, address);
      this.#connections.add(connection);
      socket.once('close', () => this.#connections.delete(connection));
    });
  }

  /**
   * Starts listening; resolves with the bound address.
   * @throws (rejects) on listen errors such as EADDRINUSE.
   */
  listen(port: number, host?: string): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  /** Open connections, logged in or not. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Stops accepting and closes every connection ("server shutting down"); resolves when all are gone. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const connection of this.#connections) connection.close(ChatCloseCode.GOING_AWAY, 'server shutting down');
    });
  }
}
