import { createHash } from 'node:crypto';

/**
 * The id of the seat a resume token opens: a hash, so that whoever reads the
 * store (a Redis dump, a copied database) cannot take a member's nickname.
 */
export function seatId(token: string): string {
  return createHash('sha256').update(token).digest('base64url').slice(0, 32);
}
