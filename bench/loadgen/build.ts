/**
 * Builds the load generator (bench/loadgen/loadgen.c) with the machine's C
 * compiler on first use: `cc -O2 -o bench/out/loadgen bench/loadgen/loadgen.c -lz`.
 * It needs a C toolchain and zlib's headers (Debian: build-essential zlib1g-dev).
 *
 *   node --import tsx bench/loadgen/build.ts    # build if needed, print the path
 */
import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The generator's source. */
export const LOADGEN_SOURCE = path.join(ROOT, 'bench', 'loadgen', 'loadgen.c');
/** Where the binary goes (bench/out is git-ignored). */
export const LOADGEN_BINARY = path.join(ROOT, 'bench', 'out', 'loadgen');

/** The one JSON line the generator prints at the end (see bench/README.md for the contract). */
export interface LoadgenResult {
  mode: string;
  /** False when anything was wrong: errors, a failed or unexpectedly closed connection, a stalled run. */
  ok: boolean;
  errors: number;
  /** The first few errors, "; "-separated. */
  error_detail: string;
  /** Length of the measured window. */
  seconds: number;
  /** echo: replies; fanout/chat: messages every connection received; connect: open-handshake-close loops. */
  messages: number;
  /** Messages received by all connections (echo: = messages). */
  deliveries: number;
  /** Payload bytes received (uncompressed). */
  bytes: number;
  msgs_per_s: number;
  deliveries_per_s: number;
  /** 10^6 bytes per second. */
  mb_per_s: number;
  handshakes_per_s: number;
  /** Latency: echo round trip; fanout/chat until the last connection has the message; connect: one loop. */
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  /** Connections established. */
  connections: number;
  /** permessage-deflate was negotiated on every connection. */
  deflate: boolean;
}

let building: Promise<string> | null = null;

async function mtime(file: string): Promise<number | null> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return null;
  }
}

function compile(cc: string, output: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cc, ['-O2', '-o', output, LOADGEN_SOURCE, '-lz'], { timeout: 120_000 }, (error, _stdout, stderr) => {
      if (error) {
        const hint = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ` (no C compiler "${cc}": install build-essential)` : '';
        reject(new Error(`building the load generator failed${hint}: ${error.message}\n${stderr}`.trim()));
      } else resolve();
    });
  });
}

async function build(): Promise<string> {
  const binary = await mtime(LOADGEN_BINARY);
  const source = Math.max((await mtime(LOADGEN_SOURCE)) ?? 0, (await mtime(fileURLToPath(import.meta.url))) ?? 0);
  if (binary !== null && binary >= source) return LOADGEN_BINARY;
  await mkdir(path.dirname(LOADGEN_BINARY), { recursive: true });
  // Compile beside the target and rename: another process building at the
  // same time never sees (or runs) a half-written binary.
  const temporary = `${LOADGEN_BINARY}.${process.pid}.${Date.now()}.tmp`;
  try {
    await compile(process.env.CC || 'cc', temporary);
    await rename(temporary, LOADGEN_BINARY);
  } finally {
    await rm(temporary, { force: true });
  }
  return LOADGEN_BINARY;
}

/**
 * The path of the load generator, compiled first when the binary is missing
 * or older than its source. `CC` overrides the compiler.
 * @throws (rejects) when there is no C compiler or the compilation fails; the
 * message carries the compiler's output.
 */
export function ensureLoadgen(): Promise<string> {
  building ??= build().finally(() => {
    building = null;
  });
  return building;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureLoadgen().then(
    (binary) => console.log(binary),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exitCode = 1;
    },
  );
}
