/**
 * Rules for the text of a chat message, shared by every transport: what is
 * stored is NFC-normalised, has Unix line endings, carries no control
 * characters other than newline and tab (they could drive the terminals of
 * TCP and terminal-client users) and no bidi embeddings, overrides or
 * isolates (they could reorder what is shown around the text), shows at
 * least one visible character, and is at most `maxLength` code points long.
 */

/** Default `--max-message`, in code points. */
export const DEFAULT_MAX_MESSAGE = 4000;

/** Longer raw input is refused before any normalisation work is done on it. */
const RAW_LIMIT_FACTOR = 4;

/** Number of Unicode code points in `s` (what users call characters, near enough). */
export function codePointLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** The outcome of checking a message text. */
export type TextCheck =
  | { ok: true; text: string }
  | { ok: false; code: 'EMPTY_MESSAGE' | 'MESSAGE_TOO_LONG'; message: string };

// C0 and C1 controls except TAB and LF, and lone surrogates (not text at all).
const FORBIDDEN = /(?![\t\n])\p{Cc}|\p{Cs}/gu;

// Bidi_Control characters that open or close an embedding, override or
// isolate (U+202A-U+202E, U+2066-U+2069): a right-to-left override can make
// a line read as something else than it is. They are removed. The three
// marks (U+061C, U+200E, U+200F) stay: they only set the direction of the
// neutral characters next to them, which mixed Arabic or Hebrew text needs.
const BIDI_FORMATTING = /[\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Characters that show as nothing: whitespace, default-ignorable code points
 * (zero-width characters, Hangul fillers U+115F U+1160 U+3164 U+FFA0,
 * variation selectors, tags...), format characters, U+2800 BRAILLE PATTERN
 * BLANK. A text made only of these would show as an empty line.
 */
const INVISIBLE = /[\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u2800]/gu;

/** True if `text` would show nothing at all (only whitespace and invisible characters). */
export function isBlank(text: string): boolean {
  return text.replace(INVISIBLE, '') === '';
}

/** Normalises and checks a message text. Never throws. */
export function checkMessageText(raw: string, maxLength: number = DEFAULT_MAX_MESSAGE): TextCheck {
  if (raw.length > maxLength * RAW_LIMIT_FACTOR) return tooLong(maxLength);
  const text = raw
    .replace(/\r\n?/g, '\n')
    .replace(FORBIDDEN, '')
    .replace(BIDI_FORMATTING, '')
    .normalize('NFC')
    // Leading blank lines and trailing whitespace carry nothing; indentation of the first line may.
    .replace(/^(?:[ \t]*\n)+/, '')
    .trimEnd();
  if (text.trim() === '') return { ok: false, code: 'EMPTY_MESSAGE', message: 'message is empty' };
  if (isBlank(text)) return { ok: false, code: 'EMPTY_MESSAGE', message: 'message is empty (only invisible characters)' };
  if (codePointLength(text) > maxLength) return tooLong(maxLength);
  return { ok: true, text };
}

function tooLong(maxLength: number): TextCheck {
  return { ok: false, code: 'MESSAGE_TOO_LONG', message: `message is longer than ${maxLength} characters` };
}
