/**
 * The message log (#log): room entries by seq, day separators, the "new"
 * markers, local lines (command output, errors, failed sends), and what
 * later entries do to earlier ones: an author's edit replaces a message's
 * text, a deletion turns it into "message deleted", replies quote what they
 * answer as it is now. Runs of join and leave notices are folded into one
 * line that opens on a click.
 */
import type { EntryEvent, NoticeEvent } from '../src/chat/messages.js';
import { el } from './dom.js';
import { dayKey, dayLabel, type PresenceNotice, summarizePresence } from './format.js';
import { type EntryContext, fillContent, fillQuote, markDeleted, type QuoteInfo, renderDay, renderEntry, renderMarker } from './render.js';

/** Consecutive join and leave notices from this many on are folded into one line. */
export const FOLD_AFTER = 3;

/** Leave reasons that are comings and goings (kicks and bans are moderation: they stay lines). */
const PLAIN_LEAVES: ReadonlySet<string | undefined> = new Set([undefined, 'quit', 'lost', 'moved']);

interface Shown {
  li: HTMLLIElement;
  entry: EntryEvent;
}

interface PresenceRun {
  items: { li: HTMLLIElement; notice: PresenceNotice }[];
  summary: HTMLLIElement | null;
}

export class LogView {
  readonly #log: HTMLOListElement;
  /** Lines of entries by seq (messages, actions, notices, console lines, tombstones). */
  readonly #shown = new Map<number, Shown>();
  #lastDay: string | null = null;
  #run: PresenceRun | null = null;

  constructor(log: HTMLOListElement) {
    this.#log = log;
  }

  clear(): void {
    this.#log.replaceChildren();
    this.#shown.clear();
    this.#lastDay = null;
    this.#run = null;
  }

  /** The line of entry `seq`, if shown. */
  line(seq: number): HTMLLIElement | undefined {
    return this.#shown.get(seq)?.li;
  }

  /** The entry `seq` as shown now (with its edits), if it is in the log. */
  entry(seq: number): EntryEvent | undefined {
    return this.#shown.get(seq)?.entry;
  }

  /** What a reply to `seq` quotes. */
  quote(seq: number, nick: string): QuoteInfo {
    const shown = this.#shown.get(seq)?.entry;
    if (shown === undefined) return { seq, nick, text: null, deleted: false };
    if (shown.type === 'deleted') return { seq, nick, text: '', deleted: true };
    return { seq, nick, text: shown.type === 'message' || shown.type === 'action' || shown.type === 'admin' ? shown.text : null, deleted: false };
  }

  /** Shown entries, newest first, that match `test`. */
  *newestFirst(): Generator<EntryEvent> {
    const seqs = [...this.#shown.keys()].sort((a, b) => b - a);
    for (const seq of seqs) {
      const shown = this.#shown.get(seq);
      if (shown !== undefined) yield shown.entry;
    }
  }

  /**
   * Adds a room entry. Edit entries change an earlier line and add none;
   * a deletion notice whose message is shown changes that line instead of
   * adding one. Returns the line added, or null.
   */
  add(entry: EntryEvent, context: Omit<EntryContext, 'quote'>): HTMLLIElement | null {
    if (entry.type === 'edit') {
      this.applyEdit(entry.edits, entry.text, entry.ts);
      return null;
    }
    if (entry.type === 'notice' && entry.event === 'mod' && entry.action === 'delete' && entry.deleted !== undefined) {
      const target = this.#shown.get(entry.deleted);
      if (target !== undefined) {
        // The placeholder says it; who did it shows when it was not the author.
        const author = target.entry.type === 'message' || target.entry.type === 'action' ? target.entry.nick : null;
        this.applyDelete(entry.deleted, author === entry.by ? null : (entry.by ?? null));
        return null;
      }
    }
    const quote = (entry.type === 'message' || entry.type === 'action') && entry.replyTo !== undefined ? this.quote(entry.replyTo, entry.replyNick ?? '') : undefined;
    const li = renderEntry(entry, quote === undefined ? context : { ...context, quote });
    this.#dayDivider(entry.ts);
    this.#shown.set(entry.seq, { li, entry });
    const presence = presenceOf(entry);
    if (presence === null) this.append(li);
    else this.#appendPresence(li, presence);
    return li;
  }

  /** Appends a line that is not an entry (a marker, command output, a failed send): it ends a run of comings and goings. */
  append(li: HTMLLIElement): void {
    this.#run = null;
    this.#log.append(li);
  }

  /** A separator before the first line of each calendar day. */
  #dayDivider(ts: number): void {
    const day = dayKey(ts);
    if (day === this.#lastDay) return;
    this.#lastDay = day;
    this.append(renderDay(dayLabel(ts, Date.now())));
  }

  /** Adds a "New messages" style marker; returns it. */
  marker(text: string, className: string): HTMLLIElement {
    const li = renderMarker(text, className);
    this.append(li);
    return li;
  }

  /** Puts a marker right before the line of `seq`. */
  markerBefore(seq: number, text: string, className: string): HTMLLIElement | null {
    const target = this.#shown.get(seq)?.li;
    if (target === undefined) return null;
    const li = renderMarker(text, className);
    // Before the folded run the line belongs to, if any.
    const anchor = target.classList.contains('folded') ? this.#summaryBefore(target) ?? target : target;
    anchor.before(li);
    return li;
  }

  #summaryBefore(li: HTMLLIElement): HTMLLIElement | null {
    for (let node = li.previousElementSibling; node !== null; node = node.previousElementSibling) {
      if (node.classList.contains('presence-summary')) return node as HTMLLIElement;
    }
    return null;
  }

