/** `wschat echo`: its startup failures name the option and say what to do. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { within } from '../chat/support/clients.js';
import { runCli, stopProcess } from '../chat/support/server-process.js';

const T = { timeout: 60_000 };

async function finish(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const run = runCli(args);
  try {
    const { code } = await within(run.exited, `wschat ${args.join(' ')} to exit`, 30_000);
    return { code, stderr: run.stderr() };
  } finally {
    await stopProcess(run);
  }
}

describe('wschat echo', () => {
  test('a bad --port is bad usage: exit 2', T, async () => {
    const { code, stderr } = await finish(['echo', '--port', 'many']);
    assert.equal(code, 2);
    assert.match(stderr, /^wschat echo: --port must be a whole number from 0 to 65535, got "many"\nRun "wschat echo --help" for the options\.\n$/);
  });

  test('a port in use: which one and what to do, exit 1', T, async () => {
    const taken = createServer();
    taken.listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    try {
      const { code, stderr } = await finish(['echo', '--port', String(port)]);
      assert.equal(code, 1);
      assert.equal(stderr, `wschat echo: port ${port} (--port) is already in use on 127.0.0.1: stop the program using it, or choose another port with --port\n`);
    } finally {
      taken.close();
    }
  });
});
