import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/unmute NICK`: lifts a mute. */
export const unmute: Command = {
  name: 'unmute',
  usage: '/unmute NICK',
  help: 'let a muted member post again',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${unmute.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.unmute(ctx.args));
  },
};
