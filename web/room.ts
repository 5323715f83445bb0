/**
 * The room page: the nickname prompt, the message log (log.ts), the member
 * list, the composer (composer.ts), the connection status, typing, and
 * getting attention in the background (notify.ts), driven by a ChatSession.
 */
import type { EntryEvent, MemberInfo } from '../src/chat/messages.js';
import {
  ChatSession,
  type EndReason,
  type OutboxItem,
  type SessionError,
  type StateDetail,
  type WelcomeInfo,
} from '../src/client/session.js';
import { BASE } from './base.js';
import { Composer } from './composer.js';
import { byId, el, show } from './dom.js';
import {
  checkDraft,
  editable,
  isNearBottom,
  mentions,
  pageTitle,
  roomPath,
  socketUrl,
  sortMembers,
  type StatusState,
  snippet,
  statusShort,
  statusText,
  typingText,
} from './format.js';
import { LogView } from './log.js';
import { plainText, parseMarkup } from './markup.js';
import { ModerationView } from './moderation.js';
import { Attention } from './notify.js';
import { markFailed, renderLocal, renderMember, renderPending, setDelivery } from './render.js';
import { lastNick, loadResume, loadSeen, saveNick, saveResume, saveSeen } from './storage.js';
import { BrowserTransport } from './transport.js';

function elements() {
  return {
    root: byId('room', HTMLDivElement),
    title: byId('room-title', HTMLHeadingElement),
    status: byId('status', HTMLDivElement),
    statusText: byId('status-text', HTMLSpanElement),
    statusShort: byId('status-short', HTMLSpanElement),
    retryNow: byId('retry-now', HTMLButtonElement),
    me: byId('me', HTMLButtonElement),
    copyLink: byId('copy-link', HTMLButtonElement),
    toggleMembers: byId('toggle-members', HTMLButtonElement),
    memberCount: byId('member-count', HTMLSpanElement),
    memberCountSide: byId('member-count-side', HTMLSpanElement),
    members: byId('members', HTMLElement),
    membersOffline: byId('members-offline', HTMLParagraphElement),
    memberList: byId('member-list', HTMLUListElement),
    menuButton: byId('menu-button', HTMLButtonElement),
    menu: byId('menu', HTMLDivElement),
    menuNotify: byId('menu-notify', HTMLButtonElement),
    menuSound: byId('menu-sound', HTMLButtonElement),
    menuCopy: byId('menu-copy', HTMLButtonElement),
    menuNick: byId('menu-nick', HTMLButtonElement),
    scroller: byId('scroller', HTMLDivElement),
    log: byId('log', HTMLOListElement),
    pending: byId('pending', HTMLOListElement),
    jump: byId('jump', HTMLButtonElement),
    banner: byId('banner', HTMLDivElement),
    bannerText: byId('banner-text', HTMLParagraphElement),
    bannerAction: byId('banner-action', HTMLButtonElement),
    typing: byId('typing', HTMLParagraphElement),
    nickDialog: byId('nick-dialog', HTMLDialogElement),
    nickForm: byId('nick-form', HTMLFormElement),
    nickHeading: byId('nick-heading', HTMLHeadingElement),
    nickIntro: byId('nick-intro', HTMLParagraphElement),
    nickInput: byId('nick-input', HTMLInputElement),
    nickError: byId('nick-error', HTMLParagraphElement),
    nickCancel: byId('nick-cancel', HTMLButtonElement),
    toast: byId('toast', HTMLDivElement),
  };
}

type Elements = ReturnType<typeof elements>;

/** How long "alice is typing…" shows after her last signal, ms (she sends one every 3 s while typing). */
const TYPING_SHOWN_MS = 6000;

const END_MESSAGES: Record<EndReason, { text: string; action: string }> = {
  quit: { text: 'You left the room.', action: 'Join again' },
  closed: { text: 'Disconnected.', action: 'Join again' },
  replaced: { text: 'This chat is now open in another tab or window.', action: 'Use it here' },
  policy: { text: 'The server disconnected you', action: 'Join again' },
  'room-invalid': { text: 'This room name is not valid.', action: 'Go home' },
  refused: { text: 'The server refused the connection.', action: 'Try again' },
  // Moderation: the texts come from the server (moderation.ts).
  kicked: { text: 'You were removed from the room.', action: 'Join again' },
  banned: { text: 'You were banned from the room.', action: 'Go home' },
  denied: { text: 'You cannot join this room.', action: 'Go home' },
};

