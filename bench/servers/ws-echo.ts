/**
 * The `ws` peers: echo on any path, fan-out on /broadcast (sender included),
 * written the way the ws README shows, so the comparison is with ws as people
 * use it.
 *
 *   node ws-echo.js --port N [--host H] [--deflate [--deflate-threshold BYTES]] [--require-native]
 *
 * Pure JS: run with WS_NO_BUFFER_UTIL=1 WS_NO_UTF_8_VALIDATE=1. With
 * --require-native the process refuses to start unless ws will use the
 * bufferutil addon built from source in node_modules/bufferutil/build/Release
 * (not the prebuild it ships, nor the JS fallback).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { WebSocket, WebSocketServer } from 'ws';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    deflate: { type: 'boolean', default: false },
    'deflate-threshold': { type: 'string' },
    'require-native': { type: 'boolean', default: false },
  },
});

if (values['require-native']) {
  const require = createRequire(import.meta.url);
  const resolveAddon = require('node-gyp-build').resolve as (dir: string) => string;
  const addon = resolveAddon(dirname(require.resolve('bufferutil/package.json')));
  if (!addon.includes('/build/Release/')) {
    console.error(`bufferutil would load ${addon}, not the addon built from source`);
    process.exit(3);
  }
}

const wss = new WebSocketServer({
  host: values.host,
  port: Number(values.port),
  // ws's defaults when enabled (threshold 1024 bytes, zlib defaults, context
  // takeover); the threshold set only for the small-compressed workload.
  perMessageDeflate:
    values.deflate && values['deflate-threshold'] !== undefined
      ? { threshold: Number(values['deflate-threshold']) }
      : values.deflate,
});
const room = new Set<WebSocket>();

wss.on('connection', (ws, request) => {
  if (request.url === '/broadcast') {
    room.add(ws);
    ws.on('close', () => room.delete(ws));
    ws.on('message', (data, isBinary) => {
      for (const peer of room) {
        if (peer.readyState === WebSocket.OPEN) peer.send(data, { binary: isBinary });
      }
    });
  } else {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  }
  ws.on('error', () => ws.terminate());
});
wss.on('listening', () => console.log(`ws listening on ${values.host}:${values.port}`));
process.on('SIGTERM', () => process.exit(0));
