/**
 * The terminal chat client (`wschat connect`): a readline prompt over a
 * `ChatSession`, which does the reconnecting, resuming and outbox. This file
 * only turns session events into lines and typed lines into sends.
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type EntryEvent, prefixLines, senderName } from '../chat/messages.js';
import { ChatSession, type ConnectionState } from './session.js';
import type { SocketFactory } from './socket.js';

export interface TerminalClientOptions {
  /** The room's WebSocket URL, e.g. ws://localhost:8080/r/team. */
  url: string;
  nick: string;
  input: Readable;
  output: Writable;
  socketFactory: SocketFactory;
  /** Use colours and prompt redrawing (a TTY). Default: output.isTTY. */
  interactive?: boolean;
  /** Time zone for timestamps; default the system's. */
  timeZone?: string;
}

/** "14:03" in local time. */
export function formatTime(ts: number, timeZone?: string): string {
  return new Date(ts).toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', timeZone });
}

/**
 * One entry as the terminal shows it (without colour). The first line is
 * `time <nick> text` (`<nick !trip>` with a tripcode); each later line of a
 * multi-line text starts with blanks as wide as the time and a bar, so it
 * cannot pass for a line of its own (a forged `12:54 *** Administrator: ...`).
 */
export function formatEntry(entry: EntryEvent, timeZone?: string): string {
  const time = formatTime(entry.ts, timeZone);
  const lines = (first: string, text: string): string => prefixLines(first, text, `${' '.repeat(time.length)} | `).join('\n');
  switch (entry.type) {
    case 'message':
      return lines(`${time} <${senderName(entry.nick, entry.trip)}> `, entry.text);
    case 'action':
      return lines(`${time} * ${senderName(entry.nick, entry.trip)} `, entry.text);
    case 'notice':
      return `${time} -- ${entry.text}`;
    case 'admin':
      return lines(`${time} *** Administrator: `, entry.text);
    case 'deleted':
      return `${time} -- (a deleted message)`;
  }
}

const STATE_TEXT: Record<ConnectionState, string> = {
  connecting: 'connecting…',
  online: 'online',
  offline: 'offline',
};

/**
 * Runs the client until the session ends (`/quit`, Ctrl-C / end of input,
 * kicked). Resolves with the reason it ended.
 */
export function runTerminalClient(options: TerminalClientOptions): Promise<string> {
  const { output } = options;
  const interactive = options.interactive ?? (output as { isTTY?: boolean }).isTTY === true;
  const session = new ChatSession({ url: options.url, nick: options.nick, socketFactory: options.socketFactory });
  const rl: Interface = createInterface({ input: options.input, output, terminal: interactive });
  const dim = (s: string) => (interactive ? `\x1b[2m${s}\x1b[0m` : s);
  const print = (line: string) => {
    if (interactive) {
      // Print above the prompt and redraw what the user was typing.
      output.write('\r\x1b[K');
      output.write(`${line}\n`);
      rl.prompt(true);
    } else {
      output.write(`${line}\n`);
    }
  };
  const setPrompt = () => rl.setPrompt(`${session.nick || options.nick}> `);

  return new Promise<string>((resolve) => {
    let finished = false;
    const finish = (reason: string) => {
      if (finished) return;
      finished = true;
      rl.close();
      resolve(reason);
    };
    session.on('state', (state, detail) => {
      let text = `[${STATE_TEXT[state]}]`;
      if (state === 'offline' && detail.retryInMs !== undefined) {
        text += ` retrying in ${Math.ceil(detail.retryInMs / 1000)} s`;
      }
      print(dim(text));
    });
    session.on('welcome', (welcome) => {
      setPrompt();
      print(dim(`[joined ${welcome.room} as ${welcome.nick}${welcome.resumed ? ', resumed' : ''}] /help lists the commands`));
      if (welcome.topic !== null) print(dim(`[topic: ${welcome.topic}]`));
      if (welcome.ownerKey !== undefined) print(dim(`[you made this room: its owner key is ${welcome.ownerKey}; keep it, /op KEY makes you an owner again]`));
    });
    session.on('role', (role) => print(dim(`[you are ${role === 'user' ? 'no longer an operator' : `an ${role}`} of this room]`)));
    session.on('invite', (invite) => print(`invite code for ${invite.room} (one person, once, until ${new Date(invite.expiresAt).toLocaleString()}): ${invite.code}`));
    session.on('passwordRequired', (error) => {
      print(`${error.message}`);
      rl.question('Password: ', (password) => session.setPassword(password));
    });
    session.on('reset', () => print(dim('[the room lost its history on the server]')));
    session.on('entry', (entry) => print(formatEntry(entry, options.timeZone)));
    session.on('nick', (nick) => {
      setPrompt();
      print(dim(`[you are now ${nick}]`));
    });
    session.on('info', (text) => print(text));
    session.on('error', (error) => print(`error: ${error.message}`));
    session.on('failed', (item, error) => print(`not sent (${item.text.slice(0, 40)}): ${error.message}`));
    session.on('nickRequired', (error) => {
      print(`${error.message}`);
      rl.question('Choose another nickname: ', (nick) => session.setNick(nick.trim()));
    });
    session.on('ended', (reason, code, text) => {
      if (reason !== 'quit' && reason !== 'closed') print(`[disconnected: ${text || reason}${code ? ` (${code})` : ''}]`);
      finish(reason);
    });

    rl.on('line', (line) => {
      if (session.ended) return;
      const text = line.replace(/\s+$/, '');
      if (text.trim() === '') {
        if (interactive) rl.prompt();
        return;
      }
      try {
        session.send(text);
      } catch (error) {
        print(`error: ${(error as Error).message}`);
      }
      if (interactive) rl.prompt();
    });
    // Ctrl-C or the end of input: leave like /quit, so the others see it at once.
    const leave = () => {
      if (session.ended) return finish('closed');
      if (session.state === 'online') session.send('/quit');
      else session.close();
    };
    rl.on('SIGINT', leave);
    rl.on('close', leave);

    setPrompt();
    session.start();
    if (interactive) rl.prompt();
  });
}
