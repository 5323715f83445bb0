/**
 * WebSocket without a subprotocol, for the seed documents' clients: a page
 * that does `new WebSocket("ws://host:8080/r/<room>")` and `ws.send(text)`.
 * Plain text both ways: each text message is a chat line (or a /command);
 * each chat line arrives as `nick :: text`, notices as plain lines. The
 * nickname starts as the peer's `ip:port` until the client sends `/nick NAME`.
 */
import { PreparedMessage, type WebSocket } from '../../websocket/index.js';
import type { Hub } from '../hub.js';
import type { Member, MemberConnection } from '../member.js';
import { ChatCloseCode, ErrorCode, formatPlain, type ServerEvent } from '../messages.js';
import { addressNickname } from '../nickname.js';
import { attachWebSocket, peerAddress, peerName, type WebSocketTransportOptions } from './websocket-common.js';

export const PLAIN_FORMAT = 'plain';

class WebSocketPlainConnection implements MemberConnection<PreparedMessage[]> {
  readonly format = PLAIN_FORMAT;
  /** A plain client has no resume token: its nickname is freed when it goes. */
  readonly resumable = false;
  readonly remote: string;
  readonly member: Member;
  readonly #ws: WebSocket;
  readonly #options: WebSocketTransportOptions;

  constructor(ws: WebSocket, hub: Hub, room: string, options: WebSocketTransportOptions) {
    this.#ws = ws;
    this.#options = options;
    this.remote = peerName(ws);
    this.member = hub.connect(this, { room });
    attachWebSocket(ws, this.member, options, (data, isBinary) => {
      if (isBinary) {
        this.member.reject({ code: ErrorCode.BAD_MESSAGE, message: 'send chat lines as text messages' });
        return;
      }
      void this.member.input(data as string);
    });
    // A seed-style client never sends a join: it is in the room from the start.
    void this.member.join({ nick: addressNickname(peerAddress(ws), ws.remotePort), uniquify: true }).then((result) => {
      // Nor can it ever join again: rather than leave it connected to no room,
      // answering every line with "join a room first", close after the error
      // line. A full room or storage that is briefly down is worth retrying
      // later: 1013 (Try Again Later, in the IANA registry of RFC 6455 §11.7).
      if (!result.ok && !this.member.closed) {
        const later = result.code === ErrorCode.ROOM_FULL || result.code === ErrorCode.UNAVAILABLE;
        this.close(later ? 1013 : ChatCloseCode.POLICY_VIOLATION, 'could not join');
      }
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

/** Serve one plain-text WebSocket connection in `room`. */
export function servePlain(ws: WebSocket, hub: Hub, room: string, options: WebSocketTransportOptions): Member {
  return new WebSocketPlainConnection(ws, hub, room, options).member;
}
