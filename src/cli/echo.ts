/** `wschat echo`: the WebSocket echo test server. */
import { parseArgs } from 'node:util';
import { startEchoServer } from '../websocket/node/echo-server.js';

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
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port}`);
  const server = await startEchoServer({ port, host: values.host });
  const address = server.address()!;
  console.log(`wschat echo listening on ws://${values.host}:${address.port}/ (fan-out on /broadcast)`);
  const stop = () => {
    server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
