import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/unban NICK|ID`: lifts the bans made for that nickname (or the one with that id, from /bans). */
export const unban: Command = {
  name: 'unban',
  usage: '/unban NICK|ID',
  help: 'lift a ban (/bans lists them)',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${unban.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.unban(ctx.args));
  },
};
