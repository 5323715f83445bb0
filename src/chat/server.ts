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
import { createSecureServer as createHttp2Server, type Http2SecureServer, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { type AcceptDecision, type HandshakeInfo, WebSocketServer } from '../websocket/index.js';
import { addressKey, clientAddress, TrustedProxies } from './address.js';
import { type AdminConsole, startAdminConsole } from './admin-console.js';
import { type Clock, systemClock } from './clock.js';
import { allowedHosts, originAllowed } from './host-check.js';
import { normalizeBasePath, stripBasePath } from './base-path.js';
import { createHttpHandler } from './http.js';
import { Hub, type HubOptions } from './hub.js';
import type { Logger } from './member.js';
import { PROTOCOL } from './messages.js';
import { DEFAULT_ROOM, ROOM_NAME_RULE, roomName } from './room-name.js';
import { MemoryStore } from './store/memory.js';
import { RedisStore } from './store/redis.js';
import { SqliteStore } from './store/sqlite.js';
import type { ChatStore } from './store/store.js';
import { HttpDoor } from './transports/http-door.js';
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
  /**
   * Serve everything under this path prefix ("/chat"): the web client, its
   * assets, room links and WebSocket URLs. Default: the root.
   */
  basePath?: string;
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
  /**
   * With `tls`: serve HTTP/2 as well as HTTP/1.1 on the port, and WebSockets
   * over HTTP/2 (RFC 8441): a browser that loaded the page over HTTP/2 opens
   * its WebSockets as streams of that same connection.
   */
  http2?: boolean;
  /**
   * The HTTP door (long-polling, for networks that block WebSockets;
   * transports/http-door.ts): its poll hold and liveness timeout, ms
   * (defaults 25 s and 30 s). False: no HTTP door.
   */
  httpDoor?: false | { pollMs?: number; livenessMs?: number; maxSessions?: number };
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
  readonly http: HttpServer | Http2SecureServer;
  readonly websocket: WebSocketServer;
  readonly port: number;
  readonly tcpPort: number | null;
  readonly url: string;
  /** Graceful shutdown: stop accepting, close every connection with 1001, flush and close the store. */
  close(): Promise<void>;
}

/** The room a WebSocket path names, or null: `/` is the lobby, `/r/<name>` a room, both under the base path. */
export function roomFromPath(path: string, basePath = ''): string | null {
  const pathname = stripBasePath(path, basePath);
  if (pathname === null) return null;
  if (pathname === '/' || pathname === '') return DEFAULT_ROOM;
  if (pathname.startsWith('/r/')) {
    // The handshake's path is as sent: percent-encoded UTF-8 (RFC 3986 §2.1), `/r/%EC%9A%B0%EB%A6%AC%EB%B0%A9` for 우리방.
    let name: string;
    try {
      name = decodeURIComponent(pathname.slice(3));
    } catch {
      return null;
    }
    return roomName(name);
  }
  return null;
}

export { originAllowed } from './host-check.js';

/** Which part of the server failed to start. */
export type StartPart = 'store' | 'http' | 'tcp';

/**
 * `startChatServer` failed: `part` says what (the store at `path`, or the
 * HTTP/WebSocket or raw TCP listener on `port`), `cause` is the original
 * error (its `code`: EADDRINUSE, EACCES, SQLITE_NOTADB...). The caller (the
 * CLI) turns it into advice in its own terms.
 */
export class ChatServerStartError extends Error {
  readonly part: StartPart;
  /** The database file (part `store`). */
  readonly path: string | undefined;
  /** The port asked for (parts `http`, `tcp`). */
  readonly port: number | undefined;
  /** The original error's code (EADDRINUSE, SQLITE_CANTOPEN...), '' when it had none. */
  readonly code: string;

  constructor(part: StartPart, cause: unknown, where: { path?: string; port?: number }) {
    const text = cause instanceof Error ? cause.message : String(cause);
    const what = part === 'store' ? `the store ${where.path}` : `the ${part === 'http' ? 'HTTP' : 'TCP'} port ${where.port}`;
    super(`${what}: ${text}`, { cause });
    this.name = 'ChatServerStartError';
    this.part = part;
    this.path = where.path;
    this.port = where.port;
    const code = (cause as { code?: unknown } | null)?.code;
    this.code = typeof code === 'string' ? code : '';
  }
}

/** The database file used for `dataDir`. */
export function databasePath(dataDir: string | undefined): string {
  return path.join(dataDir ?? 'data', 'wschat.db');
}

/**
 * Open the configured store: Redis when asked, else SQLite in `dataDir`, else memory.
 * @throws ChatServerStartError (part `store`) when the SQLite database cannot
 *   be opened (or its directory is in use by another server).
 */
export function openStore(dataDir: string | null | undefined, redis?: ChatServerOptions['redis'], log?: Logger): ChatStore {
  if (redis !== undefined) return new RedisStore({ ...redis, ...(log === undefined ? {} : { log }) });
  if (dataDir === null) return new MemoryStore();
  const file = databasePath(dataDir);
  try {
    return SqliteStore.open(file);
  } catch (error) {
    throw new ChatServerStartError('store', error, { path: file });
  }
}

/**
 * Start the chat server.
 * @throws (rejects) ChatServerStartError when the store cannot be opened or
 *   a port cannot be bound; RangeError for hub options out of range;
 *   TypeError for an `allowedHosts` entry that is not a host name, a
 *   `trustProxy` entry that is not an address or range, or a bad `basePath`.
 */
