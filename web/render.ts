/**
 * Builds the elements of the message log and member list. Every piece of
 * user text (nicknames, messages, notices, server text) is set with
 * textContent or createTextNode; nothing here parses HTML, and the only
 * URLs put in attributes are http(s) links checked by markup.ts.
 */
import type { EntryEvent, MemberInfo } from '../src/chat/messages.js';
import type { OutboxItem } from '../src/client/session.js';
import { el } from './dom.js';
import { formatFullTime, formatTime, mentions, nickColour, parseHelp, pendingText, shouldCollapse, snippet } from './format.js';
import { type Inline, parseMarkup, plainText } from './markup.js';

/** Colours an element by nickname: one of the palette's colours (styles.css, `[data-c]`). */
export function colourByNick(node: HTMLElement, nick: string): void {
  node.dataset.c = String(nickColour(nick));
}

function timeElement(ts: number): HTMLTimeElement {
  const time = el('time', 'ts', formatTime(ts));
  time.dateTime = new Date(ts).toISOString();
  time.title = formatFullTime(ts);
  return time;
}

/**
 * A nickname: a button that puts a mention of it in the composer
 * (room.ts listens on the log and the member list for `.nick[data-nick]`).
 */
export function nickElement(nick: string, className = 'nick'): HTMLButtonElement {
  const button = el('button', className, nick);
  button.type = 'button';
  button.dataset.nick = nick;
  button.title = `Mention ${nick}`;
  colourByNick(button, nick);
  return button;
}

/** Formatted message text: code, code blocks, emphasis, strong, links; the rest as text nodes. */
export function renderMarkup(parent: HTMLElement, nodes: readonly Inline[]): void {
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        parent.append(document.createTextNode(node.text));
        break;
      case 'code':
        parent.append(el('code', 'inline-code', node.text));
        break;
      case 'pre': {
        const pre = el('pre', 'code-block');
        const code = el('code', undefined, node.text);
        if (node.lang !== undefined) code.dataset.lang = node.lang;
        pre.append(code);
        parent.append(pre);
        break;
      }
      case 'em':
      case 'strong': {
        const span = el(node.kind);
        renderMarkup(span, node.children);
        parent.append(span);
        break;
      }
      case 'link': {
        const a = el('a', undefined, node.text);
        a.href = node.href;
        a.target = '_blank';
        a.rel = 'noopener noreferrer nofollow ugc';
        parent.append(a);
        break;
      }
    }
  }
}

/** The `.text` of a message: its formatted text, collapsed when long (with "Show more" after it). */
function textElement(text: string): HTMLSpanElement {
  const span = el('span', 'text');
  renderMarkup(span, parseMarkup(text));
  return span;
}

/** What a reply's quote shows: the entry answered, as the log has it now (or only its author). */
export interface QuoteInfo {
  seq: number;
  nick: string;
  /** The answered entry's text now; null when it is not in the log (older than what was loaded). */
  text: string | null;
  deleted: boolean;
}

/** The line above a reply: "↪ alice: the first words…", a button that jumps to it when it is in the log. */
export function renderQuote(quote: QuoteInfo): HTMLButtonElement {
  const button = el('button', 'reply-quote');
  button.type = 'button';
  button.dataset.seq = String(quote.seq);
  fillQuote(button, quote);
  return button;
}

/** (Re)writes a quote, after the entry it answers was edited or deleted. */
export function fillQuote(button: HTMLButtonElement, quote: QuoteInfo): void {
  const who = el('span', 'quote-nick', quote.nick);
  colourByNick(who, quote.nick);
  const what = quote.deleted ? 'message deleted' : quote.text === null ? 'an earlier message' : snippet(plainText(parseMarkup(quote.text)));
  button.replaceChildren('↪ ', who, ': ', el('span', 'quote-text', what));
  button.disabled = quote.text === null || quote.deleted;
  button.title = button.disabled ? '' : 'Show the message this answers';
}

export interface EntryContext {
  /** Our nickname now. */
  me: string;
  /** The entry is one of ours (acknowledged with this seq, or sent under our current nickname). */
  own: boolean;
  /** For a reply: the entry it answers, as the log has it. */
  quote?: QuoteInfo;
}

/** The parts of an entry line the log updates later (edits, deletions). */
function contentOf(li: HTMLElement): HTMLElement | null {
  return li.querySelector<HTMLElement>(':scope > .content');
}

/**
 * Fills a message's or action's content: quote, text (collapsed when long),
 * "(edited)". Called again when the author edits it.
 */
export function fillContent(li: HTMLElement, entry: EntryEvent, quote?: QuoteInfo): void {
  const content = contentOf(li);
  if (content === null || (entry.type !== 'message' && entry.type !== 'action')) return;
  const parts: HTMLElement[] = [];
  if (quote !== undefined) parts.push(renderQuote(quote));
  let text: HTMLSpanElement;
  if (entry.type === 'action') {
    text = el('span', 'text');
    text.append('* ', nickElement(entry.nick), ' ');
    renderMarkup(text, parseMarkup(entry.text));
  } else {
    text = textElement(entry.text);
  }
  parts.push(text);
  if (entry.edited !== undefined) {
    const edited = el('span', 'edited', '(edited)');
    edited.title = `Edited ${formatFullTime(entry.edited)}`;
    parts.push(edited);
  }
  if (shouldCollapse(entry.text)) {
    text.classList.add('collapsed');
    const more = el('button', 'link-button show-more', 'Show more');
    more.type = 'button';
    more.setAttribute('aria-expanded', 'false');
    more.addEventListener('click', () => {
      const collapsed = text.classList.toggle('collapsed');
      more.textContent = collapsed ? 'Show more' : 'Show less';
      more.setAttribute('aria-expanded', String(!collapsed));
    });
    parts.push(more);
  }
  content.replaceChildren(...parts);
}

