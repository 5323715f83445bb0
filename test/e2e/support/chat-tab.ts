/**
 * One browser tab on a room page of the web client (web/room.ts), driven the
 * way a person would: type a nickname into the dialog, type a line and press
 * Enter. Reads what the page shows: the log (#log), the pending list
 * (#pending), the member list (#member-list) and the status (#status).
 *
 * The functions passed to page.evaluate / waitForFunction run in the browser:
 * they are serialised with toString(), so they must be self-contained and must
 * not declare named inner functions (tsx wraps those in a `__name` helper that
 * does not exist in the page).
 */
import type { BrowserContext, Page } from 'playwright-core';
import { PageWatch } from './browser.js';

// The few DOM shapes the in-page functions use (this tsconfig has no DOM lib).
interface DomElement {
  readonly className: string;
  readonly textContent: string | null;
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { contains(name: string): boolean };
  querySelector(selector: string): DomElement | null;
}
declare const document: {
  querySelector(selector: string): DomElement | null;
  querySelectorAll(selector: string): Iterable<DomElement> & ArrayLike<DomElement>;
};

/** A line of the log as the page shows it. */
export interface LogEntry {
  /** The room's sequence number (absent on local lines such as command output). */
  seq: number | null;
  /** message, action, notice, admin, or local. */
  type: string;
  /** The class list, e.g. "entry message own". */
  classes: string;
  /** The sender as shown (null on notices). */
  nick: string | null;
  /** The text as shown; the text content, so markup would show up literally. */
  text: string | null;
}

/** In the page: the log's lines. */
function readLog(): LogEntry[] {
  return Array.from(document.querySelectorAll('#log > li.entry'), (li) => ({
    seq: li.dataset.seq === undefined ? null : Number(li.dataset.seq),
    type: ['message', 'action', 'notice', 'admin', 'local'].find((t) => li.classList.contains(t)) ?? '',
    classes: li.className,
    nick: li.querySelector('.nick')?.textContent ?? null,
    text: li.querySelector('.text')?.textContent ?? null,
  }));
}

interface EntryQuery {
  type: string;
  /** null: any sender. */
  nick: string | null;
  /** The exact text, or with `pattern` a regular expression's source. */
  text: string;
  pattern: boolean;
}

/** In the page: whether the log holds a line like `want`. */
function logHas(want: EntryQuery): boolean {
  const re = want.pattern ? new RegExp(want.text, 'u') : null;
  return Array.from(document.querySelectorAll('#log > li.entry')).some((li) => {
    if (!li.classList.contains(want.type)) return false;
    if (want.nick !== null && li.querySelector('.nick')?.textContent !== want.nick) return false;
    const text = li.querySelector('.text')?.textContent ?? '';
    return re ? re.test(text) : text === want.text;
  });
}

/** In the page: whether the member list shows exactly these nicknames (any order). */
function membersAre(want: string[]): boolean {
  const shown = Array.from(document.querySelectorAll('#member-list > li.member .nick'), (n) => n.textContent ?? '');
  return shown.length === want.length && want.every((nick) => shown.includes(nick));
}

/** In the page: the nicknames in the member list, in display order. */
function readMembers(): string[] {
  return Array.from(document.querySelectorAll('#member-list > li.member .nick'), (n) => n.textContent ?? '');
}

/** In the page: the own lines still waiting in #pending (text and delivery label). */
function readPending(): { classes: string; text: string | null; delivery: string | null }[] {
  return Array.from(document.querySelectorAll('#pending > li'), (li) => ({
    classes: li.className,
    text: li.querySelector('.text')?.textContent ?? null,
    delivery: li.querySelector('.delivery')?.textContent ?? null,
  }));
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

export type Status = 'connecting' | 'online' | 'offline' | 'ended';

export class ChatTab {
  readonly watch: PageWatch;

  private constructor(
    readonly page: Page,
    readonly label: string,
  ) {
    this.watch = new PageWatch(page, label);
  }

  /** Opens `<baseUrl>/r/<room>` in a new page of `context`; the nickname dialog is showing. */
  static async open(context: BrowserContext, baseUrl: string, room: string, label: string): Promise<ChatTab> {
    const tab = new ChatTab(await context.newPage(), label);
    await tab.page.goto(`${baseUrl}/r/${room}`);
    return tab;
  }

  /** Types a nickname into the join dialog and submits it with Enter; does not wait for the answer. */
  async submitNick(nick: string): Promise<void> {
    await this.page.locator('#nick-dialog[open]').waitFor();
    await this.page.fill('#nick-input', nick);
    await this.page.press('#nick-input', 'Enter');
  }

  /** Joins with `nick` and waits until the page is online with the dialog closed. */
  async join(nick: string): Promise<void> {
    await this.submitNick(nick);
    await this.page.locator('#nick-dialog:not([open])').waitFor({ state: 'attached' });
    await this.waitForStatus('online');
    // Attached, not visible: a phone's header keeps the nickname in its menu.
    await this.page.locator('#me:not([hidden])').waitFor({ state: 'attached' });
  }

  /** Waits for a refusal matching `pattern` in the join dialog (not the "Joining…" progress line); its text. */
  async nickError(pattern: RegExp): Promise<string> {
    const error = this.page.locator('#nick-dialog[open] #nick-error:not([hidden]):not(.progress)', { hasText: pattern });
    await error.waitFor();
    return (await error.textContent()) ?? '';
  }

  /** Types `text` into the composer and presses Enter. */
  async send(text: string): Promise<void> {
    await this.page.fill('#input', text);
    await this.page.press('#input', 'Enter');
  }

  async waitForStatus(state: Status, timeout?: number): Promise<void> {
    await this.page.locator(`#status[data-state="${state}"]`).waitFor({ state: 'attached', timeout });
  }

  async status(): Promise<string | null> {
    return this.page.locator('#status').getAttribute('data-state');
  }

  /** Waits for a chat line from `nick` (any sender when null) with exactly `text`. */
  async waitForMessage(nick: string | null, text: string, timeout?: number): Promise<void> {
    const want: EntryQuery = { type: 'message', nick, text, pattern: false };
    await this.page.waitForFunction(logHas, want, { timeout, polling: 50 });
  }

  /** Waits for a notice whose text matches `pattern` (a string matches from its start). */
  async waitForNotice(pattern: string | RegExp, timeout?: number): Promise<void> {
    const source = typeof pattern === 'string' ? `^${escapeRegExp(pattern)}` : pattern.source;
    const want: EntryQuery = { type: 'notice', nick: null, text: source, pattern: true };
    await this.page.waitForFunction(logHas, want, { timeout, polling: 50 });
  }

  /** Waits until the member list shows exactly `nicks`. */
  async waitForMembers(nicks: string[], timeout?: number): Promise<void> {
    await this.page.waitForFunction(membersAre, nicks, { timeout, polling: 50 });
  }

  /** Waits until no own line is waiting for its acknowledgement. */
  async waitForNothingPending(timeout?: number): Promise<void> {
    await this.page.locator('#pending > li').first().waitFor({ state: 'detached', timeout });
  }

  log(): Promise<LogEntry[]> {
    return this.page.evaluate(readLog);
  }

  members(): Promise<string[]> {
    return this.page.evaluate(readMembers);
  }

  pending(): Promise<{ classes: string; text: string | null; delivery: string | null }[]> {
    return this.page.evaluate(readPending);
  }
}
