import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/delete SEQ`: a message, action or console line becomes a tombstone in the history; clients stop showing it. */
export const deleteEntry: Command = {
  name: 'delete',
  usage: '/delete SEQ',
  help: 'delete a message (by its number in the history)',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    const seq = Number(ctx.args.replace(/^#/, ''));
    if (!/^#?\d{1,15}$/.test(ctx.args) || !Number.isSafeInteger(seq) || seq < 1) {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${deleteEntry.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.delete(seq));
  },
};
