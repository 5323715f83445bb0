import type { Command } from './command.js';
import { help } from './help.js';
import { join } from './join.js';
import { me } from './me.js';
import { nick } from './nick.js';
import { quit } from './quit.js';
import { who } from './who.js';

export type { Command, CommandContext } from './command.js';

/** Every command, in the order /help lists them. */
export const COMMANDS: readonly Command[] = [nick, me, who, join, help, quit];

/** The command called `name` (case-insensitive, without the slash), if any. */
export function findCommand(name: string, commands: readonly Command[] = COMMANDS): Command | undefined {
  const lower = name.toLowerCase();
  return commands.find((c) => c.name === lower);
}

/**
 * Splits a command line: "/nick  Bob " -> { name: "nick", args: "Bob" }.
 * Returns null for text that is not a command: not starting with "/", or
 * starting with "//" (the escape for a message that starts with a slash).
 */
export function parseCommandLine(text: string): { name: string; args: string } | null {
  if (!text.startsWith('/') || text.startsWith('//')) return null;
  const match = /^\/(\S*)\s*([\s\S]*)$/.exec(text);
  if (match === null) return null;
  return { name: (match[1] ?? '').toLowerCase(), args: (match[2] ?? '').trim() };
}
