/**
 * Test doubles for the chat session: a socket the test plays the server on,
 * and timers that only move when told to.
 */
import type { EntryEvent, MemberInfo, ServerEvent, WelcomeEvent } from '../../src/chat/messages.js';
import type { Timers } from '../../src/client/session.js';
import type { ConnectFailure, SocketFactory, SocketLike } from '../../src/client/socket.js';

export class FakeSocket implements SocketLike {
  onopen: (() => void) | null = null;
  onmessage: ((text: string) => void) | null = null;
  onclose: ((code: number, reason: string, failure?: ConnectFailure) => void) | null = null;
  /** Every message the client sent, parsed. */
  readonly sent: Record<string, unknown>[] = [];
  /** Set when the client called close(). */
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;

  constructor(
    readonly url: string,
    readonly protocol: string,
  ) {}

  send(text: string): void {
    this.sent.push(JSON.parse(text) as Record<string, unknown>);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
  }

  /** The server side: finish the handshake. */
  open(): void {
    this.onopen?.();
  }

  /** The server side: send an event. */
  receive(event: ServerEvent | Record<string, unknown>): void {
    this.onmessage?.(JSON.stringify(event));
  }

  receiveRaw(text: string): void {
    this.onmessage?.(text);
  }

  /** The connection goes away with this close code. */
  drop(code = 1006, reason = ''): void {
    this.onclose?.(code, reason);
  }

  sentOfType(type: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.type === type);
  }

  get detached(): boolean {
    return this.onopen === null && this.onmessage === null && this.onclose === null;
  }
}

/** A factory that records every socket it made. */
export function fakeFactory(): { factory: SocketFactory; sockets: FakeSocket[]; last(): FakeSocket } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    factory: (url, protocol) => {
      const socket = new FakeSocket(url, protocol);
      sockets.push(socket);
      return socket;
    },
    last() {
      const socket = sockets.at(-1);
      if (!socket) throw new Error('no socket was created');
      return socket;
    },
  };
}

interface FakeTimer {
  id: number;
  at: number;
  ms: number;
  callback: () => void;
}

/** Timers on a virtual clock. */
export class FakeTimers implements Timers {
  /** The virtual time, ms. */
  time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, at: this.time + ms, ms, callback });
    return id;
  }

  now(): number {
    return this.time;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Delays (ms) of the timers still pending, in the order they were set. */
  get pending(): number[] {
    return [...this.timers.values()].map((t) => t.ms);
  }

  /** Moves the clock forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.timers.values()].filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers.delete(due.id);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}

const clock = 1_700_000_000_000;

export function message(seq: number, nick = 'bob', text = `line ${seq}`): EntryEvent {
  return { type: 'message', seq, ts: clock + seq * 1000, nick, text };
}

export function entries(from: number, to: number): EntryEvent[] {
  const out: EntryEvent[] = [];
  for (let seq = from; seq <= to; seq++) out.push(message(seq));
  return out;
}

export function welcome(overrides: Partial<WelcomeEvent> = {}): WelcomeEvent {
  const members: MemberInfo[] = [{ nick: overrides.nick ?? 'alice', away: false }];
  return {
    type: 'welcome',
    room: 'team',
    nick: 'alice',
    resumeToken: 'token-0123456789abcdef',
    resumed: false,
    reset: false,
    epoch: 'epoch0',
    members,
    history: [],
    lastSeq: overrides.history?.at(-1)?.seq ?? 0,
    more: false,
    maxMessage: 4000,
    ...overrides,
  };
}
