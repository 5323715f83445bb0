/**
 * Light formatting of message text, as chat users type it: `code`, fenced
 * code blocks, *emphasis*, **strong**, and links (http, https, and `www.`
 * ones). Pure: it turns text into a small tree that render.ts builds with
 * DOM APIs (createElement, textContent), never as HTML, so no text can
 * become markup whatever it holds. Runs in Node for the tests.
 *
 * Why not a Markdown library: they render to HTML strings (which the page
 * would have to parse) and implement all of CommonMark, where a chat line
 * starting with "1." or "#" must stay as typed. Five constructs, each with
 * a narrow rule, are less to get wrong:
 *
 * - ``` opens a code block that the next ``` closes (a first line of one
 *   word after the opening fence is its language, not shown); without a
 *   closing fence the backticks are text. Nothing inside is formatted.
 * - `x` is inline code (one line). Nothing inside is formatted.
 * - **x** is strong, *x* emphasis: not across lines, not with a space just
 *   inside the stars, and a single star never inside a word (2*3*4 stays).
 * - http://, https:// and www. start a link up to the next space; trailing
 *   punctuation (and a closing bracket that opened nothing) stays outside.
 *   Only http and https links are made: `javascript:` is text.
 */

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'pre'; text: string; lang?: string }
  | { kind: 'em'; children: Inline[] }
  | { kind: 'strong'; children: Inline[] }
  | { kind: 'link'; text: string; href: string };

/** The text of a message as a tree of formatted pieces. */
export function parseMarkup(text: string): Inline[] {
  const out: Inline[] = [];
  const fence = /```/g;
  let last = 0;
  for (;;) {
    fence.lastIndex = last;
    const open = fence.exec(text);
    if (open === null) break;
    const close = text.indexOf('```', open.index + 3);
    if (close < 0) break;
    pushInline(out, text.slice(last, open.index));
    let body = text.slice(open.index + 3, close);
    let lang: string | undefined;
    const first = /^([A-Za-z0-9+#._-]{1,20})\n/.exec(body);
    if (first !== null) {
      lang = first[1];
      body = body.slice(first[0].length);
    } else if (body.startsWith('\n')) {
      body = body.slice(1);
    }
    if (body.endsWith('\n')) body = body.slice(0, -1);
    out.push(lang === undefined ? { kind: 'pre', text: body } : { kind: 'pre', text: body, lang });
    // A line break right after a block is the block's own.
    last = text.startsWith('\n', close + 3) ? close + 4 : close + 3;
  }
  pushInline(out, text.slice(last));
  return out;
}

/** Inline code first (its content stays as typed), then emphasis and links in what is left. */
function pushInline(out: Inline[], text: string): void {
  if (text === '') return;
  const code = /`([^`\n]+)`/g;
  let last = 0;
  for (const match of text.matchAll(code)) {
    const at = match.index ?? 0;
    pushSpans(out, text.slice(last, at));
    out.push({ kind: 'code', text: match[1] ?? '' });
    last = at + match[0].length;
  }
  pushSpans(out, text.slice(last));
}

// A star that opens must not follow a word character or a star; one that closes must not precede one.
const STRONG = /(?<![\p{L}\p{N}_*])\*\*([^\s*](?:[^\n]*?[^\s*])?)\*\*(?![\p{L}\p{N}_*])/u;
const EM = /(?<![\p{L}\p{N}_*])\*([^\s*](?:[^*\n]*[^\s*])?)\*(?![\p{L}\p{N}_*])/u;
const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"'`]+/iu;
const TRAILING_PUNCTUATION = /[.,;:!?'"’”*_]+$/u;

/** Emphasis and links: the earliest construct wins, a link is never cut, emphasis may hold links. */
function pushSpans(out: Inline[], text: string): void {
  let rest = text;
  while (rest !== '') {
    const link = findLink(rest);
    const strong = STRONG.exec(rest);
    const em = EM.exec(rest);
    const candidates: { at: number; end: number; make: () => Inline }[] = [];
    if (link !== null) candidates.push({ at: link.at, end: link.at + link.text.length, make: () => ({ kind: 'link', text: link.text, href: link.href }) });
    if (strong !== null) {
      const inner = strong[1] ?? '';
      candidates.push({ at: strong.index, end: strong.index + strong[0].length, make: () => ({ kind: 'strong', children: spans(inner) }) });
    }
    if (em !== null) {
      const inner = em[1] ?? '';
      candidates.push({ at: em.index, end: em.index + em[0].length, make: () => ({ kind: 'em', children: spans(inner) }) });
    }
    // Earliest first; at the same place a link beats emphasis, strong beats emphasis (the order pushed).
    const next = candidates.reduce<(typeof candidates)[number] | null>((best, c) => (best === null || c.at < best.at ? c : best), null);
    if (next === null) {
      pushText(out, rest);
      return;
    }
    pushText(out, rest.slice(0, next.at));
    out.push(next.make());
    rest = rest.slice(next.end);
  }
}

function spans(text: string): Inline[] {
  const out: Inline[] = [];
  pushSpans(out, text);
  return out;
}

function pushText(out: Inline[], text: string): void {
  if (text === '') return;
  const previous = out[out.length - 1];
  if (previous?.kind === 'text') previous.text += text;
  else out.push({ kind: 'text', text });
}

/** The first link in `text`, trimmed of what ends a sentence; null when none. */
export function findLink(text: string): { at: number; text: string; href: string } | null {
  const pattern = new RegExp(LINK.source, 'giu');
  for (const match of text.matchAll(pattern)) {
    let candidate = match[0].replace(TRAILING_PUNCTUATION, '');
    // A closing bracket belongs to the URL only if it opened one: "(see http://x/a_(b))".
    while (/[)\]]$/.test(candidate) && !balanced(candidate)) candidate = candidate.slice(0, -1).replace(TRAILING_PUNCTUATION, '');
    const www = /^www\./i.test(candidate);
    // "www." alone, or a host without a dot after it, is not a link.
    if (www && !/^www\.[\p{L}\p{N}-]+\.[\p{L}\p{N}]/iu.test(candidate)) continue;
    let href: string;
    try {
      const url = new URL(www ? `https://${candidate}` : candidate);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
      href = url.href;
    } catch {
      continue;
    }
    return { at: match.index ?? 0, text: candidate, href };
  }
  return null;
}

function balanced(s: string): boolean {
  const close = s.at(-1) === ')' ? ')' : ']';
  const open = close === ')' ? '(' : '[';
  let depth = 0;
  for (const c of s) {
    if (c === open) depth++;
    else if (c === close) depth--;
  }
  return depth >= 0;
}

/** The text without its formatting marks: for reply quotes and notifications. */
export function plainText(nodes: readonly Inline[]): string {
  return nodes
    .map((node) => {
      switch (node.kind) {
        case 'em':
        case 'strong':
          return plainText(node.children);
        default:
          return node.text;
      }
    })
    .join('');
}
