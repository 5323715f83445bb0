/**
 * `wschat serve` as a user runs it (from the sources, through src/cli/main.ts):
 * help, option errors, environment, the console on standard input, the
 * options reaching the server, and signals.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, test } from 'node:test';
import { JsonClient, TcpClient, within, wsUrl } from '../chat/support/clients.js';
import { runCli, startServeProcess, stopProcess } from '../chat/support/server-process.js';

const T = { timeout: 60_000 };

async function listening(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** Runs a command that should end by itself; returns its exit code and output. */
async function finish(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runCli(args, { env });
  try {
    const { code } = await within(run.exited, `wschat ${args.join(' ')} to exit`, 30_000);
    return { code, stdout: run.stdout.items.join('\n'), stderr: run.stderr() };
  } finally {
    await stopProcess(run);
  }
}

describe('wschat serve', () => {
  test('--help prints every option and exits 0', T, async () => {
    const { code, stdout } = await finish(['serve', '--help']);
    assert.equal(code, 0);
    for (const option of ['--host', '--port', '--data', '--memory', '--history', '--max-message', '--room-ttl', '--grace', '--rate', '--burst', '--tcp-port', '--allowed-origin', '--tls-cert', '--tls-key', '--no-console', '--address-connections', '--address-handshakes', '--address-messages', '--address-rooms', '--trust-proxy', '--console-log']) {
      assert.ok(stdout.includes(option), option);
    }
  });

  test('bad usage exits 2 with a message naming the option, and where to look', T, async () => {
    const cases: [string[], RegExp][] = [
      [['--port', '70000'], /--port must be a whole number from 0 to 65535, got "70000"/],
      [['--history', 'lots'], /--history must be a whole number/],
      [['--max-message', '40000'], /--max-message must be a whole number from 1 to 32768/],
      [['--grace', '30d'], /--grace must be at most 2147483647 ms/],
      [['--room-ttl', 'forever'], /--room-ttl must be a duration/],
      [['--tls-cert', 'cert.pem'], /--tls-cert and --tls-key go together/],
      [['--bogus'], /Unknown option '--bogus'/],
      [['--data', 'somewhere'], /--memory keeps nothing on disk and --data says where to keep it: give one of them/],
      [['--allowed-origin', 'notaurl'], /--allowed-origin must be an origin such as https:\/\/chat\.example\.com \(not a URL\), got "notaurl"/],
      [['--allowed-origin', 'https://chat.example/room'], /--allowed-origin must be an origin .*\(no path, query or user\), got "https:\/\/chat\.example\/room"/],
      [['--allowed-origin', 'ftp://chat.example'], /--allowed-origin must be an origin .*\(http: or https: only\)/],
      [['--port', '9999', '--tcp-port', '9999'], /--tcp-port 9999 is also the web port \(--port\): give them different ports/],
      [['--redis', 'redis://127.0.0.1:1'], /--redis keeps the chat in Redis: it cannot be combined with --memory or --data/],
      [['--node-timeout', '5s'], /--node-timeout goes with --redis/],
      [['--bogus'], /--bogus/],
      [['--address-rooms=-1'], /--address-rooms must be a whole number from 0/],
      [['--address-messages', 'many'], /--address-messages must be a whole number/],
      [['--trust-proxy', 'proxy.example'], /--trust-proxy takes an IP address or a CIDR range \(e\.g\. 10\.0\.0\.0\/8\), got "proxy\.example"/],
      [['--console-log', '--no-console-log'], /--console-log and --no-console-log contradict each other/],
      [['--http2'], /--http2 needs --tls-cert and --tls-key: browsers speak HTTP\/2 only over TLS/],
    ];
    await Promise.all(
      cases.map(async ([args, message]) => {
        const result = await finish(['serve', '--memory', '--no-console', ...args]);
        assert.equal(result.code, 2, args.join(' '));
        assert.match(result.stderr, /^wschat serve: /);
        assert.match(result.stderr, message);
        assert.match(result.stderr, /Run "wschat serve --help" for the options\./);
      }),
    );
    const env = await finish(['serve', '--memory', '--no-console'], { PORT: 'eighty' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /PORT \(environment\) must be a whole number from 0 to 65535, got "eighty"/);
  });

  test('an unknown command is refused with the usage, exit 2', T, async () => {
    const result = await finish(['wat']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^wschat: unknown command "wat"\n\nUsage: wschat <command>/);
    assert.equal(result.stdout, '');
    const help = await finish(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: wschat <command>/);
  });

  test('a port already in use: which port, which door and what to do, exit 1, for the HTTP and the TCP port', T, async () => {
    const { server, port } = await listening();
    try {
      const http = await finish(['serve', '--memory', '--no-console', '--host', '127.0.0.1', '--port', String(port)]);
      assert.equal(http.code, 1);
      assert.equal(
        http.stderr,
        `wschat serve: port ${port} (web and WebSocket, --port) is already in use on 127.0.0.1: stop the program using it, or choose another port with --port\n`,
      );
      const tcp = await finish(['serve', '--memory', '--no-console', '--host', '127.0.0.1', '--port', '0', '--tcp-port', String(port)]);
      assert.equal(tcp.code, 1);
      assert.equal(
        tcp.stderr,
        `wschat serve: port ${port} (raw TCP lines, --tcp-port) is already in use on 127.0.0.1: stop the program using it, or choose another port with --tcp-port\n`,
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('--host that is not an address of this machine, or no host at all: named, exit 1', T, async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never a local address.
    const absent = await finish(['serve', '--memory', '--no-console', '--port', '0', '--host', '192.0.2.1']);
    assert.equal(absent.code, 1);
    assert.match(absent.stderr, /^wschat serve: cannot listen on 192\.0\.2\.1 \(--host\): this machine has no such address/);
    // .invalid never resolves (RFC 2606).
    const unknown = await finish(['serve', '--memory', '--no-console', '--port', '0', '--host', 'nowhere.invalid']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^wschat serve: --host nowhere\.invalid is not a known host name or address\n$/);
  });

  test('HOST and PORT from the environment', T, async () => {
    const { server, port } = await listening();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const run = runCli(['serve', '--memory', '--no-console'], { env: { HOST: '127.0.0.1', PORT: String(port) } });
    try {
      const line = await run.stdout.take((l) => l.startsWith('wschat is running'), 'the running line', 20_000);
      assert.equal(line, `wschat is running at http://127.0.0.1:${port}/ (in memory)`);
      const health = (await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { status: string };
      assert.equal(health.status, 'ok');
      run.child.kill('SIGINT');
      assert.deepEqual(await within(run.exited, 'exit after SIGINT', 20_000), { code: 0, signal: null });
    } finally {
      await stopProcess(run);
    }
  });

  test('the options reach the server: --memory, --tcp-port, --history, --max-message, --allowed-origin', T, async () => {
    const p = await startServeProcess(
      ['--memory', '--no-console', '--tcp-port', '0', '--history', '2', '--max-message', '10', '--allowed-origin', 'https://a.example', '--allowed-origin', 'https://b.example'],
    );
    try {
      assert.match(p.stdout.items[0] ?? '', / \(in memory\)$/);
      const tcpLine = await p.stdout.take((l) => l.startsWith('raw TCP lines on port '), 'the TCP line');
      const tcpPort = Number(/port (\d+)/.exec(tcpLine)?.[1]);
      const tcp = await TcpClient.open(tcpPort);
      await tcp.login('terry');

      const alice = await JsonClient.open(wsUrl(p.port, '/r/lobby'), { origin: 'https://b.example' });
      const welcome = await alice.join('alice');
      assert.equal(welcome.maxMessage, 10);
      assert.equal(welcome.history.length, 2, '--history 2');
      const long = await alice.request('eleven char');
      assert.equal(long.type === 'error' && long.code, 'MESSAGE_TOO_LONG');
      await alice.say('ten chars!');
      assert.equal(await tcp.line(/^\[alice\]/), '[alice] ten chars!');
      await assert.rejects(JsonClient.open(wsUrl(p.port, '/r/lobby'), { origin: 'https://c.example' }), /403|Origin/);

      p.child.kill('SIGTERM');
      assert.equal((await within(alice.closed, 'alice closed')).code, 1001);
      await within(tcp.closed, 'tcp closed');
      assert.deepEqual(await within(p.exited, 'exit after SIGTERM', 20_000), { code: 0, signal: null });
    } finally {
      await stopProcess(p);
    }
  });

  test('each line on standard input goes to every room from Administrator', T, async () => {
    const p = await startServeProcess(['--memory'], { stdin: 'pipe' });
    try {
      await p.stdout.take((l) => l.startsWith('Type a line to speak to every room'), 'the console hint');
      const alice = await JsonClient.joined(wsUrl(p.port, '/r/one'), 'alice');
      const bob = await JsonClient.joined(wsUrl(p.port, '/r/two'), 'bob');
      p.child.stdin?.write('Restart at 18:00\n');
      assert.equal(await p.stdout.take((l) => l.startsWith('sent'), 'the console reply'), 'sent to 2 rooms');
      for (const client of [alice, bob]) {
        const admin = await client.expect('admin');
        assert.deepEqual([admin.nick, admin.text], ['Administrator', 'Restart at 18:00']);
      }
      p.child.stdin?.write('/rooms\n');
      assert.match(await p.stdout.take((l) => l.startsWith('two'), '/rooms'), /^two\s+1 member, last seq 2$/);
      p.child.kill('SIGINT');
      assert.equal((await within(alice.closed, 'alice closed')).code, 1001);
      assert.deepEqual(await within(p.exited, 'exit after SIGINT', 20_000), { code: 0, signal: null });
      await bob.closed;
    } finally {
      await stopProcess(p);
    }
  });
});
