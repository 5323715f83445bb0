/**
 * The servers under test: how to start each one, and what must be prepared
 * before the first run (the wschat build, the ws and socket.io launchers
 * compiled to plain JavaScript, bufferutil built from source).
 *
 * A launch is a command line; bench/run.ts adds the CPU pinning, the open-file
 * limit and the parent-death signal around it, and gives every run a fresh
 * process on a fresh port.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A server implementation (what `--servers` selects). */
export type ServerName = 'wschat' | 'ws' | 'ws+bufferutil' | 'bun' | 'socketio';

export const SERVER_NAMES: readonly ServerName[] = ['wschat', 'ws', 'ws+bufferutil', 'bun', 'socketio'];

/**
 * What the server is asked to be:
 * - `echo`: echo on any path, fan-out on /broadcast, no compression;
 * - `deflate`: the same with permessage-deflate enabled;
 * - `deflate-small`: permessage-deflate with a threshold of 0, so that even
 *   the smallest message is compressed (Bun compresses every message anyway);
 * - `chat-memory` / `chat-sqlite`: wschat's full chat server with either store;
 * - `chat`: the socket.io room server;
 * - `chat-redis`: one node of several sharing rooms through Redis (wschat's
 *   Redis store; socket.io's Redis adapter).
 */
export type Variant = 'echo' | 'deflate' | 'deflate-small' | 'chat-memory' | 'chat-sqlite' | 'chat' | 'chat-redis';

export interface LaunchSpec {
  command: string;
  args: string[];
  /** Added to the runner's environment. */
  env: Record<string, string>;
}

export interface LaunchContext {
  /** The repository root. */
  root: string;
  port: number;
  /** A fresh empty directory for the SQLite store (`chat-sqlite` only). */
  dataDir?: string;
  /** The Redis the nodes share, `redis://127.0.0.1:P` (`chat-redis` only). */
  redisUrl?: string;
}

/** The Redis URL of a `chat-redis` launch. @throws Error when the context has none. */
function redisOf(context: LaunchContext): string {
  if (context.redisUrl === undefined) throw new Error('chat-redis needs a Redis URL');
  return context.redisUrl;
}

/** Where the compiled Node launchers go (inside the repository, so `ws` and `socket.io` resolve from node_modules). */
export function launcherDir(root: string): string {
  return join(root, 'bench', 'out', 'servers');
}

/**
 * The command line that starts `server` as `variant` on 127.0.0.1:`port`.
 * @throws Error when the server has no such variant (e.g. socket.io echo).
 */
export function launchSpec(server: ServerName, variant: Variant, context: LaunchContext): LaunchSpec {
  const { root, port } = context;
  const node = process.execPath;
  const listen = ['--port', String(port), '--host', '127.0.0.1'];
  const wsEcho = join(launcherDir(root), 'ws-echo.mjs');
  const deflate =
    variant === 'deflate' ? ['--deflate'] : variant === 'deflate-small' ? ['--deflate', '--deflate-threshold', '0'] : [];
  const echoLike = variant === 'echo' || variant === 'deflate' || variant === 'deflate-small';
  switch (server) {
    case 'wschat':
      // `wschat echo` accepts permessage-deflate whenever the client offers it,
      // so `echo` and `deflate` are the same command line.
      if (variant === 'echo' || variant === 'deflate') {
        return { command: node, args: [join(root, 'bin', 'wschat.js'), 'echo', ...listen], env: {} };
      }
      if (variant === 'deflate-small') {
        // `wschat echo` has no threshold option: the same echo server from dist/, with threshold 0.
        return {
          command: node,
          args: [join(launcherDir(root), 'wschat-echo.mjs'), ...listen, '--deflate-threshold', '0'],
          env: {},
        };
      }
      if (variant === 'chat-memory' || variant === 'chat-sqlite' || variant === 'chat-redis') {
        let store: string[] = ['--memory'];
        if (variant === 'chat-sqlite') {
          if (context.dataDir === undefined) throw new Error('chat-sqlite needs a data directory');
          store = ['--data', context.dataDir];
        }
        if (variant === 'chat-redis') store = ['--redis', redisOf(context)];
        return {
          command: node,
          // The per-connection rate limit is lifted: publishers here send far
          // more than a person types, and the limit is not what is measured.
          args: [
            join(root, 'bin', 'wschat.js'),
            'serve',
            ...store,
            '--no-console',
            '--rate',
            '1000000',
            '--burst',
            '1000000',
            // Every load connection comes from 127.0.0.1: lift the per-address limits too.
            '--address-connections',
            '0',
            '--address-handshakes',
            '0',
            '--address-messages',
            '0',
            ...listen,
          ],
          env: {},
        };
      }
      break;
    case 'ws':
      if (echoLike) {
        return {
          command: node,
          args: [wsEcho, ...listen, ...deflate],
          env: { WS_NO_BUFFER_UTIL: '1', WS_NO_UTF_8_VALIDATE: '1' },
        };
      }
      break;
    case 'ws+bufferutil':
      if (echoLike) {
        return { command: node, args: [wsEcho, ...listen, ...deflate, '--require-native'], env: {} };
      }
      break;
    case 'bun':
      if (echoLike) {
        return {
          command: join(root, 'node_modules', '.bin', 'bun'),
          args: [join(root, 'bench', 'servers', 'bun-echo.ts'), ...listen, ...(variant === 'echo' ? [] : ['--deflate'])],
          env: {},
        };
      }
      break;
    case 'socketio':
      if (variant === 'chat' || variant === 'chat-redis') {
        const redis = variant === 'chat-redis' ? ['--redis', redisOf(context)] : [];
        return { command: node, args: [join(launcherDir(root), 'socketio-chat.mjs'), ...listen, ...redis], env: {} };
      }
      break;
  }
  throw new Error(`${server} has no ${variant} server`);
}

