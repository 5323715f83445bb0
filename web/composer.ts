/**
 * The composer: the text area and what it does besides sending. Enter
 * sends (Shift+Enter is a new line; an IME's Enter belongs to the IME);
 * "@" offers the members' nicknames and Tab completes one; Up in an empty
 * composer edits your last message; a reply or an edit shows in a bar
 * above it (Escape cancels); typing tells the room, at most every few
 * seconds (ChatSession.typing throttles).
 */
import { byId, el, show } from './dom.js';
import { codePointLength, completionAt, enterAction, insertMention, snippet } from './format.js';
import { colourByNick } from './render.js';

/** The composer grows with its text up to this height, px; then it scrolls. */
const MAX_INPUT_HEIGHT = 200;
/** Nicknames offered at most. */
const MAX_SUGGESTIONS = 8;

export interface ComposerHost {
  /** Sends a line (a reply when `replyTo` is set); false when refused (the text stays). */
  send(text: string, replyTo: number | undefined): boolean;
  /** Sends an edit of an own entry; false when refused. */
  edit(seq: number, text: string): boolean;
  /** The user typed something that is not a command. */
  typing(): void;
  /** The nicknames of the room now. */
  nicks(): string[];
  me(): string;
  /** The user's last message that may still be edited, for Up in an empty composer. */
  lastEditable(): { seq: number; text: string } | null;
  maxMessage(): number | undefined;
}

type Mode = { kind: 'reply'; seq: number } | { kind: 'edit'; seq: number } | null;

export class Composer {
  readonly input: HTMLTextAreaElement;
  readonly #form: HTMLFormElement;
  readonly #send: HTMLButtonElement;
  readonly #counter: HTMLSpanElement;
  readonly #context: HTMLDivElement;
  readonly #contextText: HTMLSpanElement;
  readonly #suggestions: HTMLDivElement;
  readonly #host: ComposerHost;
  #mode: Mode = null;
  /** The word being completed and the nicknames offered for it; null when the list is closed. */
  #offer: { start: number; matches: string[]; selected: number } | null = null;
  /** The text before an edit started, given back when it is cancelled. */
  #draft = '';

  constructor(host: ComposerHost) {
    this.#host = host;
    this.#form = byId('composer', HTMLFormElement);
    this.input = byId('input', HTMLTextAreaElement);
    this.#send = byId('send', HTMLButtonElement);
    this.#counter = byId('counter', HTMLSpanElement);
    this.#context = byId('compose-context', HTMLDivElement);
    this.#contextText = byId('compose-context-text', HTMLSpanElement);
    this.#suggestions = byId('suggestions', HTMLDivElement);
    this.#bind();
  }

  setEnabled(enabled: boolean): void {
    this.input.disabled = !enabled;
    this.#send.disabled = !enabled;
    if (!enabled) {
      this.#closeOffer();
      this.cancelMode();
    }
  }

  focus(): void {
    this.input.focus();
  }

  setPlaceholder(text: string): void {
    this.input.placeholder = text;
  }

