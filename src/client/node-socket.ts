/**
 * `SocketLike` over our own Node client (src/websocket), for the terminal
 * client: `new ChatSession({ url, nick, socketFactory: nodeSocketFactory() })`.
 * Not part of the browser bundle.
 */
import { type ConnectOptions, connect } from '../websocket/node/client.js';
import type { WebSocket } from '../websocket/node/connection.js';
import type { SocketFactory, SocketLike } from './socket.js';

/**
 * A factory that connects with `connect(url, { ...options, protocols: [protocol] })`.
 * The connection attempt starts at once; its callbacks fire from later I/O
 * events, never before the factory returns. A failed connection (refused,
 * handshake error, wrong subprotocol) is reported as `onclose(1006, why)`.
 */
export function nodeSocketFactory(options: ConnectOptions = {}): SocketFactory {
  return (url: string, protocol: string): SocketLike => {
    let ws: WebSocket | null = null;
    /** close() was called before the connection was open. */
    let abandoned = false;
    let reported = false;
    const reportClose = (code: number, reason: string): void => {
      if (reported) return;
      reported = true;
      socket.onclose?.(code, reason);
    };
    const socket: SocketLike = {
      send(text) {
        ws?.send(text);
      },
      close(code = 1000, reason = '') {
        if (ws) {
          try {
            ws.close(code, reason);
          } catch {
            ws.close();
          }
        } else {
          abandoned = true;
        }
      },
      onopen: null,
      onmessage: null,
      onclose: null,
    };
    connect(url, { ...options, protocols: [protocol] }).then(
      (opened) => {
        if (abandoned) {
          opened.close(1000);
          reportClose(1006, 'closed before the connection was open');
          return;
        }
        // RFC 6455 §4.1: fail the connection when the server did not select
        // our subprotocol (without it the chat server would speak plain text).
        if (opened.protocol !== protocol) {
          opened.close(1000, 'subprotocol not accepted');
          reportClose(1006, `the server did not accept the subprotocol ${protocol}`);
          return;
        }
        ws = opened;
        opened.on('message', (data, isBinary) => {
          if (!isBinary && typeof data === 'string') socket.onmessage?.(data);
        });
        // Errors are followed by 'close', which carries the code.
        opened.on('error', () => {});
        opened.on('close', (code, reason) => reportClose(code, reason));
        socket.onopen?.();
      },
      (error: unknown) => {
        reportClose(1006, error instanceof Error ? error.message : String(error));
      },
    );
    return socket;
  };
}
