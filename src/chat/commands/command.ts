import type { ErrorCode, Level, MemberInfo, ServerEvent } from '../messages.js';
import type { InviteOutcome, ModOutcome } from '../moderation.js';
import type { Refusal } from '../member.js';

/**
 * Moderation in one room, as one actor (a member, or the console). Every
 * method checks the actor's level itself and answers with a line for the
 * actor or a refusal; notices go to the room through the store.
 */
export interface RoomModeration {
  readonly room: string;
  /** `/op KEY` (becomes an owner) or `/op NICK`. */
  op(arg: string): Promise<ModOutcome>;
  deop(nick: string): Promise<ModOutcome>;
  kick(nick: string): Promise<ModOutcome>;
  /** `ms` null: until lifted. */
  ban(nick: string, ms: number | null): Promise<ModOutcome>;
  unban(target: string): Promise<ModOutcome>;
  bans(): Promise<ModOutcome>;
  mute(nick: string, ms: number | null): Promise<ModOutcome>;
  unmute(nick: string): Promise<ModOutcome>;
  lock(locked: boolean): Promise<ModOutcome>;
  /** null clears it. */
  topic(text: string | null): Promise<ModOutcome>;
  showTopic(): Promise<ModOutcome>;
  delete(seq: number): Promise<ModOutcome>;
  /** null removes it. */
  password(secret: string | null): Promise<ModOutcome>;
  invite(): Promise<InviteOutcome | Refusal>;
}

/**
 * What a command sees and can do. The member that typed the command builds
 * it; every operation answers the request itself (an error through `fail`, an
 * acknowledgement when something was stored), so a command only decides what
 * to do with its arguments.
 */
export interface CommandContext {
  /** The text after the command name, trimmed. */
  readonly args: string;
  /** The client message id of the line that carried the command, if any. */
  readonly clientId: string | null;
  /** Current nickname and room; null before joining. */
  readonly nick: string | null;
  readonly room: string | null;
  /** Whether the transport can move a member between rooms (raw TCP can). */
  readonly canSwitchRooms: boolean;
  /** The commands this member can use, for /help. */
  readonly commands: readonly Command[];
  /** The member's level in its room (`user` before joining; `admin` on the console). */
  readonly level: Level;
  /** Moderation in this room as this member; null before joining. */
  readonly moderation: RoomModeration | null;
  /** Sends an event to this member only (an invite). */
  send(event: ServerEvent): void;
  /** Sends command output (an `info` event) to this member only. */
  reply(text: string): void;
  /** Answers the request with an error. */
  fail(code: ErrorCode, message: string): void;
  /** Validates and takes a new nickname, notifying the room. False (after answering) when refused. */
  rename(nick: string): Promise<boolean>;
  /** Stores and broadcasts a `/me` action with the request's client id. False (after answering) when refused. */
  act(text: string): Promise<boolean>;
  /** The room's live member list. */
  members(): MemberInfo[];
  /** Leaves the room at once (a "left" notice, no grace period) and closes the connection with 1000. */
  quit(): Promise<void>;
  /** Moves to another room keeping the nickname (with its password or an invite code). False (after answering) when refused. */
  switchRoom(room: string, passcode?: string): Promise<boolean>;
}

/** One chat command: a module in src/chat/commands/ exporting one of these. */
export interface Command {
  /** Lower-case name, without the slash. */
  readonly name: string;
  /** E.g. "/nick NEW". */
  readonly usage: string;
  /** One line for /help. */
  readonly help: string;
  /** `joined`: refused with NOT_JOINED before the member is in a room. */
  readonly requires: 'joined' | 'nothing';
  /** The least level that may use it (default `user`); others get FORBIDDEN, and /help does not list it for them. */
  readonly level?: Level;
  /**
   * The console has it too, as `/name ROOM args` (any room, as `admin`);
   * `members` there is the room's list from the store.
   */
  readonly console?: boolean;
  /** When present and false, the command does not exist for this member (and /help does not list it). */
  available?(member: { readonly canSwitchRooms: boolean }): boolean;
  /** Runs the command; may throw only on bugs (the caller answers INTERNAL). */
  run(context: CommandContext): Promise<void> | void;
}
