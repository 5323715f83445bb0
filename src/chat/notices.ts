/**
 * Moderation notices: what is stored for each moderation action (the text of
 * a `mod` entry, or the reason of the `leave` entry of a kicked or banned
 * member) and how it reads. Stored as JSON so that every node and every
 * door reads the same facts; a `leave` reason that is not JSON is one of the
 * plain reasons (quit, lost, flood, moved, or kicked from before moderation
 * existed).
 */
import { formatDuration } from './duration.js';

export type ModAction =
  | 'kick'
  | 'ban'
  | 'unban'
  | 'mute'
  | 'unmute'
  | 'op'
  | 'deop'
  | 'owner'
  | 'lock'
  | 'unlock'
  | 'topic'
  | 'password'
  | 'delete'
  | 'invite';

export const MOD_ACTIONS: readonly ModAction[] = [
  'kick',
  'ban',
  'unban',
  'mute',
  'unmute',
  'op',
  'deop',
  'owner',
  'lock',
  'unlock',
  'topic',
  'password',
  'delete',
  'invite',
];

/** The facts of one moderation action. */
export interface ModDetail {
  action: ModAction;
  /** Who acted: a member's nickname, or "Administrator" (the console). */
  by: string;
  byTrip?: string | null;
  /** The member acted on (kick, ban, unban, mute, unmute, op, deop). */
  target?: string;
  targetTrip?: string | null;
  /** ban, mute: for how long (ms), null: until lifted. */
  for?: number | null;
  /** ban, mute: until when (ms since the epoch), null: until lifted. */
  until?: number | null;
  /** topic: the new topic, null: cleared. */
  topic?: string | null;
  /** password: set (true) or removed (false). */
  on?: boolean;
  /** delete: the seq of the entry now a tombstone. */
  seq?: number;
}

export function encodeDetail(detail: ModDetail): string {
  return JSON.stringify(detail);
}

/** The detail stored in `text`, or null when it is not one (a plain leave reason). */
export function decodeDetail(text: string): ModDetail | null {
  if (!text.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return null;
    const d = value as Record<string, unknown>;
    if (typeof d.action !== 'string' || !(MOD_ACTIONS as readonly string[]).includes(d.action) || typeof d.by !== 'string') return null;
    return d as unknown as ModDetail;
  } catch {
    return null;
  }
}

/** A name with its tripcode as the text formats show it ("alice !Ab3dEf12"). */
function named(nick: string | undefined, trip: string | null | undefined): string {
  const name = nick ?? 'someone';
  return trip === undefined || trip === null ? name : `${name} !${trip}`;
}

/** How long, as a suffix: " for 1h", or "" when until lifted. */
function lasting(ms: number | null | undefined): string {
  return ms === undefined || ms === null ? '' : ` for ${formatDuration(ms)}`;
}

/** The sentence a notice shows, e.g. "alice was banned by bob for 1h". */
export function describeDetail(d: ModDetail): string {
  const by = named(d.by, d.byTrip);
  const target = named(d.target, d.targetTrip);
  switch (d.action) {
    case 'kick':
      return `${target} was kicked by ${by}`;
    case 'ban':
      return `${target} was banned by ${by}${lasting(d.for)}`;
    case 'unban':
      return `${by} lifted the ban on ${target}`;
    case 'mute':
      return `${target} was muted by ${by}${lasting(d.for)}`;
    case 'unmute':
      return `${target} was unmuted by ${by}`;
    case 'op':
      return `${by} made ${target} an operator`;
    case 'deop':
      return `${by} removed ${target} as an operator`;
    case 'owner':
      return `${by} proved to be an owner of the room`;
    case 'lock':
      return `${by} locked the room: nobody new can join without an invite`;
    case 'unlock':
      return `${by} unlocked the room`;
    case 'topic':
      return d.topic === null || d.topic === undefined || d.topic === '' ? `${by} cleared the topic` : `${by} set the topic: ${d.topic}`;
    case 'password':
      return d.on === false ? `${by} removed the room's password` : `${by} set a password for the room`;
    case 'delete':
      return `${by} deleted a message`;
    case 'invite':
      return `${by} made an invite link`;
  }
}
