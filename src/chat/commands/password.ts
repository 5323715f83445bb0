import { ErrorCode } from '../messages.js';
import { PASSWORD_MAX } from '../moderation.js';
import { answer } from './answer.js';
import type { Command } from './command.js';

/**
 * `/password SECRET` (owners): newcomers need it, on every door (or an
 * invite); `/password -` removes it. The secret is kept only as a hash.
 */
export const password: Command = {
  name: 'password',
  usage: '/password SECRET | /password -',
  help: 'make newcomers give a password (- removes it)',
  requires: 'joined',
  level: 'owner',
  console: true,
  async run(ctx) {
    if (ctx.args === '' || [...ctx.args].length > PASSWORD_MAX) {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${password.usage} (1-${PASSWORD_MAX} characters)`);
      return;
    }
    answer(ctx, await ctx.moderation!.password(ctx.args === '-' ? null : ctx.args));
  },
};
