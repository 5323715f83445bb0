/**
 * The room page: the nickname prompt, the message log, the member list, the
 * composer and the connection status, driven by a ChatSession.
 */
import type { EntryEvent, MemberInfo } from '../src/chat/messages.js';
import {
  ChatSession,
  type ConnectionState,
  type EndReason,
  type OutboxItem,
  type SessionError,
  type StateDetail,
} from '../src/client/session.js';
import { BASE } from './base.js';
import { byId, el, show } from './dom.js';
import {
  checkDraft,
  codePointLength,
  dayKey,
  dayLabel,
  enterAction,
  isNearBottom,
  pageTitle,
  roomPath,
  socketUrl,
  sortMembers,
  statusText,
} from './format.js';
import {
  markFailed,
  renderDay,
  renderEntry,
  renderLocal,
  renderMarker,
  renderMember,
  renderPending,
  setDelivery,
} from './render.js';
import { ModerationView } from './moderation.js';
import { lastNick, loadResume, saveNick, saveResume } from './storage.js';
import { BrowserTransport } from './transport.js';

function elements() {
  return {
    root: byId('room', HTMLDivElement),
    title: byId('room-title', HTMLHeadingElement),
    status: byId('status', HTMLDivElement),
    statusText: byId('status-text', HTMLSpanElement),
    retryNow: byId('retry-now', HTMLButtonElement),
    me: byId('me', HTMLButtonElement),
    copyLink: byId('copy-link', HTMLButtonElement),
    toggleMembers: byId('toggle-members', HTMLButtonElement),
    memberCount: byId('member-count', HTMLSpanElement),
    memberCountSide: byId('member-count-side', HTMLSpanElement),
    memberList: byId('member-list', HTMLUListElement),
    scroller: byId('scroller', HTMLDivElement),
    log: byId('log', HTMLOListElement),
    pending: byId('pending', HTMLOListElement),
    jump: byId('jump', HTMLButtonElement),
    banner: byId('banner', HTMLDivElement),
    bannerText: byId('banner-text', HTMLParagraphElement),
    bannerAction: byId('banner-action', HTMLButtonElement),
    composer: byId('composer', HTMLFormElement),
    input: byId('input', HTMLTextAreaElement),
    send: byId('send', HTMLButtonElement),
    counter: byId('counter', HTMLSpanElement),
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

/** The composer grows with its text up to this height, px; then it scrolls. */
const MAX_INPUT_HEIGHT = 200;

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

  /** Log lines by seq, to mark one as ours when its ack comes after it. */
  private readonly entryElements = new Map<number, HTMLLIElement>();
  private lastRenderedSeq = 0;
  /** Pending lines by client id. */
  private readonly pendingElements = new Map<string, HTMLLIElement>();
  /** Acknowledged pending lines whose entry has not arrived yet, by seq. */
  private readonly awaitingEntry = new Map<number, HTMLLIElement>();
  private readonly ownSeqs = new Set<number>();
  private lastDay: string | null = null;

  /** Entries that arrived while the tab was hidden (for the title). */
  private unread = 0;
  /** Entries that arrived while scrolled up (for the jump button). */
  private unseen = 0;
  private marker: HTMLLIElement | null = null;
  /** A "new messages" marker is in place for the current absence. */
  private markerActive = false;
  /** Between the first welcome and its caughtUp: history, not news. */
  private initialLoad = true;

  private state: ConnectionState = 'connecting';
  private retryAt: number | null = null;
  private statusTimer: ReturnType<typeof setInterval> | null = null;
  private toastTimer: ReturnType<typeof setTimeout> | null = null;
  private nickMode: 'join' | 'rename' = 'join';

  private readonly moderation: ModerationView;

  constructor(private readonly room: string) {
    this.ui = elements();
    this.moderation = new ModerationView(room, {
      append: (li) => {
        const stick = this.atBottom();
        this.ui.log.append(li);
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
    session.on('welcome', (welcome) => {
      saveNick(welcome.nick);
      saveResume(this.room, { nick: welcome.nick, token: welcome.resumeToken });
      this.closeNickDialog();
      this.setMe(welcome.nick);
    });
    session.on('reset', () => this.clearLog());
    session.on('entry', (entry) => this.onEntry(entry));
    session.on('caughtUp', () => {
      if (this.initialLoad) {
        this.initialLoad = false;
        this.scrollToBottom();
      }
    });
    session.on('members', (members) => this.renderMembers(members));
    session.on('nick', (nick) => {
      saveNick(nick);
      if (session.resumeToken) saveResume(this.room, { nick, token: session.resumeToken });
      this.setMe(nick);
    });
    session.on('info', (text) => this.appendLocal('info', text));
    session.on('error', (error) => this.appendLocal('error', error.message));
    session.on('nickRequired', (error) => this.askNick('join', error.message, session.nick));
    session.on('passwordRequired', (error) => this.askNick('join', error.message, session.nick, true));
    session.on('pending', (item) => this.onPending(item));
    session.on('acked', (item, seq) => this.onAcked(item, seq));
    session.on('failed', (item, error) => this.onFailed(item, error));
    session.on('ended', (reason, code, text) => this.onEnded(reason, code, text));
    this.setComposerEnabled(true);
    show(this.ui.banner, false);
    session.start();
  }

  private onState(state: ConnectionState, detail: StateDetail): void {
    this.state = state;
    this.retryAt = detail.retryInMs === undefined ? null : Date.now() + detail.retryInMs;
    this.renderStatus();
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    this.statusTimer = this.retryAt === null ? null : setInterval(() => this.renderStatus(), 1000);
    const waiting = state !== 'online';
    for (const li of this.pendingElements.values()) {
      if (li.classList.contains('pending')) setDelivery(li, waiting ? 'Waiting for connection…' : 'Sending…');
    }
  }

  private renderStatus(): void {
    const ui = this.ui;
    const ended = this.session?.ended !== undefined;
    ui.status.dataset.state = ended ? 'ended' : this.state;
    ui.statusText.textContent = ended ? 'Disconnected' : statusText(this.state, this.retryAt, Date.now());
    show(ui.retryNow, !ended && this.state === 'offline' && this.retryAt !== null);
  }

  private onEnded(reason: EndReason, code: number | undefined, text: string): void {
    if (this.statusTimer !== null) clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.renderStatus();
    this.setComposerEnabled(false);
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
  }

  // ---- the log ----

  private atBottom(): boolean {
    return isNearBottom(this.ui.scroller);
  }

  private scrollToBottom(): void {
    const scroller = this.ui.scroller;
    scroller.scrollTop = scroller.scrollHeight;
    this.unseen = 0;
    show(this.ui.jump, false);
  }

  private clearLog(): void {
    this.ui.log.replaceChildren();
    this.entryElements.clear();
    this.awaitingEntry.clear();
    this.ownSeqs.clear();
    this.lastRenderedSeq = 0;
    this.lastDay = null;
    this.marker = null;
    this.markerActive = false;
  }

  /** A day separator before the first line of each calendar day. */
  private dayDivider(ts: number): void {
    const day = dayKey(ts);
    if (day === this.lastDay) return;
    this.lastDay = day;
    this.ui.log.append(renderDay(dayLabel(ts, Date.now())));
  }

  private onEntry(entry: EntryEvent): void {
    const session = this.session;
    if (!session) return;
    const shown = this.moderation.onEntry(entry, (seq) => {
      this.entryElements.get(seq)?.remove();
      this.entryElements.delete(seq);
    });
    if (!shown) return;
    const stick = this.atBottom();
    const me = session.nick;
    const mine =
      this.ownSeqs.has(entry.seq) || ((entry.type === 'message' || entry.type === 'action') && entry.nick === me);
    const li = renderEntry(entry, { me, own: mine });
    // News: what someone else said, or the administrator. Notices are not.
    const news = !mine && entry.type !== 'notice' && !this.initialLoad;
    const away = document.hidden || !stick;
    this.dayDivider(entry.ts);
    if (news && away && !this.markerActive) {
      this.marker?.remove();
      this.marker = renderMarker();
      this.ui.log.append(this.marker);
      this.markerActive = true;
    }
    this.ui.log.append(li);
    this.entryElements.set(entry.seq, li);
    this.lastRenderedSeq = entry.seq;
    // The entry of an own message acknowledged earlier replaces its pending line.
    this.awaitingEntry.get(entry.seq)?.remove();
    this.awaitingEntry.delete(entry.seq);
    if (news && document.hidden) {
      this.unread++;
      document.title = pageTitle(this.room, this.unread);
    }
    if (stick || mine) {
      this.scrollToBottom();
    } else if (news) {
      this.unseen++;
      this.ui.jump.textContent = this.unseen === 1 ? '1 new message ↓' : `${this.unseen} new messages ↓`;
      show(this.ui.jump, true);
    }
  }

  private appendLocal(kind: 'info' | 'error', text: string): void {
    const stick = this.atBottom();
    this.ui.log.append(renderLocal(kind, text));
    if (stick || kind === 'info') this.scrollToBottom();
  }

  /** The user has seen everything: the next absence gets a new marker. */
  private caughtUpByUser(): void {
    if (document.hidden || !this.atBottom()) return;
    this.unseen = 0;
    show(this.ui.jump, false);
    this.markerActive = false;
  }

  // ---- own messages ----

  private onPending(item: OutboxItem): void {
    // Commands show their answer (info, error, renamed) rather than themselves.
    if (item.kind === 'command') return;
    const li = renderPending(item, this.session?.nick ?? '', this.state !== 'online');
    this.pendingElements.set(item.id, li);
    this.ui.pending.append(li);
    this.scrollToBottom();
  }

  private onAcked(item: OutboxItem, seq: number | undefined): void {
    const li = this.pendingElements.get(item.id);
    this.pendingElements.delete(item.id);
    if (seq !== undefined) {
      this.ownSeqs.add(seq);
      this.entryElements.get(seq)?.classList.add('own');
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
    const li = this.pendingElements.get(item.id);
    if (!li) {
      this.appendLocal('error', error.message);
      return;
    }
    this.failPending(item.id, li, error.message);
  }

  private failPending(id: string, li: HTMLLIElement, reason: string): void {
    const text = this.pendingText(li);
    markFailed(
      li,
      reason,
      () => {
        li.remove();
        this.pendingElements.delete(id);
        if (text !== null) this.sendText(text);
      },
      () => {
        li.remove();
        this.pendingElements.delete(id);
      },
    );
  }

  /** The text a failed line would resend (kept on the line by sendText). */
  private pendingText(li: HTMLLIElement): string | null {
    return li.dataset.text ?? null;
  }

  // ---- composer ----

  private setComposerEnabled(enabled: boolean): void {
    this.ui.input.disabled = !enabled;
    this.ui.send.disabled = !enabled;
  }

  private sendText(text: string): boolean {
    const session = this.session;
    if (!session || session.ended) return false;
    const check = checkDraft(text, session.maxMessage);
    if (!check.ok) {
      if (check.reason === 'too-long') {
        this.toast(`That message is too long: ${check.length} characters, the limit is ${session.maxMessage}.`);
      }
      return false;
    }
    const item = session.send(text);
    const li = this.pendingElements.get(item.id);
    // Kept on the line so that "Retry" works after the session forgot the item.
    if (li) li.dataset.text = text;
    return true;
  }

  private submit(): void {
    const input = this.ui.input;
    if (this.sendText(input.value)) {
      input.value = '';
      this.resizeInput();
      this.updateCounter();
    }
    input.focus();
  }

  private resizeInput(): void {
    const input = this.ui.input;
    // Inline style through CSSOM: allowed by the CSP (only style attributes in markup are not).
    input.style.height = 'auto';
    input.style.height = `${Math.min(input.scrollHeight, MAX_INPUT_HEIGHT)}px`;
  }

  private updateCounter(): void {
    const max = this.session?.maxMessage;
    const length = codePointLength(this.ui.input.value);
    const near = max !== undefined && length > max * 0.9;
    show(this.ui.counter, near);
    if (near) {
      this.ui.counter.textContent = `${length} / ${max} · `;
      this.ui.counter.classList.toggle('over', length > max);
    }
  }

  // ---- nickname ----

  private setMe(nick: string): void {
    this.ui.me.textContent = nick;
    show(this.ui.me, true);
    this.ui.input.placeholder = `Message as ${nick}`;
    // Own lines and the member list depend on who we are.
    this.renderMembers(this.session?.members ?? []);
  }

  private askNick(mode: 'join' | 'rename', error: string | null, value: string, password = false): void {
    const ui = this.ui;
    this.nickMode = mode;
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

  private bindControls(): void {
    const ui = this.ui;
    ui.composer.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    ui.input.addEventListener('keydown', (event) => {
      if (enterAction(event) === 'send') {
        event.preventDefault();
        this.submit();
      }
    });
    ui.input.addEventListener('input', () => {
      this.resizeInput();
      this.updateCounter();
    });
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
    ui.me.addEventListener('click', () => {
      const session = this.session;
      if (session && !session.ended) this.askNick('rename', null, session.nick);
    });
    ui.copyLink.addEventListener('click', () => void this.copyLink());
    const setMembersOpen = (open: boolean) => {
      ui.root.classList.toggle('members-open', open);
      ui.toggleMembers.setAttribute('aria-expanded', String(open));
    };
    ui.toggleMembers.addEventListener('click', () => setMembersOpen(!ui.root.classList.contains('members-open')));
    // At phone width the list is a drawer over the messages: a tap beside it closes it.
    ui.scroller.addEventListener('click', () => setMembersOpen(false));
    ui.retryNow.addEventListener('click', () => this.session?.retryNow());
    ui.jump.addEventListener('click', () => {
      this.scrollToBottom();
      this.caughtUpByUser();
    });
    ui.scroller.addEventListener('scroll', () => this.caughtUpByUser(), { passive: true });
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) return;
      this.unread = 0;
      document.title = pageTitle(this.room, 0);
      this.caughtUpByUser();
      // Phones freeze background tabs; a visible tab should not sit out a long backoff.
      this.session?.retryNow();
    });
    window.addEventListener('online', () => this.session?.retryNow());
    // A tab closed (or left for another page) on purpose leaves at once: the
    // others see "left" now, not "away" for the grace period. A page kept in
    // the back/forward cache (persisted) may come back, so it stays.
    window.addEventListener('pagehide', (event) => {
      if (!event.persisted) this.session?.leave();
    });
  }
}
