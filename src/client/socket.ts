/**
 * The one thing the chat session needs from a WebSocket, small enough that the
 * browser's `WebSocket` (through `fromEventSocket`) and our Node client
 * (through ./node-socket.ts) both provide it. No DOM and no node: types here:
 * this file is bundled into the browser client and run by the terminal client.
 */

/**
 * A connection the session drives. The session sets the three callbacks right
 * after the factory returns, so an implementation must not call them before
 * that (a browser `WebSocket` never does: its events are queued as tasks).
 * `onclose` is called exactly once, whatever ended the connection, including
 * a failure to connect (code 1006) and a call to `close()`.
 */
export interface SocketLike {
  /** Send one text message. Ignored once the connection is closing. */
  send(text: string): void;
  /** Start the closing handshake (code 1000 or 3000-4999; browsers refuse others). */
  close(code?: number, reason?: string): void;
  /** The opening handshake succeeded with the requested subprotocol. */
  onopen: (() => void) | null;
  /** One whole text message arrived (binary messages are not passed on). */
  onmessage: ((text: string) => void) | null;
  /**
   * The connection is gone: the close code received, 1005 when none, 1006
   * when none arrived. `failure`, when the socket can tell (a browser
   * cannot), says why a connection attempt failed.
   */
  onclose: ((code: number, reason: string, failure?: ConnectFailure) => void) | null;
}

/** Why a connection attempt failed. */
export interface ConnectFailure {
  /**
   * Retrying cannot help: the server refused the handshake with an HTTP 4xx,
   * it does not speak the chat's subprotocol, its certificate is not trusted,
   * the host does not exist. The session then ends instead of retrying.
   */
  permanent: boolean;
  /** What went wrong, as a sentence for the user, e.g. "Nothing is listening on 127.0.0.1:8080 (connection refused)." */
  message: string;
  /**
   * `certificate`: the server's TLS certificate is not trusted (a UI may say
   * how to trust it); `http`: the server refused the handshake; `tls`: the
   * TLS handshake failed otherwise; `network`: no connection.
   */
  kind?: 'certificate' | 'http' | 'tls' | 'network';
}

/**
 * Opens a connection to `url` offering exactly one subprotocol. May throw (an
 * invalid URL, for instance); the session then treats the attempt as failed.
 */
export type SocketFactory = (url: string, protocol: string) => SocketLike;

/**
 * An event handler property. Declared through a method so that its parameter
 * is checked bivariantly: the DOM's `(ev: MessageEvent) => any` then fits
 * `Handler<{ data: unknown }>` without this file naming any DOM type.
 */
type Handler<E> = { handle(event: E): unknown }['handle'];

/**
 * The part of the WHATWG `WebSocket` interface `fromEventSocket` uses, written
 * out so this file needs no DOM types; the browser's `WebSocket` satisfies it.
 */
export interface EventSocket {
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: Handler<unknown> | null;
  onmessage: Handler<{ data: unknown }> | null;
  onclose: Handler<{ code: number; reason: string }> | null;
  onerror: Handler<unknown> | null;
}

/**
 * Adapts a WHATWG-style `WebSocket` (the browser's) to `SocketLike`:
 * `(url, protocol) => fromEventSocket(new WebSocket(url, protocol), protocol)`.
 * A server that answers without selecting `protocol` is refused: without
 * `wschat.v1` the chat server would talk plain text.
 */
export function fromEventSocket(ws: EventSocket, protocol: string): SocketLike {
  let closed = false;
  const socket: SocketLike = {
    send(text) {
      if (closed) return;
      try {
        ws.send(text);
      } catch {
        // Sending on a CONNECTING socket throws InvalidStateError; the session
        // only sends after open, and a closing socket reports it via onclose.
      }
    },
    close(code, reason) {
      try {
        ws.close(code, reason);
      } catch {
        // A code the browser refuses: fall back to a plain close.
        ws.close();
      }
    },
    onopen: null,
    onmessage: null,
    onclose: null,
  };
  ws.onopen = () => {
    if (ws.protocol !== protocol) {
      // RFC 6455 §4.1: the client fails the connection when the subprotocol is
      // not one it asked for; browsers accept an answer with none, we do not.
      closed = true;
      ws.close(1000, 'subprotocol not accepted');
      return;
    }
    socket.onopen?.();
  };
  ws.onmessage = (event) => {
    if (!closed && typeof event.data === 'string') socket.onmessage?.(event.data);
  };
  // An error is always followed by a close event, which is what we report.
  ws.onerror = () => {};
  ws.onclose = (event) => {
    closed = true;
    socket.onclose?.(event.code, event.reason);
  };
  return socket;
}