export type Log = (line: string) => void;

export interface Preparation {
  /** Per server, why it cannot run (missing build, failed compile); a server absent from the map is ready. */
  problems: Map<ServerName, string>;
  /** Things the report should say (a build older than its sources). */
  warnings: string[];
}

/** Makes every server in `servers` startable, or says why it cannot be. */
export async function prepareServers(root: string, servers: readonly ServerName[], log: Log): Promise<Preparation> {
  const problems = new Map<ServerName, string>();
  const warnings: string[] = [];
  if (servers.includes('wschat')) {
    const entry = join(root, 'dist', 'cli', 'main.js');
    if (!existsSync(entry)) problems.set('wschat', 'dist/ is missing: run `npm run build` (npm run bench does)');
    else if (newestMtime(join(root, 'src')) > statSync(entry).mtimeMs + 1000) {
      // Not fatal (the numbers are still wschat's), but they may not be the current sources'.
      warnings.push('dist/ is older than src/: wschat ran from a stale build (`npm run bench` builds first)');
    }
  }
  const needLaunchers = servers.some((s) => s === 'ws' || s === 'ws+bufferutil' || s === 'socketio' || s === 'wschat');
  if (needLaunchers) {
    try {
      await compileLaunchers(root);
    } catch (error) {
      for (const s of ['ws', 'ws+bufferutil', 'socketio'] as const) {
        problems.set(s, `compiling the launcher failed: ${message(error)}`);
      }
    }
  }
  if (servers.includes('ws+bufferutil') && !problems.has('ws+bufferutil')) {
    try {
      await buildBufferutil(root, log);
    } catch (error) {
      problems.set('ws+bufferutil', `building bufferutil from source failed: ${message(error)}`);
    }
  }
  if (servers.includes('bun') && !existsSync(join(root, 'node_modules', '.bin', 'bun'))) {
    problems.set('bun', 'node_modules/.bin/bun is missing (npm install)');
  }
  return { problems, warnings };
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The Node launchers are TypeScript; they are compiled once to .mjs so the
 * measured processes run plain JavaScript, without a TypeScript loader in them.
 */
async function compileLaunchers(root: string): Promise<void> {
  const { build } = await import('esbuild');
  const outdir = launcherDir(root);
  mkdirSync(outdir, { recursive: true });
  await build({
    entryPoints: [
      join(root, 'bench', 'servers', 'ws-echo.ts'),
      join(root, 'bench', 'servers', 'socketio-chat.ts'),
      join(root, 'bench', 'servers', 'wschat-echo.ts'),
    ],
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    platform: 'node',
    target: 'node20',
    bundle: false,
    logLevel: 'silent',
  });
}

/** Where bufferutil's own build puts the addon that node-gyp-build prefers over the shipped prebuilds. */
export function bufferutilAddon(root: string): string {
  return join(root, 'node_modules', 'bufferutil', 'build', 'Release', 'bufferutil.node');
}

/**
 * Builds bufferutil from source with node-gyp (once: skipped when the addon
 * exists), so ws+bufferutil runs code compiled on this machine, not a prebuild.
 * @throws Error with node-gyp's output when the build fails.
 */
async function buildBufferutil(root: string, log: Log): Promise<void> {
  if (existsSync(bufferutilAddon(root))) return;
  log('building bufferutil from source (node-gyp rebuild, once)...');
  const cwd = join(root, 'node_modules', 'bufferutil');
  const args = ['rebuild'];
  // The headers of the running Node, when installed with it, spare node-gyp a download.
  const prefix = dirname(dirname(process.execPath));
  if (existsSync(join(prefix, 'include', 'node', 'common.gypi'))) args.push(`--nodedir=${prefix}`);
  const gyp = findNodeGyp();
  const [command, commandArgs] =
    gyp === null ? ['npx', ['--yes', 'node-gyp', ...args]] : [process.execPath, [gyp, ...args]];
  await runToEnd(command, commandArgs, cwd, 300_000);
  if (!existsSync(bufferutilAddon(root))) throw new Error('node-gyp finished but build/Release/bufferutil.node is missing');
}

/** node-gyp as npm bundles it (npm sets npm_config_node_gyp for scripts), else null (use npx). */
function findNodeGyp(): string | null {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const candidate of candidates) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return null;
}

function runToEnd(command: string, args: string[], cwd: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let output = '';
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}:\n${output.trim()}`));
    });
  });
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
