import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/**
 * `/op NICK`: an owner makes a member an operator (by seat and, when it has
 * one, by tripcode: it is an operator again when it comes back with it).
 * `/op KEY`: anyone holding the room's owner key becomes an owner (from
 * another device than the one that created the room).
 */
export const op: Command = {
  name: 'op',
  usage: '/op NICK | /op KEY',
  help: 'make a member an operator (owners); or become an owner with the room\'s owner key',
  requires: 'joined',
  console: true,
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${op.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.op(ctx.args));
  },
};
