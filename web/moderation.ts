/**
 * What the browser shows of a room's moderation and privacy: the topic, the
 * owner key (kept in this browser, sent with every join), invite links (the
 * one we were given, in the URL's fragment; the ones we make), a password
 * field when the room asks for one, and why we were removed. Deleted
 * entries are the log's (log.ts: "message deleted"). RoomPage (room.ts)
 * calls in here.
 */
import type { EntryEvent, InviteEvent } from '../src/chat/messages.js';
import type { ChatSession, EndReason } from '../src/client/session.js';
import { byId, el, show } from './dom.js';
import { loadOwnerKey, saveOwnerKey } from './storage.js';

/** What a join carries for moderation: our owner key, an invite from the link we came with. */
export interface JoinExtras {
  ownerKey?: string;
  invite?: string;
}

/** How a session that ended for a moderation reason is shown; null for the other reasons. */
export interface EndView {
  text: string;
  /** `rejoin`: "Join again" may work; `home`: it would not (banned, denied). */
  action: 'rejoin' | 'home';
}

const INVITE_FRAGMENT = /^#invite=([A-Za-z0-9_-]{8,64})$/;

export class ModerationView {
  readonly #room: string;
  readonly #topic: HTMLParagraphElement;
  readonly #passwordRow: HTMLElement;
  readonly #passwordInput: HTMLInputElement;
  readonly #append: (li: HTMLLIElement) => void;
  readonly #toast: (text: string) => void;
  /** The invite of the link this page was opened with, until a join uses it. */
  #invite: string | undefined;

  constructor(room: string, hooks: { append(li: HTMLLIElement): void; toast(text: string): void }) {
    this.#room = room;
    this.#topic = byId('topic', HTMLParagraphElement);
    this.#passwordRow = byId('password-row', HTMLDivElement);
    this.#passwordInput = byId('password-input', HTMLInputElement);
    this.#append = hooks.append;
    this.#toast = hooks.toast;
    // An invite link is /r/ROOM#invite=CODE: the fragment never reaches a server's logs.
    const match = INVITE_FRAGMENT.exec(location.hash);
    if (match) {
      this.#invite = match[1];
      history.replaceState(null, '', location.pathname + location.search);
    }
  }

  /** What the next join sends. */
  joinExtras(): JoinExtras {
    const ownerKey = loadOwnerKey(this.#room) ?? undefined;
    return { ...(ownerKey === undefined ? {} : { ownerKey }), ...(this.#invite === undefined ? {} : { invite: this.#invite }) };
  }

  /** Follows a new session. */
  attach(session: ChatSession): void {
    session.on('welcome', (welcome) => {
      // The invite got us in (or was not needed): it is used up either way.
      this.#invite = undefined;
      if (welcome.ownerKey !== undefined) {
        saveOwnerKey(this.#room, welcome.ownerKey);
        this.#toast('You made this room: you are its owner (this browser remembers it).');
      }
      this.#showTopic(welcome.topic);
    });
    session.on('role', (_role, ownerKey) => {
      if (ownerKey !== undefined) saveOwnerKey(this.#room, ownerKey);
    });
    session.on('invite', (invite) => this.#showInvite(invite));
  }

  /** Called for every entry before it is shown: a topic notice changes the topic line. */
  onEntry(entry: EntryEvent): void {
    if (entry.type === 'notice' && entry.event === 'mod' && entry.action === 'topic') this.#showTopic(entry.topic ?? null);
  }

  /** Shows or hides the password field of the join dialog; its value when shown. */
  askPassword(ask: boolean): void {
    show(this.#passwordRow, ask);
    this.#passwordInput.value = '';
    this.#passwordInput.required = ask;
  }

  /** The password typed, when the field shows; null otherwise. */
  password(): string | null {
    return this.#passwordRow.hidden ? null : this.#passwordInput.value;
  }

  /** The banner of a session ended by moderation. */
  endView(reason: EndReason, text: string): EndView | null {
    switch (reason) {
      case 'kicked':
        return { text, action: 'rejoin' };
      case 'banned':
        return { text: `${text} You cannot join again while the ban lasts.`, action: 'home' };
      case 'denied':
        // The server's reason, as a sentence: "This room is locked: ...".
        return { text: `${text.charAt(0).toUpperCase()}${text.slice(1)}.`, action: 'home' };
      default:
        return null;
    }
  }

  #showTopic(topic: string | null): void {
    this.#topic.textContent = topic ?? '';
    this.#topic.title = topic ?? '';
    show(this.#topic, topic !== null && topic !== '');
  }

  #showInvite(invite: InviteEvent): void {
    const link = `${location.origin}/r/${encodeURIComponent(invite.room)}#invite=${invite.code}`;
    const li = el('li', 'entry local info invite');
    const until = new Date(invite.expiresAt).toLocaleString();
    const text = el('span', 'text', `Invite link (lets one person in, once, until ${until}): `);
    const code = el('code', 'invite-link', link);
    const copy = el('button', 'link-button', 'Copy');
    copy.type = 'button';
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(link).then(
        () => this.#toast('Invite link copied.'),
        () => this.#toast(`Copy this link: ${link}`),
      );
    });
    text.append(code, ' ', copy);
    li.append(el('span', 'ts'), text);
    this.#append(li);
  }
}
