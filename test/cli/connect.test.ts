import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ChatServer, startChatServer } from '../../src/chat/server.js';
import { connect, type WebSocket } from '../../src/websocket/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The terminal client as a user runs it, as a child process. */
function startClient(url: string, nick: string): { child: ChildProcessWithoutNullStreams; waitFor: (pattern: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'connect', url, '--nick', nick], {
    cwd: root,
    stdio: 'pipe',
  });
  let out = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    for (const w of [...waiters]) {
      const match = out.split('\n').find((line) => w.pattern.test(line));
      if (match !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(match);
      }
    }
  });
  const waitFor = (pattern: RegExp) =>
    new Promise<string>((resolve) => {
      const match = out.split('\n').find((line) => pattern.test(line));
      if (match !== undefined) resolve(match);
      else waiters.push({ pattern, resolve });
    });
  return { child, waitFor };
}

/** A wschat.v1 member driven directly, to talk to the terminal client. */
async function joinAs(port: number, room: string, nick: string): Promise<{ ws: WebSocket; next: (type: string) => Promise<Record<string, unknown>> }> {
  const ws = await connect(`ws://127.0.0.1:${port}/r/${room}`, { protocols: ['wschat.v1'] });
  const queue: Array<Record<string, unknown>> = [];
  const waiting: Array<{ type: string; resolve: (m: Record<string, unknown>) => void }> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as Record<string, unknown>;
    const i = waiting.findIndex((w) => w.type === message.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(message);
    else queue.push(message);
  });
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const i = queue.findIndex((m) => m.type === type);
      if (i >= 0) resolve(queue.splice(i, 1)[0]!);
      else waiting.push({ type, resolve });
    });
  ws.send(JSON.stringify({ type: 'join', nick }));
  await next('welcome');
  return { ws, next };
}

describe('wschat connect (terminal client)', () => {
  let server: ChatServer;
  before(async () => {
    server = await startChatServer({ host: '127.0.0.1', port: 0, dataDir: null, console: null });
  });
  after(async () => {
    await server.close();
  });

  test('joins, shows history and live messages, sends lines and commands, exits 0 on /quit', { timeout: 15_000 }, async () => {
    const other = await joinAs(server.port, 'term', 'bob');
    other.ws.send(JSON.stringify({ type: 'message', id: 'm1', text: 'before you came' }));
    await other.next('ack');

    const { child, waitFor } = startClient(`ws://127.0.0.1:${server.port}/r/term`, '민수');
    // History on join, with a timestamp.
    assert.match(await waitFor(/<bob> before you came/), /^\d\d:\d\d <bob> before you came$/);
    await waitFor(/joined term as 민수/);

    // A live message from someone else.
    other.ws.send(JSON.stringify({ type: 'message', id: 'm2', text: 'hi 민수' }));
    await waitFor(/<bob> hi 민수/);

    // A line typed in the terminal reaches the others.
    child.stdin.write('hello bob\n');
    // bob also receives his own messages; skip them.
    let seen = await other.next('message');
    while (seen.nick === 'bob') seen = await other.next('message');
    assert.equal(seen.nick, '민수');
    assert.equal(seen.text, 'hello bob');

    child.stdin.write('/who\n');
    assert.match(await waitFor(/members? in term/), /2 members in term: .*bob/);

    child.stdin.write('/quit\n');
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    other.ws.close();
  });

  test('a taken nickname is asked again', { timeout: 15_000 }, async () => {
    const other = await joinAs(server.port, 'term2', 'carol');
    const { child, waitFor } = startClient(`ws://127.0.0.1:${server.port}/r/term2`, 'Carol');
    await waitFor(/Choose another nickname/);
    child.stdin.write('dave\n');
    await waitFor(/joined term2 as dave/);
    child.stdin.end();
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    other.ws.close();
  });

  test('a bad URL is a clear error with exit code 1', { timeout: 15_000 }, async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'connect', 'http://x', '--nick', 'a'], { cwd: root });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const [code] = await once(child, 'exit');
    assert.equal(code, 1);
    assert.match(err, /must start with ws:\/\/ or wss:\/\//);
  });
});
