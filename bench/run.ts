/**
 * `npm run bench`: starts each server under test in its own process (a fresh
 * one per run, pinned to CPU 0), drives it with the C load generator (pinned
 * to CPU 1), and reports medians, ranges and ratios to `ws` (pure JS) from the
 * same round. See bench/README.md.
 *
 *   node --import tsx bench/run.ts [--quick | --smoke] [--only W[,W]] [--servers a,b] [--runs N] [--out DIR] [--loadgen PATH]
 *
 * Every spawned process is killed when the runner ends, however it ends: each
 * is in its own process group, killed on exit, Ctrl-C and errors, and carries
 * a parent-death signal (setpriv) in case the runner itself is killed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type BenchResults,
  type Machine,
  type MetricDef,
  type RateStep,
  type RunResult,
  type WorkloadResult,
  evaluateTargets,
  formatRatio,
  formatValue,
  generatorCheck,
  renderMarkdown,
  renderSvg,
  renderText,
  workloadTable,
} from './report.js';
import { type ServerName, SERVER_NAMES, type Variant, launchSpec, prepareServers } from './servers/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type WorkloadName =
  | 'echo32'
  | 'echo64k'
  | 'bulk'
  | 'fanout'
  | 'idle'
  | 'connect'
  | 'compress'
  | 'compress-small'
  | 'chat'
  | 'chat-multinode';
export const WORKLOAD_NAMES: readonly WorkloadName[] = [
  'echo32',
  'echo64k',
  'bulk',
  'fanout',
  'idle',
  'connect',
  'compress',
  'compress-small',
  'chat',
  'chat-multinode',
];

export type Mode = 'full' | 'quick' | 'smoke';

export interface Options {
  mode: Mode;
  /** null: every workload. */
  only: WorkloadName[] | null;
  /** null: every server (wschat only with --smoke). */
  servers: ServerName[] | null;
  runs: number;
  outDir: string;
  /** A load generator binary to use instead of building bench/loadgen. */
  loadgen: string | null;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

  --quick            a short pass: 1 run, 1 s warm-up + 2 s windows, idle with 2,000 connections
  --smoke            one run of ~1 s per workload, wschat only, reduced counts (what CI runs)
  --only W[,W]       workloads: ${WORKLOAD_NAMES.join(', ')} (repeatable)
  --servers a[,b]    servers: ${SERVER_NAMES.join(', ')} (repeatable)
  --runs N           runs per server and workload (default 3; 1 with --quick or --smoke)
  --out DIR          where report.md, ratios.svg and results.json go (default bench/out)
  --loadgen PATH     use this load generator binary instead of building bench/loadgen/loadgen.c
  --help             this text`;

function splitList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
}

/**
 * Parses the runner's command line.
 * @throws Error naming the bad option (unknown option, workload or server; bad --runs; --quick with --smoke).
 */
export function parseOptions(argv: readonly string[]): Options {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true, default: [] },
      servers: { type: 'string', multiple: true, default: [] },
      runs: { type: 'string' },
      out: { type: 'string' },
      loadgen: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.quick && values.smoke) throw new Error('--quick and --smoke are exclusive');
  const mode: Mode = values.smoke ? 'smoke' : values.quick ? 'quick' : 'full';
  const only = splitList(values.only);
  for (const name of only) {
    if (!(WORKLOAD_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown workload "${name}" (one of ${WORKLOAD_NAMES.join(', ')})`);
    }
  }
  const servers = splitList(values.servers);
  for (const name of servers) {
    if (!(SERVER_NAMES as readonly string[]).includes(name)) {
      throw new Error(`--servers: unknown server "${name}" (one of ${SERVER_NAMES.join(', ')})`);
    }
  }
  if (mode === 'smoke' && servers.some((s) => s !== 'wschat')) throw new Error('--smoke runs wschat only');
  let runs = mode === 'full' ? 3 : 1;
  if (values.runs !== undefined) {
    runs = Number(values.runs);
    if (!/^\d+$/.test(values.runs) || runs < 1 || runs > 20) throw new Error(`--runs must be 1 to 20, got "${values.runs}"`);
  }
  return {
    mode,
    only: only.length > 0 ? [...new Set(only)] as WorkloadName[] : null,
    servers: mode === 'smoke' ? ['wschat'] : servers.length > 0 ? [...new Set(servers)] as ServerName[] : null,
    runs,
    outDir: resolve(values.out ?? join(ROOT, 'bench', 'out')),
    loadgen: values.loadgen ?? null,
    help: values.help,
  };
}

/** Counts and durations of one mode. */
export interface Profile {
  warmupS: number;
  durationS: number;
  fanoutConns: number;
  idleConns: number;
  compressConns: number;
  /** Size of the bulk workload's messages (8 MiB; smaller in a smoke pass). */
  bulkSize: number;
  /** Connections of the small-compressed-messages workload. */
  smallCompressConns: number;
  chatConns: number;
  /**
   * The fixed chat load, total messages per second over all publishers: one
   * that every contestant sustains (socket.io's p99 grows past 100 ms from
   * about 70 messages/s to 1,000 members on a 2020s server core), so p99 and
   * CPU are compared at equal, unsaturated load. The rate search starts here.
   */
  chatRate: number;
  chatWarmupS: number;
  search: SearchSettings;
}

export interface SearchSettings {
  warmupS: number;
  durationS: number;
  /** Most steps per contestant. */
  maxSteps: number;
  /** Stop refining once the next failing rate is within this factor of the best passing one. */
  precision: number;
  /** Wall-clock budget per contestant, seconds. */
  budgetS: number;
  /** A step passes when p99 is at most this... */
  p99LimitUs: number;
  /** ...and at least this share of the offered messages reached every member (and of the offered deliveries arrived). */
  minRatio: number;
}

export const PROFILES: Record<Mode, Profile> = {
  full: {
    warmupS: 2,
    durationS: 5,
    fanoutConns: 1000,
    idleConns: 10_000,
    compressConns: 200,
    bulkSize: 8 * 1024 * 1024,
    smallCompressConns: 100,
    chatConns: 1000,
    chatRate: 25,
    chatWarmupS: 2,
    search: { warmupS: 1, durationS: 3, maxSteps: 10, precision: 1.25, budgetS: 150, p99LimitUs: 100_000, minRatio: 0.95 },
  },
  quick: {
    warmupS: 1,
    durationS: 2,
    fanoutConns: 1000,
    idleConns: 2000,
    compressConns: 200,
    bulkSize: 8 * 1024 * 1024,
    smallCompressConns: 100,
    chatConns: 1000,
    chatRate: 25,
    chatWarmupS: 1,
    search: { warmupS: 1, durationS: 2, maxSteps: 8, precision: 1.5, budgetS: 60, p99LimitUs: 100_000, minRatio: 0.95 },
  },
  smoke: {
    warmupS: 0.3,
    durationS: 1,
    fanoutConns: 200,
    idleConns: 200,
    compressConns: 20,
    bulkSize: 1024 * 1024,
    smallCompressConns: 20,
    chatConns: 100,
    chatRate: 20,
    chatWarmupS: 0.5,
    search: { warmupS: 0.5, durationS: 1, maxSteps: 2, precision: 4, budgetS: 20, p99LimitUs: 100_000, minRatio: 0.95 },
  },
};

export interface Contestant {
  label: string;
  server: ServerName;
  variant: Variant;
}

export interface WorkloadPlan {
  name: WorkloadName;
  title: string;
  description: string;
  notes: string[];
  baseline: string;
  contestants: Contestant[];
  metrics: MetricDef[];
  kind: 'window' | 'idle' | 'chat';
  /** Generator arguments besides host, port, warm-up, duration, timeout and seed. */
  generatorArgs: string[];
  /** Connections the generator opens (for RSS per connection and the open-file check). */
  conns: number;
  warmupS: number;
  durationS: number;
  /** Report server RSS growth per connection at the end of the window. */
  rssPerConn: boolean;
  chat?: { rate: number; publishers: number; size: number; search: SearchSettings; maxTitle?: string };
  /** Several nodes of the contestant on one fresh Redis per run, the generator spread over them (absent: one server). */
  nodes?: number;
}

