/**
 * Test clients for the chat server's three doors, each collecting what it
 * receives in a `Mailbox` that tests await (events, not sleeps):
 *
 * - `JsonClient`: our own `connect()` with the `wschat.v1` subprotocol;
 * - `PlainClient`: a seed-style WebSocket without a subprotocol, over our
 *   client or over the `ws` package (a second, independent implementation);
 * - `TcpClient`: raw TCP lines, as `nc` would be.
 *
 * Every wait is bounded (default 5 s) and fails with what did arrive.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import WsWebSocket from 'ws';
import type { AckEvent, ErrorEvent, JoinMessage, ServerEvent, WelcomeEvent } from '../../../src/chat/messages.js';

/** What a join may carry besides the nickname. */
type JoinExtra = Omit<JoinMessage, 'type' | 'nick'>;
import { type ChatServer, type ChatServerOptions, startChatServer } from '../../../src/chat/server.js';
import { type ConnectOptions, connect, type WebSocket } from '../../../src/websocket/index.js';

const DEFAULT_WAIT_MS = 5000;
/** The raw TCP door's login prompt, which has no line end. */
const TCP_PROMPT = 'Login id (your nickname): ';

export interface Closed {
  code: number;
  reason: string;
}

/**
 * Items in arrival order. `take(pred)` returns the oldest item not taken yet
 * that matches, and marks it taken; items it passes over stay available.
 * Nothing is ever removed from `items`, so tests can still look at everything
 * (and at the order things arrived in).
 */
export class Mailbox<T> {
  readonly items: T[] = [];
  readonly #taken: boolean[] = [];
  #waiters = new Set<() => void>();
  #ended: string | null = null;

  push(item: T): void {
    this.items.push(item);
    this.#taken.push(false);
    this.#wake();
  }

  /** No more items will come (the connection closed). */
  end(why: string): void {
    this.#ended ??= why;
    this.#wake();
  }

  /** Items not taken yet. */
  get unread(): T[] {
    return this.items.filter((_, i) => !this.#taken[i]);
  }

  /**
   * The oldest item not taken yet that matches `pred`.
   * @throws AssertionError when none arrives within `timeoutMs` or the stream ends first.
   */
  async take(pred: (item: T) => boolean, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = 0; i < this.items.length; i++) {
        const item = this.items[i] as T;
        if (!this.#taken[i] && pred(item)) {
          this.#taken[i] = true;
          return item;
        }
      }
      const unread = (): string => JSON.stringify(this.unread).slice(0, 2000);
      if (this.#ended !== null) assert.fail(`${this.#ended} before ${what}; unread: ${unread()}`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`timed out waiting for ${what}; unread: ${unread()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const w of waiters) w();
  }
}

/** Waits for `promise`, failing the test after `timeoutMs`. */
export async function within<T>(promise: Promise<T>, what: string, timeoutMs = DEFAULT_WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `timed out waiting for ${what}` })), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A chat server on 127.0.0.1, an ephemeral port, in memory, without console, unless told otherwise. */
export function startTestServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  return startChatServer({ host: '127.0.0.1', port: 0, dataDir: null, console: null, ...options });
}

/** ws://127.0.0.1:PORT/PATH of a server. */
export function wsUrl(server: { port: number } | number, path = '/r/test'): string {
  return `ws://127.0.0.1:${typeof server === 'number' ? server : server.port}${path}`;
}

type EventOf<K extends ServerEvent['type']> = Extract<ServerEvent, { type: K }>;

/** A `wschat.v1` client over our own WebSocket client. */
export class JsonClient {
  readonly ws: WebSocket;
  readonly inbox = new Mailbox<ServerEvent>();
  readonly closed: Promise<Closed>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'wschat.v1 events are text');
      this.inbox.push(JSON.parse(String(data)) as ServerEvent);
    });
    this.closed = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.inbox.end(`closed with ${code} ${reason}`);
        resolve({ code, reason });
      });
    });
  }

  /** @throws whatever `connect` throws (HandshakeError for 403, 404...). */
  static async open(url: string, options: ConnectOptions = {}): Promise<JsonClient> {
    const ws = await connect(url, { protocols: ['wschat.v1'], ...options });
    assert.equal(ws.protocol, 'wschat.v1');
    return new JsonClient(ws);
  }

  /** Opens and joins as `nick`; asserts the welcome. */
  static async joined(url: string, nick: string, join: JoinExtra = {}): Promise<JsonClient> {
    const client = await JsonClient.open(url);
    await client.join(nick, join);
    return client;
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Sends a join and returns its answer: the welcome or the error. */
  async tryJoin(nick: string, extra: JoinExtra = {}): Promise<WelcomeEvent | ErrorEvent> {
    this.send({ type: 'join', nick, ...extra });
    return (await this.inbox.take((e) => e.type === 'welcome' || (e.type === 'error' && e.id === undefined), `the answer to join ${nick}`)) as
      | WelcomeEvent
      | ErrorEvent;
  }

  /** Joins; asserts it worked. */
  async join(nick: string, extra: JoinExtra = {}): Promise<WelcomeEvent> {
    const answer = await this.tryJoin(nick, extra);
    assert.equal(answer.type, 'welcome', `join ${nick}: ${JSON.stringify(answer)}`);
    return answer as WelcomeEvent;
  }

  /** Sends a `message` and returns its answer (ack or error with the same id). */
  async request(text: string, id: string = randomUUID()): Promise<AckEvent | ErrorEvent> {
    this.send({ type: 'message', id, text });
    return this.answer(id);
  }

  /** The ack or error answering request `id`. */
  async answer(id: string): Promise<AckEvent | ErrorEvent> {
    return (await this.inbox.take((e) => (e.type === 'ack' || e.type === 'error') && e.id === id, `the answer to ${id}`)) as
      | AckEvent
      | ErrorEvent;
  }

  /** Sends a chat line and asserts it was acknowledged. */
  async say(text: string, id: string = randomUUID()): Promise<AckEvent> {
    const answer = await this.request(text, id);
    assert.equal(answer.type, 'ack', `${text}: ${JSON.stringify(answer)}`);
    return answer as AckEvent;
  }

  /** The next unread event of `type` (matching `pred`). */
  async expect<K extends ServerEvent['type']>(type: K, pred: (e: EventOf<K>) => boolean = () => true, timeoutMs?: number): Promise<EventOf<K>> {
    return (await this.inbox.take((e) => e.type === type && pred(e as EventOf<K>), `a ${type} event`, timeoutMs)) as EventOf<K>;
  }

  /** Every event of `type` received so far, read or not. */
  all<K extends ServerEvent['type']>(type: K): EventOf<K>[] {
    return this.inbox.items.filter((e): e is EventOf<K> => e.type === type);
  }

  close(): Promise<Closed> {
    this.ws.close(1000, 'done');
    return this.closed;
  }
}

