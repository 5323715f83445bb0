import { parseDuration } from '../duration.js';
import { ErrorCode } from '../messages.js';
import { answer, nickAndDuration } from './answer.js';
import type { Command } from './command.js';

/**
 * `/ban NICK [DURATION]`: removes a member and keeps its address and its
 * tripcode out of the room, under any nickname, for DURATION (10m, 1h, 7d)
 * or until /unban.
 */
export const ban: Command = {
  name: 'ban',
  usage: '/ban NICK [DURATION]',
  help: 'remove a member and keep them out (by address and tripcode), for e.g. 1h or until /unban',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    const parsed = nickAndDuration(ctx.args, parseDuration);
    if (parsed === null) {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${ban.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.ban(parsed.nick, parsed.ms));
  },
};
