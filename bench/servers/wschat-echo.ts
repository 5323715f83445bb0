/**
 * wschat's echo server with options the `wschat echo` command line does not
 * have: the permessage-deflate threshold (for the small-compressed-messages
 * workload, where every message must be compressed). Runs the built stack
 * from dist/, as `wschat echo` does.
 *
 *   node wschat-echo.mjs --port N [--host H] [--deflate-threshold BYTES]
 *
 * Compiled to bench/out/servers/wschat-echo.mjs; dist/ is three levels up.
 */
import { parseArgs } from 'node:util';

type EchoServerModule = typeof import('../../src/websocket/node/echo-server.js');

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'deflate-threshold': { type: 'string', default: '1024' },
  },
});
const { startEchoServer } = (await import(new URL('../../../dist/websocket/node/echo-server.js', import.meta.url).href)) as EchoServerModule;
await startEchoServer({
  port: Number(values.port),
  host: values.host,
  server: { perMessageDeflate: { threshold: Number(values['deflate-threshold']) } },
});
console.log(`wschat echo listening on ${values.host}:${values.port}`);
process.on('SIGTERM', () => process.exit(0));
