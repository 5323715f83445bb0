import type { ModOutcome } from '../moderation.js';
import type { CommandContext } from './command.js';

/** Answers a moderation command: its line for the one who typed it, or the refusal. */
export function answer(ctx: CommandContext, outcome: ModOutcome): void {
  if (!outcome.ok) ctx.fail(outcome.code, outcome.message);
  else if (outcome.text !== '') ctx.reply(outcome.text);
}

/**
 * "NICK [DURATION]": the last word is a duration when it reads as one
 * ("10m", "1h", "7d"); nicknames may contain spaces, so the rest is the
 * nickname. Null when there is no nickname.
 */
export function nickAndDuration(args: string, parse: (text: string) => number | null): { nick: string; ms: number | null } | null {
  const match = /^(.*\S)\s+(\S+)$/.exec(args);
  if (match !== null) {
    const ms = parse(match[2]!);
    if (ms !== null && ms > 0) return { nick: match[1]!, ms };
  }
  return args === '' ? null : { nick: args, ms: null };
}
