/**
 * The chat end to end in Debian's headless Chromium: the web bundle built as
 * `npm run build` builds it, served by the chat server, used by two (or more)
 * browser contexts, which are two people with their own storage.
 *
 * Every test also asserts that no page threw, violated the
 * Content-Security-Policy or opened a dialog.
 *
 * Chromium is an interop peer (test/support/peers.ts): without
 * /usr/bin/chromium the suite is skipped with the reason printed, and fails
 * when CI=true.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type ChatServer, type ChatServerOptions, startChatServer } from '../../src/chat/server.js';
import { assertPeer, findChromium, peerSkip } from '../support/peers.js';
import { buildWeb, findCjkFont, launchChromium, ROOT, wantPeer } from './support/browser.js';
import { ChatTab, type LogEntry } from './support/chat-tab.js';
import { inlineScriptRuns, openPlainSocket, plainLines, plainReceived, plainSend } from './support/in-page.js';

/** Soft leave: short, so that "left (connection lost)" comes within a test. */
const GRACE_MS = 300;
/** Reconnecting after a restart waits out a jittered backoff (0.5 s doubling): bounded generously. */
const RECONNECT_MS = 40_000;

const chromiumPeer = findChromium();

let browser: Browser;
let webRoot: string;
let workDir: string;
/** The server most tests share (in memory); each test uses its own room. */
let server: ChatServer;
let baseUrl: string;
/** Every server a test started, closed in `after` if the test did not get to it. */
const servers = new Set<ChatServer>();
const rooms = new Set<string>();

async function startServer(options: ChatServerOptions): Promise<ChatServer> {
  const started = await startChatServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: null,
    console: null,
    webRoot,
    ...options,
    hub: { graceMs: GRACE_MS, ...options.hub },
  });
  servers.add(started);
  return started;
}

async function stopServer(target: ChatServer): Promise<void> {
  await target.close();
  servers.delete(target);
}

/** A room of its own for each test (the servers are new on every run, so a name is enough). */
function roomName(label: string): string {
  assert.ok(!rooms.has(label), `room ${label} used twice`);
  rooms.add(label);
  return label;
}

/** A browser context (one person: own cookies and storage), closed after the test. */
async function person(t: TestContext): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  // Fail a wait well before the test's own timeout, with Playwright's clearer message.
  context.setDefaultTimeout(15_000);
  t.after(() => context.close());
  return context;
}

function messages(log: LogEntry[]): LogEntry[] {
  return log.filter((entry) => entry.type === 'message');
}

function own(entry: LogEntry | undefined): boolean {
  return entry?.classes.split(' ').includes('own') ?? false;
}

function assertClean(...tabs: ChatTab[]): void {
  for (const tab of tabs) tab.watch.assertClean();
}

/** Seqs shown are strictly increasing: nothing twice, nothing out of order. */
function assertInOrder(log: LogEntry[], label: string): void {
  const seqs = log.flatMap((entry) => (entry.seq === null ? [] : [entry.seq]));
  for (let i = 1; i < seqs.length; i++) {
    assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), `${label}: seq ${seqs[i]} after ${seqs[i - 1]} in ${seqs.join(',')}`);
  }
}

