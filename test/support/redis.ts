/**
 * Redis servers for tests: a standalone redis-server or a 3-master Redis
 * Cluster, each on ephemeral loopback ports in a temporary directory, with
 * the AOF on and `appendfsync always` (the setting under which an ack means
 * durable), started and stopped by the test, never a system service.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { assertPeer, findRedis } from './peers.js';

/**
 * A free TCP port on 127.0.0.1 for a server the test starts later (Redis,
 * nginx). It is taken below the kernel's ephemeral range (32768 and up on
 * Linux): servers that bind port 0 meanwhile (the chat nodes) get ports from
 * that range, so they can never take this one between now and its use.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * 20_000);
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  assert.fail('no free port found between 10000 and 30000');
}

/** Resolves when something accepts TCP connections on the port. */
async function listening(port: number, what: string, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) assert.fail(`${what} did not start listening on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function cli(port: number, args: string[]): string {
  const result = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', timeout: 30_000 });
  return `${result.stdout}${result.stderr}`;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** The running process (null while stopped). */
  readonly process: ChildProcess | null;
  /** kill -9. */
  kill(): Promise<void>;
  /** Starts again on the same port and directory (so from the AOF). */
  restart(): Promise<void>;
  /** Stops and deletes the directory. */
  stop(): Promise<void>;
}

class RedisProcess implements RedisServer {
  process: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
    readonly extra: string[],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port', String(this.port),
        '--bind', '127.0.0.1',
        '--dir', this.dir,
        '--save', '',
        '--appendonly', 'yes',
        '--appendfsync', 'always',
        '--daemonize', 'no',
        '--logfile', path.join(this.dir, 'redis.log'),
        ...this.extra,
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await listening(this.port, 'redis-server');
    // A restarted server answers LOADING until it has read its AOF.
    for (let i = 0; i < 400 && /LOADING/.test(cli(this.port, ['PING'])); i++) await new Promise((r) => setTimeout(r, 25));
    // The port answers, but is it ours? (Another process may have taken it.)
    const info = cli(this.port, ['INFO', 'server']);
    assert.match(info, new RegExp(`process_id:${child.pid}\\b`), `port ${this.port} is answered by another process`);
  }

  async kill(): Promise<void> {
    const child = this.process;
    if (child === null) return;
    this.process = null;
    child.kill('SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A standalone redis-server with `appendonly yes`, `appendfsync always`. */
export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wschat-redis-'));
  const server = new RedisProcess(await freePort(), dir, []);
  await server.start();
  return server;
}

export interface RedisCluster {
  /** One node's URL (the client discovers the others). */
  readonly url: string;
  readonly nodes: RedisServer[];
  stop(): Promise<void>;
}

/** Three masters, no replicas, every slot covered. */
export async function startRedisCluster(): Promise<RedisCluster> {
  const root = mkdtempSync(path.join(tmpdir(), 'wschat-redis-cluster-'));
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const dir = path.join(root, `node${i}`);
      mkdirSync(dir);
      const port = await freePort();
      const busPort = await freePort();
      const node = new RedisProcess(port, dir, [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', path.join(dir, 'nodes.conf'),
        '--cluster-port', String(busPort),
        '--cluster-node-timeout', '2000',
      ]);
      await node.start();
      nodes.push(node);
    }
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(created.status, 0, `redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    // Wait until every node agrees the cluster is up.
    for (const node of nodes) {
      for (let i = 0; ; i++) {
        if (/cluster_state:ok/.test(cli(node.port, ['CLUSTER', 'INFO']))) break;
        assert.ok(i < 400, `cluster node ${node.port} never reached cluster_state:ok`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  } catch (error) {
    await Promise.all(nodes.map((n) => n.kill()));
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return {
    url: nodes[0]!.url,
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * For a suite that needs a standalone Redis: starts one before its tests
 * (failing, not skipping, when redis-server is missing: guard the suite with
 * `peerSkip(findRedis())`) and stops it after them. Returns its getter.
 */
export function useRedis(): () => RedisServer {
  let redis: RedisServer | undefined;
  before(async () => {
    assertPeer(findRedis());
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  return () => {
    assert.ok(redis, 'the suite\'s redis-server has not started');
    return redis;
  };
}
