/**
 * The chat server: one http(s) server for the browser client, /healthz and
 * the WebSocket endpoint; optional raw TCP lines; the hub, the store and the
 * administrator's console. It wires transports to the hub and handles
 * graceful shutdown; the chat's rules live in the hub, rooms and commands.
 *
 * Which door a WebSocket client came through is decided by its subprotocol:
 * `wschat.v1` gets the JSON transport, no subprotocol gets plain text. The
 * room comes from the path: `/r/<room>`, or `/` for the room `lobby`.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { type AcceptDecision, type HandshakeInfo, WebSocketServer } from '../websocket/index.js';
import { addressKey, clientAddress, TrustedProxies } from './address.js';
import { type AdminConsole, startAdminConsole } from './admin-console.js';
import { type Clock, systemClock } from './clock.js';
import { allowedHosts, originAllowed } from './host-check.js';
import { createHttpHandler } from './http.js';
import { Hub, type HubOptions } from './hub.js';
import type { Logger } from './member.js';
import { PROTOCOL } from './messages.js';
import { DEFAULT_ROOM, isValidRoomName } from './room-name.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import { SqliteStore } from './store/sqlite.js';
import type { ChatStore } from './store/store.js';
import { TcpLinesServer } from './transports/tcp-lines.js';
import {
  backlogPolicy,
  DEFAULT_JOIN_TIMEOUT_MS,
  type PlainNames,
  type WebSocketTransportOptions,
} from './transports/websocket-common.js';
import { serveJson } from './transports/websocket-json.js';
import { servePlain } from './transports/websocket-plain.js';

export interface ChatServerOptions {
  /** Default: every interface. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Directory of the SQLite database (`wschat.db`); null keeps everything in memory. Default "./data". */
  dataDir?: string | null;
  /**
   * Share the chat with other nodes through Redis (`redis://...`, a Cluster
   * is detected); `dataDir` is then not used. See docs/scaling.md.
   */
  redis?: { url: string; nodeId?: string; heartbeatMs?: number; nodeTimeoutMs?: number; maxEntriesPerRoom?: number };
  /** Raw TCP lines port; undefined: off. */
  tcpPort?: number;
  /** Origins allowed besides the server's own (e.g. "https://chat.example.com"). */
  allowedOrigins?: string[];
  /**
   * Host names the server answers to besides localhost, IP literals, this
   * machine's name, `host` and the hosts of `allowedOrigins` ("name" or
   * "name:port"). Requests for any other Host get 421 (DNS rebinding).
   */
  allowedHosts?: string[];
  /** /healthz adds the room and connection counts. Default false: it says only "ok". */
  healthDetails?: boolean;
  /** How the plain WebSocket door names a client before `/nick`: "guest" (default, guest-XXXX) or "address" (ip:port). */
  plainNames?: PlainNames;
  /** WebSocket connections that have not joined after this long are closed with 4002. Default 60 s. */
  joinTimeoutMs?: number;
  /** The TCP door's liveness check: ask an idle peer after `interval` ms, drop it after `timeout` more. Default 30 s + 30 s. */
  tcpHeartbeat?: { interval: number; timeout: number };
  /** TLS: serve https:// and wss:// with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Hub settings (history size, message limit, grace period, room TTL, rate limit). */
  hub?: Omit<HubOptions, 'store' | 'clock' | 'log'>;
  /** Bytes queued for one WebSocket member before it counts as too slow. Default 4 MiB. */
  highWaterMark?: number;
  /** Largest WebSocket message accepted, bytes. Default 256 KiB (a chat line is at most a few KiB). */
  maxMessageSize?: number;
  /**
   * Proxies trusted to name their client in X-Forwarded-For (IP addresses
   * or CIDR ranges, `--trust-proxy`); connections from anywhere else are
   * the client themselves. Default: none.
   */
  trustProxy?: string[];
  /** The administrator's console (stdin/stdout in production); null: none. `activity`: show room activity (`--console-log`). */
  console?: { input: Readable; output: Writable; activity?: boolean } | null;
  webRoot?: string;
  clock?: Clock;
  log?: Logger;
}

export interface ChatServer {
  readonly hub: Hub;
  readonly http: HttpServer;
  readonly websocket: WebSocketServer;
  readonly port: number;
  readonly tcpPort: number | null;
  readonly url: string;
  /** Graceful shutdown: stop accepting, close every connection with 1001, flush and close the store. */
  close(): Promise<void>;
}

/** The room a WebSocket path names, or null: `/` is the lobby, `/r/<name>` a room. */
export function roomFromPath(pathname: string): string | null {
  if (pathname === '/' || pathname === '') return DEFAULT_ROOM;
  if (pathname.startsWith('/r/')) {
    const name = pathname.slice(3);
    return isValidRoomName(name) ? name : null;
  }
  return null;
}

export { originAllowed } from './host-check.js';

/**
 * Open the configured store: Redis when asked, else SQLite in `dataDir`, else memory.
 * @throws when the database cannot be opened (or its directory is in use by another server).
 */
export function openStore(dataDir: string | null | undefined, redis?: ChatServerOptions['redis'], log?: Logger): ChatStore {
  if (redis !== undefined) return new RedisStore({ ...redis, ...(log === undefined ? {} : { log }) });
  if (dataDir === null) return new MemoryStore();
  return SqliteStore.open(path.join(dataDir ?? 'data', 'wschat.db'));
}

/**
 * Start the chat server.
 * @throws (rejects) when the store cannot be opened or a port cannot be bound;
 *   TypeError for an `allowedHosts` entry that is not a host name or a
 *   `trustProxy` entry that is not an address or range.
 */
