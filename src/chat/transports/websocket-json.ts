/**
 * WebSocket with the `wschat.v1` subprotocol: one JSON object per text
 * message, validated strictly (src/chat/messages.ts, docs/protocol.md).
 * Events are encoded once per broadcast: the JSON text is framed into a
 * `PreparedMessage` whose bytes every member of this format receives.
 */
import { PreparedMessage, type WebSocket } from '../../websocket/index.js';
import type { Hub } from '../hub.js';
import type { Member, MemberConnection } from '../member.js';
import { ErrorCode, PROTOCOL, parseClientMessage, type ServerEvent } from '../messages.js';
import { attachWebSocket, peerName, type WebSocketClient, type WebSocketTransportOptions } from './websocket-common.js';

export const JSON_FORMAT = PROTOCOL;

class WebSocketJsonConnection implements MemberConnection<PreparedMessage> {
  readonly format = JSON_FORMAT;
  readonly remote: string;
  readonly address: string | undefined;
  readonly member: Member;
  readonly #ws: WebSocket;
  readonly #options: WebSocketTransportOptions;

  constructor(ws: WebSocket, hub: Hub, room: string, options: WebSocketTransportOptions, client: WebSocketClient | undefined) {
    this.#ws = ws;
    this.#options = options;
    this.remote = peerName(ws);
    this.address = client?.key;
    this.member = hub.connect(this, { room });
    attachWebSocket(ws, this.member, options, (data, isBinary) => {
      if (isBinary) {
        this.member.reject({ code: ErrorCode.BAD_MESSAGE, message: 'wschat.v1 messages are JSON text, not binary' });
        return;
      }
      const parsed = parseClientMessage(data as string);
      if (parsed.ok) void this.member.handle(parsed.message);
      else this.member.reject(parsed.error);
    });
  }

  encode(event: ServerEvent): PreparedMessage {
    return new PreparedMessage(JSON.stringify(event));
  }

  sendEncoded(message: PreparedMessage): void {
    this.#ws.sendPrepared(message);
    this.#options.checkBacklog(this.#ws);
  }

  close(code: number, reason: string): void {
    this.#ws.close(code, reason);
  }
}

/** Serve one `wschat.v1` WebSocket connection in `room`; `client` for the per-address limits and bans. */
export function serveJson(ws: WebSocket, hub: Hub, room: string, options: WebSocketTransportOptions, client?: WebSocketClient): Member {
  return new WebSocketJsonConnection(ws, hub, room, options, client).member;
}
