/**
 * The echo test server (`wschat echo`): a peer for anyone's WebSocket client.
 * - On any path, every message comes back as it was sent: text as text,
 *   binary as binary.
 * - On `/broadcast`, every message goes to every client connected on
 *   `/broadcast`, the sender included, encoded once for all of them.
 * permessage-deflate is accepted when the client offers it.
 */
import { PreparedMessage } from '../protocol/prepared.js';
import type { WebSocket } from './connection.js';
import { WebSocketServer, type WebSocketServerOptions } from './server.js';

export interface EchoServerOptions {
  port: number;
  host?: string;
  /** Override server options (limits, TLS, compression). */
  server?: Partial<WebSocketServerOptions>;
}

/** One listener for every echo connection (no closure per connection): send the message back with its type. */
function echoBack(this: WebSocket, data: string | Buffer): void {
  this.send(data);
}

export async function startEchoServer(options: EchoServerOptions): Promise<WebSocketServer> {
  const server = new WebSocketServer({
    perMessageDeflate: true,
    ...options.server,
    port: options.port,
    host: options.host,
  });
  const room = new Set<WebSocket>();
  server.on('connection', (ws, request) => {
    if (request.path === '/broadcast') {
      room.add(ws);
      ws.on('close', () => room.delete(ws));
      ws.on('message', (data, isBinary) => {
        const message = new PreparedMessage(data, isBinary);
        for (const peer of room) peer.sendPrepared(message);
      });
    } else {
      ws.on('message', echoBack);
    }
  });
  // A failed listen (EADDRINUSE...) rejects ready(); the same error is also
  // emitted as 'error', which would crash the process without a listener.
  const ignore = () => {};
  server.on('error', ignore);
  try {
    await server.ready();
  } finally {
    server.off('error', ignore);
  }
  return server;
}
