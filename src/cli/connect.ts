/** `wschat connect`: the terminal chat client. Parses options and wires; the logic is in src/client. */
import { parseArgs } from 'node:util';
import { nodeSocketFactory } from '../client/node-socket.js';
import { runTerminalClient } from '../client/terminal.js';

const help = `Usage: wschat connect URL --nick NAME

Joins a chat room from the terminal, e.g.:
  wschat connect ws://localhost:8080/r/team --nick alice

Type a line to send it; /nick NEW, /me ACTION, /who, /help, /quit.
The client reconnects by itself and catches up on what it missed.

Options:
  --nick NAME    your nickname (required)
  --help         this text`;

export async function runConnect(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      nick: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(help);
    return;
  }
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new Error('give exactly one room URL, e.g. ws://localhost:8080/r/team');
  if (!/^wss?:\/\//.test(url)) throw new Error(`the URL must start with ws:// or wss://, got ${url}`);
  if (!values.nick) throw new Error('--nick NAME is required');
  const reason = await runTerminalClient({
    url,
    nick: values.nick,
    input: process.stdin,
    output: process.stdout,
    socketFactory: nodeSocketFactory(),
  });
  process.exitCode = reason === 'quit' || reason === 'closed' ? 0 : 1;
  // Nothing else keeps running; let pending writes flush and exit.
  setImmediate(() => process.exit());
}
