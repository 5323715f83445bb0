import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/**
 * `/invite`: a code (and link) that lets one person into the room once,
 * even when it is locked or has a password; answered by an `invite` event
 * to the one who asked only.
 */
export const invite: Command = {
  name: 'invite',
  usage: '/invite',
  help: 'make a link that lets one person in, once',
  requires: 'joined',
  level: 'operator',
  console: true,
  async run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${invite.usage}`);
      return;
    }
    const mod = ctx.moderation!;
    const outcome = await mod.invite();
    if (!outcome.ok) {
      ctx.fail(outcome.code, outcome.message);
      return;
    }
    ctx.send({
      type: 'invite',
      ...(ctx.clientId === null ? {} : { id: ctx.clientId }),
      room: mod.room,
      code: outcome.code,
      expiresAt: outcome.expiresAt,
    });
  },
};
