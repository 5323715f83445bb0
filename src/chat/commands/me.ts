import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/me ACTION`: an action line, shown as "* nick ACTION"; stored and acknowledged like a message. */
export const me: Command = {
  name: 'me',
  usage: '/me ACTION',
  help: 'say what you are doing, e.g. /me waves',
  requires: 'joined',
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${me.usage}`);
      return;
    }
    await ctx.act(ctx.args);
  },
};
