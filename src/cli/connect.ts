/** `wschat connect`: the terminal chat client. Parses options and wires; the logic is in src/client. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { nodeSocketFactory } from '../client/node-socket.js';
import { runTerminalClient } from '../client/terminal.js';
import { describeFileError, UsageError } from './options.js';

export const connectHelp = `Usage: wschat connect URL --nick NAME [--ca FILE | --insecure]

Joins a chat room from the terminal, e.g.:
  wschat connect ws://localhost:8080/r/team --nick alice
  printf 'hello\\nbye\\n' | wschat connect wss://chat.example/r/team --nick bot

Type a line to send it; /nick NEW, /me ACTION, /who, /help, /quit.
Ctrl-C clears the line being typed; on an empty line it leaves at once.
Ctrl-D (or the end of piped input) leaves once every line is delivered.
The client reconnects by itself, catches up on what it missed, and sends
what was typed meanwhile, at the pace the server allows.

Exit status: 0 after leaving; 1 when the server refused the connection, the
room or the nickname, or disconnected you; 2 for a bad command line.

Options:
  --nick NAME    your nickname (required)
  --ca FILE      for wss://, trust this PEM certificate (or its CA) as well
                 as the usual CAs
  --insecure     wss:// without checking the server's certificate (a test
                 server with a self-signed one); anyone in between could
                 read and change the chat
  --help         this text`;

export async function runConnect(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      nick: { type: 'string' },
      ca: { type: 'string' },
      insecure: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(connectHelp);
    return;
  }
  const url = positionals[0];
  if (!url || positionals.length > 1) throw new UsageError('give exactly one room URL, e.g. ws://localhost:8080/r/team');
  if (!/^wss?:\/\//i.test(url)) throw new UsageError(`the URL must start with ws:// or wss://, got ${url}`);
  try {
    new URL(url);
  } catch {
    throw new UsageError(`${url} is not a valid URL`);
  }
  if (values.nick === undefined || values.nick.trim() === '') throw new UsageError('--nick NAME is required');
  const secure = /^wss:/i.test(url);
  if (values.insecure && !secure) throw new UsageError('--insecure only applies to wss:// URLs');
  if (values.ca !== undefined && !secure) throw new UsageError('--ca only applies to wss:// URLs');
  if (values.insecure && values.ca !== undefined) throw new UsageError('--ca and --insecure cannot be used together');

  let ca: string | undefined;
  if (values.ca !== undefined) {
    try {
      ca = readFileSync(values.ca, 'utf8');
    } catch (error) {
      throw new Error(`cannot read --ca ${values.ca}: ${describeFileError(error)}`);
    }
    try {
      new X509Certificate(ca);
    } catch (error) {
      throw new Error(`--ca ${values.ca} is not a PEM certificate (${(error as Error).message})`);
    }
  }
  if (values.insecure) {
    console.error("wschat connect: --insecure: the server's certificate is not checked; anyone in between could read and change the chat.");
  }
  // A `ca` list replaces Node's usual CAs: keep them.
  const tls = values.insecure ? { rejectUnauthorized: false } : ca === undefined ? undefined : { ca: [ca, ...(await systemCas())] };
  const reason = await runTerminalClient({
    url,
    nick: values.nick,
    input: process.stdin,
    output: process.stdout,
    errors: process.stderr,
    signals: process,
    socketFactory: nodeSocketFactory(tls === undefined ? {} : { tls }),
    certificateHint: 'Trust it with --ca FILE (its certificate or CA), or skip the check with --insecure.',
  });
  process.exitCode = reason === 'quit' || reason === 'closed' ? 0 : 1;
  // Nothing else keeps running; let pending writes flush and exit.
  setImmediate(() => process.exit());
}

async function systemCas(): Promise<string[]> {
  const { rootCertificates } = await import('node:tls');
  return [...rootCertificates];
}
