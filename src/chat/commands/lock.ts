import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/lock`: nobody new can join but with an invite (members stay; owners and operators get in). */
export const lock: Command = {
  name: 'lock',
  usage: '/lock',
  help: 'let nobody new in, but with an invite (/invite)',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${lock.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.lock(true));
  },
};
