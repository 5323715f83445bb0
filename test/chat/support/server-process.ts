/**
 * `wschat serve` as a child process, run from the TypeScript sources
 * (`node --import tsx src/cli/main.ts`), so tests don't depend on a build.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Mailbox, within } from './clients.js';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ServeProcess {
  child: ChildProcess;
  /** The HTTP/WebSocket port it printed. */
  port: number;
  /** Standard output, line by line. */
  stdout: Mailbox<string>;
  /** Standard error so far (for failure messages). */
  stderr(): string;
  /** Resolves with the exit code (null when killed) and the signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `wschat <args>` and collects its output; does not wait for anything. */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'],
  });
  const stdout = new Mailbox<string>();
  let partial = '';
  let errors = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) stdout.push(line);
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    errors += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      stdout.end(`exited (${code ?? signal})`);
      resolve({ code, signal });
    });
  });
  return { child, stdout, stderr: () => errors, exited };
}

/**
 * Starts `wschat serve --host 127.0.0.1 --port 0 ...args` and waits for the
 * line that says where it runs.
 * @throws AssertionError when it does not start within 20 s.
 */
export async function startServeProcess(args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' } = {}): Promise<ServeProcess> {
  const run = runCli(['serve', '--host', '127.0.0.1', '--port', '0', ...args], options);
  let line: string;
  try {
    line = await run.stdout.take((l) => l.startsWith('wschat is running at '), 'the "running at" line', 20_000);
  } catch (error) {
    run.child.kill('SIGKILL');
    throw new assert.AssertionError({ message: `wschat serve did not start: ${String(error)}\nstderr: ${run.stderr()}` });
  }
  const match = /^wschat is running at http:\/\/127\.0\.0\.1:(\d+)\//.exec(line);
  assert.ok(match, line);
  return { ...run, port: Number(match[1]) };
}

/** Kills the process if it still runs (cleanup after a failed test). */
export async function stopProcess(p: { child: ChildProcess; exited: Promise<unknown> } | null): Promise<void> {
  if (p === null) return;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await within(p.exited, 'the child process exited', 10_000);
}