export class RoomPage {
  private readonly ui: Elements;
  private session: ChatSession | null = null;
  /** WebSocket, or the HTTP door where WebSockets are blocked (./transport.ts). */
  private readonly transport = new BrowserTransport(byId('transport', HTMLSpanElement));
  private readonly log: LogView;
  private readonly composer: Composer;
  private readonly attention: Attention;

  private lastRenderedSeq = 0;
  /** Pending lines by client id. */
  private readonly pendingElements = new Map<string, HTMLLIElement>();
  /** Acknowledged pending lines whose entry has not arrived yet, by seq. */
  private readonly awaitingEntry = new Map<number, HTMLLIElement>();
  private readonly ownSeqs = new Set<number>();

  /** Entries that arrived while scrolled up (for the jump button). */
  private unseen = 0;
  private marker: HTMLLIElement | null = null;
  /** A "new messages" marker is in place for the current absence. */
  private markerActive = false;
  /** Between the first welcome and its caughtUp: history, not news. */
  private initialLoad = true;
  /** The first welcome's: entries after this seq are "new since your last visit" (null: none to mark). */
  private visitAfter: number | null = null;
  private visitMarker: HTMLLIElement | null = null;
  private epoch = '';
  /** Whether the log was at its bottom before the last change of size (a banner, the keyboard). */
  private pinned = true;

  private state: StatusState = 'idle';
  private retryAt: number | null = null;
  private statusTimer: ReturnType<typeof setInterval> | null = null;
  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private nickMode: 'join' | 'rename' = 'join';
  /** The page is unloading: the end of the session is no news to show. */
  private unloading = false;
  /** Who is typing, with the timer that forgets them. */
  private readonly typists = new Map<string, ReturnType<typeof setTimeout>>();

  private readonly moderation: ModerationView;

  constructor(private readonly room: string) {
    this.ui = elements();
    this.log = new LogView(this.ui.log);
    this.attention = new Attention(room);
    this.composer = new Composer({
      send: (text, replyTo) => this.sendText(text, replyTo),
      edit: (seq, text) => this.editEntry(seq, text),
      typing: () => this.session?.typing(),
      nicks: () => (this.session?.members ?? []).map((m) => m.nick),
      me: () => this.session?.nick ?? '',
      lastEditable: () => this.lastEditable(),
      maxMessage: () => this.session?.maxMessage,
    });
    this.moderation = new ModerationView(room, {
      append: (li) => {
        const stick = this.atBottom();
        this.log.append(li);
        if (stick) this.scrollToBottom();
      },
      toast: (text) => this.toast(text),
    });
  }

  /** Shows the page and joins (at once when this tab was already in the room, else after the nickname prompt). */
  open(): void {
    const ui = this.ui;
    show(ui.root, true);
    ui.title.textContent = this.room;
    ui.title.title = this.room;
    document.title = pageTitle(this.room, 0);
    this.bindControls();
    this.renderMenu();
    this.renderStatus();
    const resume = loadResume(this.room);
    if (resume) {
      // A reload of this tab: take the seat back without asking.
      this.startSession(resume.nick, resume.token, undefined);
    } else {
      this.askNick('join', null, lastNick() ?? '');
    }
  }

  // ---- session ----

  private startSession(nick: string, resumeToken: string | undefined, lastSeq: number | undefined): void {
    const session = new ChatSession({
      url: socketUrl(location, this.room, BASE),
      nick,
      socketFactory: this.transport.factory,
      ...(resumeToken === undefined ? {} : { resumeToken }),
      ...(lastSeq === undefined ? {} : { lastSeq }),
      ...this.moderation.joinExtras(),
    });
    this.session = session;
    this.transport.follow(session);
    this.moderation.attach(session);
    session.on('state', (state, detail) => this.onState(state, detail));
    session.on('welcome', (welcome) => this.onWelcome(welcome));
    session.on('reset', () => this.clearLog());
    session.on('entry', (entry) => this.onEntry(entry));
    session.on('caughtUp', () => this.onCaughtUp());
    session.on('members', (members) => this.renderMembers(members));
    session.on('nick', (nick) => {
      saveNick(nick);
      if (session.resumeToken) saveResume(this.room, { nick, token: session.resumeToken });
      this.setMe(nick);
    });
    session.on('role', () => this.renderRole());
    session.on('typing', (who) => this.onTyping(who));
    session.on('info', (text) => this.appendLocal('info', text));
    session.on('error', (error) => this.appendLocal('error', error.message));
    session.on('nickRequired', (error) => this.askNick('join', error.message, session.nick));
    session.on('passwordRequired', (error) => this.askNick('join', error.message, session.nick, true));
    session.on('pending', (item) => this.onPending(item));
    session.on('acked', (item, seq) => this.onAcked(item, seq));
    session.on('failed', (item, error) => this.onFailed(item, error));
    session.on('ended', (reason, code, text) => this.onEnded(reason, code, text));
    this.composer.setEnabled(true);
    show(this.ui.banner, false);
    session.start();
  }

