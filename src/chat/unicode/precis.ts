/**
 * PRECIS (RFC 8264) as the Nickname profile (RFC 8266) uses it: the
 * FreeformClass string class and the profile's enforcement and comparison.
 * Character properties come from the runtime's own Unicode data (the regular
 * expression property escapes of V8/ICU), the same data that
 * `String.prototype.normalize` uses.
 */

/** What RFC 8264 §8 derives for a code point in the FreeformClass. */
export type DerivedProperty = 'PVALID' | 'CONTEXTJ' | 'CONTEXTO' | 'DISALLOWED' | 'UNASSIGNED';

// RFC 8264 §9 categories, as property escapes.
const UNASSIGNED = /^[\p{Cn}]$/u; // §9.14 (Noncharacter_Code_Point are Cn as well, and disallowed by §9.13 first)
const ASCII7 = /^[\u0021-\u007e]$/; // §9.11
const JOIN_CONTROL = /^\p{Join_Control}$/u; // §9.8
const PRECIS_IGNORABLE = /^[\p{Default_Ignorable_Code_Point}\p{Noncharacter_Code_Point}]$/u; // §9.13
const CONTROLS = /^\p{Cc}$/u; // §9.12
const LETTER_DIGITS = /^[\p{Ll}\p{Lu}\p{Lo}\p{Nd}\p{Lm}\p{Mn}\p{Mc}]$/u; // §9.1
const OTHER_LETTER_DIGITS = /^[\p{Lt}\p{Nl}\p{No}\p{Me}]$/u; // §9.2
const SPACES = /^\p{Zs}$/u; // §9.3
const SYMBOLS = /^[\p{Sm}\p{Sc}\p{Sk}\p{So}]$/u; // §9.4
const PUNCTUATION = /^\p{P}$/u; // §9.5

/**
 * RFC 8264 §9.6 Exceptions, as RFC 5892 §2.6 lists them (the same set
 * IDNA2008 uses): a few code points whose general category says otherwise.
 */
const EXCEPTIONS: ReadonlyMap<number, DerivedProperty> = new Map<number, DerivedProperty>([
  // PVALID
  [0x00df, 'PVALID'], [0x03c2, 'PVALID'], [0x06fd, 'PVALID'], [0x06fe, 'PVALID'], [0x0f0b, 'PVALID'], [0x3007, 'PVALID'],
  // CONTEXTO
  [0x00b7, 'CONTEXTO'], [0x0375, 'CONTEXTO'], [0x05f3, 'CONTEXTO'], [0x05f4, 'CONTEXTO'], [0x30fb, 'CONTEXTO'],
  ...range(0x0660, 0x0669).map((cp): [number, DerivedProperty] => [cp, 'CONTEXTO']),
  ...range(0x06f0, 0x06f9).map((cp): [number, DerivedProperty] => [cp, 'CONTEXTO']),
  // DISALLOWED
  [0x0640, 'DISALLOWED'], [0x07fa, 'DISALLOWED'], [0x302e, 'DISALLOWED'], [0x302f, 'DISALLOWED'],
  ...range(0x3031, 0x3035).map((cp): [number, DerivedProperty] => [cp, 'DISALLOWED']),
  [0x303b, 'DISALLOWED'],
]);

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * RFC 8264 §9.10 OldHangulJamo: Hangul_Syllable_Type L, V or T, the
 * conjoining jamo blocks. Typed jamo that compose into syllables are gone
 * after NFKC; those left over are disallowed.
 */
function isOldHangulJamo(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x11ff) || (cp >= 0xa960 && cp <= 0xa97f) || (cp >= 0xd7b0 && cp <= 0xd7ff)
  );
}

