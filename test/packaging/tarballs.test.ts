/**
 * The packages as people install them: `npm pack` of the WebSocket stack
 * (`@wschat/websocket`, packages/websocket) and of the chat (`wschat`), what
 * each tarball holds, and each installed with npm into a fresh project outside
 * the repository, offline, then used through what was installed only: the
 * stack's server and client exchange a message (and its type declarations
 * compile), the chat's `wschat serve` answers /healthz.
 *
 * Offline, from local files. `npm install --offline` can resolve nothing from
 * the registry here: `npm ci` (what CI runs) fetches tarballs by the lock
 * file's integrity and never the registry's package documents that resolving
 * a range needs (ENOTCACHED). The stack has no dependencies, so its tarball
 * alone installs. The chat's dependencies are linked (`file:`) to the copies
 * `npm ci` installed in this repository: npm reuses them, native addon
 * included, with `--ignore-scripts`. Without it npm runs better-sqlite3's
 * install script on the link's target, rebuilding the repository's own addon
 * in place (a minute and a half on two cores, under the feet of every test
 * that opens SQLite meanwhile). What a real install from the registry prints
 * and runs is in the README ("Install scripts").
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STACK_DIR = join(ROOT, 'packages/websocket');
const T = { timeout: 120_000 };

interface PackedFile {
  path: string;
}
interface Packed {
  name: string;
  filename: string;
  files: PackedFile[];
}
interface Manifest {
  name: string;
  version: string;
  type?: string;
  license?: string;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
  files?: string[];
  sideEffects?: boolean;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bundleDependencies?: unknown;
}

/**
 * The environment for a child npm: without the `npm_*` variables of the `npm
 * test` running us (npm_config_local_prefix names this repository, npm_package_*
 * describe it), so that npm in a temporary project sees that project only.
 */
function npmEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)));
}

/** Runs npm; resolves with its standard output. @throws when npm exits non-zero (with its output in the message). */
async function npm(args: string[], cwd: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync('npm', args, { cwd, env: npmEnv(), maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new assert.AssertionError({ message: `npm ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}` });
  }
}

/** `npm pack --json ...` in `cwd`: the one package it describes. */
async function pack(args: string[], destination: string): Promise<Packed> {
  const out = JSON.parse(await npm(['pack', '--json', '--pack-destination', destination, ...args], ROOT)) as Packed[];
  assert.equal(out.length, 1, 'one package packed');
  return out[0]!;
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, 'utf8')) as T;
}

/** What any tarball of ours must not carry: tests, the benchmark, C, TypeScript sources, the other package. */
function assertNothingOfTheRepository(paths: string[]): void {
  for (const path of paths) {
    assert.doesNotMatch(path, /^(src|web|scripts|packages|docs)\//, `${path}: not a source folder of the repository`);
    assert.doesNotMatch(path, /(^|\/)(test|tests|bench|node_modules)\//, `${path}: no tests, benchmark or dependencies`);
    assert.doesNotMatch(path, /\.(c|h|cc|cpp|gyp)$/, `${path}: no C`);
    assert.doesNotMatch(path, /\.test\.|(^|\/)\.|\.tgz$|\.db$/, `${path}: no test, dotfile, tarball or database`);
    assert.ok(!path.endsWith('.ts') || path.endsWith('.d.ts'), `${path}: no TypeScript source`);
  }
}

let work: string;
let stack: Packed;
let chat: Packed;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'wschat-pack-'));
  // The chat is packed from the dist/ that `npm test` has just built (its
  // prepack, clean + build, would rebuild dist/ in place while other tests
  // read it); the stack's prepack really runs: it builds packages/websocket/dist,
  // which nothing else uses.
  if (!existsSync(join(ROOT, 'dist/cli/main.js')) || !existsSync(join(ROOT, 'dist/web/index.html'))) {
    await npm(['run', 'build'], ROOT);
  }
  [stack, chat] = await Promise.all([pack(['--workspace', '@wschat/websocket'], work), pack(['--ignore-scripts'], work)]);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

