/**
 * What users of a modern chat expect from the browser client (issue 12,
 * section 3), in Debian's headless Chromium, at desktop and phone sizes,
 * light and dark: the fixes (a failed command in its place, no green dots
 * offline, a one-row phone header, long messages collapsed, nickname
 * colours, /help in columns, the status while the dialog waits, the
 * banner, the page of a bad room name, Korean room names, a reload that
 * nobody sees) and the features (mention notifications, typing, "new since
 * your last visit", mentions by click and completion, formatting, edit,
 * delete, reply, folded joins and leaves). Screenshots go to
 * test-output/screenshots/ (not committed); test-output/screenshot.png is
 * the README's (copied to docs/screenshot.png by hand when it changes).
 *
 * Every test also asserts that no page threw, violated the
 * Content-Security-Policy or opened a dialog.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { type ChatServer, type ChatServerOptions, startChatServer } from '../../src/chat/server.js';
import { assertPeer, findChromium, peerSkip } from '../support/peers.js';
import { buildWeb, findCjkFont, launchChromium, ROOT, wantPeer } from './support/browser.js';
import { ChatTab } from './support/chat-tab.js';

const chromiumPeer = findChromium();
const T = { timeout: 90_000 };
const DESKTOP = { width: 1000, height: 700 };
const PHONE = { width: 390, height: 844 };
const SHOTS = join(ROOT, 'test-output', 'screenshots');

let browser: Browser;
let workDir: string;
let webRoot: string;
let server: ChatServer;
let baseUrl: string;
const servers = new Set<ChatServer>();

async function startServer(options: ChatServerOptions = {}): Promise<ChatServer> {
  const started = await startChatServer({ host: '127.0.0.1', port: 0, dataDir: null, console: null, webRoot, ...options });
  servers.add(started);
  return started;
}

/** A person: a browser context with its own storage, closed after the test. */
async function person(t: TestContext, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: DESKTOP, ...options });
  context.setDefaultTimeout(20_000);
  t.after(() => context.close());
  return context;
}

async function joined(t: TestContext, room: string, nick: string, options: BrowserContextOptions = {}, url = baseUrl): Promise<ChatTab> {
  const tab = await ChatTab.open(await person(t, options), url, encodeURIComponent(room), nick);
  await tab.join(nick);
  return tab;
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.evaluate('document.fonts.ready');
  await writeFile(join(SHOTS, `${name}.png`), await page.screenshot());
}

/** Makes the page believe it is in a background tab (document.hidden), or in front again. */
async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate(
    hidden
      ? `Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
         Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
         document.dispatchEvent(new Event('visibilitychange'))`
      : `delete document.hidden; delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange'))`,
  );
}

/** The notices' texts in the log (folded ones included). */
async function notices(tab: ChatTab): Promise<string[]> {
  return (await tab.log()).filter((e) => e.type === 'notice').map((e) => e.text ?? '');
}

// The DOM the page functions below use (this tsconfig has no DOM lib).
declare function getComputedStyle(node: unknown): { color: string; backgroundColor: string; lineHeight: string };
interface DomBox {
  top: number;
  bottom: number;
}
interface DomNode {
  readonly textContent: string | null;
  getBoundingClientRect(): DomBox;
}
declare const document: {
  querySelector(selector: string): DomNode | null;
  querySelectorAll(selector: string): Iterable<DomNode>;
};

/**
 * In the page: the last message ends above the banner. (Page functions are
 * serialised with toString(): self-contained, no named inner functions.)
 */
function lastLineAboveBanner(): boolean {
  const lines = [...document.querySelectorAll('#log li.entry.message')];
  const last = lines[lines.length - 1];
  const banner = document.querySelector('#banner');
  return last !== undefined && banner !== null && last.getBoundingClientRect().bottom <= banner.getBoundingClientRect().top + 1;
}

/** In the page: the line holding `text` is inside the scroller's box. */
function lineInView(text: string): boolean {
  const line = [...document.querySelectorAll('#log li.entry.message')].find((n) => (n.textContent ?? '').includes(text));
  const scroller = document.querySelector('#scroller');
  if (line === undefined || scroller === null) return false;
  const [a, b] = [line.getBoundingClientRect(), scroller.getBoundingClientRect()];
  return a.top >= b.top && a.bottom <= b.bottom;
}

