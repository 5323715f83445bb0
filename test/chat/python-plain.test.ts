/**
 * Python's `websockets` (Debian's python3-websockets) as a seed-style plain
 * text client, in one room with a `wschat.v1` client. Skipped with the reason
 * when the peer is missing on a developer's machine; fails under CI=true.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { findPythonWebsockets, PYTHON, requirePeer } from '../support/peers.js';
import { JsonClient, Mailbox, startTestServer, within, wsUrl } from './support/clients.js';

const SCRIPT = fileURLToPath(new URL('./python_plain_client.py', import.meta.url));

type PyEvent =
  | { event: 'open'; subprotocol: string | null }
  | { event: 'message'; data: string | null }
  | { event: 'close'; code: number; reason: string }
  | { event: 'error'; error: string };

test('python websockets chats as a plain-text client with a wschat.v1 client', { timeout: 30_000 }, async (t) => {
  if (!requirePeer(t, findPythonWebsockets())) return;
  const server = await startTestServer();
  const child = spawn(PYTHON, [SCRIPT, wsUrl(server, '/r/pyroom')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    const events = new Mailbox<PyEvent>();
    let partial = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line !== '') events.push(JSON.parse(line) as PyEvent);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('exit', () => events.end(`python exited; stderr: ${stderr}`));
    const send = (command: object): void => {
      child.stdin.write(`${JSON.stringify(command)}\n`);
    };
    const line = async (pattern: RegExp): Promise<string> => {
      const e = await events.take((x) => x.event === 'message' && x.data !== null && pattern.test(x.data), `python got ${pattern}`, 10_000);
      return e.event === 'message' ? (e.data ?? '') : '';
    };

    const alice = await JsonClient.joined(wsUrl(server, '/r/pyroom'), 'alice');
    const open = await events.take((e) => e.event === 'open', 'python connected', 10_000);
    assert.deepEqual(open, { event: 'open', subprotocol: null });
    const welcome = await line(/^You are /);
    const nick = /^You are (\S+) in pyroom\. Also here: alice\./.exec(welcome)?.[1];
    assert.match(nick ?? '', /^guest-[0-9a-f]{4}$/, 'a guest name, not the address');

    send({ send: '/nick Monty' });
    assert.equal(await line(/^You are now/), 'You are now known as Monty');
    assert.equal((await alice.expect('notice', (n) => n.event === 'rename')).text, `${nick} is now known as Monty`);

    send({ send: 'Hello from Python, 안녕' });
    const seen = await alice.expect('message');
    assert.deepEqual([seen.nick, seen.text], ['Monty', 'Hello from Python, 안녕']);
    assert.equal(await line(/^Monty ::/), 'Monty :: Hello from Python, 안녕');

    await alice.say('hi Monty');
    assert.equal(await line(/^alice ::/), 'alice :: hi Monty');

    send({ send: '/quit' });
    const closed = await events.take((e) => e.event === 'close', 'python closed', 10_000);
    assert.deepEqual(closed, { event: 'close', code: 1000, reason: 'bye' });
    assert.equal((await alice.expect('notice', (n) => n.event === 'leave')).text, 'Monty left');
    assert.equal(await within(exited, 'python exited', 10_000), 0);
    await alice.close();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await server.close();
  }
});