const ECHO_SERVERS: readonly ServerName[] = ['wschat', 'ws', 'ws+bufferutil', 'bun'];

function echoContestants(variant: Variant): Contestant[] {
  return ECHO_SERVERS.map((server) => ({ label: server, server, variant }));
}

const metric = (
  key: string,
  label: string,
  unit: MetricDef['unit'],
  better: MetricDef['better'],
  ratio = false,
  chart = false,
): MetricDef => ({ key, label, unit, better, ratio, chart });

const count = (n: number) => n.toLocaleString('en-US');
const formatBytes = (n: number) => (n >= 1024 * 1024 ? `${n / (1024 * 1024)} MiB` : `${n / 1024} KiB`);

/** The workloads of issues 4 and 9, sized for `mode`, filtered by `--only` and `--servers`. */
export function planWorkloads(options: Pick<Options, 'mode' | 'only' | 'servers'>): WorkloadPlan[] {
  const p = PROFILES[options.mode];
  const reduced = (what: string, used: number, full: number) =>
    used === full ? [] : [`${options.mode} pass: ${what} ${count(used)} instead of ${count(full)}.`];
  const full = PROFILES.full;
  const window = { warmupS: p.warmupS, durationS: p.durationS };
  const plans: WorkloadPlan[] = [
    {
      name: 'echo32',
      title: 'Echo, 32 B text',
      description:
        '100 connections, each with 16 messages in flight: every 32-byte text message is sent back by the server. Messages per second over the window, and the round-trip latency.',
      notes: [],
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('msgs_per_s', 'msgs/s', 'msgs/s', 'higher', true, true),
        metric('p50_us', 'p50', 'us', 'lower'),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: ['--mode', 'echo', '--path', '/', '--conns', '100', '--inflight', '16', '--size', '32'],
      conns: 100,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'echo64k',
      title: 'Echo, 64 KiB binary',
      description:
        '10 connections, each with 4 messages in flight: 64 KiB binary messages echoed. Payload megabytes per second (received by the generator), where masking and copying dominate.',
      notes: [],
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('mb_per_s', 'MB/s', 'MB/s', 'higher', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: ['--mode', 'echo', '--path', '/', '--conns', '10', '--inflight', '4', '--size', '65536', '--binary'],
      conns: 10,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'bulk',
      title: 'Bulk both ways, 8 MiB binary',
      description: `2 connections, each with 2 messages of ${formatBytes(p.bulkSize)} in flight, echoed: the generator sends a message while the previous one comes back, so both directions carry large messages at once (a server that stops reading while its own send buffer is full hangs here). Payload megabytes per second received.`,
      notes: p.bulkSize === full.bulkSize ? [] : [`${options.mode} pass: messages of ${formatBytes(p.bulkSize)} instead of ${formatBytes(full.bulkSize)}.`],
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('mb_per_s', 'MB/s', 'MB/s', 'higher', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: ['--mode', 'echo', '--path', '/', '--conns', '2', '--inflight', '2', '--size', String(p.bulkSize), '--binary'],
      conns: 2,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'fanout',
      title: 'Fan-out on /broadcast',
      description: `${count(p.fanoutConns)} connections on /broadcast; 5 of them publish 64-byte messages, each with 4 in flight (a message is in flight until every connection has it). Deliveries per second (messages received over all connections) and the latency until the last connection has a message.`,
      notes: reduced('connections', p.fanoutConns, full.fanoutConns),
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('deliveries_per_s', 'deliveries/s', 'deliveries/s', 'higher', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: [
        '--mode',
        'fanout',
        '--path',
        '/broadcast',
        '--conns',
        String(p.fanoutConns),
        '--publishers',
        '5',
        '--inflight',
        '4',
        '--size',
        '64',
      ],
      conns: p.fanoutConns,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'idle',
      title: 'Idle memory',
      description: `${count(p.idleConns)} connections opened and held idle. Server RSS (VmRSS) once they are all open, minus its RSS before, divided by the connections; no forced garbage collection.`,
      notes: reduced('connections', p.idleConns, full.idleConns),
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('rss_per_conn', 'RSS per connection', 'bytes', 'lower', true, true),
        metric('rss_before', 'RSS before', 'bytes', 'lower'),
        metric('rss_after', 'RSS after', 'bytes', 'lower'),
      ],
      kind: 'idle',
      generatorArgs: ['--mode', 'idle', '--path', '/', '--conns', String(p.idleConns)],
      conns: p.idleConns,
      ...window,
      rssPerConn: true,
    },
    {
      name: 'connect',
      title: 'Connect',
      description:
        '50 concurrent loops of: open TCP, opening handshake, close frame, wait for the server close and the TCP close. Handshakes per second.',
      notes: [],
      baseline: 'ws',
      contestants: echoContestants('echo'),
      metrics: [
        metric('handshakes_per_s', 'handshakes/s', 'handshakes/s', 'higher', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: ['--mode', 'connect', '--path', '/', '--conns', '50'],
      conns: 50,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'compress',
      title: 'Compression (permessage-deflate)',
      description: `${count(p.compressConns)} connections with permessage-deflate negotiated, each with 4 messages in flight: 4 KiB of compressible JSON echoed. Messages per second, and server RSS growth per connection at the end of the window (each server with its default deflate settings).`,
      notes: reduced('connections', p.compressConns, full.compressConns),
      baseline: 'ws',
      contestants: echoContestants('deflate'),
      metrics: [
        metric('msgs_per_s', 'msgs/s', 'msgs/s', 'higher', true, true),
        metric('rss_per_conn', 'RSS per connection', 'bytes', 'lower', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: [
        '--mode',
        'echo',
        '--path',
        '/',
        '--deflate',
        '--conns',
        String(p.compressConns),
        '--inflight',
        '4',
        '--size',
        '4096',
      ],
      conns: p.compressConns,
      ...window,
      rssPerConn: true,
    },
    {
      name: 'compress-small',
      title: 'Small compressed messages (permessage-deflate)',
      description: `${count(p.smallCompressConns)} connections with permessage-deflate negotiated, each with 8 messages in flight: 256 bytes of JSON echoed, every server compressing every message (threshold 0; Bun always does). What a compressed message costs beyond its bytes: zlib calls, buffers, the threadpool round trip. Messages per second.`,
      notes: reduced('connections', p.smallCompressConns, full.smallCompressConns),
      baseline: 'ws',
      contestants: echoContestants('deflate-small'),
      metrics: [
        metric('msgs_per_s', 'msgs/s', 'msgs/s', 'higher', true, true),
        metric('p99_us', 'p99', 'us', 'lower'),
      ],
      kind: 'window',
      generatorArgs: [
        '--mode',
        'echo',
        '--path',
        '/',
        '--deflate',
        '--conns',
        String(p.smallCompressConns),
        '--inflight',
        '8',
        '--size',
        '256',
      ],
      conns: p.smallCompressConns,
      ...window,
      rssPerConn: false,
    },
    {
      name: 'chat',
      title: 'Chat level, fixed load',
      description: `One room of ${count(p.chatConns)} members, 10 publishers sending ${count(p.chatRate)} messages/s in total (64 characters each), so ${count(p.chatRate * p.chatConns)} deliveries/s are offered, through wschat's full chat server (wschat.v1 JSON, memory or SQLite store) and a socket.io 4 room (\`io.to(room).emit\`). Server CPU time per 1000 deliveries, and the p99 latency from sending a message until the last member has it. The maximum sustainable rate follows.`,
      notes: [
        ...reduced('members', p.chatConns, full.chatConns),
        ...(p.chatRate === full.chatRate ? [] : [`${options.mode} pass: fixed load ${count(p.chatRate)} messages/s.`]),
      ],
      baseline: 'socket.io',
      contestants: [
        { label: 'wschat (memory)', server: 'wschat', variant: 'chat-memory' },
        { label: 'wschat (SQLite)', server: 'wschat', variant: 'chat-sqlite' },
        { label: 'socket.io', server: 'socketio', variant: 'chat' },
      ],
      metrics: [
        metric('cpu_ms_per_1000', 'CPU per 1k deliveries', 'ms', 'lower', true, true),
        metric('p99_us', 'p99', 'us', 'lower', true, true),
        metric('p50_us', 'p50', 'us', 'lower'),
        metric('deliveries_per_s', 'deliveries/s', 'deliveries/s', 'higher'),
      ],
      kind: 'chat',
      generatorArgs: ['--conns', String(p.chatConns), '--publishers', '10', '--size', '64'],
      conns: p.chatConns,
      warmupS: p.chatWarmupS,
      durationS: p.durationS,
      rssPerConn: false,
      chat: { rate: p.chatRate, publishers: 10, size: 64, search: p.search },
    },
    multinodePlan(options.mode),
  ];
  return plans
    .filter((plan) => options.only === null || options.only.includes(plan.name))
    .map((plan) => ({
      ...plan,
      contestants: plan.contestants.filter((c) => options.servers === null || options.servers.includes(c.server)),
    }))
    .filter((plan) => plan.contestants.length > 0);
}

/** The multi-node chat's counts per mode (issue 9). */
export interface MultinodeProfile {
  nodes: number;
  /** Room members, spread evenly over the nodes. */
  conns: number;
  /** Publishers (a multiple of `nodes`, so that each node has as many). */
  publishers: number;
  /** The fixed load, messages per second over all publishers; the rate search starts here. */
  rate: number;
  /** Most steps of the rate search, when fewer than the mode's (every step starts Redis and the nodes afresh). */
  maxSteps?: number;
}

export const MULTINODE_PROFILES: Record<Mode, MultinodeProfile> = {
  full: { nodes: 3, conns: 1000, publishers: 9, rate: 25 },
  quick: { nodes: 3, conns: 1000, publishers: 9, rate: 25 },
  smoke: { nodes: 3, conns: 60, publishers: 3, rate: 20, maxSteps: 1 },
};

/**
 * The multi-node chat of issue 9: one room whose members and publishers are
 * spread evenly over several nodes sharing one Redis (a fresh one per run),
 * wschat's Redis store against socket.io's Redis adapter. Like `chat`: rounds
 * at a fixed load, then a maximum-rate search (`chat-multinode-max`).
 */
export function multinodePlan(mode: Mode): WorkloadPlan {
  const p = PROFILES[mode];
  const m = MULTINODE_PROFILES[mode];
  const full = MULTINODE_PROFILES.full;
  const notes: string[] = [];
  if (m.conns !== full.conns || m.publishers !== full.publishers) {
    notes.push(`${mode} pass: ${count(m.conns)} members and ${m.publishers} publishers instead of ${count(full.conns)} and ${full.publishers}.`);
  }
  if (m.rate !== full.rate) notes.push(`${mode} pass: fixed load ${count(m.rate)} messages/s.`);
  const perNode = m.publishers / m.nodes;
  return {
    name: 'chat-multinode',
    title: `Chat on ${m.nodes} nodes and Redis, fixed load`,
    description:
      `One room of ${count(m.conns)} members spread evenly over ${m.nodes} nodes that share one Redis, ${m.publishers} publishers (${perNode} on each node) sending ${count(m.rate)} messages/s in total (64 characters each), so ${count(m.rate * m.conns)} deliveries/s are offered, every member on every node receiving every message: ${m.nodes} \`wschat serve --redis\` nodes (Redis store: a Lua script per batch of posts, sharded pub/sub between nodes) against ${m.nodes} socket.io 4 nodes with \`@socket.io/redis-adapter\` (PUBLISH per broadcast). ` +
      'Each run starts a fresh redis-server (AOF on, `appendfsync always`: the setting under which wschat acknowledges a message only once Redis has it on disk; socket.io stores nothing there) and fresh nodes. ' +
      'All of these processes and the load generator run on this one machine and share its cores: the nodes and Redis are pinned together to the server CPU (the whole cluster gets one core, as the one-node server does), the generator to its own. ' +
      'Server CPU time (all nodes plus Redis, and Redis alone) per 1000 deliveries, and the p99 latency from sending a message until the last member on any node has it. The maximum sustainable rate follows.',
    notes,
    baseline: 'socket.io (Redis)',
    contestants: [
      { label: 'wschat (Redis)', server: 'wschat', variant: 'chat-redis' },
      { label: 'socket.io (Redis)', server: 'socketio', variant: 'chat-redis' },
    ],
    metrics: [
      metric('cpu_ms_per_1000', 'CPU per 1k deliveries', 'ms', 'lower', true, true),
      metric('redis_ms_per_1000', 'of which Redis', 'ms', 'lower'),
      metric('p99_us', 'p99', 'us', 'lower', true, true),
      metric('p50_us', 'p50', 'us', 'lower'),
      metric('deliveries_per_s', 'deliveries/s', 'deliveries/s', 'higher'),
    ],
    kind: 'chat',
    generatorArgs: ['--conns', String(m.conns), '--publishers', String(m.publishers), '--size', '64'],
    conns: m.conns,
    warmupS: p.chatWarmupS,
    durationS: p.durationS,
    rssPerConn: false,
    chat: {
      rate: m.rate,
      publishers: m.publishers,
      size: 64,
      search: { ...p.search, maxSteps: Math.min(p.search.maxSteps, m.maxSteps ?? p.search.maxSteps) },
      maxTitle: `Chat on ${m.nodes} nodes and Redis, maximum sustainable rate`,
    },
    nodes: m.nodes,
  };
}

/** What the load generator prints at the end of a run (one JSON line). */
export interface GeneratorResult {
  mode: string;
  ok: boolean;
  errors: number;
  error_detail: string;
  seconds: number;
  messages: number;
  deliveries: number;
  bytes: number;
  msgs_per_s: number;
  deliveries_per_s: number;
  mb_per_s: number;
  handshakes_per_s: number;
  p50_us: number;
  p99_us: number;
  connections: number;
  /** Whether permessage-deflate was negotiated on every connection; null when not reported. */
  deflate: boolean | null;
}

const NUMERIC_FIELDS = [
  'errors',
  'seconds',
  'messages',
  'deliveries',
  'bytes',
  'msgs_per_s',
  'deliveries_per_s',
  'mb_per_s',
  'handshakes_per_s',
  'p50_us',
  'p99_us',
  'connections',
] as const;

/**
 * The generator's result: the last stdout line that is a JSON object with a
 * boolean `ok`. Missing numbers read as 0; a missing or non-string
 * error_detail as ''. null when there is no such line.
 */
export function parseGeneratorOutput(stdout: string): GeneratorResult | null {
  const lines = stdout.split('\n').map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    if (!line.startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (typeof value !== 'object' || value === null || typeof (value as { ok?: unknown }).ok !== 'boolean') continue;
    const record = value as Record<string, unknown>;
    const result: GeneratorResult = {
      mode: typeof record.mode === 'string' ? record.mode : '',
      ok: record.ok as boolean,
      error_detail: typeof record.error_detail === 'string' ? record.error_detail : '',
      errors: 0,
      seconds: 0,
      messages: 0,
      deliveries: 0,
      bytes: 0,
      msgs_per_s: 0,
      deliveries_per_s: 0,
      mb_per_s: 0,
      handshakes_per_s: 0,
      p50_us: 0,
      p99_us: 0,
      connections: 0,
      deflate: typeof record.deflate === 'boolean' ? record.deflate : null,
    };
    for (const field of NUMERIC_FIELDS) {
      const n = record[field];
      result[field] = typeof n === 'number' && Number.isFinite(n) ? n : 0;
    }
    return result;
  }
  return null;
}

/** `READY <n>` from the idle generator, else null. */
export function parseReady(line: string): number | null {
  const match = /^READY (\d+)\s*$/.exec(line);
  return match ? Number(match[1]) : null;
}

// ---------------------------------------------------------------- /proc

/** CPU time in clock ticks from one /proc/stat `cpu` line: busy (user+nice+system) and steal. */
export function parseCpuLine(line: string): { busy: number; steal: number } {
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = fields;
  // irq and softirq are left out: with IRQ time accounting, loopback traffic
  // of the benchmark itself shows up there and would look like someone else.
  return { busy: user + nice + system, steal };
}

/** The command name and utime+stime (all threads) from /proc/<pid>/stat; null if malformed. */
export function parsePidStat(text: string): { comm: string; ticks: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  // After the comm: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime.
  const rest = text.slice(close + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { comm: text.slice(open + 1, close), ticks: utime + stime };
}

/** VmRSS in bytes from /proc/<pid>/status; null if absent. */
export function parseVmRss(status: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : null;
}

/** The soft "Max open files" limit from /proc/<pid>/limits; null if absent or unlimited. */
export function parseOpenFileLimit(limits: string): number | null {
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  return match ? Number(match[1]) : null;
}

/** CPU numbers from a list such as "0-3,8" (/proc/self/status Cpus_allowed_list). */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!match) continue;
    const from = Number(match[1]);
    const to = match[2] === undefined ? from : Number(match[2]);
    for (let cpu = from; cpu <= to && cpus.length < 4096; cpu++) cpus.push(cpu);
  }
  return cpus;
}

export interface CpuSnapshot {
  /** performance.now(), ms. */
  at: number;
  busy: number;
  steal: number;
  procs: Map<number, { comm: string; ticks: number }>;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Every process's CPU time and the machine's, now. */
function snapshotCpu(): CpuSnapshot {
  const stat = readText('/proc/stat') ?? '';
  const cpuLine = stat.split('\n').find((l) => l.startsWith('cpu ')) ?? 'cpu';
  const procs = new Map<number, { comm: string; ticks: number }>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    // No /proc: CPU accounting is skipped.
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const text = readText(`/proc/${entry}/stat`);
    const parsed = text === null ? null : parsePidStat(text);
    if (parsed) procs.set(Number(entry), parsed);
  }
  return { at: performance.now(), ...parseCpuLine(cpuLine), procs };
}

export interface CpuUsage {
  seconds: number;
  /** Cores used (1 = one core busy for the whole window); null when the process was not seen. */
  server: number | null;
  generator: number | null;
  /** Everything else: other processes, the runner, the kernel's own threads (except ksoftirqd). */
  others: number;
  steal: number;
  /** The busiest other processes, "name pid: 23%". */
  top: string[];
}

/** Clock ticks `pid` used between two snapshots (from zero if the pid now names another program); null when not in `b`. */
function ticksBetween(a: CpuSnapshot, b: CpuSnapshot, pid: number): number | null {
  const after = b.procs.get(pid);
  if (!after) return null;
  const before = a.procs.get(pid);
  return after.ticks - (before && before.comm === after.comm ? before.ticks : 0);
}

/** Cores one process used between two snapshots (1 = one core busy throughout); null when it was not seen. */
export function processCores(a: CpuSnapshot, b: CpuSnapshot, pid: number, clockTicks: number): number | null {
  const ticks = ticksBetween(a, b, pid);
  return ticks === null ? null : ticks / clockTicks / Math.max(1e-3, (b.at - a.at) / 1000);
}

/**
 * CPU use between two snapshots, split into the server, the generator and
 * everyone else. ksoftirqd is not "someone else": it carries the loopback
 * traffic the benchmark makes. The server may be several processes (the
 * nodes of a cluster and their Redis): their CPU is added up.
 */
export function cpuUsage(
  a: CpuSnapshot,
  b: CpuSnapshot,
  pids: { server: number | readonly number[]; generator: number },
  clockTicks: number,
): CpuUsage {
  const seconds = Math.max(1e-3, (b.at - a.at) / 1000);
  const cores = (ticks: number) => ticks / clockTicks / seconds;
  const delta = (pid: number): number | null => ticksBetween(a, b, pid);
  const serverPids = typeof pids.server === 'number' ? [pids.server] : pids.server;
  const serverTicks = serverPids.map(delta).filter((t): t is number => t !== null);
  const server = serverTicks.length === 0 ? null : serverTicks.reduce((x, y) => x + y, 0);
  const generator = delta(pids.generator);
  let softirq = 0;
  const others: Array<{ name: string; ticks: number }> = [];
  for (const [pid, after] of b.procs) {
    if (serverPids.includes(pid) || pid === pids.generator) continue;
    const d = delta(pid) ?? 0;
    if (d <= 0) continue;
    if (after.comm.startsWith('ksoftirqd/')) softirq += d;
    else others.push({ name: `${after.comm} ${pid}`, ticks: d });
  }
  const othersTicks = Math.max(0, b.busy - a.busy - (server ?? 0) - (generator ?? 0) - softirq);
  others.sort((x, y) => y.ticks - x.ticks);
  return {
    seconds,
    server: server === null ? null : cores(server),
    generator: generator === null ? null : cores(generator),
    others: cores(othersTicks),
    steal: cores(Math.max(0, b.steal - a.steal)),
    top: others
      .filter((o) => cores(o.ticks) >= 0.02)
      .slice(0, 3)
      .map((o) => `${o.name}: ${Math.round(cores(o.ticks) * 100)}%`),
  };
}

/** Warnings for a run whose machine was busy with something else (more than `limit` of a core). */
export function busyWarnings(usage: CpuUsage, limit = 0.1): string[] {
  const warnings: string[] = [];
  if (usage.others > limit) {
    const who = usage.top.length > 0 ? ` (${usage.top.join(', ')})` : '';
    warnings.push(`machine busy: other processes used ${Math.round(usage.others * 100)}% of a core${who}`);
  }
  if (usage.steal > limit) warnings.push(`hypervisor steal: ${Math.round(usage.steal * 100)}% of a core`);
  return warnings;
}

function readRss(pid: number): number | null {
  const status = readText(`/proc/${pid}/status`);
  return status === null ? null : parseVmRss(status);
}

function readOpenFileLimit(pid: number): number | null {
  const limits = readText(`/proc/${pid}/limits`);
  return limits === null ? null : parseOpenFileLimit(limits);
}

let clockTicksCache: number | null = null;
function clockTicks(): number {
  if (clockTicksCache === null) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 });
    const n = Number(out.stdout?.trim());
    clockTicksCache = Number.isInteger(n) && n > 0 ? n : 100;
  }
  return clockTicksCache;
}

function hasCommand(name: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${name}`], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

// ---------------------------------------------------------------- processes

interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  /** The last few KB of stdout and stderr, for error messages. */
  tail(): string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: boolean;
}

const live = new Set<Managed>();
interface Tools {
  setpriv: boolean;
  /** The CPUs for the server and the generator (the first two this process may use), or null: no pinning. */
  pin: { server: number; generator: number } | null;
  /** Why there is no pinning. */
  noPin: string;
}
let tools: Tools | null = null;

function wrapperTools(): Tools {
  if (tools === null) {
    const allowed = parseCpuList(/^Cpus_allowed_list:\s*(.+)$/m.exec(readText('/proc/self/status') ?? '')?.[1] ?? '');
    const taskset = hasCommand('taskset');
    const [server, generator] = allowed;
    tools = {
      setpriv: hasCommand('setpriv'),
      pin: taskset && server !== undefined && generator !== undefined ? { server, generator } : null,
      noPin: !taskset ? 'taskset not found' : 'fewer than 2 CPUs available',
    };
  }
  return tools;
}

/** The open-file limit asked for: 10,000 idle connections need more than the usual 1024. */
const OPEN_FILES = 65_536;

/**
 * Starts `command` in its own process group through bash, which raises the
 * open-file limit (as far as the hard limit allows) and execs the command
 * pinned to its role's CPU (when taskset exists) with a parent-death signal
 * (when setpriv exists). The returned pid is the command's own: bash execs it.
 */
function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: Record<string, string>; role: 'server' | 'generator'; stdin: boolean; onLine?: (line: string) => void },
): Managed {
  const { setpriv, pin } = wrapperTools();
  const prefix: string[] = [];
  if (setpriv) prefix.push('setpriv', '--pdeathsig', 'KILL');
  if (pin !== null) prefix.push('taskset', '-c', String(pin[options.role]));
  const script = `ulimit -n ${OPEN_FILES} 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  // The measured processes get no loader or test-runner settings from the runner's environment.
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  const child = spawn('bash', ['-c', script, name, ...prefix, command, ...args], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stderr!.on('data', keep);
  if (options.onLine) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      tail = `${tail}${line}\n`.slice(-4000);
      options.onLine!(line);
    });
  } else {
    child.stdout!.on('data', keep);
  }
  // A stdin write after the process died must not crash the runner.
  child.stdin?.on('error', () => {});
  const managed: Managed = {
    name,
    pid: child.pid ?? -1,
    child,
    tail: () => tail.trim(),
    exited: false,
    exit: new Promise((resolveExit) => {
      child.on('error', (error) => {
        keep(Buffer.from(`spawn failed: ${error.message}\n`));
      });
      child.on('close', (code, signal) => {
        managed.exited = true;
        live.delete(managed);
        resolveExit({ code, signal });
      });
    }),
  };
  live.add(managed);
  return managed;
}

