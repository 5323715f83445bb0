/**
 * The chat-level peer: a socket.io 4 room, the way its docs build a chat.
 * A client joins with `emit('join', room)` and publishes with
 * `emit('msg', payload)`; the server sends it to the whole room, the sender
 * included, with `io.to(room).emit('msg', payload)`.
 *
 *   node socketio-chat.js --port N [--host H]
 *
 * WebSocket transport only (the load generator speaks no long-polling). ws
 * underneath uses bufferutil when it can load it, as socket.io recommends for
 * production, so the peer is measured at its best.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const http = createServer((_request, response) => {
  response.writeHead(404).end();
});
const io = new Server(http, { transports: ['websocket'], serveClient: false });

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
  console.log(`socket.io listening on ${values.host}:${values.port}`);
});
process.on('SIGTERM', () => process.exit(0));
