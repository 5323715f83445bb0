import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Hub } from './hub.js';
import { isValidRoomName } from './room-name.js';

/**
 * The administrator's console: lines read from a stream (the server's stdin;
 * nobody reaches it from the network). A plain line goes to every live room
 * from "Administrator"; `/rooms`, `/say ROOM TEXT`, `/kick ROOM NICK` and
 * `/help` do what they say; `//text` sends a line starting with "/".
 */
export interface AdminConsoleOptions {
  hub: Hub;
  input: Readable;
  output: Writable;
}

interface ConsoleCommand {
  usage: string;
  help: string;
  run(args: string): Promise<string>;
}

export class AdminConsole {
  readonly #hub: Hub;
  readonly #output: Writable;
  readonly #lines: Interface;
  readonly #commands: Record<string, ConsoleCommand>;
  #chain: Promise<void> = Promise.resolve();
  /** Resolves when the input has ended (or `close()` was called) and every line read has been handled. */
  readonly done: Promise<void>;

  constructor(options: AdminConsoleOptions) {
    this.#hub = options.hub;
    this.#output = options.output;
    this.#commands = {
      rooms: { usage: '/rooms', help: 'list the rooms with members', run: () => this.#rooms() },
      say: { usage: '/say ROOM TEXT', help: 'send a line to one room', run: (args) => this.#say(args) },
      kick: { usage: '/kick ROOM NICK', help: 'remove a member from a room', run: (args) => this.#kick(args) },
      help: { usage: '/help', help: 'this list', run: async () => this.#help() },
    };
    this.#lines = createInterface({ input: options.input, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
    this.#lines.on('line', (line) => {
      this.#chain = this.#chain.then(() => this.#handle(line));
    });
    this.done = new Promise<void>((resolve) => {
      this.#lines.once('close', () => {
        void this.#chain.then(resolve);
      });
    });
  }

  /** Stops reading (the input stream itself is left alone). */
  close(): void {
    this.#lines.close();
  }

  /** Handles one console line; its reply goes to the output. Never throws. */
  async handle(line: string): Promise<void> {
    await this.#handle(line);
  }

  async #handle(raw: string): Promise<void> {
    const line = raw.trim();
    if (line === '') return;
    let reply: string;
    try {
      if (line.startsWith('/') && !line.startsWith('//')) {
        const match = /^\/(\S*)\s*([\s\S]*)$/.exec(line);
        const name = (match?.[1] ?? '').toLowerCase();
        const command = Object.hasOwn(this.#commands, name) ? this.#commands[name] : undefined;
        reply =
          command === undefined
            ? `unknown command /${name}; /help lists the commands`
            : await command.run((match?.[2] ?? '').trim());
      } else {
        const outcome = await this.#hub.broadcastAdmin(line.startsWith('//') ? line.slice(1) : line);
        reply = !outcome.ok
          ? `not sent: ${outcome.message}`
          : outcome.rooms === 0
            ? 'not sent: no room has members'
            : `sent to ${outcome.rooms} room${outcome.rooms === 1 ? '' : 's'}`;
      }
    } catch (error) {
      reply = `failed: ${String(error)}`;
    }
    this.#output.write(`${reply}\n`);
  }

  async #rooms(): Promise<string> {
    const rooms = await this.#hub.rooms();
    if (rooms.length === 0) return 'no room has members';
    const width = Math.max(...rooms.map((r) => r.name.length));
    return rooms
      .map((r) => {
        const away = r.members - r.connected;
        const count = `${r.members} member${r.members === 1 ? '' : 's'}${away > 0 ? ` (${away} away)` : ''}`;
        return `${r.name.padEnd(width)}  ${count}, last seq ${r.lastSeq}`;
      })
      .join('\n');
  }

  async #say(args: string): Promise<string> {
    const match = /^(\S+)\s+([\s\S]+)$/.exec(args);
    if (match === null) return 'usage: /say ROOM TEXT';
    const room = match[1] ?? '';
    if (!isValidRoomName(room)) return `no room ${room}`;
    const outcome = await this.#hub.say(room, match[2] ?? '');
    return outcome.ok ? `sent to ${room}` : `not sent: ${outcome.message}`;
  }

  async #kick(args: string): Promise<string> {
    const match = /^(\S+)\s+([\s\S]+)$/.exec(args);
    if (match === null) return 'usage: /kick ROOM NICK';
    const room = match[1] ?? '';
    const nick = match[2] ?? '';
    if (!isValidRoomName(room)) return `no room ${room}`;
    const outcome = await this.#hub.kick(room, nick);
    return outcome.ok ? `removed ${nick} from ${room}` : outcome.message;
  }

  #help(): string {
    const commands = Object.values(this.#commands);
    const width = Math.max(...commands.map((c) => c.usage.length));
    return [
      'Console commands:',
      ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`),
      'Any other line is sent to every room from Administrator (start it with // to send a leading /).',
    ].join('\n');
  }
}

/** Starts a console on `input`/`output`. */
export function startAdminConsole(options: AdminConsoleOptions): AdminConsole {
  return new AdminConsole(options);
}
