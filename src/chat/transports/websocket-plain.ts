/**
 * WebSocket without a subprotocol, for the seed documents' clients: a page
 * that does `new WebSocket("ws://host:8080/r/<room>")` and `ws.send(text)`.
 * Plain text both ways: each text message is a chat line (or a /command);
 * each chat line arrives as `nick :: text`, notices as plain lines. The
 * nickname starts as a random `guest-XXXX` until the client sends
 * `/nick NAME` (with `plainNames: 'address'`, the seed's `ip:port`).
 *
 * A room with a password, or a locked one, is entered with its password or
 * an invite code: the URL may carry `?invite=CODE`; otherwise the server
 * says what it needs and takes the next message as the password (or code),
 * up to three tries.
 */
import { PreparedMessage, type WebSocket } from '../../websocket/index.js';
import type { Hub } from '../hub.js';
import type { Member, MemberConnection } from '../member.js';
import { ChatCloseCode, ErrorCode, formatPlain, type ServerEvent } from '../messages.js';
import { addressNickname, guestNickname } from '../nickname.js';
import { attachWebSocket, peerAddress, peerName, type WebSocketClient, type WebSocketTransportOptions } from './websocket-common.js';

export const PLAIN_FORMAT = 'plain';

/** Wrong passwords or codes before the connection is closed. */
const PASSCODE_TRIES = 3;
/** Refusals a password or an invite code may get past. */
const NEEDS_PASSCODE: ReadonlySet<string> = new Set([ErrorCode.PASSWORD_REQUIRED, ErrorCode.PASSWORD_WRONG, ErrorCode.LOCKED, ErrorCode.INVITE_INVALID]);

class WebSocketPlainConnection implements MemberConnection<PreparedMessage[]> {
  readonly format = PLAIN_FORMAT;
  /** A plain client has no resume token: its nickname is freed when it goes. */
  readonly resumable = false;
  readonly remote: string;
  readonly address: string | undefined;
  readonly member: Member;
  readonly #ws: WebSocket;
  readonly #options: WebSocketTransportOptions;
  readonly #nick: string;
  /** Waiting for a password or an invite code: the tries left; null otherwise. */
  #passcodeTries: number | null = null;

  constructor(ws: WebSocket, hub: Hub, room: string, options: WebSocketTransportOptions, client: WebSocketClient | undefined, invite: string | undefined) {
    this.#ws = ws;
    this.#options = options;
    this.remote = peerName(ws);
    this.address = client?.key;
    this.member = hub.connect(this, { room });
    attachWebSocket(ws, this.member, options, (data, isBinary) => {
      if (isBinary) {
        this.member.reject({ code: ErrorCode.BAD_MESSAGE, message: 'send chat lines as text messages' });
        return;
      }
      if (this.#passcodeTries !== null && !this.member.joined) {
        this.#join({ passcode: data as string });
        return;
      }
      void this.member.input(data as string);
    });
    // A seed-style client never sends a join: it is in the room from the start.
    // The address is never a nickname by default: nicknames are broadcast and
    // stored in history, and an address is nobody else's business.
    this.#nick = options.plainNames === 'address' ? addressNickname(client?.address ?? peerAddress(ws), ws.remotePort) : guestNickname();
    this.#join(invite === undefined ? {} : { invite });
  }

  #join(credentials: { passcode?: string; invite?: string }): void {
    void this.member.join({ nick: this.#nick, uniquify: true, ...credentials }).then((result) => {
      if (result.ok || this.member.closed) return;
      if (NEEDS_PASSCODE.has(result.code)) {
        this.#passcodeTries = (this.#passcodeTries ?? PASSCODE_TRIES + 1) - 1;
        if (this.#passcodeTries > 0) {
          const locked = result.code === ErrorCode.LOCKED || (result.code === ErrorCode.INVITE_INVALID && credentials.passcode === undefined);
          this.member.send({
            type: 'info',
            text: locked
              ? 'This room is locked: send an invite code as your next message.'
              : 'This room needs a password: send it (or an invite code) as your next message.',
          });
          return;
        }
      }
      // It can never join otherwise: rather than leave it connected to no
      // room, answering every line with "join a room first", close after the
      // error line. A full room or storage that is briefly down is worth
      // retrying later: 1013 (Try Again Later, in the IANA registry of RFC
      // 6455 §11.7).
      const later = result.code === ErrorCode.ROOM_FULL || result.code === ErrorCode.UNAVAILABLE || result.code === ErrorCode.RATE_LIMITED;
      this.close(later ? 1013 : ChatCloseCode.POLICY_VIOLATION, 'could not join');
    });
  }

  encode(event: ServerEvent): PreparedMessage[] | null {
    const lines = formatPlain(event);
    return lines.length === 0 ? null : lines.map((line) => new PreparedMessage(line));
  }

  sendEncoded(messages: PreparedMessage[]): void {
    for (const message of messages) this.#ws.sendPrepared(message);
    this.#options.checkBacklog(this.#ws);
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }
}

/** Serve one plain-text WebSocket connection in `room`; `client` for the limits and bans, `invite` from the URL's `?invite=`. */
export function servePlain(
  ws: WebSocket,
  hub: Hub,
  room: string,
  options: WebSocketTransportOptions,
  client?: WebSocketClient,
  invite?: string,
): Member {
  return new WebSocketPlainConnection(ws, hub, room, options, client, invite).member;
}
