import { ErrorCode } from '../messages.js';
import { checkRoomName } from '../room-name.js';
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
  help: 'go to another room (its name: letters or digits of any script, "-" or "_"), with its password or an invite code if it needs one',
  requires: 'joined',
  available: (member) => member.canSwitchRooms,
  async run(ctx) {
    const match = /^(\S*)\s*([\s\S]*)$/.exec(ctx.args);
    const room = match?.[1] ?? '';
    const passcode = match?.[2] ?? '';
    if (room === '') {
      ctx.fail(ErrorCode.BAD_COMMAND, `usage: ${join.usage}`);
      return;
    }
    // `/join 우리방`: the name as typed, NFC-normalised (room-name.ts).
    const named = checkRoomName(room);
    if (!named.ok) {
      ctx.fail(ErrorCode.ROOM_INVALID, named.message);
      return;
    }
    await ctx.switchRoom(named.name, passcode === '' ? undefined : passcode);
  },
};