  private onWelcome(welcome: WelcomeInfo): void {
    saveNick(welcome.nick);
    saveResume(this.room, { nick: welcome.nick, token: welcome.resumeToken });
    this.closeNickDialog();
    this.setMe(welcome.nick);
    this.renderRole();
    if (this.initialLoad && this.epoch === '') {
      // Coming back to the room: what came since the last visit gets a line.
      const seen = loadSeen(this.room);
      this.visitAfter = seen !== null && seen.epoch === welcome.epoch ? seen.seq : null;
    }
    this.epoch = welcome.epoch;
  }

  private onState(state: 'connecting' | 'online' | 'offline', detail: StateDetail): void {
    // A join refused for its nickname or password waits for the user, not the network.
    this.state = this.session?.needsNick ? 'waiting' : state;
    this.retryAt = detail.retryInMs === undefined ? null : Date.now() + detail.retryInMs;
    this.renderStatus();
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    this.statusTimer = this.retryAt === null ? null : setInterval(() => this.renderStatus(), 1000);
    const waiting = state !== 'online';
    for (const li of this.pendingElements.values()) {
      if (li.classList.contains('pending')) setDelivery(li, waiting ? 'Waiting for connection…' : 'Sending…');
    }
    if (state !== 'online') this.clearTyping();
  }

  private renderStatus(): void {
    const ui = this.ui;
    const ended = this.session?.ended !== undefined;
    const now = Date.now();
    ui.status.dataset.state = ended ? 'ended' : this.state;
    ui.statusText.textContent = ended ? 'Disconnected' : statusText(this.state, this.retryAt, now);
    ui.statusShort.textContent = ended ? 'Off' : statusShort(this.state, this.retryAt, now);
    show(ui.retryNow, !ended && this.state === 'offline' && this.retryAt !== null);
    // Offline, the member list is what it was: no green dots for people we cannot see.
    const stale = ended || this.state !== 'online';
    ui.members.classList.toggle('offline', stale && this.state !== 'idle');
    show(ui.membersOffline, stale && this.state !== 'idle' && !ended);
  }

  private onEnded(reason: EndReason, code: number | undefined, text: string): void {
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    this.statusTimer = null;
    if (this.unloading) return;
    this.renderStatus();
    this.composer.setEnabled(false);
    this.clearTyping();
    const session = this.session;
    // A new session here would not get this one's ack; say what was not sent.
    for (const [id, li] of this.pendingElements) {
      if (li.classList.contains('pending')) this.failPending(id, li, 'disconnected');
    }
    if (reason !== 'replaced') saveResume(this.room, null);
    // Not in the room any more: an old member list would mislead.
    this.renderMembers([]);
    const message = END_MESSAGES[reason];
    const moderated = this.moderation.endView(reason, text);
    const detail = reason === 'policy' ? (text ? `: ${text}.` : ` (code ${code ?? 'unknown'}).`) : '';
    this.ui.bannerText.textContent = moderated?.text ?? message.text + detail;
    this.ui.bannerAction.textContent = message.action;
    this.ui.bannerAction.onclick = () => {
      if (reason === 'room-invalid' || moderated?.action === 'home') {
        location.assign(`${BASE}/`);
      } else if (reason === 'replaced' && session) {
        // Take the seat back with the same token; the other tab gets 4001.
        this.startSession(session.nick, session.resumeToken, session.lastSeq);
      } else {
        this.askNick('join', null, session?.nick ?? lastNick() ?? '');
      }
    };
    show(this.ui.banner, true);
    // The banner takes room from the log: its last line stays in view (see pinned).
  }

  // ---- the log ----

  private atBottom(): boolean {
    return isNearBottom(this.ui.scroller);
  }

