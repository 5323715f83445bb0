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
      log('warn', 'websocket reader too slow, disconnected', { remote: `${ws.remoteAddress}:${ws.remotePort}` });
      ws.close(ChatCloseCode.POLICY_VIOLATION, 'too slow to keep up');
    }
  };
}

/** Route messages to `onMessage`, and tell the member when the connection is gone. */
export function attachWebSocket(
  ws: WebSocket,
  member: Member,
  options: WebSocketTransportOptions,
  onMessage: (data: string | Buffer, isBinary: boolean) => void,
): void {
  ws.on('message', onMessage);
  ws.on('error', (error) => options.log('warn', 'websocket error', { remote: `${ws.remoteAddress}:${ws.remotePort}`, error: error.message }));
  ws.on('close', () => member.disconnected());
}