  /** The author changed entry `seq`: its text, "(edited)", and the quotes of replies to it. */
  applyEdit(seq: number, text: string, ts: number): void {
    // An empty text: a later edit or a deletion superseded this one.
    if (text === '') return;
    const shown = this.#shown.get(seq);
    if (shown === undefined || (shown.entry.type !== 'message' && shown.entry.type !== 'action')) return;
    shown.entry = { ...shown.entry, text, edited: ts };
    const quote = shown.entry.replyTo === undefined ? undefined : this.quote(shown.entry.replyTo, shown.entry.replyNick ?? '');
    fillContent(shown.li, shown.entry, quote);
    this.#refreshQuotes(seq);
  }

  /** Entry `seq` was deleted: its line says so. */
  applyDelete(seq: number, by: string | null): void {
    const shown = this.#shown.get(seq);
    if (shown === undefined) return;
    shown.entry = { type: 'deleted', seq, ts: shown.entry.ts, nick: '', text: '' };
    markDeleted(shown.li, by);
    this.#refreshQuotes(seq);
  }

  #refreshQuotes(seq: number): void {
    for (const button of this.#log.querySelectorAll<HTMLButtonElement>(`.reply-quote[data-seq="${seq}"]`)) {
      const nick = button.querySelector('.quote-nick')?.textContent ?? '';
      fillQuote(button, this.quote(seq, nick));
    }
  }

  /**
   * Join and leave notices: from FOLD_AFTER in a row, the lines are folded
   * under one summary line ("alice and bob joined; carol left"), which
   * shows them again when clicked. They stay in the log (hidden), in order.
   */
  #appendPresence(li: HTMLLIElement, notice: PresenceNotice): void {
    const run = this.#run ?? { items: [], summary: null };
    this.#log.append(li);
    this.#run = run;
    run.items.push({ li, notice });
    if (run.items.length < FOLD_AFTER) return;
    if (run.summary === null) {
      const summary = el('li', 'presence-summary');
      const button = el('button', 'link-button presence-toggle');
      button.type = 'button';
      button.setAttribute('aria-expanded', 'false');
      button.addEventListener('click', () => {
        const open = summary.classList.toggle('open');
        button.setAttribute('aria-expanded', String(open));
        for (const item of run.items) item.li.classList.toggle('folded', !open);
      });
      summary.append(button);
      run.items[0]?.li.before(summary);
      run.summary = summary;
    }
    const open = run.summary.classList.contains('open');
    for (const item of run.items) item.li.classList.toggle('folded', !open);
    const button = run.summary.querySelector('button');
    if (button !== null) button.textContent = `${summarizePresence(run.items.map((i) => i.notice))} (${run.items.length} notices)`;
  }
}

/** A notice that is a coming or going (folded in runs); null for anything else. */
function presenceOf(entry: EntryEvent): PresenceNotice | null {
  if (entry.type !== 'notice') return null;
  const notice: NoticeEvent = entry;
  if (notice.event === 'join') return { nick: notice.nick, event: 'join' };
  if (notice.event === 'leave' && PLAIN_LEAVES.has(notice.reason)) return { nick: notice.nick, event: 'leave' };
  return null;
}