  private scrollToBottom(): void {
    const scroller = this.ui.scroller;
    scroller.scrollTop = scroller.scrollHeight;
    this.pinned = true;
    this.unseen = 0;
    show(this.ui.jump, false);
    this.markSeen();
  }

  private clearLog(): void {
    this.log.clear();
    this.awaitingEntry.clear();
    this.ownSeqs.clear();
    this.lastRenderedSeq = 0;
    this.marker = null;
    this.markerActive = false;
    this.visitAfter = null;
    this.visitMarker = null;
  }

  private onEntry(entry: EntryEvent): void {
    const session = this.session;
    if (!session) return;
    this.moderation.onEntry(entry);
    const stick = this.atBottom();
    const me = session.nick;
    const chat = entry.type === 'message' || entry.type === 'action';
    const mine = this.ownSeqs.has(entry.seq) || (chat && entry.nick === me);
    if (chat) this.stopTyping(entry.nick);
    // News: what someone else said, or the administrator. Notices, edits and tombstones are not.
    const said = chat || entry.type === 'admin';
    const news = !mine && said && !this.initialLoad;
    const away = document.hidden || !stick;
    if (said && !mine && this.visitAfter !== null && entry.seq > this.visitAfter) {
      this.visitMarker = this.log.marker('New since your last visit', 'visit-marker');
      this.visitAfter = null;
    }
    if (news && away && !this.markerActive) {
      this.marker?.remove();
      this.marker = this.log.marker('New messages', 'marker');
      this.markerActive = true;
    }
    this.log.add(entry, { me, own: mine });
    this.lastRenderedSeq = entry.seq;
    // The entry of an own message acknowledged earlier replaces its pending line.
    this.awaitingEntry.get(entry.seq)?.remove();
    this.awaitingEntry.delete(entry.seq);
    if (news && document.hidden && said) {
      const text = plainText(parseMarkup(entry.text));
      this.attention.news(entry.nick, snippet(text, 140), chat && mentions(entry.text, me));
    }
    if (stick || mine) {
      this.scrollToBottom();
    } else if (news) {
      this.unseen++;
      this.ui.jump.textContent = this.unseen === 1 ? '1 new message ↓' : `${this.unseen} new messages ↓`;
      show(this.ui.jump, true);
    }
  }

  private onCaughtUp(): void {
    if (!this.initialLoad) return;
    this.initialLoad = false;
    this.visitAfter = null;
    this.scrollToBottom();
    // Back after a while: the first new line, not the last, is where to start reading.
    if (this.visitMarker !== null) {
      this.visitMarker.scrollIntoView({ block: 'start' });
      this.pinned = this.atBottom();
    }
  }

  private appendLocal(kind: 'info' | 'error', text: string): void {
    const stick = this.atBottom();
    this.log.append(renderLocal(kind, text));
    if (stick || kind === 'info') this.scrollToBottom();
  }

  /** The user has seen everything: the next absence gets a new marker. */
  private caughtUpByUser(): void {
    if (document.hidden || !this.atBottom()) return;
    this.unseen = 0;
    show(this.ui.jump, false);
    this.markerActive = false;
    this.attention.clear();
    this.markSeen();
  }

  /** Remembers how far the user read, for "New since your last visit" next time. */
  private markSeen(): void {
    if (document.hidden || this.epoch === '' || this.lastRenderedSeq === 0 || this.initialLoad) return;
    saveSeen(this.room, { epoch: this.epoch, seq: this.lastRenderedSeq });
  }

  /** Scrolls to entry `seq` and makes it flash, when it is in the log. */
  private jumpTo(seq: number): void {
    const li = this.log.line(seq);
    if (li === undefined) return;
    li.scrollIntoView({ block: 'center', behavior: 'smooth' });
    li.classList.remove('flash');
    // Restarting the animation needs a layout in between.
    void li.offsetWidth;
    li.classList.add('flash');
  }

  // ---- own messages ----

  private onPending(item: OutboxItem): void {
    // Commands show their answer (info, error, renamed) rather than themselves; edits and deletions change the log.
    if (item.kind !== 'message' && item.kind !== 'action') return;
    const li = renderPending(item, this.session?.nick ?? '', this.state !== 'online');
    this.pendingElements.set(item.id, li);
    this.ui.pending.append(li);
    this.scrollToBottom();
  }

