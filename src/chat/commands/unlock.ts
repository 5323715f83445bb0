import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/unlock`: newcomers may join again. */
export const unlock: Command = {
  name: 'unlock',
  usage: '/unlock',
  help: 'let newcomers in again',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${unlock.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.lock(false));
  },
};
