/**
 * Startup failures of `wschat serve` (issue 12, section 5): each names what
 * failed and how to fix it, with exit status 1. The data directory and TLS
 * files as a user gets them wrong, through the real command; the messages for
 * what a test cannot cause here (a read-only database when running as root,
 * a privileged port) through `explainStartError` with the error SQLite or
 * the system would give.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { explainStartError, loadTlsFiles } from '../../src/cli/startup.js';
import { ChatServerStartError, openStore } from '../../src/chat/server.js';
import { within } from '../chat/support/clients.js';
import { runCli, stopProcess } from '../chat/support/server-process.js';
import { selfSignedCertificate } from '../support/tls.js';

const T = { timeout: 60_000 };

/** Runs `wschat serve --no-console --host 127.0.0.1 --port 0 ...args`, which must fail; returns its exit code and standard error. */
async function failing(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const run = runCli(['serve', '--no-console', '--host', '127.0.0.1', '--port', '0', ...args]);
  try {
    const { code } = await within(run.exited, `wschat serve ${args.join(' ')} to exit`, 30_000);
    return { code, stderr: run.stderr() };
  } finally {
    await stopProcess(run);
  }
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'wschat-startup-'));
});
after(() => {
  // The unwritable directory must be writable again to be removed.
  try {
    chmodSync(join(dir, 'locked'), 0o755);
  } catch {
    // Not made (running as root).
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('--data', () => {
  test('a file instead of a directory', T, async () => {
    writeFileSync(join(dir, 'a-file'), 'x');
    const { code, stderr } = await failing(['--data', join(dir, 'a-file')]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `wschat serve: --data ${join(dir, 'a-file')} is a file, not a directory: give a directory (it is created if needed), or --memory to keep nothing on disk\n`,
    );
  });

  test('a path through a file', T, async () => {
    writeFileSync(join(dir, 'b-file'), 'x');
    const { code, stderr } = await failing(['--data', join(dir, 'b-file', 'data')]);
    assert.equal(code, 1);
    assert.match(stderr, /^wschat serve: --data .*b-file\/data: a part of that path is a file, not a directory: give a directory/);
  });

  test('a directory wschat may not write', T, async () => {
    // Root writes anywhere chmod says it may not; /sys is read-only for everyone.
    let target = '/sys/wschat-data';
    if (process.getuid?.() !== 0) {
      mkdirSync(join(dir, 'locked'));
      chmodSync(join(dir, 'locked'), 0o555);
      target = join(dir, 'locked', 'data');
    }
    const { code, stderr } = await failing(['--data', target]);
    assert.equal(code, 1);
    assert.match(
      stderr,
      new RegExp(
        `^wschat serve: cannot create the data directory ${target} \\(--data\\): (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\)|read-only file system \\(EROFS\\)): give the user running wschat write access to it, or choose another --data\\n$`,
      ),
    );
  });

  test('a database that is not one', T, async () => {
    mkdirSync(join(dir, 'garbage'));
    writeFileSync(join(dir, 'garbage', 'wschat.db'), 'this is not an SQLite database, just text that is long enough'.repeat(10));
    const { code, stderr } = await failing(['--data', join(dir, 'garbage')]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `wschat serve: ${join(dir, 'garbage', 'wschat.db')} (--data ${join(dir, 'garbage')}) is not a wschat database, or it is damaged (SQLite says "file is not a database"): move it away, or choose another --data\n`,
    );
  });

  test('a database file SQLite cannot open (here: a directory of that name)', T, async () => {
    mkdirSync(join(dir, 'dbdir', 'wschat.db'), { recursive: true });
    const { code, stderr } = await failing(['--data', join(dir, 'dbdir')]);
    assert.equal(code, 1);
    assert.equal(
      stderr,
      `wschat serve: cannot open the database ${join(dir, 'dbdir', 'wschat.db')} (--data ${join(dir, 'dbdir')}): SQLite says "unable to open database file": it must be a file wschat can read and write, in a directory it can write; or choose another --data\n`,
    );
  });

  test('openStore says which file failed, keeping the cause', () => {
    writeFileSync(join(dir, 'c-file'), 'x');
    assert.throws(
      () => openStore(join(dir, 'c-file')),
      (error: unknown) =>
        error instanceof ChatServerStartError &&
        error.part === 'store' &&
        error.path === join(dir, 'c-file', 'wschat.db') &&
        error.code === 'EEXIST' &&
        error.cause instanceof Error,
    );
  });
});

describe('TLS files', () => {
  let cert: string;
  let key: string;
  before(() => {
    const pair = selfSignedCertificate();
    writeFileSync(join(dir, 'cert.pem'), pair.cert);
    writeFileSync(join(dir, 'key.pem'), pair.key);
    writeFileSync(join(dir, 'text.txt'), 'not PEM at all\n');
    // Another key: does not belong to the certificate.
    writeFileSync(
      join(dir, 'other-key.pem'),
      execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1'], { encoding: 'utf8' }),
    );
    writeFileSync(
      join(dir, 'encrypted-key.pem'),
      execFileSync('openssl', ['pkey', '-aes256', '-passout', 'pass:secret'], { input: pair.key, encoding: 'utf8' }),
    );
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
  });

  const cases: Array<[string, () => string[], (d: string) => RegExp]> = [
    ['a certificate file that does not exist', () => ['--tls-cert', join(dir, 'missing.pem'), '--tls-key', key], () => /^wschat serve: cannot read --tls-cert .*missing\.pem: no such file or directory \(ENOENT\)\n$/],
    [
      'a certificate that is not PEM',
      () => ['--tls-cert', join(dir, 'text.txt'), '--tls-key', key],
      () => /^wschat serve: --tls-cert .*text\.txt is not a PEM certificate \(.*\): give the certificate file, which starts with -----BEGIN CERTIFICATE-----\n$/,
    ],
    [
      'a key that is not PEM',
      () => ['--tls-cert', cert, '--tls-key', join(dir, 'text.txt')],
      () => /^wschat serve: --tls-key .*text\.txt is not a PEM private key \(.*\): give the key file, which starts with -----BEGIN PRIVATE KEY-----/,
    ],
    ['the certificate given as the key', () => ['--tls-cert', cert, '--tls-key', cert], () => /^wschat serve: --tls-key .*cert\.pem is not a PEM private key/],
    [
      'a key of another certificate',
      () => ['--tls-cert', cert, '--tls-key', join(dir, 'other-key.pem')],
      () => /^wschat serve: --tls-key .*other-key\.pem does not belong to the certificate --tls-cert .*cert\.pem: give the key the certificate was made for\n$/,
    ],
    [
      'an encrypted key',
      () => ['--tls-cert', cert, '--tls-key', join(dir, 'encrypted-key.pem')],
      () => /^wschat serve: --tls-key .*encrypted-key\.pem is encrypted: wschat needs the key without a passphrase/,
    ],
  ];
  for (const [name, args, message] of cases) {
    test(`${name}: named, exit 1`, T, async () => {
      const { code, stderr } = await failing(['--memory', ...args()]);
      assert.equal(code, 1);
      assert.match(stderr, message(dir));
    });
  }

  test('good files load', () => {
    const loaded = loadTlsFiles(cert, key);
    assert.ok(loaded.cert.length > 0 && loaded.key.length > 0);
  });
});

describe('explainStartError: every cause has its advice', () => {
  const flags = { host: undefined, dataDir: 'data' };
  const failure = (part: 'store' | 'http' | 'tcp', code: string, message: string, where: { path?: string; port?: number }) =>
    explainStartError(new ChatServerStartError(part, Object.assign(new Error(message), { code }), where), flags);

  test('ports: in use, privileged, other', () => {
    assert.equal(
      failure('http', 'EADDRINUSE', 'listen EADDRINUSE', { port: 8080 }),
      'port 8080 (web and WebSocket, --port) is already in use: stop the program using it, or choose another port with --port',
    );
    assert.equal(
      failure('tcp', 'EACCES', 'listen EACCES', { port: 23 }),
      'not allowed to listen on port 23 (raw TCP lines, --tcp-port): ports below 1024 need privileges; choose a port from 1024 up with --tcp-port',
    );
    assert.equal(failure('http', 'EMFILE', 'too many open files', { port: 8080 }), 'cannot listen on port 8080 (web and WebSocket, --port): too many open files');
  });

  test('store: read-only, full, a newer schema, other', () => {
    const store = { path: 'data/wschat.db' };
    assert.equal(
      failure('store', 'SQLITE_READONLY', 'attempt to write a readonly database', store),
      'the database data/wschat.db (--data data) is read-only (SQLite says "attempt to write a readonly database"): give the user running wschat write access to the file and its directory, or choose another --data',
    );
    assert.match(failure('store', 'SQLITE_READONLY_DIRECTORY', 'attempt to write a readonly database', store), /is read-only/);
    assert.equal(failure('store', 'SQLITE_FULL', 'database or disk is full', store), 'the disk holding data/wschat.db (--data data) is full: free some space, or choose another --data');
    assert.equal(
      failure('store', '', 'the database has schema version 9, newer than this wschat (1)', store),
      'cannot open the database data/wschat.db (--data data): the database has schema version 9, newer than this wschat (1)',
    );
    assert.match(failure('store', 'EROFS', 'read-only file system', store), /^cannot create the data directory data \(--data\): read-only file system \(EROFS\)/);
    const locked = 'the data directory data is in use by another wschat server (process 42 on host); stop it, or give this one another --data directory';
    assert.equal(failure('store', 'DATA_DIR_LOCKED', locked, store), locked, 'the lock names holder and option itself');
  });

  test('store: better-sqlite3 installed without its install script, so no native addon', () => {
    // What the `bindings` package throws (its list of paths shortened).
    const missing = 'Could not locate the bindings file. Tried:\n → /app/node_modules/better-sqlite3/build/better_sqlite3.node\n → /app/node_modules/better-sqlite3/build/Release/better_sqlite3.node';
    const advice = failure('store', '', missing, { path: 'data/wschat.db' });
    assert.match(advice, /^SQLite is unavailable: the native part of better-sqlite3 was never built, because npm did not run its install script\./);
    assert.match(advice, /npm install-scripts approve better-sqlite3 && npm rebuild better-sqlite3/);
    assert.match(advice, /--allow-scripts=better-sqlite3/);
    assert.match(advice, /--memory, or --redis URL$/);
    assert.doesNotMatch(advice, /node_modules/, 'not the list of paths tried');
  });
});