function killGroup(proc: Managed, signal: NodeJS.Signals): void {
  if (proc.exited || proc.pid <= 0) return;
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // Already gone.
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
async function stopProcess(proc: Managed, graceMs = 2000): Promise<void> {
  if (proc.exited) return;
  killGroup(proc, 'SIGTERM');
  const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), graceMs);
  await proc.exit;
  clearTimeout(timer);
}

/** Kills every process the runner started (exit, Ctrl-C, errors). */
function killAll(): void {
  for (const proc of live) killGroup(proc, 'SIGKILL');
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
  });
}

/**
 * Resolves once the server accepts TCP connections on `port`.
 * @throws Error when the server exits first or `timeoutMs` passes.
 */
async function waitListening(port: number, server: Managed, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (server.exited) throw new Error(`server exited before listening: ${lastLine(server.tail())}`);
    if (await tryConnect(port)) return;
    await delay(50);
  }
  throw new Error(`server not listening after ${timeoutMs / 1000} s: ${lastLine(server.tail())}`);
}

/** How many file descriptors `pid` has open; null when /proc does not say. */
function countFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * Resolves once the server holds `conns` more descriptors than `baseline`
 * (one per accepted connection), the generator has exited, or `timeoutMs`
 * passed (the generator's own timeout then reports what went wrong). Counting
 * descriptors is cheap; scanning /proc/net/tcp is not once it holds tens of
 * thousands of TIME_WAIT entries. Without /proc it resolves at once.
 */
async function allConnected(
  serverPid: number,
  baseline: number | null,
  conns: number,
  generator: Managed,
  timeoutMs: number,
): Promise<void> {
  if (baseline === null) return;
  const deadline = performance.now() + timeoutMs;
  while (!generator.exited && performance.now() < deadline) {
    const open = countFds(serverPid);
    if (open === null || open - baseline >= conns) return;
    await delay(20);
  }
}

function lastLine(text: string): string {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-3).join(' / ').slice(0, 400) || '(no output)';
}

