import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/quit`: leave now (no grace period) and close the connection with 1000. */
export const quit: Command = {
  name: 'quit',
  usage: '/quit',
  help: 'leave the room and disconnect',
  requires: 'nothing',
  async run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${quit.usage}`);
      return;
    }
    await ctx.quit();
  },
};
