import { ErrorCode } from '../messages.js';
import { isValidRoomName } from '../room-name.js';
import type { Command } from './command.js';

/**
 * `/join ROOM [PASSWORD|INVITE]`: move to another room with the same
 * nickname; a room with a password, or a locked one, takes its password or
 * an invite code after the name. Only where the transport allows it (raw
 * TCP); a WebSocket connection's room is its URL.
 */
export const join: Command = {
  name: 'join',
  usage: '/join ROOM [PASSWORD|INVITE]',
  help: 'go to another room (1-64 of A-Za-z0-9_-), with its password or an invite code if it needs one',
  requires: 'joined',
  available: (member) => member.canSwitchRooms,
  async run(ctx) {
    const match = /^(\S*)\s*([\s\S]*)$/.exec(ctx.args);
    const room = match?.[1] ?? '';
    const passcode = match?.[2] ?? '';
    if (!isValidRoomName(room)) {
      ctx.fail(
        room === '' ? ErrorCode.BAD_COMMAND : ErrorCode.ROOM_INVALID,
        room === '' ? `usage: ${join.usage}` : 'room names are 1-64 characters of A-Za-z0-9_-',
      );
      return;
    }
    await ctx.switchRoom(room, passcode === '' ? undefined : passcode);
  },
};
