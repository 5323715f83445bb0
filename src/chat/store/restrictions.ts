import type { Restriction } from './store.js';

/**
 * Reading bans and mutes, the same way in every store (the Redis store does
 * it again in Lua: see redis-scripts.ts, `restriction_for`).
 */

/**
 * "Until lifted" as a time: the largest Date value (ms). Not
 * Number.MAX_SAFE_INTEGER, because Redis's Lua encodes numbers in JSON with
 * 14 significant digits and 8.64e15 is exact in them.
 */
export const FOREVER = 8_640_000_000_000_000;

/** Whether a restriction is in force at `now`. */
export function inForce(r: Restriction, now: number): boolean {
  return r.until === null || r.until > now;
}

/** The restrictions still in force at `now`. */
export function activeRestrictions(list: readonly Restriction[], now: number): Restriction[] {
  return list.filter((r) => inForce(r, now));
}

/**
 * The restriction in force that applies to a member with this address hash
 * and tripcode (either matching is enough), the longest-lasting one when
 * several do; null when none.
 */
export function restrictionFor(list: readonly Restriction[], address: string | null, trip: string | null, now: number): Restriction | null {
  let found: Restriction | null = null;
  for (const r of list) {
    if (!inForce(r, now)) continue;
    const matches = (address !== null && r.address === address) || (trip !== null && r.trip === trip);
    if (!matches) continue;
    if (found === null || r.until === null || (found.until !== null && r.until > found.until)) found = r;
    if (found.until === null) break;
  }
  return found;
}

/** A seat's `mutedUntil` from the room's mutes: null, an end, or FOREVER for "until unmuted". */
export function mutedUntil(list: readonly Restriction[], address: string | null, trip: string | null, now: number): number | null {
  const mute = restrictionFor(list, address, trip, now);
  if (mute === null) return null;
  return mute.until ?? FOREVER;
}