// ---------------------------------------------------------------- runs

interface RunContext {
  /**
   * A smoke pass checks that everything works, not how fast: on a busy
   * machine (CI runs other tests beside it) its timing verdicts must not
   * fail it, so it judges no rate and allows more time.
   */
  smoke: boolean;
  loadgen: string;
  problems: Map<ServerName, string>;
  log: (line: string) => void;
  /** The open-file limit the first measured process got. */
  openFiles: number | null;
}

interface Measurement {
  run: RunResult;
  generator: GeneratorResult | null;
}

interface MeasureSpec {
  plan: WorkloadPlan;
  contestant: Contestant;
  round: number;
  generatorArgs: string[];
  warmupS: number;
  durationS: number;
  seed: number;
}

function failedRun(contestant: string, round: number, error: string): RunResult {
  return { contestant, round, ok: false, error, metrics: {}, warnings: [], serverCpu: null, generatorCpu: null, othersCpu: null };
}

/** How long a generator may take beyond its warm-up and window before it is killed. */
function generatorAllowanceS(plan: WorkloadPlan, context: RunContext): number {
  return (30 + plan.conns / 200) * (context.smoke ? 3 : 1);
}

/**
 * One run: a fresh server on a fresh port, the generator against it, CPU and
 * memory read from /proc around the measured window, then the server stopped.
 * Never throws: anything that goes wrong is a failed run with the reason.
 */