// The two packages are checked side by side: each waits mostly on npm and tsc.
describe('the packages', { concurrency: true }, () => {
  describe('@wschat/websocket, the stack on its own', () => {
    test('its tarball holds the compiled stack with declarations, README, LICENSE: nothing of the chat', async () => {
      const paths = stack.files.map((f) => f.path).sort();
      assertNothingOfTheRepository(paths);
      for (const path of paths) {
        assert.match(path, /^(package\.json|README\.md|LICENSE|dist\/(index|protocol\/[a-z0-9-]+|node\/[a-z0-9-]+)\.(js|d\.ts))$/, `${path}: only the stack`);
      }
      for (const path of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts', 'dist/protocol/protocol.js', 'dist/node/server.d.ts']) {
        assert.ok(paths.includes(path), `${path} is in the tarball`);
      }
      // Every compiled module comes with its declarations.
      for (const path of paths.filter((p) => p.endsWith('.js'))) assert.ok(paths.includes(path.replace(/\.js$/, '.d.ts')), `${path} has its .d.ts`);
      assert.equal(await readFile(join(STACK_DIR, 'LICENSE'), 'utf8'), await readFile(join(ROOT, 'LICENSE'), 'utf8'), 'the same license as the repository');
    });

    test('installed offline into a fresh project it brings nothing else, and a server and a client talk through it', T, async () => {
      const project = join(work, 'stack-app');
      await mkdir(project);
      await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'stack-app', private: true, type: 'module' }));
      await npm(['install', '--offline', '--no-audit', '--no-fund', join(work, stack.filename)], project);

      // Zero dependencies: nothing but the package itself was installed.
      assert.deepEqual((await readdir(join(project, 'node_modules'))).filter((n) => n !== '.package-lock.json'), ['@wschat']);
      assert.deepEqual(await readdir(join(project, 'node_modules/@wschat')), ['websocket']);
      const installed = join(project, 'node_modules/@wschat/websocket');
      assert.ok((await lstat(installed)).isDirectory(), 'a copy from the tarball, not a link to the repository');
      const manifest = await readJson<Manifest>(join(installed, 'package.json'));
      assert.equal(manifest.name, '@wschat/websocket');
      assert.equal(manifest.type, 'module');
      assert.equal(manifest.license, 'MIT');
      assert.equal(manifest.engines?.node, '>=20');
      assert.equal(manifest.sideEffects, false);
      assert.deepEqual(manifest.exports?.['.'], { types: './dist/index.d.ts', default: './dist/index.js' });
      for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies'] as const) {
        assert.equal(manifest[field], undefined, `no ${field}`);
      }

      // Written in TypeScript against the installed declarations (NodeNext
      // resolution through `exports`, strict), compiled, then
      // run: the server and the client of the package, one message each way.
      await writeFile(
        join(project, 'check.ts'),
        `import { WebSocketServer, connect, type WebSocket } from '@wschat/websocket';

  const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: true });
  server.on('connection', (ws: WebSocket) => {
    ws.on('message', (data, isBinary) => ws.send(isBinary ? data : \`echo: \${String(data)}\`));
  });
  await server.ready();
  const port: number = server.address()!.port;
  const client = await connect(\`ws://127.0.0.1:\${port}/\`, { perMessageDeflate: true });
  const reply = new Promise<string | Buffer>((resolve) => client.once('message', (data) => resolve(data)));
  client.send('hello');
  const data = await reply;
  const closed = new Promise<number>((resolve) => client.once('close', (code) => resolve(code)));
  client.close(1000, 'done');
  const code = await closed;
  await server.close();
  console.log(JSON.stringify({ data, code, from: import.meta.resolve('@wschat/websocket') }));
  `,
      );
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            module: 'NodeNext',
            moduleResolution: 'NodeNext',
            strict: true,
            // As most projects have it: the declarations were emitted from
            // sources that passed strict checking; what is checked here is that
            // they are found through `exports` and say what the code does.
            skipLibCheck: true,
            types: ['node'],
            // The consumer's own @types/node; this repository's copy stands in for it.
            typeRoots: [join(ROOT, 'node_modules/@types')],
          },
          files: ['check.ts'],
        }),
      );
      await execFileAsync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project }).catch((error: { stdout?: string; message: string }) => {
        throw new assert.AssertionError({ message: `check.ts does not compile against the installed package:\n${error.stdout ?? error.message}` });
      });
      const { stdout } = await execFileAsync(process.execPath, [join(project, 'check.js')], { cwd: project, timeout: 30_000 });
      const result = JSON.parse(stdout) as { data: string; code: number; from: string };
      assert.equal(result.data, 'echo: hello');
      assert.equal(result.code, 1000);
      assert.equal(fileURLToPath(result.from), join(installed, 'dist/index.js'), 'imported from the installed package');
    });
  });

  describe('wschat, the chat', () => {
    test('its tarball holds bin, the compiled chat and the browser bundle: no tests, bench, C or sources', async () => {
      const paths = chat.files.map((f) => f.path).sort();
      assertNothingOfTheRepository(paths);
      for (const path of paths) {
        assert.match(path, /^(package\.json|README\.md|LICENSE|bin\/wschat\.js|dist\/(chat|cli|client|websocket)\/[a-z0-9/-]+\.js|dist\/web\/(index\.html|assets\/[\w.-]+))$/, `${path}: only what runs`);
      }
      for (const path of ['package.json', 'README.md', 'LICENSE', 'bin/wschat.js', 'dist/cli/main.js', 'dist/cli/serve.js', 'dist/websocket/index.js', 'dist/web/index.html', 'dist/web/assets/app.js']) {
        assert.ok(paths.includes(path), `${path} is in the tarball`);
      }
      const manifest = await readJson<Manifest>(join(ROOT, 'package.json'));
      assert.deepEqual(manifest.bin, { wschat: 'bin/wschat.js' });
      // npm pack and npm publish build first (dist/ is not in git); the pack above skipped it, see before().
      assert.equal(manifest.scripts?.prepack, 'npm run clean && npm run build');
    });

    test('installed offline into a fresh project, `wschat serve` runs from it until /healthz answers', T, async () => {
      const project = join(work, 'chat-app');
      await mkdir(project);
      const manifest = await readJson<Manifest>(join(ROOT, 'package.json'));
      const dependencies: Record<string, string> = { wschat: `file:${join(work, chat.filename)}` };
      for (const name of Object.keys(manifest.dependencies ?? {})) dependencies[name] = `file:${join(ROOT, 'node_modules', name)}`;
      await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'chat-app', private: true, dependencies }));
      await npm(['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);

      const installed = join(project, 'node_modules/wschat');
      assert.ok((await lstat(installed)).isDirectory(), 'a copy from the tarball, not a link to the repository');
      assert.deepEqual((await readJson<Manifest>(join(installed, 'package.json'))).dependencies, manifest.dependencies);

      const data = join(project, 'data');
      const child = spawn(join(project, 'node_modules/.bin/wschat'), ['serve', '--host', '127.0.0.1', '--port', '0', '--data', data, '--no-console'], {
        cwd: project,
        env: npmEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const url = await new Promise<string>((resolve, reject) => {
          const lines = createInterface({ input: child.stdout });
          lines.on('line', (line) => {
            const match = /^wschat is running at (http:\/\/127\.0\.0\.1:\d+)\//.exec(line);
            if (match) resolve(match[1]!);
          });
          child.once('exit', (code) => reject(new assert.AssertionError({ message: `wschat serve exited (${code}) before running:\n${stderr}` })));
        });
        const health = await fetch(`${url}/healthz`);
        assert.equal(health.status, 200);
        assert.deepEqual(await health.json(), { status: 'ok' });
        const page = await fetch(`${url}/`);
        assert.equal(page.status, 200);
        assert.match(await page.text(), /<script[^>]+src="\/assets\/app\.js"/, 'the browser client from the installed bundle');
        assert.ok(existsSync(join(data, 'wschat.db')), 'history in SQLite: better-sqlite3 loaded');
        child.kill('SIGTERM');
        assert.equal(await exited, 0, `a clean stop on SIGTERM\n${stderr}`);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    });
  });
});
