/**
 * Several `wschat serve --redis` nodes as child processes, and chat sessions
 * that fail over between them (what a load balancer does for real clients).
 */
import assert from 'node:assert/strict';
import { ChatSession, type OutboxItem } from '../../../src/client/session.js';
import { nodeSocketFactory } from '../../../src/client/node-socket.js';
import type { SocketFactory } from '../../../src/client/socket.js';
import type { EntryEvent } from '../../../src/chat/messages.js';
import { type ServeProcess, startServeProcess, stopProcess } from './server-process.js';

export interface ChatNode extends ServeProcess {
  readonly name: string;
  readonly tcpPort: number;
  /** True until the test kills it. */
  alive: boolean;
}

/** Starts a node on `redisUrl` (ephemeral ports on 127.0.0.1, short timeouts for tests). */
export async function startNode(name: string, redisUrl: string, extra: string[] = [], stdin: 'pipe' | 'ignore' = 'ignore'): Promise<ChatNode> {
  const p = await startServeProcess(
    ['--redis', redisUrl, '--tcp-port', '0', '--node-timeout', '2s', '--grace', '4s', '--rate', '1000', '--burst', '1000', ...extra],
    { stdin },
  );
  const line = await p.stdout.take((l) => l.startsWith('raw TCP lines on port '), 'the TCP port line');
  return { ...p, name, tcpPort: Number(/port (\d+)/.exec(line)?.[1]), alive: true };
}

export async function stopNodes(nodes: readonly ChatNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => stopProcess(n)));
}

/** kill -9 of a node. */
export async function killNode(node: ChatNode): Promise<void> {
  node.alive = false;
  node.child.kill('SIGKILL');
  await node.exited;
}

/**
 * A socket factory that ignores the URL's host and port and connects to the
 * nodes in turn, starting from `first`: a client whose node died comes back
 * through another one, as behind a load balancer.
 */
export function failoverFactory(nodes: readonly ChatNode[], first: number, path: string): SocketFactory {
  const base = nodeSocketFactory();
  let next = first;
  return (_url, protocol) => {
    const live = nodes.filter((n) => n.alive);
    const node = live.length === 0 ? nodes[0]! : (live[next++ % live.length] ?? live[0]!);
    return base(`ws://127.0.0.1:${node.port}${path}`, protocol);
  };
}

/** A ChatSession that records what it saw. */
export class RecordingSession {
  readonly session: ChatSession;
  readonly entries: EntryEvent[] = [];
  readonly acked = new Map<string, { seq: number; text: string }>();
  readonly failed: { item: OutboxItem; code: string }[] = [];
  readonly welcomes: { nick: string; resumed: boolean }[] = [];
  #waiters: (() => void)[] = [];

  constructor(nick: string, factory: SocketFactory) {
    this.session = new ChatSession({
      url: 'ws://placeholder/r/lobby',
      nick,
      socketFactory: factory,
      backoff: { baseMs: 100, maxMs: 1000 },
      joinTimeoutMs: 5000,
    });
    this.session.on('entry', (entry) => {
      this.entries.push(entry);
      this.#wake();
    });
    this.session.on('acked', (item, seq) => {
      if (seq !== undefined) this.acked.set(item.id, { seq, text: item.text });
      this.#wake();
    });
    this.session.on('failed', (item, error) => {
      this.failed.push({ item, code: error.code });
      this.#wake();
    });
    this.session.on('welcome', (w) => {
      this.welcomes.push({ nick: w.nick, resumed: w.resumed });
      this.#wake();
    });
    this.session.on('ended', () => this.#wake());
    this.session.start();
  }

  get lastSeq(): number {
    return this.session.lastSeq ?? 0;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when `pred` holds (checked after every event), or fails after `timeoutMs`. */
  async until(pred: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      const left = deadline - Date.now();
      assert.ok(left > 0, `${this.session.nick}: timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 500));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Asserts the entries seen are exactly 1..n, each once, in order. */
  assertComplete(n: number): void {
    const seqs = this.entries.map((e) => e.seq);
    assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1), `${this.session.nick} saw ${compact(seqs)}`);
  }
}

function compact(seqs: number[]): string {
  const out: string[] = [];
  for (let i = 0; i < seqs.length; i++) {
    let j = i;
    while (j + 1 < seqs.length && seqs[j + 1] === seqs[j]! + 1) j++;
    out.push(i === j ? String(seqs[i]) : `${seqs[i]}-${seqs[j]}`);
    i = j;
  }
  return out.join(',');
}
