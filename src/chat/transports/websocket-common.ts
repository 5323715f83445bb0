/** What the two WebSocket transports share: wiring a connection to its member, and the slow-reader policy. */
import type { WebSocket } from '../../websocket/index.js';
import type { Logger, Member } from '../member.js';
import { ChatCloseCode } from '../messages.js';

export interface WebSocketTransportOptions {
  /** Closes a connection whose unsent backlog passed the high-water mark. */
  checkBacklog: (ws: WebSocket) => void;
  log: Logger;
}

/**
 * A backlog policy: a member whose send buffer passes `highWaterMark` bytes
 * cannot keep up with the room. It is closed (1008) rather than allowed to
 * grow memory without bound or slow the room down.
 */
export function backlogPolicy(highWaterMark: number, log: Logger): (ws: WebSocket) => void {
  return (ws) => {
    if (ws.bufferedAmount > highWaterMark && ws.readyState === 1) {
      log('warn', 'websocket reader too slow, disconnected', { remote: peerName(ws) });
      ws.close(ChatCloseCode.POLICY_VIOLATION, 'too slow to keep up');
    }
  };
}

/**
 * The peer's address as people write it. A server listening on every
 * interface (`::`, the default) sees IPv4 clients as IPv4-mapped IPv6
 * addresses (RFC 4291 §2.5.5.2, "::ffff:203.0.113.9"); the plain door names
 * its clients after this address, so it is shown as "203.0.113.9".
 */
export function peerAddress(ws: WebSocket): string {
  const address = ws.remoteAddress;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** The peer as "address:port" (IPv6 in brackets), for logs. */
export function peerName(ws: WebSocket): string {
  const address = peerAddress(ws);
  return `${address.includes(':') ? `[${address}]` : address}:${ws.remotePort}`;
}

/** Route messages to `onMessage`, and tell the member when the connection is gone. */
export function attachWebSocket(
  ws: WebSocket,
  member: Member,
  options: WebSocketTransportOptions,
  onMessage: (data: string | Buffer, isBinary: boolean) => void,
): void {
  ws.on('message', onMessage);
  ws.on('error', (error) => options.log('warn', 'websocket error', { remote: peerName(ws), error: error.message }));
  ws.on('close', () => member.disconnected());
}