async function measure(spec: MeasureSpec, context: RunContext): Promise<Measurement> {
  if (spec.plan.nodes !== undefined) return measureCluster(spec, context);
  const { plan, contestant, round } = spec;
  const problem = context.problems.get(contestant.server);
  if (problem !== undefined) return { run: failedRun(contestant.label, round, problem), generator: null };
  const dataDir = contestant.variant === 'chat-sqlite' ? mkdtempSync(join(tmpdir(), 'wschat-bench-')) : undefined;
  let server: Managed | null = null;
  let generator: Managed | null = null;
  try {
    const port = await freePort();
    const launch = launchSpec(contestant.server, contestant.variant, { root: ROOT, port, dataDir });
    server = startProcess(contestant.label, launch.command, launch.args, { env: launch.env, role: 'server', stdin: false });
    await waitListening(port, server, 20_000);
    // Let the server finish starting (lazy allocations after listen) before the memory baseline.
    await delay(300);
    const rssBefore = readRss(server.pid);
    const fdsBefore = countFds(server.pid);
    const serverFiles = readOpenFileLimit(server.pid);
    context.openFiles ??= serverFiles;
    if (serverFiles !== null && serverFiles < plan.conns + 64) {
      return {
        run: failedRun(contestant.label, round, `open-file limit ${serverFiles} is below the ${plan.conns} connections needed`),
        generator: null,
      };
    }

    let stdout = '';
    let onReady: ((n: number) => void) | null = null;
    const ready = new Promise<number>((r) => {
      onReady = r;
    });
    const args = [
      ...spec.generatorArgs,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--warmup',
      String(spec.warmupS),
      '--duration',
      String(spec.durationS),
      '--timeout',
      '10',
      '--seed',
      String(spec.seed),
    ];
    const gen = startProcess('loadgen', context.loadgen, args, {
      role: 'generator',
      stdin: plan.kind === 'idle',
      onLine: (line) => {
        stdout += `${line}\n`;
        const n = parseReady(line);
        if (n !== null) onReady?.(n);
      },
    });
    generator = gen;
    const allowanceMs = (spec.warmupS + spec.durationS + generatorAllowanceS(plan, context)) * 1000;
    const killer = setTimeout(() => killGroup(gen, 'SIGKILL'), allowanceMs);
    // Filled by timers, hence an object (assignments in callbacks do not narrow).
    const sample: { a: CpuSnapshot | null; b: CpuSnapshot | null; rssAfter: number | null } = {
      a: null,
      b: null,
      rssAfter: null,
    };
    let readyCount: number | null = null;
    const serverPid = server.pid;

    if (plan.kind === 'idle') {
      readyCount = await Promise.race([ready, gen.exit.then(() => null)]);
      if (readyCount !== null) {
        sample.a = snapshotCpu();
        // Give the server a moment to finish what the last handshakes started.
        await delay(1000);
        sample.b = snapshotCpu();
        sample.rssAfter = readRss(serverPid);
        gen.child.stdin?.end();
      }
    } else {
      // The generator's warm-up starts once its connections are open (and,
      // for fan-out and chat, past its start barrier): wait until the server
      // has accepted them all, then sample inside the measured window (at steady load
      // a slightly shorter window is fine).
      if (!plan.generatorArgs.includes('connect')) await allConnected(serverPid, fdsBefore, plan.conns, gen, allowanceMs);
      const startAt = spec.warmupS * 1000;
      const endAt = (spec.warmupS + spec.durationS - Math.min(0.25, spec.durationS * 0.1)) * 1000;
      const timers = [
        setTimeout(() => {
          sample.a = snapshotCpu();
        }, startAt),
        setTimeout(() => {
          sample.b = snapshotCpu();
          sample.rssAfter = readRss(serverPid);
        }, endAt),
      ];
      await gen.exit;
      for (const t of timers) clearTimeout(t);
    }
    const exit = await gen.exit;
    clearTimeout(killer);
    const result = parseGeneratorOutput(stdout);
    if (result === null) {
      const how = exit.signal === 'SIGKILL' ? `killed after ${allowanceMs / 1000} s` : `exit ${exit.code ?? exit.signal}`;
      return { run: failedRun(contestant.label, round, `generator gave no result (${how}): ${lastLine(gen.tail())}`), generator: null };
    }
    if (server.exited) {
      return { run: failedRun(contestant.label, round, `server died: ${lastLine(server.tail())}`), generator: result };
    }
    const run: RunResult = {
      contestant: contestant.label,
      round,
      ok: result.ok,
      error: result.ok ? '' : result.error_detail || `${result.errors} error(s)`,
      metrics: {
        msgs_per_s: result.msgs_per_s,
        deliveries_per_s: result.deliveries_per_s,
        mb_per_s: result.mb_per_s,
        handshakes_per_s: result.handshakes_per_s,
        p50_us: result.p50_us,
        p99_us: result.p99_us,
      },
      warnings: [],
      serverCpu: null,
      generatorCpu: null,
      othersCpu: null,
    };
    if (run.ok && plan.generatorArgs.includes('--deflate') && result.deflate === false) {
      // Without the extension the run measures something else than the workload says.
      run.ok = false;
      run.error = 'permessage-deflate was not negotiated';
    }
    if (plan.kind === 'idle' && readyCount === null) {
      run.ok = false;
      run.error ||= 'the generator never reported READY';
    }
    const { a, b, rssAfter } = sample;
    if (a !== null && b !== null) {
      const usage = cpuUsage(a, b, { server: serverPid, generator: gen.pid }, clockTicks());
      run.serverCpu = usage.server;
      run.generatorCpu = usage.generator;
      run.othersCpu = usage.others;
      run.warnings.push(...busyWarnings(usage));
      if (plan.kind === 'chat' && usage.server !== null && result.deliveries_per_s > 0) {
        run.metrics.cpu_ms_per_1000 = (usage.server / result.deliveries_per_s) * 1_000_000;
      }
    } else if (run.ok) {
      run.warnings.push('CPU not measured: the generator ended before the window was sampled');
    }
    if (plan.rssPerConn && rssBefore !== null && rssAfter !== null) {
      const conns = readyCount ?? (result.connections || plan.conns);
      run.metrics.rss_before = rssBefore;
      run.metrics.rss_after = rssAfter;
      if (conns > 0) run.metrics.rss_per_conn = (rssAfter - rssBefore) / conns;
    }
    return { run, generator: result };
  } catch (error) {
    return { run: failedRun(contestant.label, round, error instanceof Error ? error.message : String(error)), generator: null };
  } finally {
    if (generator) await stopProcess(generator, 500);
    if (server) await stopProcess(server);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

function describeRun(plan: WorkloadPlan, run: RunResult): string {
  if (!run.ok) return `FAILED: ${run.error}`;
  const parts = plan.metrics
    .filter((m) => run.metrics[m.key] !== undefined)
    .slice(0, 2)
    .map((m) => `${m.label} ${formatValue(run.metrics[m.key]!, m.unit)}`);
  const cpu = (v: number | null) => (v === null ? '?' : `${Math.round(v * 100)}%`);
  parts.push(`cpu server ${cpu(run.serverCpu)} generator ${cpu(run.generatorCpu)} others ${cpu(run.othersCpu)}`);
  return [parts.join(', '), ...run.warnings.map((w) => `WARNING ${w}`)].join('; ');
}

function chatArgs(plan: WorkloadPlan, contestant: Contestant, rate: number): string[] {
  const mode = contestant.server === 'socketio' ? ['--mode', 'chat-socketio'] : ['--mode', 'chat-wschat', '--path', '/r/bench'];
  return [...mode, ...plan.generatorArgs, '--rate', String(rate)];
}

function toResult(plan: WorkloadPlan, runs: RunResult[]): WorkloadResult {
  return {
    name: plan.name,
    title: plan.title,
    description: plan.description,
    notes: plan.notes,
    baseline: plan.baseline,
    contestants: plan.contestants.map((c) => c.label),
    metrics: plan.metrics,
    runs,
  };
}

/** Rounds of every contestant back to back, so ratios compare runs made under the same conditions. */
async function runRounds(
  plan: WorkloadPlan,
  runs: number,
  context: RunContext,
  args: (contestant: Contestant) => string[],
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let round = 1; round <= runs; round++) {
    for (const contestant of plan.contestants) {
      context.log(`[${plan.name} ${round}/${runs}] ${contestant.label}...`);
      const { run } = await measure(
        { plan, contestant, round, generatorArgs: args(contestant), warmupS: plan.warmupS, durationS: plan.durationS, seed: round },
        context,
      );
      context.log(`[${plan.name} ${round}/${runs}] ${contestant.label}: ${describeRun(plan, run)}`);
      results.push(run);
    }
  }
  return results;
}

/**
 * The next offered rate of a maximum-rate search, or null when done: double
 * while every step passes, halve while none has, then bisect (geometric mean)
 * between the best pass and the lowest failure above it until they are within
 * `precision` of each other.
 */
export function nextRate(steps: ReadonlyArray<{ rate: number; pass: boolean }>, start: number, precision: number): number | null {
  if (steps.length === 0) return start;
  const passes = steps.filter((s) => s.pass).map((s) => s.rate);
  const fails = steps.filter((s) => !s.pass).map((s) => s.rate);
  if (fails.length === 0) return Math.max(...passes) * 2;
  if (passes.length === 0) {
    const next = Math.floor(Math.min(...fails) / 2);
    return next >= 1 ? next : null;
  }
  const best = Math.max(...passes);
  const above = fails.filter((r) => r > best);
  if (above.length === 0) return best * 2;
  const lowestFail = Math.min(...above);
  if (lowestFail / best <= precision) return null;
  const next = Math.round(Math.sqrt(best * lowestFail));
  return next > best && next < lowestFail ? next : null;
}

/** Whether a chat step kept up with the offered load, and if not, why. */
export function judgeStep(
  generator: GeneratorResult | null,
  run: RunResult,
  rate: number,
  members: number,
  settings: Pick<SearchSettings, 'p99LimitUs' | 'minRatio'>,
): { pass: boolean; reason: string; sendRatio: number; deliveryRatio: number } {
  if (!run.ok || generator === null) return { pass: false, reason: run.error || 'failed', sendRatio: 0, deliveryRatio: 0 };
  // The generator counts a message once every member has it (the sender
  // included), so both ratios fall when the server cannot keep up.
  const sendRatio = rate > 0 ? generator.msgs_per_s / rate : 0;
  const deliveryRatio = rate > 0 && members > 0 ? generator.deliveries_per_s / (rate * members) : 0;
  const reasons: string[] = [];
  if (generator.p99_us > settings.p99LimitUs) reasons.push(`p99 ${formatValue(generator.p99_us, 'us')} > ${formatValue(settings.p99LimitUs, 'us')}`);
  if (sendRatio < settings.minRatio) reasons.push(`${(sendRatio * 100).toFixed(1)}% of the offered messages reached every member`);
  if (deliveryRatio < settings.minRatio) reasons.push(`${(deliveryRatio * 100).toFixed(1)}% of the offered deliveries arrived`);
  return { pass: reasons.length === 0, reason: reasons.join(', '), sendRatio, deliveryRatio };
}

/** Chat level: the fixed-load rounds, then one maximum-rate search per contestant. */
async function runChat(plan: WorkloadPlan, runs: number, context: RunContext): Promise<WorkloadResult[]> {
  const chat = plan.chat!;
  const fixed = await runRounds(plan, runs, context, (c) => chatArgs(plan, c, chat.rate));
  const search = chat.search;
  const steps: RateStep[] = [];
  const maxRuns: RunResult[] = [];
  for (const contestant of plan.contestants) {
    const started = performance.now();
    const mine: RateStep[] = [];
    let bestDeliveries = Number.NaN;
    let bestRate = Number.NaN;
    let seed = 100;
    for (let i = 0; i < search.maxSteps; i++) {
      const rate = nextRate(mine, chat.rate, search.precision);
      if (rate === null) break;
      const elapsedS = (performance.now() - started) / 1000;
      if (elapsedS + search.warmupS + search.durationS > search.budgetS) break;
      const { run, generator } = await measure(
        {
          plan,
          contestant,
          round: 1,
          generatorArgs: chatArgs(plan, contestant, rate),
          warmupS: search.warmupS,
          durationS: search.durationS,
          seed: seed++,
        },
        context,
      );
      const verdict = judgeStep(generator, run, rate, plan.conns, search);
      const step: RateStep = {
        contestant: contestant.label,
        rate,
        ok: run.ok,
        pass: verdict.pass,
        reason: verdict.reason,
        deliveriesPerS: generator?.deliveries_per_s ?? 0,
        p99Us: generator?.p99_us ?? 0,
        sendRatio: verdict.sendRatio,
        deliveryRatio: verdict.deliveryRatio,
      };
      mine.push(step);
      context.log(
        `[${plan.name}-max] ${contestant.label} at ${count(rate)} msgs/s: ${verdict.pass ? 'sustained' : `not sustained (${verdict.reason})`}, ${count(Math.round(step.deliveriesPerS))} deliveries/s, p99 ${formatValue(step.p99Us, 'us')}`,
      );
      if (verdict.pass && !(rate <= bestRate)) {
        bestRate = rate;
        bestDeliveries = step.deliveriesPerS;
      }
    }
    steps.push(...mine);
    // A smoke pass does not judge speed: a step that ran without errors shows the search works.
    const ran = mine.filter((s) => s.ok);
    if (context.smoke && !Number.isFinite(bestRate) && ran.length > 0) {
      const best = ran.reduce((a, b) => (b.deliveriesPerS > a.deliveriesPerS ? b : a));
      bestRate = best.rate;
      bestDeliveries = best.deliveriesPerS;
    }
    const run: RunResult = Number.isFinite(bestRate)
      ? {
          ...failedRun(contestant.label, 1, ''),
          ok: true,
          metrics: { max_deliveries_per_s: bestDeliveries, max_rate: bestRate },
        }
      : failedRun(
          contestant.label,
          1,
          mine.length === 0 ? 'no step ran' : `no rate sustained (lowest tried ${count(Math.min(...mine.map((s) => s.rate)))} msgs/s: ${mine.find((s) => s.rate === Math.min(...mine.map((x) => x.rate)))?.reason})`,
        );
    maxRuns.push(run);
  }
  const maxPlan: WorkloadResult = {
    name: `${plan.name}-max`,
    title: chat.maxTitle ?? 'Chat level, maximum sustainable rate',
    description: `The offered rate doubles from ${count(chat.rate)} messages/s while the server keeps up, then is bisected: a step is sustained when p99 stays under ${formatValue(search.p99LimitUs, 'us')} and at least ${Math.round(search.minRatio * 100)}% of the offered messages reached every member within the window (and as many of the offered deliveries arrived). One search per server (${search.warmupS} s warm-up + ${search.durationS} s per step, a fresh server each step, at most ${search.maxSteps} steps or ${search.budgetS} s); the value is the deliveries/s measured at the highest sustained step.`,
    notes: plan.notes,
    baseline: plan.baseline,
    contestants: plan.contestants.map((c) => c.label),
    metrics: [
      {
        key: 'max_deliveries_per_s',
        label: 'sustainable deliveries/s',
        unit: 'deliveries/s',
        better: 'higher',
        ratio: true,
        chart: true,
      },
      { key: 'max_rate', label: 'highest sustained rate', unit: 'rate', better: 'higher', ratio: false, chart: false },
    ],
    runs: maxRuns,
    steps,
  };
  return [toResult(plan, fixed), maxPlan];
}

async function runWorkload(plan: WorkloadPlan, runs: number, context: RunContext): Promise<WorkloadResult[]> {
  if (plan.kind === 'chat') return runChat(plan, runs, context);
  return [toResult(plan, await runRounds(plan, runs, context, () => plan.generatorArgs))];
}

// ---------------------------------------------------------------- several nodes on one Redis (issue 9)

let redisCheck: string | null | undefined;

/** Why redis-server cannot run here, or null when it can (Debian's redis-server, 7.0 or later, on PATH). */
function redisProblem(): string | null {
  if (redisCheck === undefined) {
    const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 10_000 });
    const major = Number(/v=(\d+)\./.exec(out.stdout ?? '')?.[1] ?? 0);
    redisCheck =
      out.status !== 0 || out.error
        ? 'redis-server not found (apt-get install redis-server)'
        : major < 7
          ? `redis-server 7.0 or later is needed (sharded pub/sub), found: ${out.stdout.trim()}`
          : null;
  }
  return redisCheck;
}

