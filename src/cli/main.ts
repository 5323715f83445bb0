/**
 * `wschat <command>`: argument parsing and wiring only; the logic lives in
 * src/websocket and src/chat.
 *
 * Exit status: 0 on success, 1 when running failed (a port in use, an
 * unreadable file, a server that refused...), 2 for a bad command line
 * (unknown command or option, bad or conflicting values: UsageError).
 */
import { runEcho } from './echo.js';
import { isUsageError } from './options.js';

const usage = `Usage: wschat <command> [options]

Commands:
  serve     run the chat server (default http://localhost:8080)
  connect   terminal chat client: wschat connect ws://host:8080/r/ROOM --nick NAME
  echo      WebSocket echo test server: wschat echo --port N [--host H]

Run "wschat <command> --help" for a command's options.`;

const [command, ...args] = process.argv.slice(2);
const commands: Record<string, (args: string[]) => Promise<void>> = {
  echo: runEcho,
  serve: async (rest) => (await import('./serve.js')).runServe(rest),
  connect: async (rest) => (await import('./connect.js')).runConnect(rest),
};

const run = command !== undefined && Object.hasOwn(commands, command) ? commands[command] : undefined;
if (run === undefined) {
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(usage);
  } else {
    console.error(`wschat: unknown command "${command}"\n\n${usage}`);
    process.exitCode = 2;
  }
} else {
  run(args).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (isUsageError(error)) {
      console.error(`wschat ${command}: ${message}\nRun "wschat ${command} --help" for the options.`);
      process.exitCode = 2;
    } else {
      console.error(`wschat ${command}: ${message}`);
      process.exitCode = 1;
    }
  });
}