/** The little a plain-text test needs from a WebSocket implementation. */
interface PlainSocket {
  send(text: string | Buffer): void;
  close(code: number, reason: string): void;
  terminate(): void;
}

/** A seed-style client: no subprotocol, one text message per line. */
export class PlainClient {
  readonly inbox = new Mailbox<string>();
  /** The client side's port (the server names the client after it), when known. */
  localPort = 0;
  readonly closed: Promise<Closed>;
  readonly #socket: PlainSocket;
  #resolveClosed!: (closed: Closed) => void;

  private constructor(socket: PlainSocket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  #onClose(code: number, reason: string): void {
    this.inbox.end(`closed with ${code} ${reason}`);
    this.#resolveClosed({ code, reason });
  }

  /** Over our own client, offering no subprotocol. */
  static async open(url: string, options: ConnectOptions = {}): Promise<PlainClient> {
    const ws = await connect(url, options);
    assert.equal(ws.protocol, '');
    const client = new PlainClient(ws);
    client.localPort = ws.socket.localPort ?? 0;
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'plain lines are text');
      client.inbox.push(String(data));
    });
    ws.once('close', (code, reason) => client.#onClose(code, reason));
    return client;
  }

  /** Over the `ws` package, as an independent peer (it offers permessage-deflate by default). */
  static openWithWs(url: string): Promise<PlainClient> {
    return new Promise((resolve, reject) => {
      const ws = new WsWebSocket(url);
      const client = new PlainClient(ws);
      ws.on('message', (data, isBinary) => {
        assert.equal(isBinary, false, 'plain lines are text');
        client.inbox.push(String(data));
      });
      ws.once('close', (code, reason) => client.#onClose(code, reason.toString()));
      ws.once('error', reject);
      ws.once('open', () => {
        assert.equal(ws.protocol, '');
        resolve(client);
      });
    });
  }

  send(text: string | Buffer): void {
    this.#socket.send(text);
  }

  /** The next unread line matching `pattern` (a string must match the whole line). */
  line(pattern: RegExp | string, timeoutMs?: number): Promise<string> {
    const test = typeof pattern === 'string' ? (l: string) => l === pattern : (l: string) => pattern.test(l);
    return this.inbox.take(test, `a line ${String(pattern)}`, timeoutMs);
  }

  /** Waits for the line that ends a join ("You are NICK in ROOM. ..."); returns the nickname. */
  async welcomed(): Promise<string> {
    const line = await this.line(/^You are .+ in [\p{L}\p{M}\p{Nd}_-]+\. /u);
    return /^You are (.+) in [\p{L}\p{M}\p{Nd}_-]+\. /u.exec(line)?.[1] ?? '';
  }

  close(): Promise<Closed> {
    this.#socket.close(1000, 'done');
    return this.closed;
  }

  terminate(): void {
    this.#socket.terminate();
  }
}

/** A raw TCP lines client (what `nc` does). */
export class TcpClient {
  readonly socket: Socket;
  /** Complete lines, without their CRLF. */
  readonly inbox = new Mailbox<string>();
  /** Everything received, as text. */
  text = '';
  readonly closed: Promise<void>;
  #partial = '';

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      const parts = (this.#partial + chunk).split('\r\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.inbox.push(line);
      // The login prompt has no line end: make it visible too.
      if (this.#partial === TCP_PROMPT) {
        this.inbox.push(this.#partial);
        this.#partial = '';
      }
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.inbox.end('connection closed');
        resolve();
      }),
    );
  }

  static open(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1', () => resolve(new TcpClient(socket)));
      socket.once('error', reject);
    });
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }

  line(pattern: RegExp | string, timeoutMs?: number): Promise<string> {
    const test = typeof pattern === 'string' ? (l: string) => l === pattern : (l: string) => pattern.test(l);
    return this.inbox.take(test, `a line ${String(pattern)}`, timeoutMs);
  }

  /** Answers the login prompt and waits until in the lobby. */
  async login(nick: string): Promise<void> {
    await this.line(TCP_PROMPT);
    this.send(nick);
    await this.line('*** Type a line to chat; /help lists the commands.');
  }

  close(): void {
    this.socket.destroy();
  }
}
