/**
 * Optional interop peers (Debian's Chromium, Debian's Python with the
 * `websockets` module) and the rule for a missing one: on a developer's
 * machine the test is skipped with the reason printed; with CI=true it fails,
 * so a CI run can never pass by quietly testing nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import type { TestContext } from 'node:test';

/** Debian's chromium; never a browser downloaded by `playwright install`. */
export const CHROMIUM = '/usr/bin/chromium';
/**
 * Debian's python3, named explicitly: the python3 first on PATH may be
 * another one (pyenv) that cannot import Debian's python3-websockets.
 */
export const PYTHON = '/usr/bin/python3';

export interface Peer {
  /** For messages, e.g. "chromium". */
  name: string;
  available: boolean;
  /** Version when available; why not when missing (with the package to install). */
  detail: string;
}

/** True when the tests run in CI, where every peer must be present. */
export function isCI(): boolean {
  return process.env.CI === 'true';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Run a peer program briefly; stdout trimmed, or null when it failed. */
function probe(command: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 15_000 });
  const ok = result.status === 0 && !result.error;
  return { ok, out: ok ? result.stdout.trim() : (result.error?.message ?? result.stderr.trim()) };
}

let chromium: Peer | undefined;
let python: Peer | undefined;
let pythonPty: Peer | undefined;
let redis: Peer | undefined;
let nginx: Peer | undefined;

/** Debian's redis-server and redis-cli (`apt-get install redis-server`), 7.0 or later. */
export function findRedis(): Peer {
  if (redis) return redis;
  const server = probe('redis-server', ['--version']);
  const cli = probe('redis-cli', ['--version']);
  const major = Number(/v=(\d+)\./.exec(server.out)?.[1] ?? 0);
  redis = !server.ok || !cli.ok
    ? { name: 'redis-server', available: false, detail: `redis-server or redis-cli not found (apt-get install redis-server): ${server.ok ? cli.out : server.out}` }
    : major < 7
      ? { name: 'redis-server', available: false, detail: `Redis 7.0 or later is needed, found ${server.out}` }
      : { name: 'redis-server', available: true, detail: server.out };
  return redis;
}

/** Debian's nginx (`apt-get install nginx`). */
export function findNginx(): Peer {
  if (nginx) return nginx;
  // nginx -v prints its version on standard error.
  const result = spawnSync('nginx', ['-v'], { encoding: 'utf8', timeout: 15_000 });
  const version = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  nginx =
    result.status === 0 && /nginx version/.test(version)
      ? { name: 'nginx', available: true, detail: version }
      : { name: 'nginx', available: false, detail: `nginx not found (apt-get install nginx): ${result.error?.message ?? version}` };
  return nginx;
}

/** Debian's /usr/bin/chromium (`apt-get install chromium`). */
export function findChromium(): Peer {
  if (chromium) return chromium;
  if (!isExecutable(CHROMIUM)) {
    chromium = { name: 'chromium', available: false, detail: `${CHROMIUM} not found (apt-get install chromium)` };
    return chromium;
  }
  const version = probe(CHROMIUM, ['--version']);
  chromium = version.ok
    ? { name: 'chromium', available: true, detail: version.out }
    : { name: 'chromium', available: false, detail: `${CHROMIUM} --version failed: ${version.out}` };
  return chromium;
}

/** Debian's /usr/bin/python3 able to import `websockets` (`apt-get install python3-websockets`). */
export function findPythonWebsockets(): Peer {
  if (python) return python;
  if (!isExecutable(PYTHON)) {
    python = { name: 'python3-websockets', available: false, detail: `${PYTHON} not found (apt-get install python3)` };
    return python;
  }
  const version = probe(PYTHON, ['-c', 'import websockets; print(websockets.__version__)']);
  python = version.ok
    ? { name: 'python3-websockets', available: true, detail: `websockets ${version.out}` }
    : {
        name: 'python3-websockets',
        available: false,
        detail: `${PYTHON} cannot import websockets (apt-get install python3-websockets): ${version.out}`,
      };
  return python;
}

/**
 * The value for node:test's `skip` option of a test or suite that needs
 * `peer`: false when it is there, or in CI (the test then runs and fails on
 * the missing peer, see `assertPeer`); otherwise the reason, also printed.
 */
export function peerSkip(peer: Peer): string | false {
  if (peer.available || isCI()) return false;
  const reason = `${peer.name} missing: ${peer.detail}`;
  console.log(`# skip: ${reason}`);
  return reason;
}

/**
 * Fail unless `peer` is available. For `before` hooks of suites guarded by
 * `peerSkip`: when CI=true, this is what turns a missing peer into failures.
 * @throws AssertionError when the peer is missing.
 */
export function assertPeer(peer: Peer): void {
  assert.ok(peer.available, `${peer.name} is required${isCI() ? ' (CI=true)' : ''}: ${peer.detail}`);
}

/**
 * Inside a test: true when `peer` is available. When it is missing, skips
 * the test with the reason printed and returns false; with CI=true, fails it.
 * @throws AssertionError when the peer is missing and CI=true.
 */
export function requirePeer(t: TestContext, peer: Peer): boolean {
  if (peer.available) return true;
  assert.ok(!isCI(), `${peer.name} is required (CI=true): ${peer.detail}`);
  const reason = `${peer.name} missing: ${peer.detail}`;
  console.log(`# skip: ${reason}`);
  t.skip(reason);
  return false;
}

/**
 * Debian's /usr/bin/python3 with its standard `pty` module, which runs the
 * terminal client in a real pseudo-terminal (test/support/pty_run.py).
 */
export function findPythonPty(): Peer {
  if (pythonPty) return pythonPty;
  if (!isExecutable(PYTHON)) {
    pythonPty = { name: 'python3', available: false, detail: `${PYTHON} not found (apt-get install python3)` };
    return pythonPty;
  }
  const version = probe(PYTHON, ['-c', 'import pty, termios, sys; print(sys.version.split()[0])']);
  pythonPty = version.ok
    ? { name: 'python3', available: true, detail: `python ${version.out}` }
    : { name: 'python3', available: false, detail: `${PYTHON} cannot import pty and termios: ${version.out}` };
  return pythonPty;
}
