/**
 * The native-code reference: Bun's built-in WebSocket server (uWebSockets
 * inside). Echo on any path; on /broadcast every message goes to every client
 * there, the sender included, through `server.publish` (encoded once).
 *
 *   bun bun-echo.ts --port N [--host H] [--deflate]
 *
 * Runs under Bun, not Node: the few Bun types it uses are declared below so the
 * root tsconfig (Node types only) can check it.
 */
import { parseArgs } from 'node:util';

interface BunSocket {
  data: { broadcast: boolean };
  send(message: string | Uint8Array, compress?: boolean): number;
  subscribe(topic: string): void;
}
interface BunServer {
  port: number;
  upgrade(request: Request, options: { data: { broadcast: boolean } }): boolean;
  publish(topic: string, message: string | Uint8Array, compress?: boolean): number;
}
declare const Bun: {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
    };
  }): BunServer;
};

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
  },
});
const deflate = values.deflate;

const server = Bun.serve({
  hostname: values.host,
  port: Number(values.port),
  fetch(request, bunServer) {
    const broadcast = new URL(request.url).pathname === '/broadcast';
    if (bunServer.upgrade(request, { data: { broadcast } })) return undefined;
    return new Response('WebSocket only\n', { status: 426 });
  },
  websocket: {
    // Bun's default compressor when enabled (shared, no context takeover).
    perMessageDeflate: deflate,
    open(ws) {
      if (ws.data.broadcast) ws.subscribe('broadcast');
    },
    message(ws, message) {
      // The second argument asks Bun to compress this message (when negotiated).
      if (ws.data.broadcast) server.publish('broadcast', message, deflate);
      else ws.send(message, deflate);
    },
  },
});
console.log(`bun listening on ${values.host}:${server.port}`);
