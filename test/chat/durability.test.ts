/**
 * Durability of `wschat serve` on a data directory: every acknowledged
 * message survives `kill -9` right after its ack, and a graceful stop
 * (SIGTERM) says 1001 to everyone, exits 0 and keeps everything.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { EntryEvent } from '../../src/chat/messages.js';
import { JsonClient, PlainClient, within, wsUrl } from './support/clients.js';
import { type ServeProcess, startServeProcess, stopProcess } from './support/server-process.js';

const T = { timeout: 90_000 };
let dir: string;
const children: ServeProcess[] = [];

async function serve(): Promise<ServeProcess> {
  const p = await startServeProcess(['--data', dir, '--no-console', '--burst', '1000']);
  children.push(p);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wschat-durability-'));
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopProcess(c)));
  rmSync(dir, { recursive: true, force: true });
});

/** The whole history of a room, fetched by a fresh member (lastSeq 0: everything, up to the replay limit). */
async function fullHistory(port: number, room: string): Promise<EntryEvent[]> {
  const reader = await JsonClient.open(wsUrl(port, `/r/${room}`));
  const welcome = await reader.join(`reader${port}`, { lastSeq: 0 });
  assert.equal(welcome.reset, false);
  assert.equal(welcome.more, false);
  await reader.close();
  return welcome.history;
}

describe('wschat serve on a data directory', () => {
  test('kill -9 right after an ack: on restart, every acknowledged message is in the history', T, async () => {
    const first = await serve();
    const alice = await JsonClient.open(wsUrl(first.port, '/r/durable'));
    const { resumeToken } = await alice.join('alice');
    const acked = new Map<string, number>();
    let killed = false;
    alice.ws.on('message', (data) => {
      const event = JSON.parse(String(data)) as { type: string; id?: string; seq?: number };
      if (event.type !== 'ack' || event.id === undefined || event.seq === undefined) return;
      acked.set(event.id, event.seq);
      // Kill the server the moment the 25th ack arrives, with more messages in flight.
      if (acked.size === 25 && !killed) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    });
    for (let i = 1; i <= 60; i++) alice.send({ type: 'message', id: `k-${i}`, text: `message ${i}` });
    const exit = await within(first.exited, 'the killed server exited', 20_000);
    assert.equal(exit.signal, 'SIGKILL');
    await within(alice.closed, 'the connection dropped');
    assert.ok(acked.size >= 25, `${acked.size} acks`);

    const second = await serve();
    const history = await fullHistory(second.port, 'durable');
    const bySeq = new Map(history.map((e) => [e.seq, e]));
    for (const [id, seq] of acked) {
      const entry = bySeq.get(seq);
      assert.ok(entry, `acknowledged ${id} (seq ${seq}) is missing after kill -9`);
      assert.deepEqual([entry.type, entry.nick, entry.text], ['message', 'alice', `message ${id.slice(2)}`]);
    }
    // Sequence numbers stay gapless across the crash, and continue after it.
    assert.deepEqual(
      history.map((e) => e.seq),
      history.map((_, i) => i + 1),
    );
    // The reader came and went; alice's nickname was held across the crash.
    const taken = await (await JsonClient.open(wsUrl(second.port, '/r/durable'))).tryJoin('alice');
    assert.equal(taken.type === 'error' && taken.code, 'NICK_TAKEN');
    const after = await JsonClient.open(wsUrl(second.port, '/r/durable'));
    const welcome = await after.join('alice', { resumeToken, lastSeq: history.at(-1)?.seq ?? 0 });
    assert.equal(welcome.resumed, true, 'alice resumes across kill -9');
    assert.deepEqual(welcome.history, [], 'no "alice joined" or "alice left" notice: nothing happened since the reader joined');
    assert.equal(welcome.lastSeq, history.at(-1)?.seq);
    const ack = await after.say('after the crash');
    assert.equal(ack.seq, welcome.lastSeq + 1);
    await after.close();
  });

  test('SIGTERM: every client gets 1001, the process exits 0, and the history is kept', T, async () => {
    const first = await serve();
    const alice = await JsonClient.joined(wsUrl(first.port, '/r/graceful'), 'alice');
    const plain = await PlainClient.open(wsUrl(first.port, '/r/graceful'));
    await plain.welcomed();
    const acks = [];
    for (let i = 1; i <= 5; i++) acks.push(await alice.say(`kept ${i}`));

    first.child.kill('SIGTERM');
    assert.deepEqual(await within(alice.closed, 'alice closed'), { code: 1001, reason: 'server shutting down' });
    assert.equal((await within(plain.closed, 'plain closed')).code, 1001);
    const exit = await within(first.exited, 'the server exited', 20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, first.stderr());
    assert.ok(first.stdout.items.some((l) => l.startsWith('SIGTERM: closing connections')));

    const second = await serve();
    const history = await fullHistory(second.port, 'graceful');
    for (const ack of acks) {
      assert.equal(history.find((e) => e.seq === ack.seq)?.text, `kept ${acks.indexOf(ack) + 1}`);
    }
    // A shutdown is not a leave for alice, who resumes with her token; the
    // plain client has no token to come back with, so it left.
    assert.deepEqual(
      history.filter((e) => e.type === 'notice' && e.event === 'leave').map((e) => e.nick),
      history.filter((e) => e.type === 'notice' && e.event === 'join' && e.nick !== 'alice' && !e.nick.startsWith('reader')).map((e) => e.nick),
    );
    assert.equal(history.filter((e) => e.type === 'notice' && e.event === 'leave' && e.nick === 'alice').length, 0);
  });
});
