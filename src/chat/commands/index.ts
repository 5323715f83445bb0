import { ban } from './ban.js';
import { bans } from './bans.js';
import type { Command } from './command.js';
import { deleteEntry } from './delete.js';
import { deop } from './deop.js';
import { help } from './help.js';
import { invite } from './invite.js';
import { join } from './join.js';
import { kick } from './kick.js';
import { lock } from './lock.js';
import { me } from './me.js';
import { mute } from './mute.js';
import { nick } from './nick.js';
import { op } from './op.js';
import { password } from './password.js';
import { quit } from './quit.js';
import { topic } from './topic.js';
import { unban } from './unban.js';
import { unlock } from './unlock.js';
import { unmute } from './unmute.js';
import { who } from './who.js';

export type { Command, CommandContext } from './command.js';

/** Every command, in the order /help lists them (each member sees those of its level). */
export const COMMANDS: readonly Command[] = [
  nick,
  me,
  who,
  topic,
  join,
  help,
  quit,
  op,
  kick,
  ban,
  unban,
  bans,
  mute,
  unmute,
  lock,
  unlock,
  invite,
  deleteEntry,
  deop,
  password,
];

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
