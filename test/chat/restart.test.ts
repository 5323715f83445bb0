/**
 * Restart semantics of one node on SQLite (issue 9, section 2): nickname
 * holds and resume tokens outlive `kill -9`; members who come back in time
 * resume without notices, gaps or duplicates; the others, plain and TCP
 * members included, leave with exactly one notice each. And one server per
 * data directory.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EntryEvent, NoticeEvent } from '../../src/chat/messages.js';
import { JsonClient, PlainClient, TcpClient, within, wsUrl } from './support/clients.js';
import { runCli, type ServeProcess, startServeProcess, stopProcess } from './support/server-process.js';

const T = { timeout: 90_000 };
let dir: string;
const children: ServeProcess[] = [];

async function serve(): Promise<ServeProcess & { tcpPort: number }> {
  const p = await startServeProcess(['--data', dir, '--no-console', '--burst', '1000', '--grace', '3s', '--tcp-port', '0']);
  children.push(p);
  const line = await p.stdout.take((l) => l.startsWith('raw TCP lines on port '), 'the TCP port line');
  return { ...p, tcpPort: Number(/port (\d+)/.exec(line)?.[1]) };
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wschat-restart-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopProcess(c)));
  rmSync(dir, { recursive: true, force: true });
});

const seqsOf = (entries: readonly EntryEvent[]): number[] => entries.map((e) => e.seq);
const notices = (entries: readonly EntryEvent[], event: NoticeEvent['event']): string[] =>
  entries.filter((e): e is NoticeEvent => e.type === 'notice' && e.event === event).map((e) => e.nick);

describe('a restart of one node on SQLite', () => {
  test('kill -9: held nicknames stay held, returning members resume silently, the others leave once each', T, async () => {
    const first = await serve();
    const url = wsUrl(first.port, '/');
    const bob = await JsonClient.open(url);
    const bobWelcome = await bob.join('bob');
    const carol = await JsonClient.joined(url, 'carol');
    const plain = await PlainClient.open(url);
    const plainNick = await plain.welcomed();
    const tcp = await TcpClient.open(first.tcpPort);
    await tcp.login('tina');
    for (let i = 1; i <= 5; i++) await bob.say(`before the crash ${i}`);
    await carol.say('carol was here');

    first.child.kill('SIGKILL');
    await within(first.exited, 'the killed server exited');
    await Promise.all([within(bob.closed, 'bob dropped'), within(carol.closed, 'carol dropped'), within(plain.closed, 'plain dropped')]);
    tcp.close();

    const second = await serve();
    const url2 = wsUrl(second.port, '/');
    // A newcomer cannot take bob's name while bob is in his backoff.
    const newcomer = await JsonClient.open(url2);
    const refused = await newcomer.tryJoin('bob');
    assert.equal(refused.type === 'error' && refused.code, 'NICK_TAKEN', JSON.stringify(refused));
    await newcomer.join('newcomer');

    // What bob's client had seen when the server died: its welcome, then live entries.
    const seen = bob.inbox.items.flatMap((e) =>
      e.type === 'welcome' ? seqsOf(e.history) : e.type !== 'ack' && 'seq' in e && typeof e.seq === 'number' ? [e.seq] : [],
    );
    const lastSeen = Math.max(...seen);
    const back = await JsonClient.open(url2);
    const welcome = await back.join('bob', { resumeToken: bobWelcome.resumeToken, lastSeq: lastSeen });
    assert.equal(welcome.resumed, true);
    assert.equal(welcome.nick, 'bob');
    assert.equal(welcome.reset, false);
    const missed = seqsOf(welcome.history);
    assert.deepEqual([...seen, ...missed], Array.from({ length: welcome.lastSeq }, (_, i) => i + 1), 'no gap, no duplicate');
    // Plain and TCP members cannot resume: they left when the server came back.
    assert.deepEqual(notices(welcome.history, 'leave').sort(), [plainNick, 'tina'].sort());
    assert.deepEqual(welcome.members.find((m) => m.nick === 'carol'), { nick: 'carol', away: true });

    // carol does not come back: one "left (connection lost)" after the grace period.
    const left = await back.expect('notice', (n) => n.event === 'leave' && n.nick === 'carol', 15_000);
    assert.equal(left.text, 'carol left (connection lost)');
    const reader = await JsonClient.open(url2);
    const all = (await reader.join('reader', { lastSeq: 0 })).history;
    assert.deepEqual(seqsOf(all), Array.from({ length: all.length }, (_, i) => i + 1));
    assert.deepEqual(notices(all, 'leave').sort(), ['carol', plainNick, 'tina'].sort(), 'one notice each, nobody twice');
    assert.deepEqual(notices(all, 'join').filter((n) => n === 'bob'), ['bob'], 'bob joined once, before the crash');
    await Promise.all([back.close(), reader.close(), newcomer.close()]);
  });

  test('a second server on the same data directory refuses to start, naming the directory and the holder', T, async () => {
    const first = await serve();
    const second = runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data', dir, '--no-console']);
    // Killed after the test whatever happens: once the first one is gone, it could start for real.
    children.push({ ...second, port: 0 });
    // Starting node with tsx alone can take seconds on a busy machine: a generous bound on an event.
    const exit = await within(second.exited, 'the second server gave up', 60_000);
    assert.equal(exit.code, 1);
    const message = second.stderr();
    assert.match(message, new RegExp(`the data directory ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use`));
    assert.match(message, new RegExp(`process ${first.child.pid} `));
    // The first one is unaffected.
    const alice = await JsonClient.joined(wsUrl(first.port, '/'), 'alice');
    await alice.say('still here');
    await alice.close();
  });
});
