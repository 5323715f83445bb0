/**
 * nginx for tests, configured from docs/deploy.md: the documented
 * configuration is what runs, with only its certificate paths, host name and
 * ports swapped for the test's. nginx runs in the foreground from a
 * temporary prefix directory (its own pid file, logs and temp paths), never
 * as the system service.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Certificate } from './tls.js';

const DEPLOY = fileURLToPath(new URL('../../docs/deploy.md', import.meta.url));

/**
 * The ```nginx block of docs/deploy.md whose first line is `# wschat: <title>`.
 * @throws AssertionError when there is no such block.
 */
export function documentedConfig(title: string): string {
  const text = readFileSync(DEPLOY, 'utf8');
  for (const match of text.matchAll(/```nginx\n([\s\S]*?)```/g)) {
    const block = match[1] ?? '';
    if (block.startsWith(`# wschat: ${title}\n`)) return block;
  }
  assert.fail(`docs/deploy.md has no nginx block titled "# wschat: ${title}"`);
}

export interface NginxOptions {
  /** A site configuration (the documented block). */
  site: string;
  /** Strings of the site to replace (every occurrence), each of which must occur; `{prefix}` in a replacement is nginx's directory. */
  replace: [from: string | RegExp, to: string][];
}

export interface Nginx {
  readonly dir: string;
  readonly process: ChildProcess;
  /** The error log so far (for failure messages). */
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * Writes the certificate into the prefix directory, applies the
 * replacements, wraps the site in a minimal nginx.conf and starts nginx.
 * Resolves once `port` accepts connections.
 * @throws AssertionError when a replacement does not apply or nginx does not start.
 */
export async function startNginx(options: NginxOptions & { port: number; certificate: Certificate }): Promise<Nginx> {
  const dir = mkdtempSync(path.join(tmpdir(), 'wschat-nginx-'));
  for (const sub of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(path.join(dir, sub));
  writeFileSync(path.join(dir, 'cert.pem'), options.certificate.cert);
  writeFileSync(path.join(dir, 'key.pem'), options.certificate.key);
  let site = options.site;
  for (const [from, to] of options.replace) {
    const before = site;
    const value = to.replaceAll('{prefix}', dir);
    site = typeof from === 'string' ? site.replaceAll(from, value) : site.replace(from, value);
    assert.notEqual(site, before, `the documented nginx configuration has no ${String(from)} to replace`);
  }
  const conf = `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path ${dir}/client_body;
    proxy_temp_path ${dir}/proxy;
    fastcgi_temp_path ${dir}/fastcgi;
    uwsgi_temp_path ${dir}/uwsgi;
    scgi_temp_path ${dir}/scgi;
${site}
}
`;
  writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', `${dir}/`, '-e', `${dir}/logs/error.log`, '-c', `${dir}/nginx.conf`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = (): string => {
    try {
      return `${stderr}${readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8')}`;
    } catch {
      return stderr;
    }
  };
  const started = Date.now();
  for (;;) {
    if (child.exitCode !== null) assert.fail(`nginx exited at start:\n${errorLog()}`);
    // nginx writes its pid file once it has bound its ports: only then is the port nginx's.
    if (existsSync(path.join(dir, 'nginx.pid')) && (await accepts(options.port))) break;
    if (Date.now() - started > 10_000) {
      child.kill('SIGKILL');
      assert.fail(`nginx did not listen on ${options.port}:\n${errorLog()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return {
    dir,
    process: child,
    errorLog,
    async stop() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1');
  });
}
