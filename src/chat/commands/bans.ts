import { ErrorCode } from '../messages.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/** `/bans`: the bans in force in the room, with their ids. */
export const bans: Command = {
  name: 'bans',
  usage: '/bans',
  help: 'list the bans of this room',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${bans.usage}`);
      return;
    }
    answer(ctx, await ctx.moderation!.bans());
  },
};
