/**
 * The pure parts of the benchmark runner and its report: argument parsing, the
 * workload plan, the generator's output, /proc parsing and the busy check,
 * the rate search, statistics, ratios, targets and rendering. No process is
 * started here (test/bench/smoke.test.ts runs the real thing).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type BenchResults,
  type RunResult,
  type WorkloadResult,
  evaluateTargets,
  formatRatio,
  formatSummary,
  formatValue,
  generatorCheck,
  median,
  metricSummary,
  ratioSummary,
  renderMarkdown,
  renderMarkdownTable,
  renderSvg,
  renderText,
  runStatus,
  summarize,
  workloadTable,
} from '../../bench/report.js';
import {
  type CpuSnapshot,
  type GeneratorResult,
  MULTINODE_PROFILES,
  PROFILES,
  USAGE,
  busyWarnings,
  cpuUsage,
  judgeStep,
  nextRate,
  parseCpuLine,
  parseCpuList,
  parseGeneratorOutput,
  parseOpenFileLimit,
  parseOptions,
  parsePidStat,
  isRunLine,
  parseReady,
  parseVmRss,
  planWorkloads,
  processCores,
  redisArgs,
} from '../../bench/run.js';
import { launchSpec } from '../../bench/servers/index.js';

function run(contestant: string, round: number, metrics: Record<string, number>, extra: Partial<RunResult> = {}): RunResult {
  return {
    contestant,
    round,
    ok: true,
    error: '',
    metrics,
    warnings: [],
    serverCpu: 1,
    generatorCpu: 0.5,
    othersCpu: 0,
    ...extra,
  };
}

function failed(contestant: string, round: number, error: string): RunResult {
  return run(contestant, round, {}, { ok: false, error, serverCpu: null, generatorCpu: null, othersCpu: null });
}

function echoWorkload(runs: RunResult[]): WorkloadResult {
  return {
    name: 'echo32',
    title: 'Echo, 32 B text',
    description: 'echo',
    notes: [],
    baseline: 'ws',
    contestants: ['wschat', 'ws', 'bun'],
    metrics: [
      { key: 'msgs_per_s', label: 'msgs/s', unit: 'msgs/s', better: 'higher', ratio: true, chart: true },
      { key: 'p99_us', label: 'p99', unit: 'us', better: 'lower', ratio: false, chart: false },
    ],
    runs,
  };
}

function results(workloads: WorkloadResult[]): BenchResults {
  return {
    date: '2026-01-02T03:04:05.000Z',
    mode: 'full',
    runsPerContestant: 3,
    warmupS: 2,
    durationS: 5,
    machine: {
      cpu: 'Test CPU <9000>',
      cores: 2,
      memoryGiB: 8,
      node: 'v20.0.0',
      bun: '1.2.3',
      kernel: '6.1.0',
      pinning: 'server on CPU 0, load generator on CPU 1 (taskset)',
      openFiles: 65536,
    },
    workloads,
    warnings: [],
  };
}

function generator(fields: Partial<GeneratorResult>): GeneratorResult {
  return {
    mode: 'chat-wschat',
    ok: true,
    errors: 0,
    error_detail: '',
    seconds: 2,
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
    deflate: null,
    ...fields,
  };
}

describe('parseOptions', () => {
  test('defaults: full mode, 3 runs, every workload and server, bench/out', () => {
    const options = parseOptions([]);
    assert.equal(options.mode, 'full');
    assert.equal(options.runs, 3);
    assert.equal(options.only, null);
    assert.equal(options.servers, null);
    assert.equal(options.loadgen, null);
    assert.match(options.outDir, /bench[/\\]out$/);
  });

  test('--quick and --smoke take fewer runs; --smoke is wschat only', () => {
    assert.equal(parseOptions(['--quick']).mode, 'quick');
    assert.equal(parseOptions(['--quick']).runs, 1);
    const smoke = parseOptions(['--smoke']);
    assert.equal(smoke.mode, 'smoke');
    assert.equal(smoke.runs, 1);
    assert.deepEqual(smoke.servers, ['wschat']);
    assert.deepEqual(parseOptions(['--smoke', '--servers', 'wschat']).servers, ['wschat']);
  });

  test('--only and --servers take comma lists and repeat, without duplicates', () => {
    const options = parseOptions(['--only', 'echo32,fanout', '--only', 'echo32', '--servers', 'ws, bun', '--servers', 'ws+bufferutil']);
    assert.deepEqual(options.only, ['echo32', 'fanout']);
    assert.deepEqual(options.servers, ['ws', 'bun', 'ws+bufferutil']);
  });

  test('--runs, --out and --loadgen', () => {
    const options = parseOptions(['--runs', '5', '--out', '/tmp/x', '--loadgen', './lg']);
    assert.equal(options.runs, 5);
    assert.equal(options.outDir, '/tmp/x');
    assert.equal(options.loadgen, './lg');
    assert.equal(parseOptions(['--quick', '--runs', '2']).runs, 2);
  });

  test('mistakes are errors naming the option', () => {
    assert.throws(() => parseOptions(['--only', 'echo']), /--only: unknown workload "echo"/);
    assert.throws(() => parseOptions(['--servers', 'uws']), /--servers: unknown server "uws"/);
    assert.throws(() => parseOptions(['--runs', '0']), /--runs must be 1 to 20/);
    assert.throws(() => parseOptions(['--runs', '2.5']), /--runs must be 1 to 20/);
    assert.throws(() => parseOptions(['--quick', '--smoke']), /exclusive/);
    assert.throws(() => parseOptions(['--smoke', '--servers', 'ws']), /wschat only/);
    assert.throws(() => parseOptions(['--fast']), /--fast/);
    assert.throws(() => parseOptions(['echo32']), /positional/i);
  });

  test('the usage text lists every option', () => {
    for (const option of ['--quick', '--smoke', '--only', '--servers', '--runs', '--out', '--loadgen']) {
      assert.ok(USAGE.includes(option), option);
    }
  });
});

describe('planWorkloads', () => {
  const all = { only: null, servers: null } as const;

  test('the full plan has the workloads of issues 4 and 10 and the multi-node chat of issue 9, with their counts', () => {
    const plans = planWorkloads({ mode: 'full', ...all });
    assert.deepEqual(
      plans.map((p) => p.name),
      ['echo32', 'echo64k', 'bulk', 'fanout', 'idle', 'connect', 'compress', 'compress-small', 'chat', 'chat-multinode'],
    );
    const byName = new Map(plans.map((p) => [p.name, p]));
    const args = (name: string) => byName.get(name as never)!.generatorArgs.join(' ');
    assert.match(args('echo32'), /--mode echo .*--conns 100 --inflight 16 --size 32$/);
    assert.match(args('echo64k'), /--conns 10 --inflight 4 --size 65536 --binary/);
    assert.match(args('fanout'), /--path \/broadcast --conns 1000 --publishers 5 --inflight 4 --size 64/);
    assert.match(args('idle'), /--mode idle .*--conns 10000/);
    assert.match(args('connect'), /--mode connect .*--conns 50/);
    assert.match(args('compress'), /--deflate .*--size 4096/);
    assert.match(args('bulk'), /--mode echo .*--conns 2 --inflight 2 --size 8388608 --binary/);
    assert.match(args('compress-small'), /--deflate --conns 100 --inflight 8 --size 256/);
    assert.equal(byName.get('chat')!.conns, 1000);
    for (const plan of plans) assert.deepEqual(plan.notes, [], `${plan.name} has no reduction notes in full mode`);
  });

  test('echo workloads compare four servers against ws; chat compares wschat stores against socket.io', () => {
    const plans = planWorkloads({ mode: 'full', ...all });
    const echo = plans.find((p) => p.name === 'echo32')!;
    assert.equal(echo.baseline, 'ws');
    assert.deepEqual(
      echo.contestants.map((c) => c.label),
      ['wschat', 'ws', 'ws+bufferutil', 'bun'],
    );
    assert.ok(plans.find((p) => p.name === 'compress')!.contestants.every((c) => c.variant === 'deflate'));
    assert.ok(plans.find((p) => p.name === 'compress-small')!.contestants.every((c) => c.variant === 'deflate-small'));
    const chat = plans.find((p) => p.name === 'chat')!;
    assert.equal(chat.baseline, 'socket.io');
    assert.deepEqual(
      chat.contestants.map((c) => [c.label, c.variant]),
      [
        ['wschat (memory)', 'chat-memory'],
        ['wschat (SQLite)', 'chat-sqlite'],
        ['socket.io', 'chat'],
      ],
    );
  });

  test('quick mode uses 2,000 idle connections and says so', () => {
    const idle = planWorkloads({ mode: 'quick', ...all }).find((p) => p.name === 'idle')!;
    assert.equal(idle.conns, 2000);
    assert.match(idle.generatorArgs.join(' '), /--conns 2000/);
    assert.deepEqual(idle.notes, ['quick pass: connections 2,000 instead of 10,000.']);
    assert.equal(idle.warmupS, PROFILES.quick.warmupS);
  });

  test('--only and --servers filter; a workload with no server left is dropped', () => {
    const plans = planWorkloads({ mode: 'full', only: ['echo32', 'chat'], servers: ['wschat'] });
    assert.deepEqual(
      plans.map((p) => [p.name, p.contestants.map((c) => c.label)]),
      [
        ['echo32', ['wschat']],
        ['chat', ['wschat (memory)', 'wschat (SQLite)']],
      ],
    );
    assert.deepEqual(planWorkloads({ mode: 'full', only: ['chat'], servers: ['bun'] }), []);
  });

  test('chat-multinode: 1,000 members over 3 nodes on Redis, publishers on every node, against socket.io with its Redis adapter', () => {
    const plan = planWorkloads({ mode: 'full', ...all }).find((p) => p.name === 'chat-multinode')!;
    assert.equal(plan.nodes, 3);
    assert.equal(plan.conns, 1000);
    assert.equal(plan.kind, 'chat');
    assert.equal(plan.baseline, 'socket.io (Redis)');
    assert.deepEqual(
      plan.contestants.map((c) => [c.label, c.server, c.variant]),
      [
        ['wschat (Redis)', 'wschat', 'chat-redis'],
        ['socket.io (Redis)', 'socketio', 'chat-redis'],
      ],
    );
    assert.equal(plan.generatorArgs.join(' '), '--conns 1000 --publishers 9 --size 64');
    assert.equal(plan.chat!.publishers % plan.nodes!, 0, 'as many publishers on each node');
    assert.equal(plan.chat!.rate, PROFILES.full.chatRate, 'the same fixed load as the one-node chat');
    assert.deepEqual(plan.chat!.search, PROFILES.full.search, 'the same search as chat-max');
    assert.match(plan.chat!.maxTitle!, /maximum sustainable rate/);
    assert.deepEqual(plan.notes, []);
    assert.match(plan.description, /share its cores/);
    assert.match(plan.description, /appendfsync always/);
    assert.deepEqual(
      plan.metrics.map((m) => m.key),
      ['cpu_ms_per_1000', 'redis_ms_per_1000', 'p99_us', 'p50_us', 'deliveries_per_s'],
    );
  });

  test('chat-multinode in quick and smoke passes; wschat only with --servers wschat', () => {
    const quick = planWorkloads({ mode: 'quick', only: ['chat-multinode'], servers: null });
    assert.deepEqual(quick.map((p) => [p.name, p.conns, p.notes]), [['chat-multinode', 1000, []]]);
    assert.equal(quick[0]!.chat!.search.maxSteps, PROFILES.quick.search.maxSteps);
    const [smoke] = planWorkloads({ mode: 'smoke', only: ['chat-multinode'], servers: ['wschat'] });
    assert.deepEqual(smoke!.contestants.map((c) => c.label), ['wschat (Redis)']);
    assert.equal(smoke!.conns, MULTINODE_PROFILES.smoke.conns);
    assert.equal(smoke!.chat!.publishers, 3, 'still one publisher per node');
    assert.equal(smoke!.chat!.search.maxSteps, 1, 'each step starts Redis and three nodes: one step in a smoke pass');
    assert.deepEqual(smoke!.notes, ['smoke pass: 60 members and 3 publishers instead of 1,000 and 9.', 'smoke pass: fixed load 20 messages/s.']);
    // Every mode spreads its publishers evenly, at least one per node.
    for (const m of Object.values(MULTINODE_PROFILES)) {
      assert.ok(m.publishers >= m.nodes && m.publishers % m.nodes === 0 && m.publishers <= m.conns);
    }
  });

  test('smoke windows are about a second', () => {
    for (const plan of planWorkloads({ mode: 'smoke', only: null, servers: ['wschat'] })) {
      assert.ok(plan.warmupS + plan.durationS <= 2, plan.name);
    }
  });
});

describe('launchSpec', () => {
  const context = { root: '/repo', port: 4321 };

  test('ws pure JS disables both native helpers; ws+bufferutil insists on the addon built from source', () => {
    const pure = launchSpec('ws', 'echo', context);
    assert.deepEqual(pure.env, { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' });
    assert.ok(pure.args.includes('--port') && pure.args.includes('4321'));
    assert.ok(!pure.args.includes('--deflate'));
    const native = launchSpec('ws+bufferutil', 'deflate', context);
    assert.deepEqual(native.env, {});
    assert.ok(native.args.includes('--require-native') && native.args.includes('--deflate'));
  });

  test('wschat: echo, and the chat server with either store and the rate limit lifted', () => {
    assert.deepEqual(launchSpec('wschat', 'echo', context).args.slice(1, 2), ['echo']);
    const memory = launchSpec('wschat', 'chat-memory', context).args;
    assert.ok(memory.includes('serve') && memory.includes('--memory') && memory.includes('--no-console'));
    assert.equal(memory[memory.indexOf('--rate') + 1], '1000000');
    for (const limit of ['--address-connections', '--address-handshakes', '--address-messages']) assert.equal(memory[memory.indexOf(limit) + 1], '0', limit);
    const sqlite = launchSpec('wschat', 'chat-sqlite', { ...context, dataDir: '/tmp/d' }).args;
    assert.equal(sqlite[sqlite.indexOf('--data') + 1], '/tmp/d');
    assert.ok(!sqlite.includes('--memory'));
    assert.throws(() => launchSpec('wschat', 'chat-sqlite', context), /data directory/);
  });

  test('chat-redis: a wschat node on Redis, a socket.io node with the Redis adapter; both need the URL', () => {
    const redisUrl = 'redis://127.0.0.1:6390';
    const wschat = launchSpec('wschat', 'chat-redis', { ...context, redisUrl }).args;
    assert.equal(wschat[wschat.indexOf('--redis') + 1], redisUrl);
    assert.ok(wschat.includes('--no-console') && !wschat.includes('--memory') && !wschat.includes('--data'));
    assert.equal(wschat[wschat.indexOf('--burst') + 1], '1000000');
    const sio = launchSpec('socketio', 'chat-redis', { ...context, redisUrl }).args;
    assert.match(sio[0]!, /socketio-chat\.mjs$/);
    assert.equal(sio[sio.indexOf('--redis') + 1], redisUrl);
    assert.ok(!launchSpec('socketio', 'chat', context).args.includes('--redis'));
    assert.throws(() => launchSpec('wschat', 'chat-redis', context), /Redis URL/);
    assert.throws(() => launchSpec('socketio', 'chat-redis', context), /Redis URL/);
    assert.throws(() => launchSpec('ws', 'chat-redis', context), /ws has no chat-redis server/);
  });

  test('redis-server for a run: loopback, its own directory, the AOF fsynced on every write, no snapshots', () => {
    const args = redisArgs(6390, '/tmp/r');
    const value = (name: string) => args[args.indexOf(name) + 1];
    assert.equal(value('--port'), '6390');
    assert.equal(value('--bind'), '127.0.0.1');
    assert.equal(value('--dir'), '/tmp/r');
    assert.equal(value('--appendonly'), 'yes');
    assert.equal(value('--appendfsync'), 'always');
    assert.equal(value('--save'), '');
    assert.equal(value('--daemonize'), 'no');
  });

  test('small compressed messages: every server compresses everything (threshold 0; Bun always does)', () => {
    const wschat = launchSpec('wschat', 'deflate-small', context);
    assert.match(wschat.args[0]!, /bench\/out\/servers\/wschat-echo\.mjs$/);
    assert.equal(wschat.args[wschat.args.indexOf('--deflate-threshold') + 1], '0');
    for (const server of ['ws', 'ws+bufferutil'] as const) {
      const args = launchSpec(server, 'deflate-small', context).args;
      assert.ok(args.includes('--deflate'));
      assert.equal(args[args.indexOf('--deflate-threshold') + 1], '0');
    }
    assert.ok(launchSpec('bun', 'deflate-small', context).args.includes('--deflate'));
  });

  test('bun runs bun-echo.ts with Bun; socket.io has only the chat server', () => {
    const bun = launchSpec('bun', 'deflate', context);
    assert.match(bun.command, /node_modules\/\.bin\/bun$/);
    assert.match(bun.args[0]!, /bench\/servers\/bun-echo\.ts$/);
    assert.ok(bun.args.includes('--deflate'));
    assert.match(launchSpec('socketio', 'chat', context).args[0]!, /socketio-chat\.mjs$/);
    assert.throws(() => launchSpec('socketio', 'echo', context), /socketio has no echo server/);
  });
});

describe('generator output', () => {
  test('the last JSON line with a boolean ok is the result; READY lines are not', () => {
    const out = [
      'READY 10',
      '{"mode":"idle","ok":true,"errors":0,"error_detail":"","seconds":1,"messages":0,"connections":10}',
      '',
    ].join('\n');
    const result = parseGeneratorOutput(out)!;
    assert.equal(result.mode, 'idle');
    assert.equal(result.ok, true);
    assert.equal(result.connections, 10);
    assert.equal(result.p99_us, 0, 'missing numbers read as 0');
    assert.equal(result.deflate, null, 'deflate not reported');
    assert.equal(parseGeneratorOutput('{"ok":true,"deflate":true}')!.deflate, true);
    assert.equal(parseReady('READY 10'), 10);
    assert.equal(parseReady('READY'), null);
    assert.equal(parseReady('{"ok":true}'), null);
  });

  test('RUN marks the start of the warm-up; nothing else does', () => {
    assert.equal(isRunLine('RUN'), true);
    assert.equal(isRunLine('RUN\r'), true);
    for (const line of ['', 'READY 10', 'RUNNING', '{"ok":true}', 'run']) assert.equal(isRunLine(line), false, line);
    assert.equal(parseGeneratorOutput('RUN\n{"mode":"chat-wschat","ok":true,"messages":5}\n')?.messages, 5);
  });

  test('a failed run keeps ok:false and its error_detail', () => {
    const result = parseGeneratorOutput(
      '{"mode":"echo","ok":false,"errors":3,"error_detail":"conn 7: payload mismatch","msgs_per_s":99}\n',
    )!;
    assert.equal(result.ok, false);
    assert.equal(result.errors, 3);
    assert.equal(result.error_detail, 'conn 7: payload mismatch');
  });

  test('no result: nothing, garbage, or JSON without ok', () => {
    assert.equal(parseGeneratorOutput(''), null);
    assert.equal(parseGeneratorOutput('{"mode":"echo"\nSegmentation fault'), null);
    assert.equal(parseGeneratorOutput('{"mode":"echo","ok":"yes"}'), null);
  });
});

describe('/proc parsing', () => {
  test('cpu line: busy is user+nice+system, steal apart, irq and softirq left out', () => {
    assert.deepEqual(parseCpuLine('cpu  100 20 30 4000 5 6 7 8 0 0'), { busy: 150, steal: 8 });
  });

  test('pid stat: a comm with spaces and parentheses, utime+stime', () => {
    const text = '1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1000 1000000 500';
    assert.deepEqual(parsePidStat(text), { comm: 'my (odd) name', ticks: 300 });
    assert.equal(parsePidStat('garbage'), null);
  });

  test('allowed CPU lists', () => {
    assert.deepEqual(parseCpuList('0-1'), [0, 1]);
    assert.deepEqual(parseCpuList('2,4-6,9\n'), [2, 4, 5, 6, 9]);
    assert.deepEqual(parseCpuList(''), []);
  });

  test('VmRSS and the open-file limit', () => {
    assert.equal(parseVmRss('Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51234 kB\n'), 51234 * 1024);
    assert.equal(parseVmRss('Name:\tkthreadd\n'), null);
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            20000                20000                files\n';
    assert.equal(parseOpenFileLimit(limits), 20000);
    assert.equal(parseOpenFileLimit('Max open files unlimited unlimited files'), null);
  });
});

describe('busy check', () => {
  function snapshot(at: number, busy: number, steal: number, procs: Array<[number, string, number]>): CpuSnapshot {
    return { at, busy, steal, procs: new Map(procs.map(([pid, comm, ticks]) => [pid, { comm, ticks }])) };
  }

  test('others = machine busy time minus server, generator and ksoftirqd', () => {
    // 2 s window at 100 ticks/s: the server used 1 core, the generator 0.8, ksoftirqd 0.1, a stranger 0.3.
    const a = snapshot(0, 1000, 0, [
      [10, 'node', 100],
      [11, 'loadgen', 100],
      [12, 'ksoftirqd/0', 0],
      [13, 'stress', 0],
    ]);
    const b = snapshot(2000, 1000 + 200 + 160 + 20 + 60, 0, [
      [10, 'node', 300],
      [11, 'loadgen', 260],
      [12, 'ksoftirqd/0', 20],
      [13, 'stress', 60],
    ]);
    const usage = cpuUsage(a, b, { server: 10, generator: 11 }, 100);
    assert.equal(usage.seconds, 2);
    assert.equal(usage.server, 1);
    assert.equal(usage.generator, 0.8);
    assert.ok(Math.abs(usage.others - 0.3) < 1e-9);
    assert.deepEqual(usage.top, ['stress 13: 30%']);
    assert.deepEqual(busyWarnings(usage), ['machine busy: other processes used 30% of a core (stress 13: 30%)']);
  });

  test('a quiet machine gives no warning; steal over 10% of a core does', () => {
    const a = snapshot(0, 0, 0, [[10, 'node', 0]]);
    const quiet = cpuUsage(a, snapshot(1000, 105, 2, [[10, 'node', 100]]), { server: 10, generator: 11 }, 100);
    assert.equal(quiet.generator, null, 'a process not seen is null, not 0');
    assert.deepEqual(busyWarnings(quiet), []);
    const stolen = cpuUsage(a, snapshot(1000, 100, 25, [[10, 'node', 100]]), { server: 10, generator: 11 }, 100);
    assert.deepEqual(busyWarnings(stolen), ['hypervisor steal: 25% of a core']);
  });

  test('several server processes (nodes and their Redis): their CPU is added up and none counts as someone else', () => {
    // 1 s window at 100 ticks/s: three nodes 0.3 + 0.2 + 0.1, Redis 0.15, the generator 0.5, a stranger 0.05.
    const a = snapshot(0, 0, 0, [
      [20, 'node', 0],
      [21, 'node', 0],
      [22, 'node', 0],
      [23, 'redis-server', 0],
      [24, 'loadgen', 0],
      [25, 'cron', 0],
    ]);
    const b = snapshot(1000, 30 + 20 + 10 + 15 + 50 + 5, 0, [
      [20, 'node', 30],
      [21, 'node', 20],
      [22, 'node', 10],
      [23, 'redis-server', 15],
      [24, 'loadgen', 50],
      [25, 'cron', 5],
    ]);
    const usage = cpuUsage(a, b, { server: [23, 20, 21, 22], generator: 24 }, 100);
    assert.ok(Math.abs(usage.server! - 0.75) < 1e-9);
    assert.equal(usage.generator, 0.5);
    assert.ok(Math.abs(usage.others - 0.05) < 1e-9);
    assert.deepEqual(usage.top, ['cron 25: 5%']);
    assert.equal(processCores(a, b, 23, 100), 0.15);
    assert.equal(processCores(a, b, 99, 100), null);
    // A node not seen adds nothing; none seen at all is null.
    assert.ok(Math.abs(cpuUsage(a, b, { server: [20, 98], generator: 24 }, 100).server! - 0.3) < 1e-9);
    assert.equal(cpuUsage(a, b, { server: [97, 98], generator: 24 }, 100).server, null);
  });

  test('a pid reused by another program counts from zero', () => {
    const a = snapshot(0, 0, 0, [[13, 'old', 500]]);
    const b = snapshot(1000, 40, 0, [[13, 'new', 40]]);
    assert.deepEqual(cpuUsage(a, b, { server: 1, generator: 2 }, 100).top, ['new 13: 40%']);
  });
});

describe('maximum rate search', () => {
  test('doubles while sustained, then bisects until within the precision', () => {
    const steps: Array<{ rate: number; pass: boolean }> = [];
    const limit = 700;
    for (let i = 0; i < 20; i++) {
      const rate = nextRate(steps, 100, 1.25);
      if (rate === null) break;
      steps.push({ rate, pass: rate <= limit });
    }
    assert.deepEqual(
      steps.map((s) => s.rate),
      [100, 200, 400, 800, 566, 673],
    );
    const best = Math.max(...steps.filter((s) => s.pass).map((s) => s.rate));
    assert.equal(best, 673);
  });

  test('halves while nothing is sustained, and gives up below 1 msg/s', () => {
    assert.equal(nextRate([{ rate: 100, pass: false }], 100, 1.25), 50);
    assert.equal(nextRate([{ rate: 1, pass: false }], 1, 1.25), null);
    assert.equal(nextRate([], 42, 1.25), 42);
  });

  test('a step passes only with p99 under the limit and enough sent and delivered', () => {
    const settings = { p99LimitUs: 100_000, minRatio: 0.95 };
    const ok = run('wschat (memory)', 1, {});
    const good = generator({ msgs_per_s: 99, deliveries_per_s: 100_000, p99_us: 5000 });
    assert.deepEqual(judgeStep(good, ok, 100, 1000, settings), { pass: true, reason: '', sendRatio: 0.99, deliveryRatio: 1 });
    const slow = judgeStep(generator({ ...good, p99_us: 250_000 }), ok, 100, 1000, settings);
    assert.equal(slow.pass, false);
    assert.match(slow.reason, /p99 250 ms > 100 ms/);
    const behind = judgeStep(generator({ ...good, msgs_per_s: 80, deliveries_per_s: 75_800 }), ok, 100, 1000, settings);
    assert.equal(behind.pass, false);
    assert.match(behind.reason, /^80\.0% of the offered messages reached every member, 75\.8% of the offered deliveries arrived$/);
    const broken = judgeStep(null, failed('x', 1, 'conn 3 closed'), 100, 1000, settings);
    assert.deepEqual(broken, { pass: false, reason: 'conn 3 closed', sendRatio: 0, deliveryRatio: 0 });
  });
});

describe('statistics and ratios', () => {
  test('median of odd and even counts; summary ignores non-finite values', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    assert.deepEqual(summarize([5, Number.NaN, 1, 3]), { median: 3, min: 1, max: 5, n: 3 });
    assert.equal(summarize([Number.NaN]), null);
  });

  test('metric summaries use successful runs only', () => {
    const runs = [run('a', 1, { x: 10 }), failed('a', 2, 'boom'), run('a', 3, { x: 30 })];
    assert.deepEqual(metricSummary(runs, 'a', 'x'), { median: 20, min: 10, max: 30, n: 2 });
    assert.equal(metricSummary(runs, 'b', 'x'), null);
  });

  test('ratios pair the same round, skip rounds where either failed, and summarize', () => {
    const runs = [
      run('wschat', 1, { m: 300 }),
      run('ws', 1, { m: 100 }),
      run('wschat', 2, { m: 400 }),
      run('ws', 2, { m: 100 }),
      run('wschat', 3, { m: 999 }),
      failed('ws', 3, 'x'),
      run('wschat', 4, { m: 500 }),
      run('ws', 4, { m: 250 }),
    ];
    assert.deepEqual(ratioSummary(runs, 'm', 'wschat', 'ws'), { median: 3, min: 2, max: 4, n: 3 });
    assert.equal(ratioSummary(runs, 'm', 'bun', 'ws'), null);
    assert.equal(ratioSummary([run('a', 1, { m: 1 }), run('b', 1, { m: 0 })], 'm', 'a', 'b'), null, 'no division by zero');
  });

  test('value and ratio formatting', () => {
    assert.equal(formatValue(1234567.8, 'msgs/s'), '1,234,568 msgs/s');
    assert.equal(formatValue(812, 'us'), '812 us');
    assert.equal(formatValue(2400, 'us'), '2.40 ms');
    assert.equal(formatValue(123_456, 'us'), '123 ms');
    assert.equal(formatValue(3 * 1024 + 512, 'bytes'), '3.5 KiB');
    assert.equal(formatValue(45.67, 'MB/s'), '45.7 MB/s');
    assert.equal(formatValue(1234.5, 'MB/s'), '1,235 MB/s');
    assert.equal(formatValue(Number.NaN, 'ms'), '-');
    assert.equal(formatRatio(3.214), '3.21x');
    assert.equal(formatRatio(12.34), '12.3x');
    assert.equal(formatSummary({ median: 3, min: 2.5, max: 3.5, n: 3 }, formatRatio), '3.00x (2.50 - 3.50)');
    assert.equal(formatSummary({ median: 900, min: 800, max: 1200, n: 3 }, (v) => formatValue(v, 'us')), '900 us (800 us - 1.20 ms)');
    assert.equal(formatSummary({ median: 7, min: 7, max: 7, n: 3 }, formatRatio), '7.00x');
  });
});

describe('tables and report', () => {
  const workload = echoWorkload([
    run('wschat', 1, { msgs_per_s: 300_000, p99_us: 2000 }),
    run('ws', 1, { msgs_per_s: 100_000, p99_us: 6000 }),
    failed('bun', 1, 'conn 3: bad frame header'),
    run('wschat', 2, { msgs_per_s: 330_000, p99_us: 2100 }, { warnings: ['machine busy: other processes used 30% of a core'] }),
    run('ws', 2, { msgs_per_s: 110_000, p99_us: 6100 }),
    failed('bun', 2, 'conn 3: bad frame header'),
  ]);

  test('a row per contestant: median (min - max), the ratio to the baseline, status', () => {
    const table = workloadTable(workload);
    assert.deepEqual(table.header, ['server', 'msgs/s', 'msgs/s vs ws (higher is better)', 'p99', 'status']);
    const [wschat, ws] = table.rows;
    assert.deepEqual(wschat!.cells, ['315,000 msgs/s (300,000 - 330,000)', '3.00x', '2.05 ms (2.00 - 2.10)']);
    assert.equal(wschat!.status, '2/2 ok (1 with warnings)');
    assert.equal(ws!.cells[1], '1x');
    assert.equal(ws!.status, '2/2 ok');
  });

  test('a failed contestant is FAILED with the reason, never a number', () => {
    const bun = workloadTable(workload).rows[2]!;
    assert.deepEqual(bun.cells, ['-', '-', '-']);
    assert.equal(bun.status, 'FAILED: conn 3: bad frame header');
    assert.equal(runStatus([run('x', 1, {}), failed('x', 2, 'timeout')]), '1/2 FAILED: timeout');
    assert.equal(runStatus([]), 'not run');
  });

  test('text and Markdown tables', () => {
    const table = workloadTable(workload);
    const text = renderText(table).split('\n');
    assert.match(text[0]!, /^server {2}/);
    assert.match(text[1]!, /^-+ {2}-+/);
    assert.equal(text.length, 5);
    const md = renderMarkdownTable({ header: ['server', 'a|b', 'status'], rows: [{ contestant: 'x', cells: ['1'], status: 'ok' }] });
    assert.deepEqual(md.split('\n'), ['| server | a\\|b | status |', '| --- | ---: | --- |', '| x | 1 | ok |']);
  });

  test('targets: met, not met, and not measured', () => {
    const fanout: WorkloadResult = {
      ...echoWorkload([run('wschat', 1, { deliveries_per_s: 500 }), run('ws', 1, { deliveries_per_s: 100 })]),
      name: 'fanout',
    };
    const evaluated = evaluateTargets(results([workload, fanout]));
    const echo = evaluated.find((t) => t.target.workload === 'echo32')!;
    assert.equal(echo.met, true);
    assert.equal(echo.ratio!.median, 3);
    const fan = evaluated.find((t) => t.target.workload === 'fanout')!;
    assert.equal(fan.met, false, '5x is short of 7x');
    assert.equal(evaluated.find((t) => t.target.workload === 'idle')!.met, null);
  });

  test('the multi-node target: wschat on Redis at least 3x socket.io with its Redis adapter', () => {
    const max = (wschat: number, sio: number): WorkloadResult => ({
      name: 'chat-multinode-max',
      title: 'Chat on 3 nodes and Redis, maximum sustainable rate',
      description: '',
      notes: [],
      baseline: 'socket.io (Redis)',
      contestants: ['wschat (Redis)', 'socket.io (Redis)'],
      metrics: [],
      runs: [
        run('wschat (Redis)', 1, { max_deliveries_per_s: wschat }),
        run('socket.io (Redis)', 1, { max_deliveries_per_s: sio }),
      ],
    });
    const target = (w: WorkloadResult) => evaluateTargets(results([w])).find((t) => t.target.workload === 'chat-multinode-max')!;
    assert.equal(target(max(90_000, 30_000)).met, true);
    assert.equal(target(max(80_000, 30_000)).met, false);
    assert.match(target(max(1, 1)).target.text, /issue 9/);
  });

  test('the generator check compares Bun with wschat and reports the generator core', () => {
    const withBun = echoWorkload([
      run('wschat', 1, { msgs_per_s: 300_000 }, { generatorCpu: 0.6 }),
      run('bun', 1, { msgs_per_s: 600_000 }),
    ]);
    const [line] = generatorCheck(results([withBun]));
    assert.match(line!, /against Bun the generator reached 600,000 msgs\/s, against wschat 300,000 msgs\/s/);
    assert.match(line!, /drives Bun 2\.00x past wschat's figure/);
    assert.match(line!, /60% busy at most/);
    const slowBun = echoWorkload([run('wschat', 1, { msgs_per_s: 300_000 }), run('bun', 1, { msgs_per_s: 200_000 })]);
    assert.match(generatorCheck(results([slowBun]))[0]!, /does not prove/);
  });

  test('the Markdown report names the machine and date, shows failures and warnings, targets and the generator check', () => {
    const md = renderMarkdown(results([workload]));
    assert.match(md, /Run on 2026-01-02T03:04:05\.000Z/);
    assert.match(md, /\| CPU \| Test CPU <9000> \(2 cores\) \|/);
    assert.match(md, /\| Node \| v20\.0\.0 \|/);
    assert.match(md, /\| Bun \| 1\.2\.3 \|/);
    assert.match(md, /\| kernel \| Linux 6\.1\.0 \|/);
    assert.match(md, /\| pinning \| server on CPU 0, load generator on CPU 1 \(taskset\) \|/);
    assert.match(md, /\| bun \| - \| - \| - \| FAILED: conn 3: bad frame header \|/);
    assert.match(md, /warning \(wschat, round 2\): machine busy/);
    assert.match(md, /## Targets/);
    assert.match(md, /\| Echo 32 B: >= 3x ws \| 3\.00x \| yes \|/);
    assert.match(md, /\| Fan-out: >= 7x ws \| not measured \| - \|/);
    assert.match(md, /## Is the load generator the bottleneck\?/);
    assert.match(md, /!\[ratios to the baseline\]\(ratios\.svg\)/);
  });

  test('a quick or smoke report says so', () => {
    const md = renderMarkdown({ ...results([workload]), mode: 'quick' });
    assert.match(md, /`npm run bench -- --quick`/);
    assert.match(md, /This is a quick pass/);
  });

  test('the SVG has one bar per non-baseline contestant, a 1x line, FAILED labels, and escapes text', () => {
    const svg = renderSvg(results([{ ...workload, title: 'Echo <32> & co' }]));
    assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.match(svg, /Echo &lt;32&gt; &amp; co: msgs\/s vs ws \(higher is better\)/);
    assert.match(svg, />wschat<\/text>/);
    assert.match(svg, />3\.00x<\/text>/);
    assert.match(svg, />FAILED<\/text>/);
    assert.doesNotMatch(svg, />ws<\/text>/, 'the baseline gets no bar');
    assert.match(svg, /stroke="#111827" stroke-width="1\.5"/, 'the 1x line');
    assert.equal((svg.match(/<rect /g) ?? []).length, 2, 'background + one bar');
  });
});
