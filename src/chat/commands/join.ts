import { ErrorCode } from '../messages.js';
import { isValidRoomName } from '../room-name.js';
import type { Command } from './command.js';

/**
 * `/join ROOM`: move to another room with the same nickname. Only where the
 * transport allows it (raw TCP); a WebSocket connection's room is its URL.
 */
export const join: Command = {
  name: 'join',
  usage: '/join ROOM',
  help: 'go to another room (1-64 of A-Za-z0-9_-)',
  requires: 'joined',
  available: (member) => member.canSwitchRooms,
  async run(ctx) {
    if (!isValidRoomName(ctx.args)) {
      ctx.fail(
        ctx.args === '' ? ErrorCode.BAD_COMMAND : ErrorCode.ROOM_INVALID,
        ctx.args === '' ? `usage: ${join.usage}` : 'room names are 1-64 characters of A-Za-z0-9_-',
      );
      return;
    }
    await ctx.switchRoom(ctx.args);
  },
};
