/**
 * Builds the elements of the message log and member list. Every piece of
 * user text (nicknames, messages, notices, server text) is set with
 * textContent or createTextNode; nothing here parses HTML.
 */
import type { EntryEvent, MemberInfo } from '../src/chat/messages.js';
import type { OutboxItem } from '../src/client/session.js';
import { el } from './dom.js';
import { formatFullTime, formatTime, linkify, mentions, nickHue, pendingText } from './format.js';

/** Colours an element by nickname: styles.css reads the hue from --hue (set through CSSOM, which the CSP allows). */
export function colourByNick(node: HTMLElement, nick: string): void {
  node.style.setProperty('--hue', String(nickHue(nick)));
}

function timeElement(ts: number): HTMLTimeElement {
  const time = el('time', 'ts', formatTime(ts));
  time.dateTime = new Date(ts).toISOString();
  time.title = formatFullTime(ts);
  return time;
}

function nickElement(nick: string, className = 'nick'): HTMLSpanElement {
  const span = el('span', className, nick);
  colourByNick(span, nick);
  return span;
}

/** Message text with http(s) links made clickable. */
function textElement(text: string): HTMLSpanElement {
  const span = el('span', 'text');
  for (const segment of linkify(text)) {
    if (segment.href === undefined) {
      span.append(document.createTextNode(segment.text));
    } else {
      const a = el('a', undefined, segment.text);
      a.href = segment.href;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow ugc';
      span.append(a);
    }
  }
  return span;
}

export interface EntryContext {
  /** Our nickname now. */
  me: string;
  /** The entry is one of ours (acknowledged with this seq, or sent under our current nickname). */
  own: boolean;
}

/** One room entry as a log line. */
export function renderEntry(entry: EntryEvent, context: EntryContext): HTMLLIElement {
  const li = el('li', `entry ${entry.type}`);
  li.dataset.seq = String(entry.seq);
  li.append(timeElement(entry.ts));
  switch (entry.type) {
    case 'message': {
      li.append(nickElement(entry.nick), textElement(entry.text));
      if (context.own) li.classList.add('own');
      else if (mentions(entry.text, context.me)) li.classList.add('mention');
      break;
    }
    case 'action': {
      const text = el('span', 'text');
      text.append('* ', nickElement(entry.nick), ' ', ...textElement(entry.text).childNodes);
      li.append(text);
      if (context.own) li.classList.add('own');
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
      // Tombstones are not shown (room.ts skips them); a deleted entry has nothing left to show.
      li.hidden = true;
      break;
  }
  return li;
}

/** A line the client shows that is not a room entry: command output, errors. */
export function renderLocal(kind: 'info' | 'error', text: string): HTMLLIElement {
  const li = el('li', `entry local ${kind}`);
  li.append(timeElement(Date.now()), el('span', 'text', text));
  if (kind === 'error') li.setAttribute('role', 'alert');
  return li;
}

export function renderDay(label: string): HTMLLIElement {
  const li = el('li', 'divider day');
  li.setAttribute('role', 'separator');
  li.append(el('span', undefined, label));
  return li;
}

export function renderMarker(): HTMLLIElement {
  const li = el('li', 'divider marker');
  li.setAttribute('role', 'separator');
  li.append(el('span', undefined, 'New messages'));
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
    text.append('* ', nickElement(me), ' ', ...textElement(shown.text).childNodes);
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
export function markFailed(li: HTMLElement, reason: string, onRetry: () => void, onDismiss: () => void): void {
  li.classList.remove('pending');
  li.classList.add('failed');
  setDelivery(li, `Not sent: ${reason}`);
  const actions = el('span', 'failed-actions');
  const retry = el('button', 'link-button', 'Retry');
  retry.type = 'button';
  retry.addEventListener('click', onRetry);
  const dismiss = el('button', 'link-button', 'Dismiss');
  dismiss.type = 'button';
  dismiss.addEventListener('click', onDismiss);
  actions.append(retry, dismiss);
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