export async function startChatServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const log: Logger = options.log ?? (() => undefined);
  // Before anything is opened: a bad --allowed-host or --trust-proxy throws here.
  const allowedOrigins = options.allowedOrigins ?? [];
  const basePath = normalizeBasePath(options.basePath);
  // Browsers speak HTTP/2 only over TLS (RFC 9113 §3.2 leaves h2c unused by them).
  if (options.http2 === true && options.tls === undefined) throw new TypeError('http2 needs tls (a certificate and key)');
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
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    await hub.start();
  } catch (error) {
    await store.close();
    // Starting reads and sweeps the store: a database it cannot write fails here.
    const { dataDir } = options;
    if (options.redis === undefined && dataDir !== null) throw new ChatServerStartError('store', error, { path: databasePath(dataDir) });
    throw error;
  }

  // The HTTP door: the WebSocket door's Origin policy, limits and join deadline.
  const door =
    options.httpDoor === false
      ? null
      : new HttpDoor({
          hub,
          originAllowed: (origin, host) => originAllowed(origin, host, allowedOrigins, options.tls !== undefined),
          clock: options.clock,
          log,
          joinTimeoutMs: options.joinTimeoutMs,
          highWaterMark: options.highWaterMark,
          clientOf: (req) => clientOf(req.socket.remoteAddress ?? '', headerValue(req.headers['x-forwarded-for'])),
          maxBodyBytes: options.maxMessageSize,
          ...options.httpDoor,
        });
  const handler = createHttpHandler({
    door: door === null ? undefined : (req, res, pathname, url) => door.handle(req, res, pathname, url),
    webRoot: options.webRoot,
    health: options.healthDetails ? () => ({ rooms: hub.localRoomCount, connections: hub.connectionCount }) : undefined,
    ready: () => store.health(),
    hostAllowed,
    connectOrigins: allowedOrigins,
    basePath,
    http2: options.http2 === true && options.tls !== undefined,
  });
  const http: HttpServer | Http2SecureServer =
    options.tls === undefined
      ? createHttpServer(handler)
      : options.http2 === true
        ? // With allowHTTP1 the listener gets Node's HTTP/1.1 request objects or
          // their HTTP/2 compatibility twins, which the handler uses alike.
          createHttp2Server({ ...options.tls, allowHTTP1: true, settings: { enableConnectProtocol: true } }, handler as unknown as Http2Listener)
        : createHttpsServer(options.tls, handler);
  const secure = options.tls !== undefined;
  // HTTP/2 sessions, to end them at shutdown (an http2 server has no closeAllConnections).
  const sessions = new Set<ServerHttp2Session>();
  if ('updateSettings' in http) {
    http.on('session', (session: ServerHttp2Session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
  }
  const websocket = new WebSocketServer({
    server: http,
    maxMessageSize: options.maxMessageSize ?? 256 * 1024,
    perMessageDeflate: true,
    selectProtocol: (offered) => (offered.includes(PROTOCOL) ? PROTOCOL : null),
    heartbeat: { interval: 30_000, timeout: 30_000 },
    accept: ({ request, origin, remoteAddress }: HandshakeInfo): AcceptDecision => {
      // RFC 9110 §15.6.6, as for plain HTTP requests (http.ts).
      const versionServed = request.httpVersion.startsWith('1.') || (options.http2 === true && request.httpVersion === '2.0');
      if (!versionServed) return { status: 505, message: 'this port speaks HTTP/1.1' };
      // Per client address (address-limits.ts): RFC 6585 §4, 429 with Retry-After.
      const verdict = hub.limits.handshake(clientOf(remoteAddress, request.headers.get('x-forwarded-for')).key);
      if (!verdict.ok) {
        return { status: 429, message: verdict.message, headers: { 'Retry-After': String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))) } };
      }
      if (!hostAllowed(request.host)) {
        return { status: 421, message: 'this server does not answer to that host name (see --allowed-host)' };
      }
      if (roomFromPath(request.path, basePath) === null) {
        return { status: 404, message: `WebSocket rooms are at ${basePath}/r/<room> (${ROOM_NAME_RULE}), or ${basePath}/ for the lobby` };
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
    const room = roomFromPath(request.path, basePath) ?? DEFAULT_ROOM;
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
      const failed = (error: unknown) => reject(new ChatServerStartError('http', error, { port: options.port ?? 8080 }));
      http.once('error', failed);
      http.listen(options.port ?? 8080, options.host, () => {
        http.off('error', failed);
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
      try {
        tcpPort = (await tcp.listen(options.tcpPort, options.host)).port;
      } catch (error) {
        throw new ChatServerStartError('tcp', error, { port: options.tcpPort });
      }
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
      door?.close();
      await Promise.all([websocket.close(1001, 'server shutting down'), tcp?.close()]);
      if ('closeAllConnections' in http) http.closeAllConnections();
      for (const session of sessions) session.destroy();
      await store.close();
    })();
    return closing;
  };

  const scheme = options.tls ? 'https' : 'http';
  const shownHost = options.host === undefined || options.host === '0.0.0.0' || options.host === '::' ? 'localhost' : options.host;
  const origin = `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;
  return { hub, http, websocket, port, tcpPort, url: `${origin}${basePath}`, close };
}

/** The request listener type of an HTTP/2 server. */
type Http2Listener = Parameters<typeof createHttp2Server>[1];

/** One value of a request header that may come several times (joined as a list, as RFC 9110 §5.3 allows). */
function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
