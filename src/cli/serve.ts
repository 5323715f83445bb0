/** `wschat serve`: the chat server (what `npm start` runs). Parses options and wires; no chat logic here. */
import { parseArgs } from 'node:util';
import { TrustedProxies } from '../chat/address.js';
import { DEFAULT_ADDRESS_LIMITS } from '../chat/address-limits.js';
import { normalizeBasePath } from '../chat/base-path.js';
import { type ChatServer, ChatServerStartError, startChatServer } from '../chat/server.js';
import { redactUrl } from '../chat/store/redis.js';
import { MAX_TIMER_MS, parseDuration, parseInteger, parseOrigin, UsageError } from './options.js';
import { explainStartError, loadTlsFiles } from './startup.js';

export const serveHelp = `Usage: wschat serve [options]

Runs the chat at http://localhost:8080: the web client, the WebSocket endpoint
(/r/ROOM), GET /healthz, and the administrator's console on standard input.

Options:
  --host H               address to listen on (env HOST; default: every interface)
  --port N               HTTP/WebSocket port (env PORT; default 8080)
  --base-path PATH       serve the chat under this path prefix, e.g. /chat (env BASE_PATH),
                         for a reverse proxy that passes /chat/... through
  --data DIR             where the SQLite database lives (default ./data)
  --memory               keep nothing on disk (history is lost on restart;
                         not with --data)
  --redis URL            share rooms with other nodes through Redis 7+ (env REDIS_URL;
                         redis://[user:password@]host:port; a Cluster is detected)
  --node-timeout DURATION  with --redis: a node silent this long is gone and its
                         members' nicknames start their grace period (default 10s)
  --history N            messages a member gets on join (default 50)
  --max-message N        longest message, in characters (default 4000, at most 32768)
  --room-ttl DURATION    delete the history of rooms empty this long (default 24h)
  --grace DURATION       how long a dropped member's nickname is held (default 2m)
  --rate N               sustained messages per second per connection (default 5)
  --burst N              messages allowed at once before the rate applies (default 20)
  --address-connections N  connections at once per client address, all doors
                         together (default 500; 0: no limit)
  --address-handshakes N   new connections per minute per address (default 600; 0: none)
  --address-messages N     chat lines per second per address, over all its
                         connections, bursts of 4 s worth (default 50; 0: none)
  --address-rooms N        new rooms per hour per address, across every node
                         (default 100; 0: none)
  --trust-proxy ADDR     a reverse proxy (IP address or CIDR range) whose
                         X-Forwarded-For names the client (repeatable)
  --tcp-port N           also serve raw TCP lines (nc, telnet) on this port (default off)
  --allowed-origin URL   a browser origin allowed besides the server's own (repeatable)
  --allowed-host NAME    a Host name the server answers to besides localhost, IP
                         addresses, this machine's name, --host and the hosts of
                         --allowed-origin; others get 421 (repeatable)
  --health-details       /healthz also gives the room and connection counts
  --plain-names MODE     plain WebSocket clients start as guest-XXXX (guest, the
                         default) or as their ip:port (address)
  --tls-cert FILE        PEM certificate: serve https:// and wss:// (with --tls-key)
  --tls-key FILE         PEM private key
  --http2                with TLS: also serve HTTP/2, and WebSockets over HTTP/2 (RFC 8441)
  --no-console           don't read administrator commands from standard input
  --console-log          show room activity (joins, leaves, messages) on the
                         console (default: on when standard input is a terminal)
  --no-console-log       don't
  --help                 this text

Durations: 90s, 30m, 24h, 7d, or milliseconds.
Exit status: 1 when the server cannot start (the message says what failed
and how to fix it), 2 for a bad command line.`;