  private onAcked(item: OutboxItem, seq: number | undefined): void {
    const li = this.pendingElements.get(item.id);
    this.pendingElements.delete(item.id);
    if (item.kind === 'edit' || item.kind === 'delete') return;
    if (seq !== undefined) {
      this.ownSeqs.add(seq);
      this.log.line(seq)?.classList.add('own');
    }
    if (!li) return;
    if (seq === undefined || seq <= this.lastRenderedSeq) {
      li.remove();
    } else {
      // Stored, but its entry is still on the way: keep the line until it lands.
      li.classList.remove('pending');
      li.classList.add('acked');
      setDelivery(li, '');
      this.awaitingEntry.set(seq, li);
    }
  }

  private onFailed(item: OutboxItem, error: SessionError): void {
    if (item.kind === 'edit' || item.kind === 'delete') {
      this.toast(error.message);
      return;
    }
    const li = this.pendingElements.get(item.id);
    if (!li) {
      this.appendLocal('error', error.message);
      return;
    }
    this.failPending(item.id, li, error.message, item.replyTo);
  }

  /**
   * A line that will not be sent: it leaves the pending list (which stays
   * below the log) for the log itself, where later lines go after it.
   */
  private failPending(id: string, li: HTMLLIElement, reason: string, replyTo?: number): void {
    const text = li.dataset.text ?? null;
    const stick = this.atBottom();
    this.pendingElements.delete(id);
    markFailed(
      li,
      reason,
      text === null
        ? null
        : () => {
            li.remove();
            this.sendText(text, replyTo);
          },
      () => li.remove(),
    );
    this.log.append(li);
    if (stick) this.scrollToBottom();
  }

  // ---- composer ----

  private sendText(text: string, replyTo?: number): boolean {
    const session = this.session;
    if (!session || session.ended) return false;
    const check = checkDraft(text, session.maxMessage);
    if (!check.ok) {
      if (check.reason === 'too-long') {
        this.toast(`That message is too long: ${check.length} characters, the limit is ${session.maxMessage}.`);
      }
      return false;
    }
    const item = session.send(text, replyTo === undefined ? {} : { replyTo });
    const li = this.pendingElements.get(item.id);
    // Kept on the line so that "Retry" works after the session forgot the item.
    if (li) li.dataset.text = text;
    return true;
  }

  private editEntry(seq: number, text: string): boolean {
    const session = this.session;
    if (!session || session.ended) return false;
    const before = this.log.entry(seq);
    if (before !== undefined && 'text' in before && before.text === text) return true;
    const check = checkDraft(text, session.maxMessage);
    if (!check.ok) {
      if (check.reason === 'too-long') this.toast(`That message is too long: ${check.length} characters, the limit is ${session.maxMessage}.`);
      else this.toast('A message cannot be empty: use Delete to remove it.');
      return false;
    }
    session.edit(seq, text);
    return true;
  }

  /** The last of our messages that may still be edited (Up in an empty composer). */
  private lastEditable(): { seq: number; text: string } | null {
    const me = this.session?.nick;
    for (const entry of this.log.newestFirst()) {
      if ((entry.type === 'message' || entry.type === 'action') && (entry.nick === me || this.ownSeqs.has(entry.seq))) {
        return editable(entry.ts, Date.now()) ? { seq: entry.seq, text: entry.text } : null;
      }
    }
    return null;
  }

  /** Reply, Edit and Delete of a log line. */
  private entryAction(action: string, seq: number, button: HTMLButtonElement): void {
    const session = this.session;
    const entry = this.log.entry(seq);
    if (!session || session.ended || entry === undefined) return;
    if (entry.type !== 'message' && entry.type !== 'action' && entry.type !== 'admin') return;
    switch (action) {
      case 'reply':
        this.composer.reply(seq, entry.nick, plainText(parseMarkup(entry.text)));
        break;
      case 'edit':
        if (!editable(entry.ts, Date.now())) {
          this.toast('Messages can be edited for 15 minutes after they are sent.');
          return;
        }
        this.composer.edit(seq, entry.text);
        break;
      case 'delete':
        // Asked inline, not with confirm(): a second click says yes.
        if (button.dataset.confirm !== 'yes') {
          button.dataset.confirm = 'yes';
          button.textContent = 'Delete?';
          button.classList.add('danger');
          return;
        }
        session.deleteEntry(seq);
        break;
    }
  }

  // ---- typing ----

