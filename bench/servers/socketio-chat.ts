/**
 * The chat-level peer: a socket.io 4 room, the way its docs build a chat.
 * A client joins with `emit('join', room)` and publishes with
 * `emit('msg', payload)`; the server sends it to the whole room, the sender
 * included, with `io.to(room).emit('msg', payload)`.
 *
 *   node socketio-chat.js --port N [--host H] [--redis redis://127.0.0.1:P]
 *
 * With `--redis`, several of these processes share rooms through
 * `@socket.io/redis-adapter` (`createAdapter`, the adapter socket.io's docs
 * present first: PUBLISH per broadcast, one PSUBSCRIBE per node), set up as its
 * README shows for node-redis: a publishing client and its `duplicate()` for
 * subscriptions. The client is `@redis/client` (node-redis's core, what the
 * `redis` package re-exports), the same client wschat's Redis store uses, so
 * both sides pay for the same client library.
 *
 * WebSocket transport only (the load generator speaks no long-polling). ws
 * underneath uses bufferutil when it can load it, as socket.io recommends for
 * production, so the peer is measured at its best.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createClient } from '@redis/client';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    redis: { type: 'string' },
  },
});

const http = createServer((_request, response) => {
  response.writeHead(404).end();
});
const io = new Server(http, { transports: ['websocket'], serveClient: false });

if (values.redis !== undefined) {
  const pub = createClient({ url: values.redis });
  const sub = pub.duplicate();
  // A lost Redis connection is the benchmark's failure, not this process's: say so and go on.
  pub.on('error', (error: unknown) => console.error(`redis (pub): ${String(error)}`));
  sub.on('error', (error: unknown) => console.error(`redis (sub): ${String(error)}`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

io.on('connection', (socket) => {
  let room: string | null = null;
  socket.on('join', (name: unknown) => {
    if (typeof name !== 'string' || room !== null) return;
    room = name;
    socket.join(name);
  });
  socket.on('msg', (payload: unknown) => {
    if (room !== null) io.to(room).emit('msg', payload);
  });
});

http.listen(Number(values.port), values.host, () => {
  console.log(`socket.io listening on ${values.host}:${values.port}${values.redis === undefined ? '' : ' (Redis adapter)'}`);
});
process.on('SIGTERM', () => process.exit(0));