/**
 * redis-server's command line for one run: loopback only, a fresh directory,
 * no RDB snapshots, the AOF fsynced before every reply (`appendfsync always`,
 * as the multi-node tests run it: the setting under which wschat's ack means
 * the message is on disk). The log goes to stdout, where the runner keeps the
 * tail for error messages.
 */
export function redisArgs(port: number, dir: string): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--daemonize',
    'no',
  ];
}

/** `count` distinct ports free on 127.0.0.1 right now (held together, so the OS cannot hand one out twice). */
async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((resolvePort, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              resolvePort(typeof address === 'object' && address !== null ? address.port : 0);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((r) => (server.listening ? server.close(() => r()) : r()))));
  }
}

/** Whether a generator stdout line is its `RUN` line: the warm-up starts now. */
export function isRunLine(line: string): boolean {
  return line.trim() === 'RUN';
}

/**
 * One run of a multi-node workload: a fresh redis-server in a fresh
 * directory, `plan.nodes` fresh nodes of the contestant on it (each on its
 * own port), the generator spread over them with --ports, CPU read from /proc
 * around the measured window (all nodes plus Redis as the server, and Redis
 * alone), then everything stopped: generator, nodes, Redis. Every process is
 * pinned to its role's CPU as in a one-server run: the nodes and Redis share
 * the server's. Never throws.
 */
