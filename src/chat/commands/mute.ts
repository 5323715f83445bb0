import { parseDuration } from '../duration.js';
import { ErrorCode } from '../messages.js';
import { answer, nickAndDuration } from './answer.js';
import type { Command } from './command.js';

/** `/mute NICK [DURATION]`: the member stays but cannot post (nor can its address or tripcode, should it come back). */
export const mute: Command = {
  name: 'mute',
  usage: '/mute NICK [DURATION]',
  help: 'stop a member from posting, for e.g. 10m or until /unmute',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    const parsed = nickAndDuration(ctx.args, parseDuration);
    if (parsed === null) {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${mute.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.mute(parsed.nick, parsed.ms));
  },
};
