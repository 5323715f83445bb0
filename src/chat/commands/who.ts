import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/who`: the room's members; those whose connection dropped are marked "(away)". */
export const who: Command = {
  name: 'who',
  usage: '/who',
  help: 'list the members of this room',
  requires: 'joined',
  run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${who.usage}`);
      return;
    }
    const members = ctx.members();
    const names = members.map((m) => (m.away ? `${m.nick} (away)` : m.nick));
    const count = members.length === 1 ? '1 member' : `${members.length} members`;
    ctx.reply(`${count} in ${ctx.room}: ${names.join(', ')}`);
  },
};