/** One room entry as a log line. Edits are not lines (the log applies them); tombstones show "message deleted". */
export function renderEntry(entry: EntryEvent, context: EntryContext): HTMLLIElement {
  const li = el('li', `entry ${entry.type}`);
  li.dataset.seq = String(entry.seq);
  li.append(timeElement(entry.ts));
  switch (entry.type) {
    case 'message':
    case 'action': {
      if (entry.type === 'message') li.append(nickElement(entry.nick));
      li.dataset.nick = entry.nick;
      li.dataset.ts = String(entry.ts);
      li.append(el('div', 'content'));
      fillContent(li, entry, context.quote);
      if (context.quote !== undefined) li.classList.add('reply');
      if (context.own) li.classList.add('own');
      else if (mentions(entry.text, context.me)) li.classList.add('mention');
      break;
    }
    case 'notice':
      li.append(el('span', 'text', entry.text));
      li.classList.add(`notice-${entry.event}`);
      break;
    case 'admin':
      li.append(el('span', 'nick', entry.nick), textElement(entry.text));
      break;
    case 'deleted':
      li.append(el('span', 'text', 'message deleted'));
      break;
    case 'edit':
      li.hidden = true;
      break;
  }
  return li;
}

/** Turns a line into the placeholder of a deleted message (`by`: who, when not its author). */
export function markDeleted(li: HTMLElement, by: string | null): void {
  const ts = li.querySelector('.ts');
  li.className = 'entry deleted';
  delete li.dataset.nick;
  li.replaceChildren(...(ts === null ? [] : [ts]), el('span', 'text', by === null ? 'message deleted' : `message deleted by ${by}`));
}

/** A line the client shows that is not a room entry: command output, errors. `/help` becomes a two-column list. */
export function renderLocal(kind: 'info' | 'error', text: string): HTMLLIElement {
  const li = el('li', `entry local ${kind}`);
  const help = kind === 'info' ? parseHelp(text) : null;
  if (help === null) {
    li.append(timeElement(Date.now()), el('span', 'text', text));
  } else {
    const body = el('div', 'text help-list');
    const list = el('dl');
    for (const row of help.rows) list.append(el('dt', undefined, row.usage), el('dd', undefined, row.help));
    body.append(el('p', 'help-title', help.title), list, ...help.notes.map((n) => el('p', 'help-note', n)));
    li.append(timeElement(Date.now()), body);
  }
  if (kind === 'error') li.setAttribute('role', 'alert');
  return li;
}

export function renderDay(label: string): HTMLLIElement {
  const li = el('li', 'divider day');
  li.setAttribute('role', 'separator');
  li.append(el('span', undefined, label));
  return li;
}

/** "New messages" (this visit, while away), or "New since your last visit". */
export function renderMarker(text = 'New messages', className = 'marker'): HTMLLIElement {
  const li = el('li', `divider ${className}`);
  li.setAttribute('role', 'separator');
  li.append(el('span', undefined, text));
  return li;
}

/** An own message awaiting its ack. */
export function renderPending(item: OutboxItem, me: string, waiting: boolean): HTMLLIElement {
  const shown = pendingText(item.text);
  const li = el('li', `entry ${shown.action ? 'action' : 'message'} own pending`);
  li.dataset.id = item.id;
  li.append(timeElement(Date.now()));
  if (shown.action) {
    const text = el('span', 'text');
    text.append('* ', nickElement(me), ' ');
    renderMarkup(text, parseMarkup(shown.text));
    li.append(text);
  } else {
    li.append(nickElement(me), textElement(shown.text));
  }
  li.append(el('span', 'delivery', waiting ? 'Waiting for connection…' : 'Sending…'));
  return li;
}

/** Sets the delivery label of a pending line. */
export function setDelivery(li: HTMLElement, text: string): void {
  const label = li.querySelector('.delivery');
  if (label) label.textContent = text;
}

/** Turns a pending line into a failed one, with its reason and buttons. */
export function markFailed(li: HTMLElement, reason: string, onRetry: (() => void) | null, onDismiss: () => void): void {
  li.classList.remove('pending');
  li.classList.add('failed');
  setDelivery(li, `Not sent: ${reason}`);
  const actions = el('span', 'failed-actions');
  if (onRetry !== null) {
    const retry = el('button', 'link-button', 'Retry');
    retry.type = 'button';
    retry.addEventListener('click', onRetry);
    actions.append(retry);
  }
  const dismiss = el('button', 'link-button', 'Dismiss');
  dismiss.type = 'button';
  dismiss.addEventListener('click', onDismiss);
  actions.append(dismiss);
  li.append(actions);
}

/** One line of the member list. */
export function renderMember(member: MemberInfo, me: string): HTMLLIElement {
  const li = el('li', member.away ? 'member away' : 'member');
  const dot = el('span', 'presence');
  dot.setAttribute('aria-hidden', 'true');
  li.append(dot, nickElement(member.nick));
  if (member.nick === me) li.append(el('span', 'tag', 'you'));
  if (member.role !== undefined) li.append(el('span', 'tag', member.role));
  if (member.away) {
    li.append(el('span', 'tag', 'away'));
    li.title = `${member.nick} lost their connection; their nickname is held for a while`;
  }
  return li;
}
