/**
 * The confusable skeleton of Unicode Technical Standard #39 §4 ("Confusable
 * Detection"): two strings whose skeletons are equal look alike.
 *
 * The mapping is Unicode's own `confusables.txt` (the prototype column of
 * each line), as parsed into JSON by the `unhomoglyph` package. That package
 * ships Unicode 13.0.0's file, the newest `confusables.txt` on the npm
 * registry at the time of writing; characters added to the file since (mostly
 * from scripts encoded after 13.0) are not mapped. Only the data is used, not
 * the package's own replace function (which skips the NFD steps of §4).
 *
 * A skeleton is a comparison key, never something to show (UTS #39 §4:
 * "not intended for display").
 */
import { createRequire } from 'node:module';

/** The version of Unicode's confusables.txt the mapping comes from. */
export const CONFUSABLES_VERSION = '13.0.0';

const require = createRequire(import.meta.url);
/** Source code point (as a one-character string) -> prototype string. */
const PROTOTYPES: ReadonlyMap<string, string> = new Map(Object.entries(require('unhomoglyph/data.json') as Record<string, string>));

/** Number of mappings loaded; a full file has thousands. */
export const CONFUSABLE_MAPPINGS = PROTOTYPES.size;

/** How often skeleton() re-applies itself at most before giving up on reaching a fixed point. */
const MAX_ROUNDS = 4;

/**
 * UTS #39 §4: skeleton(X) = NFD(map each code point of NFD(X) to its
 * prototype). Re-applied until stable (bounded), so that prototypes which
 * are themselves mapped, and marks that a mapping composes, settle.
 */
export function skeleton(input: string): string {
  let current = input;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let mapped = '';
    for (const char of current.normalize('NFD')) mapped += PROTOTYPES.get(char) ?? char;
    const next = mapped.normalize('NFD');
    if (next === current) return next;
    current = next;
  }
  return current;
}

/** The prototype a single character maps to, or undefined when it has none. */
export function prototypeOf(char: string): string | undefined {
  return PROTOTYPES.get(char);
}