export async function runServe(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      data: { type: 'string' },
      memory: { type: 'boolean', default: false },
      redis: { type: 'string' },
      'base-path': { type: 'string' },
      'node-timeout': { type: 'string' },
      history: { type: 'string', default: '50' },
      'max-message': { type: 'string', default: '4000' },
      'room-ttl': { type: 'string', default: '24h' },
      grace: { type: 'string', default: '2m' },
      rate: { type: 'string', default: '5' },
      burst: { type: 'string', default: '20' },
      'tcp-port': { type: 'string' },
      'allowed-origin': { type: 'string', multiple: true, default: [] },
      'allowed-host': { type: 'string', multiple: true, default: [] },
      'health-details': { type: 'boolean', default: false },
      'plain-names': { type: 'string', default: 'guest' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      http2: { type: 'boolean', default: false },
      'no-console': { type: 'boolean', default: false },
      'console-log': { type: 'boolean', default: false },
      'no-console-log': { type: 'boolean', default: false },
      'address-connections': { type: 'string', default: String(DEFAULT_ADDRESS_LIMITS.connections) },
      'address-handshakes': { type: 'string', default: String(DEFAULT_ADDRESS_LIMITS.handshakesPerMinute) },
      'address-messages': { type: 'string', default: String(DEFAULT_ADDRESS_LIMITS.messagesPerSecond) },
      'address-rooms': { type: 'string', default: String(DEFAULT_ADDRESS_LIMITS.roomsPerHour) },
      'trust-proxy': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(serveHelp);
    return;
  }
  // Everything about the command line first (exit status 2), then what needs the system (1).
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) {
    throw new UsageError('--tls-cert and --tls-key go together');
  }
  if (values.http2 && values['tls-cert'] === undefined) {
    throw new UsageError('--http2 needs --tls-cert and --tls-key: browsers speak HTTP/2 only over TLS');
  }
  const redisUrl = values.redis ?? (process.env.REDIS_URL || undefined);
  if (redisUrl !== undefined && (values.memory || values.data !== undefined)) {
    throw new UsageError('--redis keeps the chat in Redis: it cannot be combined with --memory or --data');
  }
  if (values.memory && values.data !== undefined) {
    throw new UsageError('--memory keeps nothing on disk and --data says where to keep it: give one of them');
  }
  const dataDir = values.data ?? 'data';
  if (dataDir === '') throw new UsageError('--data must name a directory');
  if (values['node-timeout'] !== undefined && redisUrl === undefined) throw new UsageError('--node-timeout goes with --redis');
  let nodeTimeout = {};
  if (values['node-timeout'] !== undefined) {
    const ms = parseDuration('--node-timeout', values['node-timeout'], MAX_TIMER_MS);
    if (ms < 500) throw new UsageError('--node-timeout must be at least 500ms');
    // Beat five times per timeout: a node is judged gone only after several missed beats.
    nodeTimeout = { nodeTimeoutMs: ms, heartbeatMs: Math.floor(ms / 5) };
  }
  const hostText = values.host ?? process.env.HOST;
  const host = hostText === undefined || hostText === '' ? undefined : hostText;
  const port =
    values.port === undefined && process.env.PORT !== undefined
      ? parseInteger('PORT (environment)', process.env.PORT, 0, 65535)
      : parseInteger('--port', values.port ?? '8080', 0, 65535);
  const tcpPort = values['tcp-port'] === undefined ? undefined : parseInteger('--tcp-port', values['tcp-port'], 0, 65535);
  if (tcpPort !== undefined && tcpPort !== 0 && tcpPort === port) {
    throw new UsageError(`--tcp-port ${tcpPort} is also the web port (--port): give them different ports`);
  }
  const allowedOrigins = values['allowed-origin'].map((origin) => parseOrigin('--allowed-origin', origin));
  if (values['console-log'] && values['no-console-log']) throw new UsageError('--console-log and --no-console-log contradict each other');
  const consoleLog = values['console-log'] || (!values['no-console-log'] && process.stdin.isTTY === true);
  const plainNames = values['plain-names'];
  if (plainNames !== 'guest' && plainNames !== 'address') throw new UsageError('--plain-names is guest or address');
  try {
    // Checked here so that a bad value is a usage error (exit 2), not a failure to start.
    new TrustedProxies(values['trust-proxy']);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  let basePath: string;
  try {
    basePath = normalizeBasePath(values['base-path'] ?? (process.env.BASE_PATH || undefined));
  } catch (error) {
    throw new UsageError(`--base-path: ${error instanceof Error ? error.message : String(error)}`);
  }
  const hub = {
    historySize: parseInteger('--history', values.history, 0, 10_000),
    // wschat.v1 refuses a string field over 65536 UTF-16 units (BAD_FIELD, a
    // strike) whatever the configuration; 32768 characters fit in it even
    // when every one is outside the BMP (two units each).
    maxMessage: parseInteger('--max-message', values['max-message'], 1, 32_768),
    roomTtlMs: parseDuration('--room-ttl', values['room-ttl']),
    // The grace period is a timer: Node fires longer ones after 1 ms.
    graceMs: parseDuration('--grace', values.grace, MAX_TIMER_MS),
    rateLimit: {
      perSecond: parseInteger('--rate', values.rate, 0, 1_000_000),
      burst: parseInteger('--burst', values.burst, 1, 1_000_000),
    },
    addressLimits: {
      connections: parseInteger('--address-connections', values['address-connections'], 0, 10_000_000),
      handshakesPerMinute: parseInteger('--address-handshakes', values['address-handshakes'], 0, 10_000_000),
      messagesPerSecond: parseInteger('--address-messages', values['address-messages'], 0, 10_000_000),
      roomsPerHour: parseInteger('--address-rooms', values['address-rooms'], 0, 10_000_000),
    },
  };
  const tls = values['tls-cert'] && values['tls-key'] ? loadTlsFiles(values['tls-cert'], values['tls-key']) : undefined;

  let server: ChatServer;
  try {
    server = await startChatServer({
      host,
      port,
      dataDir: values.memory ? null : dataDir,
      redis: redisUrl === undefined ? undefined : { url: redisUrl, ...nodeTimeout },
      basePath,
      tcpPort,
      allowedOrigins,
      allowedHosts: values['allowed-host'],
      healthDetails: values['health-details'],
      plainNames,
      trustProxy: values['trust-proxy'],
      tls,
      http2: values.http2,
      hub,
      console: values['no-console'] ? null : { input: process.stdin, output: process.stdout, activity: consoleLog },
      log: (level, message, fields) => {
        const line = `${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`;
        if (level === 'info') console.log(line);
        else console.error(line);
      },
    });
  } catch (error) {
    if (error instanceof ChatServerStartError) throw new Error(explainStartError(error, { host, dataDir }));
    throw error;
  }
  const where = redisUrl !== undefined ? `state in Redis at ${redactUrl(redisUrl)}` : values.memory ? 'in memory' : `data in ${dataDir}/`;
  console.log(`wschat is running at ${server.url}/ (${where})`);
  if (server.tcpPort !== null) console.log(`raw TCP lines on port ${server.tcpPort} (try: nc localhost ${server.tcpPort})`);
  if (!values['no-console']) console.log('Type a line to speak to every room as Administrator; /help for console commands.');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: closing connections and flushing the store...`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
