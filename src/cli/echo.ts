/** `wschat echo`: the WebSocket echo test server. */
import { parseArgs } from 'node:util';
import { startEchoServer } from '../websocket/node/echo-server.js';
import { parseInteger } from './options.js';

const help = `Usage: wschat echo [--port N] [--host H]

A WebSocket test server for any client:
  any path      every message is sent back, text as text, binary as binary
  /broadcast    every message goes to every client on /broadcast (sender included)
permessage-deflate is accepted when the client offers it.

Options:
  --port N      port to listen on (default 9001; 0 picks a free port)
  --host H      address to listen on (default 127.0.0.1)
  --help        this text`;

export async function runEcho(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', default: '9001' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return;
  }
  const port = parseInteger('--port', values.port, 0, 65535);
  let server: Awaited<ReturnType<typeof startEchoServer>>;
  try {
    server = await startEchoServer({ port, host: values.host });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE') throw new Error(`port ${port} (--port) is already in use on ${values.host}: stop the program using it, or choose another port with --port`);
    if (code === 'EACCES' || code === 'EPERM') throw new Error(`not allowed to listen on port ${port} (--port): ports below 1024 need privileges; choose a port from 1024 up`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw new Error(`cannot listen on ${values.host} (--host): not an address of this machine`);
    }
    throw new Error(`cannot listen on port ${port} (--port): ${(error as Error).message}`);
  }
  const address = server.address()!;
  console.log(`wschat echo listening on ws://${values.host}:${address.port}/ (fan-out on /broadcast)`);
  const stop = () => {
    server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