export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const log: Logger = options.log ?? (() => undefined);
  // Before anything is opened: a bad --allowed-host or --trust-proxy throws here.
  const allowedOrigins = options.allowedOrigins ?? [];
  const hostAllowed = allowedHosts({ listenHost: options.host, allowedHosts: options.allowedHosts, allowedOrigins });
  const trusted = new TrustedProxies(options.trustProxy ?? []);
  /** The client of a WebSocket handshake: the peer, or who a trusted proxy says it is. */
  const clientOf = (remoteAddress: string, forwardedFor: string | undefined): { address: string; key: string } => {
    const address = clientAddress(remoteAddress, forwardedFor, trusted);
    return { address, key: addressKey(address) };
  };
  const store = openStore(options.dataDir, options.redis, log);
  let hub: Hub;
  try {
    hub = new Hub({
      // Seats of a node that died are found by the sweep: sweep often enough
      // that its members leave about one grace period after it died.
      ...(options.redis === undefined ? {} : { seatSweepIntervalMs: 2000 }),
      ...options.hub,
      store,
      clock: options.clock,
      log,
    });
    await hub.start();
  } catch (error) {
    await store.close();
    throw error;
  }

  const handler = createHttpHandler({
    webRoot: options.webRoot,
    health: options.healthDetails ? () => ({ rooms: hub.localRoomCount, connections: hub.connectionCount }) : undefined,
    ready: () => store.health(),
    hostAllowed,
    connectOrigins: allowedOrigins,
  });
  const http = options.tls ? createHttpsServer(options.tls, handler) : createHttpServer(handler);
  const secure = options.tls !== undefined;
  const websocket = new WebSocketServer({
    server: http,
    maxMessageSize: options.maxMessageSize ?? 256 * 1024,
    perMessageDeflate: true,
    selectProtocol: (offered) => (offered.includes(PROTOCOL) ? PROTOCOL : null),
    heartbeat: { interval: 30_000, timeout: 30_000 },
    accept: ({ request, origin, remoteAddress }: HandshakeInfo): AcceptDecision => {
      // RFC 9110 §15.6.6, as for plain HTTP requests (http.ts).
      if (!request.httpVersion.startsWith('1.')) return { status: 505, message: 'this port speaks HTTP/1.1' };
      // Per client address (address-limits.ts): RFC 6585 §4, 429 with Retry-After.
      const verdict = hub.limits.handshake(clientOf(remoteAddress, request.headers.get('x-forwarded-for')).key);
      if (!verdict.ok) {
        return { status: 429, message: verdict.message, headers: { 'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) } };
      }
      if (!hostAllowed(request.host)) {
        return { status: 421, message: 'this server does not answer to that host name (see --allowed-host)' };
      }
      if (roomFromPath(request.path) === null) {
        return { status: 404, message: 'WebSocket rooms are at /r/<room> (1-64 of A-Z a-z 0-9 _ -), or / for the lobby' };
      }
      if (!originAllowed(origin, request.host, allowedOrigins, secure)) {
        return { status: 403, message: `Origin ${origin} is not allowed (see --allowed-origin)` };
      }
      return true;
    },
  });
  const transport: WebSocketTransportOptions = {
    checkBacklog: backlogPolicy(options.highWaterMark ?? 4 * 1024 * 1024, log),
    log,
    clock: options.clock ?? systemClock,
    joinTimeoutMs: options.joinTimeoutMs ?? DEFAULT_JOIN_TIMEOUT_MS,
    plainNames: options.plainNames ?? 'guest',
  };
  websocket.on('connection', (ws, request) => {
    const room = roomFromPath(request.path) ?? DEFAULT_ROOM;
    const client = clientOf(ws.remoteAddress, request.headers.get('x-forwarded-for'));
    // Counted while open, every door together (TCP counts in tcp-lines.ts).
    ws.once('close', hub.limits.opened(client.key));
    if (ws.protocol === PROTOCOL) serveJson(ws, hub, room, transport, client);
    else servePlain(ws, hub, room, transport, client, new URLSearchParams(request.query).get('invite') ?? undefined);
  });
  websocket.on('rejected', (error, remote) => log('info', 'websocket handshake refused', { remote, code: error.code, status: error.status }));

  let tcp: TcpLinesServer | null = null;
  let tcpPort: number | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port ?? 8080, options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    if (options.tcpPort !== undefined) {
      tcp = new TcpLinesServer({
        hub,
        log,
        clock: options.clock,
        idleProbeMs: options.tcpHeartbeat?.interval,
        idleTimeoutMs: options.tcpHeartbeat?.timeout,
      });
      tcpPort = (await tcp.listen(options.tcpPort, options.host)).port;
    }
  } catch (error) {
    // Release what was opened (the HTTP port above all): a caller that gives
    // up on this error must not be left with a listening socket keeping the
    // process alive, nor an open database.
    await hub.close();
    await websocket.close(1001, 'server shutting down');
    if (http.listening) await new Promise<void>((resolve) => http.close(() => resolve()));
    await store.close();
    throw error;
  }
  const port = (http.address() as AddressInfo).port;

  let adminConsole: AdminConsole | null = null;
  if (options.console) {
    adminConsole = startAdminConsole({ hub, input: options.console.input, output: options.console.output, activity: options.console.activity === true });
  }

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      // Stop accepting first, then say goodbye (1001) to everyone, then flush.
      http.close();
      adminConsole?.close();
      await hub.close();
      await Promise.all([websocket.close(1001, 'server shutting down'), tcp?.close()]);
      http.closeAllConnections();
      await store.close();
    })();
    return closing;
  };

  const scheme = options.tls ? 'https' : 'http';
  const shownHost = options.host === undefined || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  return { hub, http, websocket, port, tcpPort, url: `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`, close };
}
