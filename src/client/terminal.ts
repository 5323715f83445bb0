/**
 * The terminal chat client (`wschat connect`): a readline prompt over a
 * `ChatSession`, which does the reconnecting, resuming, pacing and outbox.
 * This file turns session events into lines and typed lines into sends.
 *
 * How it ends (issue 12):
 * - `/quit` is sent after the lines typed before it; the server's close ends
 *   the program.
 * - The end of input (Ctrl-D, or the end of piped input) waits for the
 *   welcome and for every line to be acknowledged, then leaves like `/quit`.
 * - Ctrl-C clears a half-typed line, as a shell does; on an empty line it
 *   leaves at once (what is still queued is not sent, and said so). A second
 *   Ctrl-C while leaving stops without waiting for the server.
 * - A permanent failure (the server refuses the handshake or the room, an
 *   untrusted certificate...) is printed once, on `errors`.
 * In a terminal the prompt line is cleared at the end, so the shell's prompt
 * starts on a line of its own.
 *
 * Everything that comes from the network (nicknames, messages, server errors,
 * close reasons, a refusal's text) is shown inert: control characters as
 * `^[`, C1 and bidirectional controls as `<U+202E>` (`inert`).
 */
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { type EntryEvent, editedMark, prefixLines, replyMark, senderName } from '../chat/messages.js';
import { ChatSession, type EndReason } from './session.js';
import type { SocketFactory } from './socket.js';

export interface TerminalClientOptions {
  /** The room's WebSocket URL, e.g. ws://localhost:8080/r/team. */
  url: string;
  nick: string;
  input: Readable;
  output: Writable;
  /** Where failures that end the program are printed. Default: `output`. */
  errors?: Writable;
  socketFactory: SocketFactory;
  /**
   * A prompt with line editing, colours, Ctrl-C handling (a terminal on both
   * sides). Default: input and output are both TTYs.
   */
  interactive?: boolean;
  /** Time zone for timestamps; default the system's. */
  timeZone?: string;
  /**
   * Where SIGINT/SIGTERM arrive when Ctrl-C does not go through readline
   * (input that is not a terminal): `process` in the CLI. Both leave like
   * Ctrl-C on an empty line.
   */
  signals?: {
    on(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
    off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  };
  /** Added to a failure about the server's certificate, e.g. how to trust it. */
  certificateHint?: string;
}

/** How the client ended: the session's reason, or `nick` when no usable nickname could be had. */
export type TerminalEnd = EndReason | 'nick';

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
      return lines(`${time} <${senderName(entry.nick, entry.trip)}> ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`);
    case 'action':
      return lines(`${time} * ${senderName(entry.nick, entry.trip)} ${replyMark(entry)}`, `${entry.text}${editedMark(entry)}`);
    case 'notice':
      return `${time} -- ${entry.text}`;
    case 'admin':
      return lines(`${time} *** Administrator: `, entry.text);
    case 'deleted':
      return `${time} -- (a deleted message)`;
    case 'edit':
      return entry.text === ''
        ? `${time} -- ${senderName(entry.nick, entry.trip)} edited a message`
        : lines(`${time} -- ${senderName(entry.nick, entry.trip)} edited a message: `, entry.text);
  }
}

/**
 * Control characters that a terminal would act on, shown as text instead:
 * C0 and DEL in caret notation (ESC is `^[`, CR `^M`, DEL `^?`), C1 controls
 * (U+0080-U+009F, CSI among them), the bidirectional controls (which reorder
 * what follows: U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) and the
 * line and paragraph separators as `<U+XXXX>`. Tab stays; newline stays
 * only with `keepNewlines` (multi-line messages), else it is `^J`.
 */
