/**
 * The benchmark's CI smoke pass: `bench/run.ts --smoke` (wschat only, about a
 * second per workload, one run) must complete with every workload ok, so the
 * benchmark never rots. It asserts that things work, never how fast: no
 * timing is checked. Needs `npm run build` (npm test builds first) and a C
 * compiler with zlib for the load generator (.ci/run installs them); the
 * multi-node workload needs redis-server: without it, it is left out with
 * the reason printed on a developer's machine, and the test fails in CI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from '../../bench/report.js';
import { WORKLOAD_NAMES } from '../../bench/run.js';
import { assertPeer, findRedis, isCI } from '../support/peers.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

function runBench(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // SIGTERM lets the runner kill the servers and generators it started.
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}

test('npm run bench -- --smoke completes with every workload ok', { timeout: 115_000 }, async (t) => {
  const args = ['--smoke'];
  let expected = ['echo32', 'echo64k', 'bulk', 'fanout', 'idle', 'connect', 'compress', 'compress-small', 'chat', 'chat-max', 'chat-multinode', 'chat-multinode-max'];
  const redis = findRedis();
  if (isCI()) assertPeer(redis);
  if (!redis.available) {
    t.diagnostic(`chat-multinode left out: ${redis.detail}`);
    args.push('--only', WORKLOAD_NAMES.filter((w) => w !== 'chat-multinode').join(','));
    expected = expected.filter((w) => !w.startsWith('chat-multinode'));
  }
  const out = mkdtempSync(join(tmpdir(), 'wschat-bench-smoke-'));
  try {
    const { code, stdout, stderr } = await runBench([...args, '--out', out], 110_000);
    const context = `exit ${code}\n--- stdout\n${stdout.slice(-3000)}\n--- stderr\n${stderr.slice(-3000)}`;
    assert.equal(code, 0, context);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as BenchResults;
    assert.equal(results.mode, 'smoke');
    assert.deepEqual(
      results.workloads.map((w) => w.name),
      expected,
    );
    for (const workload of results.workloads) {
      assert.ok(workload.runs.length > 0, `${workload.name} ran`);
      for (const run of workload.runs) {
        assert.ok(run.ok, `${workload.name} / ${run.contestant}: ${run.error}`);
        assert.ok(run.contestant.startsWith('wschat'), `${workload.name}: only wschat in a smoke pass`);
        const values = Object.values(run.metrics);
        assert.ok(values.length > 0 && values.every((v) => Number.isFinite(v)), `${workload.name}: metrics are numbers`);
      }
    }
    const chat = results.workloads.find((w) => w.name === 'chat')!;
    assert.deepEqual(
      chat.runs.map((r) => r.contestant),
      ['wschat (memory)', 'wschat (SQLite)'],
    );
    assert.ok(chat.runs.every((r) => r.metrics.cpu_ms_per_1000! > 0), 'server CPU per 1000 deliveries was measured');
    const multinode = results.workloads.find((w) => w.name === 'chat-multinode');
    if (redis.available) {
      assert.deepEqual(
        multinode!.runs.map((r) => r.contestant),
        ['wschat (Redis)'],
      );
      assert.ok(multinode!.runs.every((r) => r.metrics.cpu_ms_per_1000! > 0), 'CPU of the nodes and Redis was measured');
      assert.match(stdout, /Chat on 3 nodes and Redis, maximum sustainable rate \[chat-multinode-max\]/);
    }
    assert.ok(existsSync(join(out, 'report.md')) && existsSync(join(out, 'ratios.svg')));
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /This is a smoke pass/);
    assert.match(stdout, /Echo, 32 B text \[echo32\]/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
