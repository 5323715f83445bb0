import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command, CommandContext } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import type { Hub } from './hub.js';
import { type ErrorCode, entryToEvent, inviteText, plainEntry, type ServerEvent } from './messages.js';
import { ADMIN, bindModeration } from './moderation.js';
import { checkRoomName, roomName } from './room-name.js';
import type { StoredEntry } from './store/store.js';

/**
 * The administrator's console: lines read from a stream (the server's stdin;
 * nobody reaches it from the network). A plain line goes to every live room
 * from "Administrator"; `/rooms`, `/say ROOM TEXT` and `/help` do what they
 * say; every room command that moderates (`/kick`, `/ban`, `/lock`,
 * `/topic`...) and `/who` work in any room as `/name ROOM ARGS`, with the
 * powers of the administrator (above every owner); `//text` sends a line
 * starting with "/". With `activity`, the joins, leaves and messages of the
 * rooms this node serves are shown as they happen.
 */
export interface AdminConsoleOptions {
  hub: Hub;
  input: Readable;
  output: Writable;
  /** The room commands; those marked `console` are offered. Default: the chat's. */
  commands?: readonly Command[];
  /** Show room activity (`--console-log`). Default false. */
  activity?: boolean;
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
  readonly #stopActivity: (() => void) | null;
  #chain: Promise<void> = Promise.resolve();
  /** Resolves when the input has ended (or `close()` was called) and every line read has been handled. */
  readonly done: Promise<void>;

  constructor(options: AdminConsoleOptions) {
    this.#hub = options.hub;
    this.#output = options.output;
    this.#commands = {
      rooms: { usage: '/rooms', help: 'list the rooms with members', run: () => this.#rooms() },
      say: { usage: '/say ROOM TEXT', help: 'send a line to one room', run: (args) => this.#say(args) },
    };
    for (const command of options.commands ?? COMMANDS) {
      if (command.console !== true) continue;
      const rest = command.usage.replace(/^\/\S+\s*/, '').replace(/ \| \/\S+ /g, ' | ');
      this.#commands[command.name] = {
        usage: `/${command.name} ROOM${rest === '' ? '' : ` ${rest}`}`,
        help: command.help,
        run: (args) => this.#roomCommand(command, args),
      };
    }
    this.#commands.help = { usage: '/help', help: 'this list', run: async () => this.#help() };
    this.#stopActivity = options.activity === true ? this.#hub.onActivity((room, entry) => this.#showActivity(room, entry)) : null;
    this.#lines = createInterface({ input: options.input, crlfDelay: Number.POSITIVE_INFINITY, terminal: false });
    this.#lines.on('line', (line) => {
      this.#chain = this.#chain.then(() => this.#handle(line));
    });
    this.done = new Promise<void>((resolve) => {
      this.#lines.once('close', () => {
        this.#stopActivity?.();
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

  /** `[room] alice :: hello`: one entry of a room this node serves, in the plain door's format. */
  #showActivity(room: string, entry: StoredEntry): void {
    const text = plainEntry(entryToEvent(entry));
    this.#output.write(`${text.split('\n').map((line) => `[${room}] ${line}`).join('\n')}\n`);
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
    const room = roomName(match[1] ?? '');
    if (room === null) return `no room ${match[1] ?? ''}`;
    const outcome = await this.#hub.say(room, match[2] ?? '');
    return outcome.ok ? `sent to ${room}` : `not sent: ${outcome.message}`;
  }

  /** A room command (`/ban ROOM NICK 1h`), run as the administrator in that room. */
  async #roomCommand(command: Command, args: string): Promise<string> {
    const match = /^(\S+)\s*([\s\S]*)$/.exec(args);
    const usage = `usage: ${this.#commands[command.name]?.usage ?? `/${command.name} ROOM`}`;
    if (match === null) return usage;
    const named = checkRoomName(match[1] ?? '');
    if (!named.ok) return `no room ${match[1] ?? ''} (${named.message})`;
    const room = named.name;
    const members = (await this.#hub.members(room)) ?? [];
    const out: string[] = [];
    const unavailable = async (): Promise<boolean> => {
      out.push(`/${command.name} is not a console command`);
      return false;
    };
    const context: CommandContext = {
      args: (match[2] ?? '').trim(),
      clientId: null,
      nick: ADMIN.nick,
      room,
      canSwitchRooms: false,
      commands: [],
      level: 'admin',
      moderation: bindModeration(this.#hub.moderation, room, ADMIN),
      send: (event: ServerEvent) => {
        if (event.type === 'invite') out.push(inviteText(event));
      },
      reply: (text) => out.push(text),
      // A command's own usage names no room; the console's does.
      fail: (_code: ErrorCode, message) => out.push(message.startsWith(`usage: /${command.name}`) ? usage : message),
      rename: unavailable,
      act: unavailable,
      members: () => members,
      quit: async () => {
        out.push('/quit is not a console command');
      },
      switchRoom: unavailable,
    };
    if (command.name === 'who' && members.length === 0) return `nobody in ${room}`;
    await command.run(context);
    return out.length === 0 ? 'done' : out.join('\n');
  }

  #help(): string {
    const commands = Object.values(this.#commands);
    const width = Math.max(...commands.map((c) => c.usage.length));
    return [
      'Console commands (room commands act as the administrator, in any room):',
      ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.help}`),
      'Any other line is sent to every room from Administrator (start it with // to send a leading /).',
    ].join('\n');
  }
}

/** Starts a console on `input`/`output`. */
export function startAdminConsole(options: AdminConsoleOptions): AdminConsole {
  return new AdminConsole(options);
}