  private onTyping(nick: string): void {
    const timer = this.typists.get(nick);
    if (timer !== undefined) clearTimeout(timer);
    this.typists.set(
      nick,
      setTimeout(() => this.stopTyping(nick), TYPING_SHOWN_MS),
    );
    this.renderTyping();
  }

  private stopTyping(nick: string): void {
    const timer = this.typists.get(nick);
    if (timer === undefined) return;
    clearTimeout(timer);
    this.typists.delete(nick);
    this.renderTyping();
  }

  private clearTyping(): void {
    for (const timer of this.typists.values()) clearTimeout(timer);
    this.typists.clear();
    this.renderTyping();
  }

  private renderTyping(): void {
    this.ui.typing.textContent = typingText([...this.typists.keys()]);
  }

  // ---- nickname ----

  private setMe(nick: string): void {
    this.ui.me.textContent = nick;
    show(this.ui.me, true);
    this.composer.setPlaceholder(`Message as ${nick}`);
    // Own lines and the member list depend on who we are.
    this.renderMembers(this.session?.members ?? []);
  }

  private renderRole(): void {
    const role = this.session?.role ?? 'user';
    this.ui.root.classList.toggle('can-moderate', role === 'operator' || role === 'owner');
  }

  private askNick(mode: 'join' | 'rename', error: string | null, value: string, password = false): void {
    const ui = this.ui;
    this.nickMode = mode;
    if (mode === 'join') {
      // The dialog waits for the user, not for the network.
      this.state = this.session === null || this.session.ended !== undefined ? 'idle' : 'waiting';
      this.renderStatus();
    }
    this.moderation.askPassword(password);
    ui.nickHeading.textContent = mode === 'join' ? `Join ${this.room}` : 'Change your nickname';
    ui.nickIntro.textContent =
      mode === 'join'
        ? 'Choose a nickname. Others in the room see it next to your messages.'
        : 'Your new nickname is announced to the room.';
    ui.nickInput.value = value;
    ui.nickError.classList.remove('progress');
    ui.nickError.textContent = error ?? '';
    show(ui.nickError, error !== null);
    ui.nickInput.setAttribute('aria-invalid', error === null ? 'false' : 'true');
    show(ui.nickCancel, mode === 'rename');
    const submit = ui.nickForm.querySelector('button[type="submit"]');
    if (submit) submit.textContent = mode === 'join' ? 'Join' : 'Change';
    if (!ui.nickDialog.open) ui.nickDialog.showModal();
    ui.nickInput.focus();
    ui.nickInput.select();
  }

  private closeNickDialog(): void {
    if (this.ui.nickDialog.open) this.ui.nickDialog.close();
  }

  private submitNick(): void {
    const ui = this.ui;
    const nick = ui.nickInput.value.trim();
    if (nick === '') {
      ui.nickError.textContent = 'Please enter a nickname.';
      show(ui.nickError, true);
      ui.nickInput.focus();
      return;
    }
    const session = this.session;
    if (this.nickMode === 'rename') {
      if (session && !session.ended && nick !== session.nick) session.send(`/nick ${nick}`);
      this.closeNickDialog();
      return;
    }
    ui.nickError.textContent = 'Joining…';
    ui.nickError.classList.add('progress');
    show(ui.nickError, true);
    const password = this.moderation.password();
    if (session && !session.ended && session.needsNick) {
      this.state = 'connecting';
      this.renderStatus();
      if (password !== null) session.setPassword(password, nick);
      else session.setNick(nick);
    } else {
      // A first join, or a new one after the last session ended: pick up
      // after what is already shown.
      this.session = null;
      this.startSession(nick, undefined, session?.lastSeq);
    }
  }

  // ---- members ----

  private renderMembers(members: readonly MemberInfo[]): void {
    const me = this.session?.nick ?? '';
    this.ui.memberList.replaceChildren(...sortMembers(members).map((m) => renderMember(m, me)));
    const count = String(members.length);
    this.ui.memberCount.textContent = count;
    this.ui.memberCountSide.textContent = count;
    // Someone who left is not typing any more.
    const here = new Set(members.map((m) => m.nick));
    for (const nick of [...this.typists.keys()]) if (!here.has(nick)) this.stopTyping(nick);
  }

  // ---- small things ----