/** RFC 8264 §8: the FreeformClass derived property of one code point. */
export function freeformProperty(cp: number): DerivedProperty {
  const char = String.fromCodePoint(cp);
  const exception = EXCEPTIONS.get(cp);
  if (exception !== undefined) return exception;
  // BackwardCompatible (§9.7) is empty.
  if (UNASSIGNED.test(char) && !PRECIS_IGNORABLE.test(char)) return 'UNASSIGNED';
  if (ASCII7.test(char)) return 'PVALID';
  if (JOIN_CONTROL.test(char)) return 'CONTEXTJ';
  if (isOldHangulJamo(cp)) return 'DISALLOWED';
  if (PRECIS_IGNORABLE.test(char)) return 'DISALLOWED';
  if (CONTROLS.test(char)) return 'DISALLOWED';
  // HasCompat (§9.17): FREE_PVAL in this class, like every class below.
  if (char.normalize('NFKC') !== char) return 'PVALID';
  if (LETTER_DIGITS.test(char)) return 'PVALID';
  if (OTHER_LETTER_DIGITS.test(char) || SPACES.test(char) || SYMBOLS.test(char) || PUNCTUATION.test(char)) return 'PVALID';
  return 'DISALLOWED';
}

const GREEK = /^\p{Script=Greek}$/u;
const HEBREW = /^\p{Script=Hebrew}$/u;
const KANA_OR_HAN = /[\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Han}]/u;

/**
 * The CONTEXTO rules of RFC 5892 Appendix A (A.3-A.9), which RFC 8264 §8
 * reuses: whether the code point at `index` of `chars` may stand there.
 */
export function contextOAllowed(chars: readonly string[], index: number): boolean {
  const cp = chars[index]?.codePointAt(0) ?? 0;
  const before = chars[index - 1];
  const after = chars[index + 1];
  switch (cp) {
    case 0x00b7: // A.3 MIDDLE DOT: between two l (Catalan "l·l")
      return before === 'l' && after === 'l';
    case 0x0375: // A.4 GREEK KERAIA: followed by a Greek character
      return after !== undefined && GREEK.test(after);
    case 0x05f3: // A.5, A.6 HEBREW GERESH, GERSHAYIM: preceded by a Hebrew character
    case 0x05f4:
      return before !== undefined && HEBREW.test(before);
    case 0x30fb: // A.7 KATAKANA MIDDLE DOT: with Hiragana, Katakana or Han somewhere
      return chars.some((c) => c !== '\u30fb' && KANA_OR_HAN.test(c));
    default:
      if (cp >= 0x0660 && cp <= 0x0669) return !chars.some((c) => /[\u06f0-\u06f9]/.test(c)); // A.8
      if (cp >= 0x06f0 && cp <= 0x06f9) return !chars.some((c) => /[\u0660-\u0669]/.test(c)); // A.9
      return false;
  }
}

/** RFC 8266 §2.1 Additional Mapping Rule: other spaces to U+0020, trimmed, runs collapsed. */
function additionalMapping(s: string): string {
  return s.replace(/\p{Zs}/gu, ' ').replace(/ {2,}/g, ' ').trim();
}

/**
 * Applies `rules` until the string stops changing. RFC 8266 §6: the rules
 * are not idempotent for every code point, so they are re-applied; a string
 * that has not settled after three more rounds is refused (null).
 */
function untilStable(input: string, rules: (s: string) => string): string | null {
  let current = rules(input);
  for (let round = 0; round < 3; round++) {
    const next = rules(current);
    if (next === current) return current;
    current = next;
  }
  return null;
}

/**
 * RFC 8266 §2.3 enforcement: Additional Mapping Rule, then NFKC (which also
 * does the width mapping). Case is kept (the Case Mapping Rule is for
 * comparison only). Null when the rules do not settle.
 */
export function enforceNickname(input: string): string | null {
  return untilStable(input, (s) => additionalMapping(s).normalize('NFKC'));
}

/**
 * RFC 8266 §2.4 comparison form: Additional Mapping Rule, Case Mapping Rule
 * (Unicode toLowerCase), NFKC. Two nicknames are the same when these are
 * equal. Null when the rules do not settle.
 */
export function nicknameComparisonForm(input: string): string | null {
  return untilStable(input, (s) => additionalMapping(s).toLowerCase().normalize('NFKC'));
}