async function measureCluster(spec: MeasureSpec, context: RunContext): Promise<Measurement> {
  const { plan, contestant, round } = spec;
  const nodes = plan.nodes ?? 1;
  const problem = context.problems.get(contestant.server) ?? redisProblem();
  if (problem !== null) return { run: failedRun(contestant.label, round, problem), generator: null };
  const dir = mkdtempSync(join(tmpdir(), 'wschat-bench-redis-'));
  let redis: Managed | null = null;
  const servers: Managed[] = [];
  let generator: Managed | null = null;
  try {
    const [redisPort, ...ports] = await freePorts(nodes + 1);
    const started = startProcess('redis-server', 'redis-server', redisArgs(redisPort!, dir), { role: 'server', stdin: false });
    redis = started;
    await waitListening(redisPort!, started, 10_000);
    const redisUrl = `redis://127.0.0.1:${redisPort}`;
    for (const [i, port] of ports.entries()) {
      const launch = launchSpec(contestant.server, contestant.variant, { root: ROOT, port, redisUrl });
      servers.push(
        startProcess(`${contestant.label} node ${i + 1}`, launch.command, launch.args, { env: launch.env, role: 'server', stdin: false }),
      );
    }
    await Promise.all(servers.map((server, i) => waitListening(ports[i]!, server, 20_000)));
    // As in a one-server run: let them finish starting before the baselines.
    await delay(300);
    const perNode = Math.ceil(plan.conns / nodes);
    for (const server of servers) {
      const files = readOpenFileLimit(server.pid);
      context.openFiles ??= files;
      if (files !== null && files < perNode + 64) {
        return {
          run: failedRun(contestant.label, round, `open-file limit ${files} is below the ${perNode} connections needed per node`),
          generator: null,
        };
      }
    }

    let stdout = '';
    let onRun: (() => void) | null = null;
    const running = new Promise<void>((r) => {
      onRun = r;
    });
    const args = [
      ...spec.generatorArgs,
      '--host',
      '127.0.0.1',
      '--ports',
      ports.join(','),
      '--warmup',
      String(spec.warmupS),
      '--duration',
      String(spec.durationS),
      '--timeout',
      '10',
      '--seed',
      String(spec.seed),
    ];
    const gen = startProcess('loadgen', context.loadgen, args, {
      role: 'generator',
      stdin: false,
      onLine: (line) => {
        stdout += `${line}\n`;
        if (isRunLine(line)) onRun?.();
      },
    });
    generator = gen;
    const allowanceMs = (spec.warmupS + spec.durationS + generatorAllowanceS(plan, context)) * 1000;
    const killer = setTimeout(() => killGroup(gen, 'SIGKILL'), allowanceMs);
    const sample: { a: CpuSnapshot | null; b: CpuSnapshot | null } = { a: null, b: null };
    // Joining a room through Redis takes seconds for 1,000 members: the
    // window is timed from the generator's RUN line (every member joined,
    // past the start barrier), so the join work stays out of the CPU figures.
    await Promise.race([running, gen.exit]);
    const endAt = (spec.warmupS + spec.durationS - Math.min(0.25, spec.durationS * 0.1)) * 1000;
    const timers = [
      setTimeout(() => {
        sample.a = snapshotCpu();
      }, spec.warmupS * 1000),
      setTimeout(() => {
        sample.b = snapshotCpu();
      }, endAt),
    ];
    const exit = await gen.exit;
    for (const t of timers) clearTimeout(t);
    clearTimeout(killer);
    const result = parseGeneratorOutput(stdout);
    if (result === null) {
      const how = exit.signal === 'SIGKILL' ? `killed after ${allowanceMs / 1000} s` : `exit ${exit.code ?? exit.signal}`;
      return { run: failedRun(contestant.label, round, `generator gave no result (${how}): ${lastLine(gen.tail())}`), generator: null };
    }
    const dead = [started, ...servers].find((p) => p.exited);
    if (dead !== undefined) {
      return { run: failedRun(contestant.label, round, `${dead.name} died: ${lastLine(dead.tail())}`), generator: result };
    }
    const run: RunResult = {
      contestant: contestant.label,
      round,
      ok: result.ok,
      error: result.ok ? '' : result.error_detail || `${result.errors} error(s)`,
      metrics: {
        msgs_per_s: result.msgs_per_s,
        deliveries_per_s: result.deliveries_per_s,
        p50_us: result.p50_us,
        p99_us: result.p99_us,
      },
      warnings: [],
      serverCpu: null,
      generatorCpu: null,
      othersCpu: null,
    };
    const { a, b } = sample;
    if (a !== null && b !== null) {
      const usage = cpuUsage(a, b, { server: [started.pid, ...servers.map((s) => s.pid)], generator: gen.pid }, clockTicks());
      run.serverCpu = usage.server;
      run.generatorCpu = usage.generator;
      run.othersCpu = usage.others;
      run.warnings.push(...busyWarnings(usage));
      const redisCores = processCores(a, b, started.pid, clockTicks());
      if (usage.server !== null && result.deliveries_per_s > 0) {
        run.metrics.cpu_ms_per_1000 = (usage.server / result.deliveries_per_s) * 1_000_000;
        if (redisCores !== null) run.metrics.redis_ms_per_1000 = (redisCores / result.deliveries_per_s) * 1_000_000;
      }
    } else if (run.ok) {
      run.warnings.push('CPU not measured: the generator ended before the window was sampled');
    }
    return { run, generator: result };
  } catch (error) {
    return { run: failedRun(contestant.label, round, error instanceof Error ? error.message : String(error)), generator: null };
  } finally {
    if (generator) await stopProcess(generator, 500);
    // The nodes first: a graceful stop still talks to Redis.
    await Promise.all(servers.map((server) => stopProcess(server)));
    if (redis) await stopProcess(redis);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- main

function machineInfo(openFiles: number | null): Machine {
  const cpuinfo = readText('/proc/cpuinfo') ?? '';
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  const bun = spawnSync(join(ROOT, 'node_modules', '.bin', 'bun'), ['--version'], { encoding: 'utf8', timeout: 10_000 });
  return {
    cpu: model,
    cores: cpus().length,
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    bun: bun.status === 0 ? bun.stdout.trim() : 'not available',
    kernel: release(),
    pinning: pinningText(),
    openFiles,
  };
}

function pinningText(): string {
  const { pin, noPin } = wrapperTools();
  return pin === null ? `none (${noPin})` : `server on CPU ${pin.server}, load generator on CPU ${pin.generator} (taskset)`;
}

async function findLoadgen(options: Options): Promise<string> {
  if (options.loadgen !== null) {
    const path = resolve(options.loadgen);
    if (!existsSync(path)) throw new Error(`--loadgen ${path} does not exist`);
    return path;
  }
  const { ensureLoadgen } = await import('./loadgen/build.js');
  return ensureLoadgen();
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  const log = (line: string) => console.error(line);
  const plans = planWorkloads(options);
  if (plans.length === 0) {
    console.error('nothing to run: no server of --servers takes part in the --only workloads');
    return 2;
  }
  const profile = PROFILES[options.mode];
  const servers = [...new Set(plans.flatMap((p) => p.contestants.map((c) => c.server)))];
  const { problems, warnings } = await prepareServers(ROOT, servers, log);
  for (const warning of warnings) log(`WARNING ${warning}`);
  for (const [server, problem] of problems) {
    warnings.push(`${server} could not run: ${problem}`);
    log(`WARNING ${server} could not run: ${problem}`);
  }
  const { pin, noPin } = wrapperTools();
  if (pin === null) warnings.push(`${noPin}: the server and the generator were not pinned to separate cores`);
  let loadgen: string;
  try {
    loadgen = await findLoadgen(options);
  } catch (error) {
    console.error(`cannot get the load generator: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  log(`load generator: ${loadgen}`);
  const context: RunContext = { smoke: options.mode === 'smoke', loadgen, problems, log, openFiles: null };
  const startedAt = new Date();
  const workloads: WorkloadResult[] = [];
  for (const plan of plans) workloads.push(...(await runWorkload(plan, options.runs, context)));
  if (context.openFiles !== null && context.openFiles < PROFILES.full.idleConns + 64) {
    warnings.push(`open-file limit is ${context.openFiles}: the full idle workload needs more than ${PROFILES.full.idleConns}`);
  }

  const results: BenchResults = {
    date: startedAt.toISOString(),
    mode: options.mode,
    runsPerContestant: options.runs,
    warmupS: profile.warmupS,
    durationS: profile.durationS,
    machine: machineInfo(context.openFiles),
    workloads,
    warnings,
  };
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(options.outDir, 'report.md'), renderMarkdown(results));
  writeFileSync(join(options.outDir, 'ratios.svg'), renderSvg(results));

  const out: string[] = [];
  for (const workload of workloads) {
    out.push('');
    out.push(`${workload.title} [${workload.name}]`);
    for (const note of workload.notes) out.push(`  (${note})`);
    out.push(renderText(workloadTable(workload)));
  }
  out.push('');
  out.push('Targets');
  for (const t of evaluateTargets(results)) {
    if (t.ratio === null) continue;
    out.push(`  ${t.met ? 'met    ' : 'NOT met'}  ${t.target.text}: ${formatRatio(t.ratio.median)}`);
  }
  const check = generatorCheck(results);
  if (check.length > 0) out.push('', 'Load generator headroom', ...check.map((l) => `  ${l.replace(/^- /, '')}`));
  for (const warning of warnings) out.push(`WARNING ${warning}`);
  out.push('', `Report: ${join(options.outDir, 'report.md')} and ratios.svg`);
  console.log(out.join('\n'));
  const failed = workloads.some((w) => w.runs.some((r) => !r.ok));
  return failed ? 1 : 0;
}

const isEntry = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (isEntry) {
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every process started by the benchmark`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      killAll();
      process.exitCode = code;
    },
    (error: unknown) => {
      killAll();
      console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exitCode = 1;
    },
  );
}