  private toast(text: string): void {
    const toast = this.ui.toast;
    toast.textContent = text;
    show(toast, true);
    if (this.toastTimer !== null) clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => show(toast, false), 4000);
  }

  private async copyLink(): Promise<void> {
    const link = `${location.origin}${roomPath(this.room, BASE)}`;
    try {
      await navigator.clipboard.writeText(link);
      this.toast('Link copied. Anyone with it can join.');
      return;
    } catch {
      // No clipboard API (plain http on a LAN address is not a secure context).
    }
    const area = el('textarea', 'offscreen');
    area.value = link;
    area.readOnly = true;
    document.body.append(area);
    area.select();
    // Deprecated, but the only way to copy without the async clipboard API.
    const copied = document.execCommand('copy');
    area.remove();
    this.toast(copied ? 'Link copied. Anyone with it can join.' : `Copy this link: ${link}`);
  }

  private renderMenu(): void {
    const notify = this.attention.notifyState();
    const ui = this.ui;
    ui.menuNotify.setAttribute('aria-checked', String(notify === 'on'));
    ui.menuNotify.disabled = notify === 'unsupported';
    ui.menuNotify.title =
      notify === 'blocked'
        ? 'Notifications are blocked for this site in your browser’s settings.'
        : notify === 'unsupported'
          ? 'This browser cannot show notifications.'
          : 'A desktop notification when someone writes your nickname while this tab is in the background.';
    ui.menuNotify.querySelector('.state')?.replaceChildren(notify === 'on' ? 'On' : notify === 'blocked' ? 'Blocked' : 'Off');
    ui.menuSound.setAttribute('aria-checked', String(this.attention.soundOn));
    ui.menuSound.querySelector('.state')?.replaceChildren(this.attention.soundOn ? 'On' : 'Off');
  }

  private setMenuOpen(open: boolean): void {
    show(this.ui.menu, open);
    this.ui.menuButton.setAttribute('aria-expanded', String(open));
    if (open) this.renderMenu();
  }

  private bindControls(): void {
    const ui = this.ui;
    ui.nickForm.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submitNick();
    });
    ui.nickDialog.addEventListener('cancel', (event) => {
      // Escape closes the rename dialog, but there is no room without a nickname.
      if (this.nickMode === 'join') event.preventDefault();
    });
    ui.nickDialog.addEventListener('close', () => ui.nickError.classList.remove('progress'));
    ui.nickCancel.addEventListener('click', () => this.closeNickDialog());
    const rename = () => {
      const session = this.session;
      if (session && !session.ended) this.askNick('rename', null, session.nick);
    };
    ui.me.addEventListener('click', rename);
    ui.copyLink.addEventListener('click', () => void this.copyLink());

    // The menu: notifications and sound (turned on by a click, which lets the browser ask), and what a phone's header has no room for.
    ui.menuButton.addEventListener('click', () => this.setMenuOpen(ui.menu.hidden));
    ui.menuNotify.addEventListener('click', () => {
      void this.attention.toggleNotify().then((state) => {
        this.renderMenu();
        if (state === 'blocked') this.toast('Notifications are blocked for this site: allow them in your browser’s settings.');
      });
    });
    ui.menuSound.addEventListener('click', () => {
      this.attention.toggleSound();
      this.renderMenu();
    });
    ui.menuCopy.addEventListener('click', () => {
      this.setMenuOpen(false);
      void this.copyLink();
    });
    ui.menuNick.addEventListener('click', () => {
      this.setMenuOpen(false);
      rename();
    });
    document.addEventListener('click', (event) => {
      if (!ui.menu.hidden && event.target instanceof Node && !ui.menu.contains(event.target) && !ui.menuButton.contains(event.target)) {
        this.setMenuOpen(false);
      }
    });
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !ui.menu.hidden) {
        this.setMenuOpen(false);
        ui.menuButton.focus();
      }
    });

    const setMembersOpen = (open: boolean) => {
      ui.root.classList.toggle('members-open', open);
      ui.toggleMembers.setAttribute('aria-expanded', String(open));
    };
    ui.toggleMembers.addEventListener('click', () => setMembersOpen(!ui.root.classList.contains('members-open')));
    ui.retryNow.addEventListener('click', () => this.session?.retryNow());
    // On a phone the status is a small pill without "Retry now": tapping it retries.
    ui.status.addEventListener('click', (event) => {
      if (event.target !== ui.retryNow && this.state === 'offline') this.session?.retryNow();
    });
    ui.jump.addEventListener('click', () => {
      this.scrollToBottom();
      this.caughtUpByUser();
    });

    // The log: a nickname mentions, a quote jumps, an entry's buttons reply, edit, delete; a tap shows them (touch screens).
    ui.log.addEventListener('click', (event) => {
      const target = event.target instanceof Element ? event.target : null;
      const nick = target?.closest<HTMLElement>('.nick[data-nick]');
      if (nick?.dataset.nick !== undefined) {
        this.composer.mention(nick.dataset.nick);
        return;
      }
      const quote = target?.closest<HTMLButtonElement>('.reply-quote');
      if (quote?.dataset.seq !== undefined) {
        this.jumpTo(Number(quote.dataset.seq));
        return;
      }
      const button = target?.closest<HTMLButtonElement>('.entry-actions button[data-action]');
      const li = target?.closest<HTMLLIElement>('li.entry[data-seq]');
      if (button?.dataset.action !== undefined && li?.dataset.seq !== undefined) {
        this.entryAction(button.dataset.action, Number(li.dataset.seq), button);
        return;
      }
      if (target?.closest('a, button') !== null) return;
      for (const selected of ui.log.querySelectorAll('li.selected')) if (selected !== li) selected.classList.remove('selected');
      li?.classList.toggle('selected');
      // At phone width the list is a drawer over the messages: a tap beside it closes it.
      setMembersOpen(false);
    });
    // Each message gets its buttons when the pointer or the focus first comes near (cheaper than one set per line up front).
    const arm = (event: Event) => {
      const li = event.target instanceof Element ? event.target.closest<HTMLLIElement>('li.entry[data-seq]') : null;
      if (li !== null && !li.querySelector('.entry-actions') && (li.classList.contains('message') || li.classList.contains('action') || li.classList.contains('admin'))) {
        li.append(entryActions());
      }
    };
    ui.log.addEventListener('mouseover', arm);
    ui.log.addEventListener('focusin', arm);
    ui.log.addEventListener('touchstart', arm, { passive: true });
    ui.log.addEventListener('mouseleave', () => {
      for (const button of ui.log.querySelectorAll<HTMLButtonElement>('button[data-confirm="yes"]')) resetDelete(button);
    });
    ui.memberList.addEventListener('click', (event) => {
      const nick = event.target instanceof Element ? event.target.closest<HTMLElement>('.nick[data-nick]') : null;
      if (nick?.dataset.nick === undefined) return;
      this.composer.mention(nick.dataset.nick);
      setMembersOpen(false);
    });

    ui.scroller.addEventListener(
      'scroll',
      () => {
        this.pinned = this.atBottom();
        this.caughtUpByUser();
      },
      { passive: true },
    );
    // The log's box shrinks when a banner or the phone's keyboard appears, or the composer grows: the last line stays in view.
    new ResizeObserver(() => {
      if (this.pinned) ui.scroller.scrollTop = ui.scroller.scrollHeight;
    }).observe(ui.scroller);
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      this.attention.clear();
      this.caughtUpByUser();
      // Phones freeze background tabs; a visible tab should not sit out a long backoff.
      this.session?.retryNow();
    });
    window.addEventListener('focus', () => {
      if (!document.hidden && this.atBottom()) this.attention.clear();
    });
    window.addEventListener('online', () => this.session?.retryNow());
    // A page going away (a reload, or a tab closed: a page cannot tell
    // them apart) asks the server to hold its seat for a few seconds and
    // keeps its resume token: a reload takes the seat back unseen, a closed
    // tab leaves when the hold ends. The browser closes the WebSocket after
    // the `hold` frame; over the HTTP door the server notices the end when
    // the polls stop (a close request could overtake the `hold`). A page
    // kept in the back/forward cache (persisted) may come back as it is, so
    // it says nothing.
    window.addEventListener('pagehide', (event) => {
      const session = this.session;
      if (event.persisted || !session || session.ended) return;
      this.unloading = true;
      session.hold();
    });
  }
}

/** The buttons of a log line. Which show is the stylesheet's (own lines, operators; styles.css). */
function entryActions(): HTMLDivElement {
  const box = el('div', 'entry-actions');
  for (const [action, label] of [
    ['reply', 'Reply'],
    ['edit', 'Edit'],
    ['delete', 'Delete'],
  ] as const) {
    const button = el('button', `entry-action ${action}`, label);
    button.type = 'button';
    button.dataset.action = action;
    box.append(button);
  }
  return box;
}

function resetDelete(button: HTMLButtonElement): void {
  delete button.dataset.confirm;
  button.textContent = 'Delete';
  button.classList.remove('danger');
}
