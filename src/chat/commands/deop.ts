import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/deop NICK`: an owner takes a member's operator role away (and its tripcode's). */
export const deop: Command = {
  name: 'deop',
  usage: '/deop NICK',
  help: 'take a member\'s operator role away',
  requires: 'joined',
  level: 'owner',
  console: true,
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${deop.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.deop(ctx.args));
  },
};