describe('the chat in headless Chromium', { skip: peerSkip(chromiumPeer) }, () => {
  before(async () => {
    assertPeer(chromiumPeer);
    workDir = await mkdtemp(join(tmpdir(), 'wschat-e2e-'));
    webRoot = join(workDir, 'web');
    await buildWeb(webRoot);
    browser = await launchChromium();
    server = await startServer({});
    baseUrl = server.url;
  }, { timeout: 90_000 });

  after(async () => {
    await browser?.close();
    await Promise.all([...servers].map((s) => s.close()));
    servers.clear();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }, { timeout: 30_000 });

  test('the room page runs under a CSP that blocks inline script, and the watch sees violations', { timeout: 30_000 }, async (t) => {
    const room = roomName('csp');
    const tab = await ChatTab.open(await person(t), baseUrl, room, 'probe');
    const response = await tab.page.request.get(`${baseUrl}/r/${room}`);
    assert.match(response.headers()['content-security-policy'] ?? '', /script-src 'self'(;|$)/);
    await tab.page.locator('#nick-dialog[open]').waitFor();
    assertClean(tab);

    const violation = tab.page.waitForEvent('console', {
      predicate: (message) => message.type() === 'error' && /Content[- ]Security[- ]Policy/i.test(message.text()),
    });
    assert.equal(await tab.page.evaluate(inlineScriptRuns), false, 'an inline script ran');
    await violation;
    // The violation reached the watch the other tests rely on.
    assert.equal(tab.watch.csp.length, 1, tab.watch.csp.join('\n'));
  });

  test('two people chat both ways; join and leave notices; the member list', { timeout: 60_000 }, async (t) => {
    const room = roomName('two-way');
    const a = await ChatTab.open(await person(t), baseUrl, room, 'alice');
    const b = await ChatTab.open(await person(t), baseUrl, room, 'bob');
    await a.join('alice');
    await b.join('bob');

    await a.waitForNotice(/^bob joined$/);
    await b.waitForNotice(/^bob joined$/);
    await a.waitForMembers(['alice', 'bob']);
    await b.waitForMembers(['alice', 'bob']);
    assert.equal(await a.page.textContent('#member-count'), '2');
    assert.equal(await a.page.textContent('#me'), 'alice');
    assert.equal(await b.page.textContent('#me'), 'bob');
    // "you" marks oneself in the list; alice made the room, so she owns it.
    assert.deepEqual(await a.page.locator('#member-list li.member', { hasText: 'alice' }).locator('.tag').allTextContents(), ['you', 'owner']);

    // "Copy link" puts the room's address on the clipboard.
    await a.page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
    await a.page.click('#copy-link');
    await a.page.locator('#toast:not([hidden])', { hasText: 'Link copied' }).waitFor();
    assert.equal(await a.page.evaluate('navigator.clipboard.readText()'), `${baseUrl}/r/${room}`);

    await a.send('hello bob');
    await b.waitForMessage('alice', 'hello bob');
    await a.waitForMessage('alice', 'hello bob');
    await b.send('hi alice, nice to meet you');
    await a.waitForMessage('bob', 'hi alice, nice to meet you');
    await b.waitForMessage('bob', 'hi alice, nice to meet you');
    assert.equal(await a.page.inputValue('#input'), '', 'Enter sent and cleared the composer');

    // Shift+Enter is a new line inside a message; Enter then sends it.
    await a.page.fill('#input', 'line one');
    await a.page.press('#input', 'Shift+Enter');
    await a.page.keyboard.type('line two');
    assert.equal(await a.page.inputValue('#input'), 'line one\nline two');
    await a.page.press('#input', 'Enter');
    await b.waitForMessage('alice', 'line one\nline two');
    await a.waitForMessage('alice', 'line one\nline two');

    for (const [tab, me] of [
      [a, 'alice'],
      [b, 'bob'],
    ] as const) {
      const lines = messages(await tab.log());
      assert.deepEqual(
        lines.map((m) => [m.nick, m.text]),
        [
          ['alice', 'hello bob'],
          ['bob', 'hi alice, nice to meet you'],
          ['alice', 'line one\nline two'],
        ],
        tab.label,
      );
      for (const line of lines) assert.equal(own(line), line.nick === me, `${tab.label}: own mark of "${line.text}"`);
      assert.deepEqual(await tab.pending(), [], `${tab.label}: nothing left pending`);
    }

    // Leaving with /quit: at once, for good.
    await b.send('/quit');
    await a.waitForNotice(/^bob left$/);
    await a.waitForMembers(['alice']);
    await b.page.locator('#banner:not([hidden])', { hasText: 'You left the room.' }).waitFor();
    await b.waitForStatus('ended');
    assert.equal(await b.page.isDisabled('#input'), true, 'no composer after leaving');

    // Back in, then the tab closes (pagehide, not kept in the back/forward
    // cache): bob leaves at once, not "away" for the grace period.
    await b.page.click('#banner-action');
    await b.join('bob');
    await a.waitForMembers(['alice', 'bob']);
    await b.page.close({ runBeforeUnload: true });
    // After the 5 s hold a closing page asks for (it might have been a reload).
    await a.waitForNotice(/^bob left$/, 30_000);
    await a.waitForMembers(['alice']);
    const notices = (await a.log()).filter((e) => e.type === 'notice').map((e) => e.text);
    assert.deepEqual(notices, ['alice joined', 'bob joined', 'bob left', 'bob joined', 'bob left']);
    assertInOrder(await a.log(), 'alice');
    assertClean(a, b);
  });

  test('a taken nickname (in any case) or an invalid one is refused with a clear error; another gets in', { timeout: 45_000 }, async (t) => {
    const room = roomName('nick');
    const a = await ChatTab.open(await person(t), baseUrl, room, 'first');
    const b = await ChatTab.open(await person(t), baseUrl, room, 'second');
    await a.join('Alice');

    // Server-side rule (a zero-width space inside): NICK_INVALID.
    await b.submitNick('Ali\u200bce');
    assert.match(await b.nickError(/invisible/), /invisible/);
    await b.submitNick('aLICE');
    assert.match(await b.nickError(/taken/), /aLICE is taken/);
    assert.notEqual(await b.status(), 'online');
    assert.equal(await b.page.isVisible('#nick-dialog'), true, 'the dialog stays for another try');

    await b.submitNick('Bob');
    await b.page.locator('#nick-dialog:not([open])').waitFor({ state: 'attached' });
    await b.waitForStatus('online');
    await a.waitForNotice(/^Bob joined$/);
    await a.waitForMembers(['Alice', 'Bob']);
    await b.waitForMembers(['Alice', 'Bob']);
    assert.equal(await b.page.textContent('#me'), 'Bob');
    // The refused tries never reached the room.
    const notices = (await a.log()).filter((e) => e.type === 'notice').map((e) => e.text);
    assert.deepEqual(notices, ['Alice joined', 'Bob joined']);
    assertClean(a, b);
  });

  test('markup in messages and nicknames shows as text and runs nothing', { timeout: 45_000 }, async (t) => {
    const room = roomName('xss');
    const a = await ChatTab.open(await person(t), baseUrl, room, 'sender');
    const b = await ChatTab.open(await person(t), baseUrl, room, 'reader');
    // "<" and ">" cannot be in a nickname (they mark senders in the terminal
    // client); an entity shows whether the name is rendered as text or HTML.
    const evilNick = 'eve &amp; "q" \'b\'';
    await a.join(evilNick);
    await b.join('reader');
    const payloads = [
      '<img src=x onerror=alert(1)>',
      '<script>alert(2)</script>',
      '<svg onload=alert(3)></svg> & <a href="javascript:alert(4)">click</a>',
    ];
    for (const text of payloads) await a.send(text);
    await a.send('after the payloads');
    await b.waitForMessage(evilNick, 'after the payloads');
    await a.waitForMessage(evilNick, 'after the payloads');
    await b.waitForMembers([evilNick, 'reader']);

    for (const tab of [a, b]) {
      const lines = messages(await tab.log());
      assert.deepEqual(
        lines.map((m) => [m.nick, m.text]),
        [...payloads, 'after the payloads'].map((text) => [evilNick, text]),
        tab.label,
      );
      for (const selector of ['img', 'script', 'svg', 'b', 'a']) {
        assert.equal(await tab.page.locator(`#log ${selector}`).count(), 0, `${tab.label}: <${selector}> in the log`);
      }
      assert.equal(await tab.page.locator('#member-list b').count(), 0, `${tab.label}: <b> in the member list`);
    }
    assert.equal(await b.page.locator('#log .nick', { hasText: evilNick }).first().textContent(), evilNick);
    assertClean(a, b);
  });

  test('a server restart: both pages come back by themselves; the outbox is delivered once; nothing lost or doubled', { timeout: 120_000 }, async (t) => {
    const dataDir = join(workDir, 'data');
    await mkdir(dataDir);
    let running = await startServer({ dataDir });
    const port = running.port;
    const room = roomName('restart');
    const a = await ChatTab.open(await person(t), running.url, room, 'alice');
    const b = await ChatTab.open(await person(t), running.url, room, 'bob');
    await a.join('alice');
    await b.join('bob');
    await a.send('before the restart');
    await b.send('me too');
    await b.waitForMessage('alice', 'before the restart');
    await a.waitForMessage('bob', 'me too');

    await stopServer(running);
    await a.page.locator('#status:not([data-state="online"])').waitFor({ state: 'attached' });
    await b.page.locator('#status:not([data-state="online"])').waitFor({ state: 'attached' });
    await a.send('sent while offline');
    const waiting = await a.pending();
    assert.equal(waiting.length, 1, JSON.stringify(waiting));
    assert.equal(waiting[0]?.text, 'sent while offline');
    assert.match(waiting[0]?.classes ?? '', /\bpending\b/);
    assert.equal(waiting[0]?.delivery, 'Waiting for connection…');

    // Same port, same data directory: a restarted server, not a new one.
    running = await startServer({ port, dataDir });
    await a.waitForStatus('online', RECONNECT_MS);
    await b.waitForStatus('online', RECONNECT_MS);
    await b.waitForMessage('alice', 'sent while offline');
    await a.waitForNothingPending();
    await a.waitForMessage('alice', 'sent while offline');

    // Whatever was still in flight arrives before a later message does.
    await b.send('after the restart');
    await a.waitForMessage('bob', 'after the restart');
    await b.waitForMessage('bob', 'after the restart');
    const expected = [
      ['alice', 'before the restart'],
      ['bob', 'me too'],
      ['alice', 'sent while offline'],
      ['bob', 'after the restart'],
    ];
    for (const tab of [a, b]) {
      const log = await tab.log();
      assert.deepEqual(
        messages(log).map((m) => [m.nick, m.text]),
        expected,
        `${tab.label}: every message once, in order`,
      );
      assertInOrder(log, tab.label);
    }
    assert.equal(own(messages(await a.log())[2]), true, 'the outbox message is alice’s own');
    // The server stored it once too: a newcomer's history has it once.
    const c = await ChatTab.open(await person(t), running.url, room, 'carol');
    await c.join('carol');
    await c.waitForMessage('bob', 'after the restart');
    assert.deepEqual(
      messages(await c.log()).map((m) => [m.nick, m.text]),
      expected,
    );
    assertClean(a, b, c);
  });

  test('a seed-style plain WebSocket and a wschat.v1 page share a room', { timeout: 45_000 }, async (t) => {
    const room = roomName('plain');
    const v1 = await ChatTab.open(await person(t), baseUrl, room, 'v1 page');
    await v1.join('bob');
    // The plain client runs in a page of the server's own origin, as a seed page would.
    const plain = await ChatTab.open(await person(t), baseUrl, room, 'plain page');
    const protocol = await plain.page.evaluate(openPlainSocket, `ws://127.0.0.1:${server.port}/r/${room}`);
    assert.equal(protocol, '', 'no subprotocol');

    await v1.waitForNotice(/^guest-[0-9a-f]{4} joined$/);
    const joined = (await v1.log()).find((e) => e.type === 'notice' && /^guest-[0-9a-f]{4} joined$/.test(e.text ?? ''));
    const plainNick = (joined?.text ?? '').replace(/ joined$/, '');
    await v1.waitForMembers(['bob', plainNick]);

    await plain.page.evaluate(plainSend, 'hello from plain');
    await v1.waitForMessage(plainNick, 'hello from plain');
    await v1.send('hello from v1');
    await plain.page.waitForFunction(plainReceived, 'bob :: hello from v1', { polling: 50 });
    const lines = await plain.page.evaluate(plainLines);
    assert.ok(lines.includes(`${plainNick} :: hello from plain`), `the plain client sees its own line: ${lines.join(' | ')}`);
    assert.ok(
      lines.every((line) => !line.startsWith('{')),
      `plain text, no JSON: ${lines.join(' | ')}`,
    );
    assertClean(v1, plain);
  });

  test('a screenshot of a room with two people, one with a Korean nickname', { timeout: 45_000 }, async (t) => {
    wantPeer(findCjkFont(), 'the Korean nickname shows as boxes in the screenshot');
    const room = roomName('team-release');
    const a = await ChatTab.open(await person(t), baseUrl, room, 'alice');
    const m = await ChatTab.open(await person(t), baseUrl, room, '민수');
    await a.join('alice');
    await m.join('민수');
    const script: [ChatTab, string, string][] = [
      [a, 'alice', 'Morning! Is the release still on for today?'],
      [m, '민수', '안녕하세요! 네, 오후 3시에 배포합니다.'],
      [a, 'alice', 'Great. Notes are at https://example.com/release-notes'],
      [m, '민수', '확인했어요, 감사합니다!'],
    ];
    for (const [tab, nick, text] of script) {
      await tab.send(text);
      await a.waitForMessage(nick, text);
    }
    await m.send('/me is deploying');
    await a.page.locator('#log li.entry.action', { hasText: 'is deploying' }).waitFor();
    await a.waitForMembers(['alice', '민수']);
    assert.equal(await a.page.locator('#log li.entry.message .nick', { hasText: '민수' }).count(), 2);

    await a.page.evaluate('document.fonts.ready');
    const dir = join(ROOT, 'test-output');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'chat.png');
    const png = await a.page.screenshot({ fullPage: false });
    await writeFile(file, png);
    const written = await readFile(file);
    assert.deepEqual([...written.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
    // IHDR: the page's viewport size.
    assert.equal(written.readUInt32BE(16), 1000);
    assert.equal(written.readUInt32BE(20), 700);
    console.log(`# screenshot: ${file}`);
    assertClean(a, m);
  });
});