function clean(...tabs: ChatTab[]): void {
  for (const tab of tabs) tab.watch.assertClean();
}

describe('the browser client, as people use it', { skip: peerSkip(chromiumPeer) }, () => {
  before(async () => {
    assertPeer(chromiumPeer);
    workDir = await mkdtemp(join(tmpdir(), 'wschat-browser-'));
    webRoot = join(workDir, 'web');
    await buildWeb(webRoot);
    browser = await launchChromium();
    server = await startServer({ hub: { graceMs: 60_000 } });
    baseUrl = server.url;
  }, { timeout: 90_000 });

  after(async () => {
    await browser?.close();
    await Promise.all([...servers].map((s) => s.close()));
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('screenshots at desktop and phone sizes, light and dark, of a conversation with every construct', T, async (t) => {
    wantPeer(findCjkFont(), 'Korean text shows as boxes in the screenshots');
    const room = 'team-release';
    const alice = await joined(t, room, 'alice');
    const minsu = await joined(t, room, '민수');
    const lines: [ChatTab, string, string][] = [
      [alice, 'alice', 'Morning! Is the **release** still on for today?'],
      [minsu, '민수', '안녕하세요! 네, 오후 3시에 배포합니다. Notes: www.example.com/release-notes'],
      [alice, 'alice', 'Great. Run `npm test` first:\n```\nnpm ci\nCI=true npm test\n```'],
    ];
    for (const [tab, nick, text] of lines) {
      await tab.send(text);
      await alice.page.locator('#log li.entry.message', { has: alice.page.locator(`.nick:text-is("${nick}")`) }).last().waitFor();
    }
    // 민수 answers alice's question (Reply on its line), then fixes a typo (Up edits the last line).
    const question = minsu.page.locator('#log li.entry.message', { hasText: 'still on for today' });
    await question.hover();
    await question.locator('button[data-action="reply"]').click();
    await minsu.send('확인했어요, *감사합니다*!');
    await alice.page.locator('#log li.entry.reply .reply-quote', { hasText: 'Is the release still on' }).waitFor();
    await minsu.page.fill('#input', '');
    await minsu.page.press('#input', 'ArrowUp');
    await minsu.page.fill('#input', '확인했어요, *정말 감사합니다*!');
    await minsu.page.press('#input', 'Enter');
    await alice.page.locator('#log li.entry.reply .edited').waitFor();
    await minsu.send('/me is deploying');
    await alice.page.locator('#log li.entry.action', { hasText: 'is deploying' }).waitFor();
    await minsu.page.type('#input', '배포 완료');
    await alice.page.locator('#typing', { hasText: '민수 is typing…' }).waitFor();
    assert.equal(await alice.page.locator('#log li.entry.reply .reply-quote').textContent(), '↪ alice: Morning! Is the release still on for today?');

    // The toast saying alice made the room goes by itself (4 s).
    await alice.page.locator('#toast').waitFor({ state: 'hidden' });
    await shot(alice.page, 'desktop-light');
    await mkdir(join(ROOT, 'test-output'), { recursive: true });
    await writeFile(join(ROOT, 'test-output', 'screenshot.png'), await alice.page.screenshot());
    for (const [name, options] of [
      ['desktop-dark', { colorScheme: 'dark' as const }],
      ['phone-light', { viewport: PHONE, isMobile: true, hasTouch: true }],
      ['phone-dark', { viewport: PHONE, isMobile: true, hasTouch: true, colorScheme: 'dark' as const }],
    ] as const) {
      const viewer = await joined(t, room, `viewer-${name.replace(/-/g, '')}`.slice(0, 20), options);
      await viewer.page.locator('#log li.entry.action', { hasText: 'is deploying' }).waitFor();
      await shot(viewer.page, name);
      clean(viewer);
    }
    console.log(`# screenshots: ${SHOTS}`);
    clean(alice, minsu);
  });

  test('nickname colours: 민수, 철수, bob and MINSU differ; each theme has its own palette', T, async (t) => {
    const room = 'colours';
    const tabs = [await joined(t, room, '민수')];
    for (const nick of ['철수', 'bob', 'MINSU']) tabs.push(await joined(t, room, nick));
    const dark = await joined(t, room, 'night', { colorScheme: 'dark' });
    const colour = (page: Page, nick: string) =>
      page.locator('#member-list .nick', { hasText: new RegExp(`^${nick}$`) }).evaluate((node) => getComputedStyle(node).color);
    await tabs[0]!.waitForMembers(['민수', '철수', 'bob', 'MINSU', 'night']);
    await dark.waitForMembers(['민수', '철수', 'bob', 'MINSU', 'night']);
    const light = await Promise.all(['민수', '철수', 'bob', 'MINSU'].map((nick) => colour(tabs[0]!.page, nick)));
    assert.equal(new Set(light).size, 4, light.join(' '));
    const inDark = await Promise.all(['민수', '철수', 'bob', 'MINSU'].map((nick) => colour(dark.page, nick)));
    assert.equal(new Set(inDark).size, 4, inDark.join(' '));
    for (let i = 0; i < 4; i++) assert.notEqual(light[i], inDark[i], 'the dark theme has its own, lighter colours');
    clean(...tabs, dark);
  });

  test('the status says "Not joined yet" while the nickname dialog waits, "Waiting for you" after a refusal', T, async (t) => {
    const room = 'status-dialog';
    await joined(t, room, 'taken');
    const tab = await ChatTab.open(await person(t), baseUrl, room, 'newcomer');
    await tab.page.locator('#nick-dialog[open]').waitFor();
    assert.equal(await tab.page.textContent('#status-text'), 'Not joined yet');
    assert.equal(await tab.status(), 'idle');
    await tab.submitNick('TAKEN');
    await tab.nickError(/taken/);
    await tab.page.locator('#status[data-state="waiting"]').waitFor({ state: 'attached' });
    assert.equal(await tab.page.textContent('#status-text'), 'Waiting for you');
    await tab.submitNick('fresh');
    await tab.waitForStatus('online');
    clean(tab);
  });

  test('a failed command is a line of the log where it happened, not a pending bubble under newer lines', T, async (t) => {
    const room = 'failed-command';
    const tab = await joined(t, room, 'alice');
    await tab.send('/me');
    const failed = tab.page.locator('#log li.failed', { hasText: 'Not sent: Usage: /me ACTION.' });
    await failed.waitFor();
    assert.equal(await tab.page.locator('#pending > li').count(), 0, 'nothing left in the pending list');
    await tab.send('a later line');
    await tab.waitForMessage('alice', 'a later line');
    const order = await tab.page.locator('#log > li.failed, #log > li.entry.message').evaluateAll((nodes) => nodes.map((n) => n.className));
    assert.deepEqual(order.map((c) => (c.includes('failed') ? 'failed' : 'message')), ['failed', 'message'], 'the later line comes after');
    await failed.getByRole('button', { name: 'Dismiss' }).click();
    await failed.waitFor({ state: 'detached' });
    clean(tab);
  });

  test('long messages are collapsed with "Show more"; /help is two aligned columns', T, async (t) => {
    const room = 'long-and-help';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    const long = Array.from({ length: 60 }, (_, i) => `line ${i + 1} of a long paste`).join('\n');
    await alice.send(long);
    await bob.waitForMessage('alice', long);
    const text = bob.page.locator('#log li.entry.message .text.collapsed');
    const collapsed = await text.evaluate((node) => node.getBoundingClientRect().height);
    const lineHeight = await text.evaluate((node) => Number.parseFloat(getComputedStyle(node).lineHeight));
    assert.ok(collapsed <= lineHeight * 9, `collapsed to ${collapsed}px (line ${lineHeight}px)`);
    await bob.page.getByRole('button', { name: 'Show more' }).click();
    const open = await bob.page.locator('#log li.entry.message .text').evaluate((node) => node.getBoundingClientRect().height);
    assert.ok(open > lineHeight * 50, `expanded to ${open}px`);
    await bob.page.getByRole('button', { name: 'Show less' }).waitFor();

    await bob.send('/help');
    const help = bob.page.locator('#log li.local.info .help-list');
    await help.waitFor();
    const rows = await help.locator('dt').count();
    assert.ok(rows >= 6, `${rows} commands`);
    const lefts = await help.locator('dd').evaluateAll((nodes) => nodes.map((n) => Math.round(n.getBoundingClientRect().left)));
    assert.equal(new Set(lefts).size, 1, `descriptions start at one x: ${lefts.join(',')}`);
    assert.doesNotMatch(await help.innerText(), / {2}/, 'no spaces for alignment');
    await shot(bob.page, 'help-and-long-message');
    clean(alice, bob);
  });

  test('"You left the room" does not cover the last message', T, async (t) => {
    const tab = await joined(t, 'banner', 'alice');
    for (let i = 1; i <= 30; i++) await tab.send(`message ${i}`);
    await tab.waitForMessage('alice', 'message 30');
    await tab.send('/quit');
    const banner = tab.page.locator('#banner:not([hidden])', { hasText: 'You left the room.' });
    await banner.waitFor();
    const last = tab.page.locator('#log li.entry.message', { hasText: 'message 30' });
    await tab.page.waitForFunction(lastLineAboveBanner, undefined, { polling: 50 });
    const [lastBox, bannerBox] = [await last.boundingBox(), await banner.boundingBox()];
    assert.ok(lastBox && bannerBox && lastBox.y + lastBox.height <= bannerBox.y + 1, JSON.stringify({ lastBox, bannerBox }));
    clean(tab);
  });

  test('a phone: a one-row header, online and during an outage; the member list shows no green dots while offline', T, async (t) => {
    const own = await startServer({ hub: { graceMs: 60_000 } });
    const phone = await joined(t, '우리방-phone', '민수', { viewport: PHONE, isMobile: true, hasTouch: true }, own.url);
    const oneRow = async (label: string): Promise<void> => {
      const header = await phone.page.locator('.topbar').boundingBox();
      assert.ok(header && header.height <= 56, `${label}: header ${header?.height}px high`);
      for (const selector of ['#room-title', '#status', '#toggle-members', '#menu-button']) {
        const box = await phone.page.locator(selector).boundingBox();
        assert.ok(box && box.y >= header.y && box.y + box.height <= header.y + header.height + 0.5, `${label}: ${selector} inside the one row`);
      }
    };
    await oneRow('online');
    await shot(phone.page, 'phone-header-online');
    await own.close();
    servers.delete(own);
    await phone.page.locator('#status[data-state="offline"]').waitFor({ state: 'attached' });
    await phone.page.locator('#status-short', { hasText: /Retry|Offline/ }).waitFor();
    await oneRow('offline');
    await shot(phone.page, 'phone-header-offline');
    // The list (in its drawer) says it may be out of date and shows nobody as present.
    await phone.page.click('#toggle-members');
    await phone.page.locator('#members-offline:not([hidden])').waitFor();
    const dots = await phone.page.locator('#member-list .presence').evaluateAll((nodes) => nodes.map((n) => getComputedStyle(n).backgroundColor));
    assert.ok(dots.length > 0 && dots.every((c) => c === 'rgba(0, 0, 0, 0)'), `no filled dot: ${dots.join(' ')}`);
    clean(phone);
  });

  test('/r/bad%20room is a page that says why, offers a valid name, and leads home; mixed scripts are the server\'s to refuse', T, async (t) => {
    const context = await person(t);
    const page = await context.newPage();
    const response = await page.goto(`${baseUrl}/r/bad%20room`);
    assert.equal(response?.status(), 404);
    await page.locator('#bad-room:not([hidden])').waitFor();
    assert.equal(await page.textContent('#bad-room-name'), '“bad room”');
    assert.match((await page.textContent('#bad-room-reason')) ?? '', /space/i);
    const suggestion = page.locator('#bad-room-suggestion');
    assert.equal(await suggestion.textContent(), 'Open “bad-room” instead');
    await page.getByRole('link', { name: 'Go to the home page' }).waitFor();
    await shot(page, 'bad-room');
    await suggestion.click();
    await page.waitForURL(`${baseUrl}/r/bad-room`);
    await page.locator('#nick-dialog[open]').waitFor();

    const spoof = await context.newPage();
    assert.equal((await spoof.goto(`${baseUrl}/r/${encodeURIComponent('pаypal')}`))?.status(), 404);
    await spoof.locator('#bad-room-reason', { hasText: 'cannot mix these scripts' }).waitFor();
    const home = await context.newPage();
    await home.goto(`${baseUrl}/`);
    await home.fill('#room-name', 'bad room');
    await home.press('#room-name', 'Enter');
    await home.locator('#room-error', { hasText: 'How about “bad-room”?' }).waitFor();
    await home.fill('#room-name', '우리방');
    await home.press('#room-name', 'Enter');
    await home.waitForURL(`${baseUrl}/r/${encodeURIComponent('우리방')}`);
  });

  test('a room named in Korean: the page, the title, the WebSocket URL, and two people chatting', T, async (t) => {
    const room = '우리방';
    const sockets: string[] = [];
    const context = await person(t);
    context.on('page', (page) => page.on('websocket', (ws) => sockets.push(ws.url())));
    const a = await ChatTab.open(context, baseUrl, encodeURIComponent(room), 'a');
    await a.join('지영');
    const b = await joined(t, room, '철수');
    await b.send('우리방에 오신 걸 환영해요');
    await a.waitForMessage('철수', '우리방에 오신 걸 환영해요');
    assert.equal(await a.page.textContent('#room-title'), room);
    assert.match(await a.page.title(), /^우리방 · wschat$/);
    assert.deepEqual(sockets, [`ws://127.0.0.1:${server.port}/r/${encodeURIComponent(room)}`]);
    clean(a, b);
  });

  test('a reload takes the seat back unseen: no "left", no "joined", never away', T, async (t) => {
    // A hold far longer than any reload, however busy the machine: what is tested is that nothing shows.
    const own = await startServer({ hub: { graceMs: 120_000, leaveHoldMs: 60_000 } });
    const room = 'reload';
    const alice = await joined(t, room, 'alice', {}, own.url);
    const bob = await joined(t, room, 'bob', {}, own.url);
    await alice.waitForNotice(/^bob joined$/);
    await bob.page.reload();
    await bob.waitForStatus('online');
    assert.equal(await bob.page.isVisible('#nick-dialog'), false, 'no nickname asked');
    await bob.send('back after a reload');
    await alice.waitForMessage('bob', 'back after a reload');
    assert.deepEqual(await notices(alice), ['alice joined', 'bob joined'], 'no "left", no "joined"');
    assert.deepEqual(await alice.members(), ['alice', 'bob']);
    assert.equal(await alice.page.locator('#member-list li.member.away').count(), 0);
    clean(alice, bob);
  });

  test('closing the tab leaves within seconds (the hold, 5 s), not after the grace period', T, async (t) => {
    const room = 'close-tab';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    await alice.waitForMembers(['alice', 'bob']);
    await bob.page.close({ runBeforeUnload: true });
    await alice.waitForNotice(/^bob left$/, 30_000);
    await alice.waitForMembers(['alice']);
    clean(alice);
  });

  test('mentions in a background tab: a notification (once allowed, from the menu) and a sound; the count in the title and on the favicon', T, async (t) => {
    const room = 'mentions';
    const context = await person(t);
    // Record notifications and tones instead of showing and playing them.
    await context.addInitScript(`
      window.__asked = 0; window.__notes = []; window.__tones = 0;
      window.Notification = class {
        static permission = 'default';
        static async requestPermission() { window.__asked++; window.Notification.permission = 'granted'; return 'granted'; }
        constructor(title, options) { window.__notes.push({ title, body: options && options.body }); }
        close() {}
      };
      const Real = window.AudioContext;
      window.AudioContext = class extends Real { createOscillator() { window.__tones++; return super.createOscillator(); } };
    `);
    const alice = await ChatTab.open(context, baseUrl, room, 'alice');
    await alice.join('alice');
    const bob = await joined(t, room, 'bob');
    assert.equal(await alice.page.evaluate('window.__asked'), 0, 'permission is never asked unprompted');
    await alice.page.click('#menu-button');
    await alice.page.click('#menu-notify');
    await alice.page.locator('#menu-notify[aria-checked="true"]').waitFor();
    assert.equal(await alice.page.evaluate('window.__asked'), 1);
    await alice.page.click('#menu-sound');
    await alice.page.locator('#menu-sound[aria-checked="true"]').waitFor();
    const tonesAfterToggle = Number(await alice.page.evaluate('window.__tones'));
    assert.ok(tonesAfterToggle > 0, 'turning the sound on plays it once');
    await alice.page.keyboard.press('Escape');

    await setHidden(alice.page, true);
    await bob.send('just chatting');
    await bob.send('hey @alice, look at this');
    await alice.page.waitForFunction('window.__notes.length === 1');
    assert.deepEqual(await alice.page.evaluate('window.__notes'), [{ title: `bob mentioned you in ${room}`, body: 'hey @alice, look at this' }]);
    assert.ok(Number(await alice.page.evaluate('window.__tones')) > tonesAfterToggle, 'a tone for the mention');
    assert.equal(await alice.page.title(), `(2) ${room} · wschat`);
    const badge = await alice.page.locator('link[rel="icon"]').getAttribute('href');
    assert.match(badge ?? '', /^data:image\/png;base64,/);
    await setHidden(alice.page, false);
    await alice.page.waitForFunction(`document.title === '${room} · wschat'`);
    assert.match((await alice.page.locator('link[rel="icon"]').getAttribute('href')) ?? '', /favicon\.svg$/);
    assert.equal(await alice.page.locator('#log li.entry.mention').count(), 1);
    clean(alice, bob);
  });

  test('typing: "bob is typing…" while he types, gone when his line comes', T, async (t) => {
    const room = 'typing';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    await bob.page.type('#input', 'hello the');
    await alice.page.locator('#typing', { hasText: 'bob is typing…' }).waitFor();
    assert.equal(await bob.page.textContent('#typing'), '', 'not shown to the one typing');
    await bob.page.type('#input', 're');
    await bob.page.press('#input', 'Enter');
    await alice.waitForMessage('bob', 'hello there');
    await alice.page.locator('#typing:empty').waitFor({ state: 'attached' });
    clean(alice, bob);
  });

  test('"New since your last visit" marks where to start reading when you come back', T, async (t) => {
    const room = 'last-visit';
    const context = await person(t);
    const first = await ChatTab.open(context, baseUrl, room, 'visit 1');
    await first.join('alice');
    const bob = await joined(t, room, 'bob');
    await bob.send('seen on the first visit');
    await first.waitForMessage('bob', 'seen on the first visit');
    await first.page.close({ runBeforeUnload: true });
    await bob.waitForNotice(/^alice left$/, 20_000);
    await bob.send('new one');
    await bob.send('new two');
    const again = await ChatTab.open(context, baseUrl, room, 'visit 2');
    await again.join('alice');
    await again.waitForMessage('bob', 'new two');
    const order = await again.page.locator('#log > li').evaluateAll((nodes) =>
      nodes.map((n) => (n.classList.contains('visit-marker') ? 'MARK' : (n.querySelector('.text')?.textContent ?? ''))),
    );
    const mark = order.indexOf('MARK');
    assert.ok(mark > 0, order.join(' | '));
    assert.ok(order.indexOf('seen on the first visit') < mark && order.indexOf('new one') > mark, order.join(' | '));
    clean(again, bob);
  });

  test('a click on a nickname mentions it; "@" offers names, Tab completes them', T, async (t) => {
    const room = 'mention-names';
    const alice = await joined(t, room, 'alice');
    await joined(t, room, '민수');
    await joined(t, room, '민지');
    await alice.waitForMembers(['alice', '민수', '민지']);
    await alice.page.locator('#member-list .nick', { hasText: /^민수$/ }).click();
    assert.equal(await alice.page.inputValue('#input'), '@민수 ');
    await alice.page.fill('#input', 'hi @');
    await alice.page.locator('#input').press('End');
    await alice.page.type('#input', '민');
    await alice.page.locator('#suggestions:not([hidden]) .suggestion', { hasText: '민지' }).waitFor();
    assert.deepEqual(await alice.page.locator('#suggestions .suggestion').allTextContents(), ['민수', '민지']);
    await alice.page.press('#input', 'ArrowDown');
    await alice.page.press('#input', 'Enter');
    assert.equal(await alice.page.inputValue('#input'), 'hi @민지 ');
    await alice.page.fill('#input', 'thanks 민');
    await alice.page.press('#input', 'Tab');
    await alice.page.locator('#suggestions:not([hidden])').waitFor();
    await alice.page.press('#input', 'Tab');
    assert.equal(await alice.page.inputValue('#input'), 'thanks @민수 ');
    await alice.page.fill('#input', 'ali');
    await alice.page.press('#input', 'Tab');
    assert.equal(await alice.page.inputValue('#input'), 'ali', 'not oneself');
    clean(alice);
  });

  test('formatting: code, code blocks, emphasis, strong, links; every construct stays text with markup inside', T, async (t) => {
    const room = 'formatting';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    const payloads = [
      '**<img src=x onerror=alert(1)>**',
      '*<script>alert(2)</script>*',
      '`<svg onload=alert(3)>`',
      '```\n<iframe src=javascript:alert(4)></iframe>\n```',
      'https://x.test/"><img src=x onerror=alert(5)>',
      'www.x.test/<script>alert(6)</script>',
      '[click](javascript:alert(7)) javascript:alert(8)',
      '**bold *and nested* text** with `code` and www.example.com and https://example.org/a_(b)',
    ];
    for (const text of payloads) await alice.send(text);
    await bob.waitForMessage('alice', 'bold and nested text with code and www.example.com and https://example.org/a_(b)');
    for (const tab of [alice, bob]) {
      for (const selector of ['img', 'script', 'svg', 'iframe', 'b']) {
        assert.equal(await tab.page.locator(`#log ${selector}`).count(), 0, `${tab.label}: <${selector}> in the log`);
      }
      const hrefs = await tab.page.locator('#log a').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('href') ?? ''));
      assert.ok(hrefs.length >= 4, hrefs.join(' '));
      for (const href of hrefs) assert.match(href, /^https?:\/\//, `${tab.label}: ${href}`);
    }
    const last = bob.page.locator('#log li.entry.message').last();
    assert.equal(await last.locator('strong').first().textContent(), 'bold and nested text');
    assert.equal(await last.locator('strong em').textContent(), 'and nested');
    assert.equal(await last.locator('code').textContent(), 'code');
    assert.deepEqual(await last.locator('a').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('href'))), [
      'https://www.example.com/',
      'https://example.org/a_(b)',
    ]);
    assert.equal(await bob.page.locator('#log pre code').textContent(), '<iframe src=javascript:alert(4)></iframe>');
    assert.equal(await bob.page.locator('#log strong', { hasText: '<img src=x onerror=alert(1)>' }).count(), 1, 'the markup shows as text');
    clean(alice, bob);
  });

  test('edit and delete your own message (Up edits the last one); others see "(edited)" and "message deleted", and so does history', T, async (t) => {
    const room = 'edit-delete';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    await alice.send('teh first line');
    await alice.send('a line to delete');
    await bob.waitForMessage('alice', 'a line to delete');
    // Edit the first by its Edit button.
    const first = alice.page.locator('#log li.entry.message', { hasText: 'teh first line' });
    await first.hover();
    await first.locator('button[data-action="edit"]').click();
    await alice.page.locator('#compose-context:not([hidden])', { hasText: 'Editing your message' }).waitFor();
    assert.equal(await alice.page.inputValue('#input'), 'teh first line');
    await alice.page.fill('#input', 'the first line');
    await alice.page.press('#input', 'Enter');
    await bob.waitForMessage('alice', 'the first line');
    await bob.page.locator('#log li.entry.message', { hasText: 'the first line' }).locator('.edited', { hasText: '(edited)' }).waitFor();
    // Bob cannot edit or delete alice's line: the buttons are not there for him.
    const hers = bob.page.locator('#log li.entry.message', { hasText: 'the first line' });
    await hers.hover();
    assert.equal(await hers.locator('button[data-action="edit"]').isVisible(), false);
    assert.equal(await hers.locator('button[data-action="delete"]').isVisible(), false);
    // Delete the second: the button asks once more, inline.
    const second = alice.page.locator('#log li.entry.message', { hasText: 'a line to delete' });
    await second.hover();
    await second.locator('button[data-action="delete"]').click();
    await second.locator('button[data-action="delete"]', { hasText: 'Delete?' }).click();
    await bob.page.locator('#log li.entry.deleted', { hasText: 'message deleted' }).waitFor();
    assert.equal(await bob.page.locator('#log', { hasText: 'a line to delete' }).count(), 0);
    // Up in an empty composer edits the last own line still there.
    await alice.page.press('#input', 'ArrowUp');
    assert.equal(await alice.page.inputValue('#input'), 'the first line');
    await alice.page.press('#input', 'Escape');
    assert.equal(await alice.page.inputValue('#input'), '');
    // A newcomer's history has both as they are now.
    const carol = await joined(t, room, 'carol');
    await carol.page.locator('#log li.entry.message', { hasText: 'the first line' }).locator('.edited').waitFor();
    await carol.page.locator('#log li.entry.deleted').waitFor();
    assert.equal(await carol.page.locator('#log', { hasText: 'teh first' }).count(), 0);
    await shot(bob.page, 'edited-and-deleted');
    clean(alice, bob, carol);
  });

  test('reply: a quote of what it answers, which jumps to it', T, async (t) => {
    const room = 'reply';
    const alice = await joined(t, room, 'alice');
    const bob = await joined(t, room, 'bob');
    await alice.send('Who has the keys to the server room?');
    for (let i = 0; i < 25; i++) await alice.send(`filler ${i}`);
    await bob.waitForMessage('alice', 'filler 24');
    const question = bob.page.locator('#log li.entry.message', { hasText: 'Who has the keys' });
    await question.scrollIntoViewIfNeeded();
    await question.hover();
    await question.locator('button[data-action="reply"]').click();
    await bob.page.locator('#compose-context:not([hidden])', { hasText: 'Replying to alice' }).waitFor();
    await bob.send('I do');
    await alice.waitForMessage('bob', 'I do');
    const quote = alice.page.locator('#log li.entry.reply .reply-quote');
    assert.equal(await quote.textContent(), '↪ alice: Who has the keys to the server room?');
    await quote.click();
    await alice.page.locator('#log li.entry.message.flash', { hasText: 'Who has the keys' }).waitFor();
    // Scrolled into view (smoothly): inside the scroller's box.
    await alice.page.waitForFunction(lineInView, 'Who has the keys', { polling: 50 });
    clean(alice, bob);
  });

  test('joins and leaves that pile up are one line, which opens', T, async (t) => {
    const room = 'comings-goings';
    const alice = await joined(t, room, 'alice');
    await alice.send('before the crowd');
    for (const nick of ['ann', 'ben', 'cat', 'dan']) await joined(t, room, nick);
    await alice.waitForMembers(['alice', 'ann', 'ben', 'cat', 'dan']);
    const summary = alice.page.locator('#log .presence-summary button');
    await summary.waitFor();
    assert.equal(await summary.textContent(), 'ann, ben, cat and 1 other joined (4 notices)');
    assert.equal(await alice.page.locator('#log li.entry.notice:visible').count(), 1, 'only alice\'s own join, before her message, shows');
    await summary.click();
    assert.equal(await alice.page.locator('#log li.entry.notice:visible').count(), 5);
    clean(alice);
  });
});