export function inert(text: string, keepNewlines = false): string {
  // \p{Cc}: C0, DEL and C1, exactly.
  return text.replace(/[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu, (c) => {
    if (c === '\t' || (c === '\n' && keepNewlines)) return c;
    const code = c.charCodeAt(0);
    if (code < 0x20) return `^${String.fromCharCode(code + 0x40)}`;
    if (code === 0x7f) return '^?';
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
}

/** An entry with every field from the network made inert (message text keeps its newlines). */
export function inertEntry(entry: EntryEvent): EntryEvent {
  const safe = { ...entry, nick: inert(entry.nick), text: inert(entry.text, entry.type !== 'notice') } as EntryEvent;
  if (safe.type === 'notice' && safe.from !== undefined) safe.from = inert(safe.from);
  if ((safe.type === 'message' || safe.type === 'action') && safe.replyNick !== undefined) safe.replyNick = inert(safe.replyNick);
  return safe;
}

/** "in 3 s" for a retry delay. */
function retryText(ms: number): string {
  return ms < 1000 ? 'now' : `in ${Math.ceil(ms / 1000)} s`;
}

/** A sentence ends with punctuation. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return trimmed === '' || /[.!?…)]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/**
 * Runs the client until the session ends (see the module comment). Resolves
 * with the reason it ended; `quit` and `closed` are the successful ones.
 */
export function runTerminalClient(options: TerminalClientOptions): Promise<TerminalEnd> {
  const { output } = options;
  const errors = options.errors ?? output;
  const interactive =
    options.interactive ?? ((options.input as { isTTY?: boolean }).isTTY === true && (output as { isTTY?: boolean }).isTTY === true);
  const session = new ChatSession({ url: options.url, nick: options.nick, socketFactory: options.socketFactory });
  const rl: Interface = createInterface({ input: options.input, output, terminal: interactive });
  const dim = (s: string) => (interactive ? `\x1b[2m${s}\x1b[0m` : s);
  let finished = false;
  /** The input ended (Ctrl-D, end of a pipe): no prompt any more. */
  let inputEnded = false;
  /** Writes lines above the prompt and redraws what the user was typing. */
  const print = (line: string, stream: Writable = output) => {
    if (finished) return;
    if (interactive) {
      output.write('\r\x1b[K');
      stream.write(`${line}\n`);
      if (!inputEnded) rl.prompt(true);
    } else {
      stream.write(`${line}\n`);
    }
  };
  const setPrompt = () => rl.setPrompt(`${inert(session.nick || options.nick)}> `);

  return new Promise<TerminalEnd>((resolve) => {
    /** Ctrl-C on an empty line (or a signal) asked to leave now. */
    let interrupted = false;

    const finish = (reason: TerminalEnd, last: string | null, stream: Writable = output) => {
      if (finished) return;
      if (last !== null) print(last, stream);
      finished = true;
      options.signals?.off('SIGINT', interrupt);
      options.signals?.off('SIGTERM', interrupt);
      // Clear the prompt line: the shell's prompt starts on a line of its own.
      if (interactive) output.write('\r\x1b[K');
      rl.close();
      resolve(reason);
    };

    /** Leave once everything typed is delivered (end of input, Ctrl-D). */
    const leaveWhenDelivered = () => {
      if (session.ended || session.leaving) return;
      // Not joined yet and nothing to deliver: join first, so that the room is
      // seen (and the welcome's history shown), then leave (see 'welcome').
      if (session.state !== 'online' && session.outbox.length === 0) return;
      session.send('/quit');
    };

    /** Ctrl-C on an empty line, SIGINT, SIGTERM: leave now. */
    const interrupt = () => {
      if (session.ended) return finish('closed', null);
      if (interrupted) {
        // Again while leaving: do not wait for the server.
        session.close();
        return;
      }
      interrupted = true;
      const unsent = session.outbox.filter((item) => item.status === 'queued').length;
      if (unsent > 0) print(dim(`[leaving: ${unsent} unsent line${unsent === 1 ? '' : 's'} dropped]`));
      session.leave();
    };

    session.on('state', (state, detail) => {
      if (state !== 'offline' || detail.retryInMs === undefined) return;
      const why = detail.reason
        ? inert(detail.reason)
        : detail.code !== undefined
          ? `connection closed (${detail.code})`
          : 'connection lost';
      print(dim(`[offline] ${sentence(why.charAt(0).toUpperCase() + why.slice(1))} Retrying ${retryText(detail.retryInMs)}.`));
    });
    session.on('welcome', (welcome) => {
      setPrompt();
      print(dim(`[joined ${inert(welcome.room)} as ${inert(welcome.nick)}${welcome.resumed ? ', resumed' : ''}] /help lists the commands`));
      if (welcome.topic !== null) print(dim(`[topic: ${inert(welcome.topic)}]`));
      if (welcome.ownerKey !== undefined) {
        print(dim(`[you made this room: its owner key is ${inert(welcome.ownerKey)}; keep it, /op KEY makes you an owner again]`));
      }
      if (inputEnded) leaveWhenDelivered();
    });
    session.on('role', (role) => print(dim(`[you are ${role === 'user' ? 'no longer an operator' : `an ${role}`} of this room]`)));
    session.on('invite', (invite) =>
      print(`invite code for ${inert(invite.room)} (one person, once, until ${new Date(invite.expiresAt).toLocaleString()}): ${inert(invite.code)}`),
    );
    session.on('passwordRequired', (error) => {
      print(inert(error.message));
      if (inputEnded) {
        finish('denied', `wschat connect: ${sentence(inert(error.message))} Run wschat connect in a terminal to type it.`, errors);
        session.close();
        return;
      }
      rl.question('Password: ', (password) => session.setPassword(password));
    });
    session.on('reset', () => print(dim('[the room lost its history on the server]')));
    session.on('entry', (entry) => print(formatEntry(inertEntry(entry), options.timeZone)));
    session.on('nick', (nick) => {
      setPrompt();
      print(dim(`[you are now ${inert(nick)}]`));
    });
    session.on('info', (text) => print(inert(text, true)));
    // Errors answering a join come back in the retry line or the end.
    session.on('error', (error) => {
      if (session.state === 'online') print(`Error: ${inert(error.message)}`);
    });
    session.on('failed', (item, error) => {
      const shown = item.text.length > 40 ? `${item.text.slice(0, 40)}…` : item.text;
      print(`Not sent (${inert(shown)}): ${inert(error.message)}`);
    });
    session.on('nickRequired', (error) => {
      const message = inert(error.message);
      if (inputEnded) {
        finish('nick', `wschat connect: ${sentence(message)} Choose another with --nick.`, errors);
        session.close();
        return;
      }
      print(message);
      rl.question('Choose another nickname: ', (nick) => session.setNick(nick.trim()));
    });
    session.on('ended', (reason, code, text, failure) => {
      if (reason === 'quit' || reason === 'closed') {
        finish(reason, dim(`[left ${inert(session.room ?? 'the room')}]`));
        return;
      }
      let message = sentence(inert(text) || `${reason}${code ? ` (${code})` : ''}`);
      if (failure?.kind === 'certificate' && options.certificateHint) message += ` ${options.certificateHint}`;
      const prefix = reason === 'refused' || reason === 'denied' || reason === 'room-invalid' ? 'wschat connect: ' : 'Disconnected: ';
      finish(reason, `${prefix}${message}`, errors);
    });

    rl.on('line', (line) => {
      if (session.ended) return;
      const text = line.replace(/\s+$/, '');
      if (text.trim() === '') {
        if (interactive) rl.prompt();
        return;
      }
      if (session.leaving) {
        print(dim(`[not sent, leaving: ${inert(text.length > 40 ? `${text.slice(0, 40)}…` : text)}]`));
        return;
      }
      session.send(text);
      if (interactive) rl.prompt();
    });
    // Ctrl-C in the prompt: clear a half-typed line, as a shell does; leave on an empty one.
    rl.on('SIGINT', () => {
      if (rl.line !== '') {
        // Ctrl-E then Ctrl-U: to the end of the line, then delete to its start.
        rl.write(null, { ctrl: true, name: 'e' });
        rl.write(null, { ctrl: true, name: 'u' });
        return;
      }
      interrupt();
    });
    // The end of input (Ctrl-D, end of a pipe or file).
    rl.on('close', () => {
      if (finished) return;
      inputEnded = true;
      if (session.ended) return finish('closed', null);
      if (session.needsNick) {
        finish('nick', 'wschat connect: No nickname to join with. Choose another with --nick.', errors);
        session.close();
        return;
      }
      leaveWhenDelivered();
    });
    options.signals?.on('SIGINT', interrupt);
    options.signals?.on('SIGTERM', interrupt);

    setPrompt();
    print(dim(`[connecting to ${inert(options.url)}]`));
    session.start();
  });
}