  /** Answer entry `seq` of `nick`: the next line sent is a reply to it. */
  reply(seq: number, nick: string, text: string): void {
    if (this.#mode?.kind === 'edit') this.cancelMode();
    this.#mode = { kind: 'reply', seq };
    this.#showContext(`Replying to ${nick}`, snippet(text, 60));
    this.focus();
  }

  /** Edit own entry `seq`: its text goes into the composer; Enter saves, Escape gives the draft back. */
  edit(seq: number, text: string): void {
    if (this.#mode?.kind !== 'edit') this.#draft = this.input.value;
    this.#mode = { kind: 'edit', seq };
    this.#showContext('Editing your message', 'Enter saves · Esc cancels');
    this.input.value = text;
    this.#changed();
    this.focus();
    this.input.setSelectionRange(text.length, text.length);
  }

  /** Leaves reply or edit mode. */
  cancelMode(): void {
    if (this.#mode?.kind === 'edit') {
      this.input.value = this.#draft;
      this.#draft = '';
      this.#changed();
    }
    this.#mode = null;
    show(this.#context, false);
  }

  /** Puts `@nick ` at the caret (a click on a nickname). */
  mention(nick: string): void {
    if (this.input.disabled) return;
    const value = this.input.value;
    const caret = this.input.selectionStart ?? value.length;
    const before = value.slice(0, caret);
    const space = before === '' || /\s$/.test(before) ? '' : ' ';
    const at = caret + space.length;
    const next = insertMention(before + space + value.slice(caret), at, at, nick);
    this.input.value = next.value;
    this.input.setSelectionRange(next.caret, next.caret);
    this.#changed();
    this.focus();
  }

  #showContext(title: string, detail: string): void {
    this.#contextText.replaceChildren(el('strong', undefined, title), ' ', el('span', 'context-detail', detail));
    show(this.#context, true);
  }

  #submit(): void {
    this.#closeOffer();
    const text = this.input.value;
    const mode = this.#mode;
    const ok = mode?.kind === 'edit' ? this.#host.edit(mode.seq, text) : this.#host.send(text, mode?.kind === 'reply' ? mode.seq : undefined);
    if (ok) {
      this.#draft = '';
      this.#mode = null;
      show(this.#context, false);
      this.input.value = '';
      this.#changed();
    }
    this.focus();
  }

  #changed(): void {
    const input = this.input;
    // Inline style through CSSOM: allowed by the CSP (only style attributes in markup are not).
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_INPUT_HEIGHT)}px`;
    const max = this.#host.maxMessage();
    const length = codePointLength(input.value);
    const near = max !== undefined && length > max * 0.9;
    show(this.#counter, near);
    if (near) {
      this.#counter.textContent = `${length} / ${max} · `;
      this.#counter.classList.toggle('over', length > max);
    }
  }

  // ---- nickname completion ----

  /** Offers the nicknames matching the word at the caret when it starts with "@". */
  #updateOffer(): void {
    const caret = this.input.selectionStart ?? 0;
    const found = completionAt(this.input.value, caret, this.#host.nicks(), this.#host.me());
    if (found === null || !found.at || found.matches.length === 0) {
      this.#closeOffer();
      return;
    }
    this.#open(found.start, found.matches);
  }

  #open(start: number, matches: string[]): void {
    this.#offer = { start, matches: matches.slice(0, MAX_SUGGESTIONS), selected: 0 };
    this.#renderOffer();
  }

  #renderOffer(): void {
    const offer = this.#offer;
    if (offer === null) return;
    this.#suggestions.replaceChildren(
      ...offer.matches.map((nick, i) => {
        const li = el('div', 'suggestion', nick);
        li.id = `suggestion-${i}`;
        li.setAttribute('role', 'option');
        li.setAttribute('aria-selected', String(i === offer.selected));
        li.dataset.nick = nick;
        colourByNick(li, nick);
        return li;
      }),
    );
    this.input.setAttribute('aria-activedescendant', `suggestion-${offer.selected}`);
    show(this.#suggestions, true);
  }

  #closeOffer(): void {
    this.#offer = null;
    this.input.removeAttribute('aria-activedescendant');
    show(this.#suggestions, false);
  }

  #accept(nick: string): void {
    const caret = this.input.selectionStart ?? this.input.value.length;
    const start = this.#offer?.start ?? completionAt(this.input.value, caret, [nick], '')?.start ?? caret;
    const next = insertMention(this.input.value, start, caret, nick);
    this.input.value = next.value;
    this.input.setSelectionRange(next.caret, next.caret);
    this.#closeOffer();
    this.#changed();
  }

  /** Tab: completes the word at the caret (with or without "@"): one match at once, several offered. */
  #tab(): boolean {
    const caret = this.input.selectionStart ?? 0;
    if (caret !== this.input.selectionEnd) return false;
    const found = completionAt(this.input.value, caret, this.#host.nicks(), this.#host.me());
    if (found === null || found.matches.length === 0) return false;
    if (found.matches.length === 1) {
      this.#offer = { start: found.start, matches: found.matches, selected: 0 };
      this.#accept(found.matches[0] as string);
    } else {
      this.#open(found.start, found.matches);
    }
    return true;
  }

  #bind(): void {
    const input = this.input;
    this.#form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
    input.addEventListener('keydown', (event) => {
      const offer = this.#offer;
      if (offer !== null) {
        if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
          event.preventDefault();
          const n = offer.matches.length;
          offer.selected = (offer.selected + (event.key === 'ArrowDown' ? 1 : n - 1)) % n;
          this.#renderOffer();
          return;
        }
        if ((event.key === 'Enter' && enterAction(event) === 'send') || event.key === 'Tab') {
          event.preventDefault();
          this.#accept(offer.matches[offer.selected] as string);
          return;
        }
        if (event.key === 'Escape') {
          event.preventDefault();
          this.#closeOffer();
          return;
        }
      }
      if (event.key === 'Tab' && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey) {
        if (this.#tab()) event.preventDefault();
        return;
      }
      if (event.key === 'Escape' && this.#mode !== null) {
        event.preventDefault();
        this.cancelMode();
        return;
      }
      if (event.key === 'ArrowUp' && input.value === '' && this.#mode === null) {
        const last = this.#host.lastEditable();
        if (last !== null) {
          event.preventDefault();
          this.edit(last.seq, last.text);
        }
        return;
      }
      if (enterAction(event) === 'send') {
        event.preventDefault();
        this.#submit();
      }
    });
    input.addEventListener('input', () => {
      this.#changed();
      this.#updateOffer();
      if (input.value.trim() !== '' && !input.value.startsWith('/') && this.#mode?.kind !== 'edit') this.#host.typing();
    });
    input.addEventListener('blur', () => this.#closeOffer());
    // mousedown, not click: the text area keeps the focus (and the caret).
    this.#suggestions.addEventListener('mousedown', (event) => {
      const target = event.target instanceof Element ? event.target.closest<HTMLElement>('[data-nick]') : null;
      if (target?.dataset.nick === undefined) return;
      event.preventDefault();
      this.#accept(target.dataset.nick);
    });
    byId('compose-context-cancel', HTMLButtonElement).addEventListener('click', () => {
      this.cancelMode();
      this.focus();
    });
  }
}
