import { ErrorCode } from '../messages.js';
import type { Command } from './command.js';

/** `/who`: the room's members; those whose connection dropped are marked "(away)". */
export const who: Command = {
  name: 'who',
  usage: '/who',
  help: 'list the members of this room',
  requires: 'joined',
  console: true,
  run(ctx) {
    if (ctx.args !== '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${who.usage}`);
      return;
    }
    const members = ctx.members();
    const names = members.map((m) => `${m.trip === undefined ? m.nick : `${m.nick} !${m.trip}`}${m.role === undefined ? '' : ` (${m.role})`}${m.away ? ' (away)' : ''}`);
    const count = members.length === 1 ? '1 member' : `${members.length} members`;
    ctx.reply(`${count} in ${ctx.room}: ${names.join(', ')}`);
  },
};
