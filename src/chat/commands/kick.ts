import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/kick NICK`: removes a member (its connection closes with 1008); it may join again, unlike after /ban. */
export const kick: Command = {
  name: 'kick',
  usage: '/kick NICK',
  help: 'remove a member from the room (they may come back)',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${kick.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.kick(ctx.args));
  },
};
