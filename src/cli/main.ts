/**
 * `wschat <command>`: argument parsing and wiring only; the logic lives in
 * src/websocket and src/chat.
 */
import { runEcho } from './echo.js';

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

const run = command ? commands[command] : undefined;
if (!run) {
  console.log(usage);
  process.exitCode = command === undefined || command === '--help' || command === '-h' ? 0 : 2;
} else {
  run(args).catch((error: unknown) => {
    console.error(`wschat ${command}: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
