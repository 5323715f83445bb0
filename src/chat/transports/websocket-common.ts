/** What the two WebSocket transports share: wiring a connection to its member, and the slow-reader policy. */
import type { WebSocket } from '../../websocket/index.js';
import type { Clock } from '../clock.js';
import type { Logger, Member } from '../member.js';
import { ChatCloseCode } from '../messages.js';

/** How the plain door names a client until it sends `/nick`. */
export type PlainNames = 'guest' | 'address';

export interface WebSocketTransportOptions {
  /** Closes a connection whose unsent backlog passed the high-water mark. */
  checkBacklog: (ws: WebSocket) => void;
  log: Logger;
  /** Timers for the join deadline. */
  clock: Clock;
  /**
   * A connection that has not joined a room this long after opening is
   * closed with 4002 (JOIN_TIMEOUT). The browser asks for a nickname first,
   * so this is generous; the plain door joins at once.
   */
  joinTimeoutMs: number;
  /** `guest`: "guest-XXXX" (default); `address`: the peer's "ip:port" (the seed's naming). */
  plainNames: PlainNames;
}

/** Who a WebSocket client is: its address (read through trusted proxies) and that address's key (address.ts). */
export interface WebSocketClient {
  address: string;
  key: string;
}

/** Default `joinTimeoutMs`: one minute. */
export const DEFAULT_JOIN_TIMEOUT_MS = 60_000;

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
  // A connection that never joins holds a socket and memory for nothing.
  const deadline = options.clock.setTimeout(() => {
    if (member.joined || member.closed) return;
    options.log('info', 'websocket closed: no join in time', { remote: peerName(ws) });
    member.closeConnection(ChatCloseCode.JOIN_TIMEOUT, 'join timed out');
  }, options.joinTimeoutMs);
  ws.on('close', () => {
    deadline.cancel();
    member.disconnected();
  });
}
