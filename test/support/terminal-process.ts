/**
 * `wschat connect` as a user runs it, from the TypeScript sources: with its
 * standard streams on pipes (a script, `cmd | wschat connect`), or in a real
 * pseudo-terminal through test/support/pty_run.py (a person at a keyboard:
 * raw mode, Ctrl-C and Ctrl-D as keys, the prompt redrawn).
 *
 * Output is collected as it comes; `waitFor` awaits a pattern in it (bounded,
 * failing with what did arrive), never a sleep.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PYTHON } from './peers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PTY_RUN = fileURLToPath(new URL('./pty_run.py', import.meta.url));

/** The terminal's size in the pseudo-terminal. */
export const PTY_COLUMNS = 100;
export const PTY_ROWS = 30;

export interface TerminalProcess {
  child: ChildProcess;
  /** Everything written to standard output (in a terminal: standard error too), raw. */
  output(): string;
  /** Standard error (pipes only; in a terminal it is part of `output`). */
  errors(): string;
  /** `output()` with CSI/OSC escape sequences and carriage returns removed: roughly the text seen. */
  text(): string;
  /** Types or pipes `data`. */
  write(data: string): void;
  /** Closes standard input (pipes: the end of input; in a terminal, see pty_run.py: nothing). */
  end(): void;
  /** Resolves when `pattern` appears in `text()` (or in `errors()`), counting from `from` characters in. */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Removes CSI (ESC [ ... final) and OSC (ESC ] ... BEL/ST) sequences and CRs. */
export function stripTerminal(raw: string): string {
  return raw
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
    .replace(/\x1b\[[0-9;?]*[ -/]*[@-~]/g, '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching terminal control sequences is the point here
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
    .replace(/\r/g, '');
}

/**
 * Starts `wschat connect ...args`. `pty`: in a pseudo-terminal of
 * PTY_COLUMNS x PTY_ROWS (needs Debian's python3; see findPythonPty).
 */
export function startConnect(args: string[], options: { pty?: boolean; env?: NodeJS.ProcessEnv } = {}): TerminalProcess {
  const command = [process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'connect', ...args];
  const child = options.pty
    ? spawn(PYTHON, [PTY_RUN, String(PTY_COLUMNS), String(PTY_ROWS), ...command], { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: 'pipe' })
    : spawn(command[0]!, command.slice(1), { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: 'pipe' });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const wake = () => {
    for (const listener of [...listeners]) listener();
  };
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    out += chunk;
    wake();
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    err += chunk;
    wake();
  });
  // A program that exits before reading all its input: not the test's business.
  child.stdin?.on('error', () => {});
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal });
      wake();
    });
  });
  const text = () => stripTerminal(out);
  return {
    child,
    output: () => out,
    errors: () => err,
    text,
    write: (data) => {
      child.stdin?.write(data);
    },
    end: () => {
      child.stdin?.end();
    },
    waitFor: (pattern, what, timeoutMs = 20_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(text()) || pattern.test(err)) {
            done();
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new assert.AssertionError({ message: `exited before ${what}; output:\n${text()}\nstderr:\n${err}` }));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new assert.AssertionError({ message: `timed out waiting for ${what}; output:\n${text()}\nstderr:\n${err}` }));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    exited,
  };
}

/** Kills the process if it still runs (cleanup after a failed test). */
export async function stopTerminal(p: TerminalProcess): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}
