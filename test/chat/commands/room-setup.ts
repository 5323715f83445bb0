/**
 * A room for the moderation command tests: alice created it (its owner,
 * with the owner key from her welcome), bob and carol are members, each at
 * an address of its own.
 */
import assert from 'node:assert/strict';
import type { HubOptions } from '../../../src/chat/hub.js';
import type { ErrorEvent } from '../../../src/chat/messages.js';
import { type FakeConnection, makeHub, type TestHub } from '../helpers.js';

export interface Person {
  conn: FakeConnection;
  member: import('../../../src/chat/member.js').Member;
}

export interface ModRoom {
  t: TestHub;
  room: string;
  alice: Person;
  bob: Person;
  carol: Person;
  ownerKey: string;
  /** Joins `room` as `nick` from `address` (default its own). */
  join(nick: string, address?: string, extra?: Record<string, unknown>): Promise<Person>;
  /** Tries to join; the result. */
  tryJoin(nick: string, address?: string, extra?: Record<string, unknown>): ReturnType<Person['member']['join']>;
  /** Types a line as `who` and waits for the room to settle; its answer (error or info) by id. */
  type(who: Person, line: string): Promise<{ error?: ErrorEvent; info?: string }>;
}

let next = 0;

export async function modRoom(options: Partial<HubOptions> = {}): Promise<ModRoom> {
  const t = makeHub(options);
  const room = `mod${next++}`;
  const address = (nick: string) => `203.0.113.${(nick.length * 7 + nick.charCodeAt(0)) % 250}`;
  const join = async (nick: string, at?: string, extra: Record<string, unknown> = {}): Promise<Person> =>
    t.join(nick, { room, address: at ?? address(nick), ...extra });
  const alice = await join('alice');
  const ownerKey = alice.conn.last('welcome').ownerKey;
  assert.ok(ownerKey, 'the room creator gets its owner key');
  const bob = await join('bob');
  const carol = await join('carol');
  let ids = 0;
  return {
    t,
    room,
    alice,
    bob,
    carol,
    ownerKey,
    join,
    tryJoin: (nick, at, extra = {}) => t.connect({ room, address: at ?? address(nick) }).member.join({ nick, ...extra }),
    async type(who, line) {
      const id = `c${ids++}`;
      await who.member.input(line, id);
      await t.hub.idle();
      // Member lists are coalesced to the next turn.
      await new Promise((resolve) => setImmediate(resolve));
      const error = who.conn.received.find((e): e is ErrorEvent => e.type === 'error' && e.id === id);
      const info = who.conn.received.find((e) => e.type === 'info' && e.id === id);
      return { ...(error === undefined ? {} : { error }), ...(info?.type === 'info' ? { info: info.text } : {}) };
    },
  };
}
