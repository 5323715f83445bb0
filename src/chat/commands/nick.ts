import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/nick NEW`: change nickname; the room sees "old is now known as new". */
export const nick: Command = {
  name: 'nick',
  usage: '/nick NEW',
  help: 'change your nickname',
  requires: 'joined',
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${nick.usage}`);
      return;
    }
    await ctx.rename(ctx.args);
  },
};
