/**
 * Moderation and private rooms in Debian's headless Chromium (issue 11,
 * section 5): an owner bans a member, who sees why and cannot rejoin; a
 * locked room refuses a newcomer with a clear message; a room with a
 * password asks for it; an invite link works once. Each person is a
 * browser context of its own (own storage); the owner types the commands
 * into the composer as a person would.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import { type ChatServer, startChatServer } from '../../src/chat/server.js';
import { assertPeer, findChromium, peerSkip } from '../support/peers.js';
import { buildWeb, launchChromium } from './support/browser.js';
import { ChatTab } from './support/chat-tab.js';

const chromiumPeer = findChromium();
let browser: Browser;
let workDir: string;
let server: ChatServer;
let rooms = 0;

async function person(t: TestContext): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  context.setDefaultTimeout(15_000);
  t.after(() => context.close());
  return context;
}

/** The owner: creates the room (the first to join), so its browser keeps the owner key. */
async function owner(t: TestContext): Promise<{ tab: ChatTab; room: string; context: BrowserContext }> {
  const room = `mod-${++rooms}`;
  const context = await person(t);
  const tab = await ChatTab.open(context, server.url, room, 'owner');
  await tab.join('olga');
  return { tab, room, context };
}

/** The banner shown when the session ended: its text and its button. */
async function banner(tab: ChatTab, text: string | RegExp): Promise<string | null> {
  await tab.page.locator('#banner:not([hidden])', { hasText: text }).waitFor();
  return tab.page.locator('#banner-action').textContent();
}

/** Types a command and waits for the notice it causes. */
async function command(tab: ChatTab, line: string, notice: RegExp): Promise<void> {
  await tab.send(line);
  await tab.waitForNotice(notice);
}

describe('moderation and private rooms in headless Chromium', { skip: peerSkip(chromiumPeer) }, () => {
  before(
    async () => {
      assertPeer(chromiumPeer);
      workDir = await mkdtemp(join(tmpdir(), 'wschat-e2e-mod-'));
      const webRoot = join(workDir, 'web');
      await buildWeb(webRoot);
      browser = await launchChromium();
      server = await startChatServer({ host: '127.0.0.1', port: 0, dataDir: null, console: null, webRoot, hub: { graceMs: 300 } });
    },
    { timeout: 90_000 },
  );

  after(
    async () => {
      await browser?.close();
      await server?.close();
      if (workDir) await rm(workDir, { recursive: true, force: true });
    },
    { timeout: 30_000 },
  );

  test('an owner bans a member, who sees why and cannot rejoin; the owner\'s other tab is an owner too', { timeout: 60_000 }, async (t) => {
    const { tab: olga, room, context } = await owner(t);
    const bobContext = await person(t);
    const bob = await ChatTab.open(bobContext, server.url, room, 'bob');
    await bob.join('bob');
    await command(olga, '/ban bob 1h', /^bob was banned by olga for 1h$/);
    const action = await banner(bob, 'You were banned from this room by olga for 1h. You cannot join again while the ban lasts.');
    assert.equal(action, 'Go home', 'no "Join again" after a ban');
    assert.equal(await bob.status(), 'ended');
    // Coming back, even under another name (the address is banned): refused with the reason.
    const again = await ChatTab.open(bobContext, server.url, room, 'bob again');
    await again.submitNick('robert');
    assert.equal(await banner(again, /You are banned from this room until .+ UTC\./), 'Go home');
    // The owner key lives in the owner's browser: another tab of it is an owner without asking.
    const second = await ChatTab.open(context, server.url, room, 'owner, second tab');
    await second.join('olga2');
    await second.page.locator('#member-list li.member', { hasText: 'olga2' }).locator('.tag', { hasText: 'owner' }).waitFor();
    for (const tab of [olga, bob, again, second]) tab.watch.assertClean();
  });

  test('a locked room refuses a newcomer with a clear message; its members stay', { timeout: 60_000 }, async (t) => {
    const { tab: olga, room } = await owner(t);
    const member = await ChatTab.open(await person(t), server.url, room, 'member');
    await member.join('mia');
    await command(olga, '/lock', /^olga locked the room/);
    const newcomer = await ChatTab.open(await person(t), server.url, room, 'newcomer');
    await newcomer.submitNick('nina');
    assert.equal(await banner(newcomer, 'This room is locked: nobody new can join without an invite.'), 'Go home');
    await member.send('still here');
    await olga.waitForMessage('mia', 'still here');
    for (const tab of [olga, member, newcomer]) tab.watch.assertClean();
  });

  test('a room with a password asks for it, says when it is wrong, and lets in with the right one', { timeout: 60_000 }, async (t) => {
    const { tab: olga, room } = await owner(t);
    await command(olga, '/password open sesame', /^olga set a password for the room$/);
    const guest = await ChatTab.open(await person(t), server.url, room, 'guest');
    await guest.submitNick('gus');
    assert.equal(await guest.nickError(/needs a password/), 'This room needs a password.');
    await guest.page.locator('#password-row:not([hidden])').waitFor();
    await guest.page.fill('#password-input', 'open says me');
    await guest.page.press('#password-input', 'Enter');
    assert.equal(await guest.nickError(/wrong password/i), 'Wrong password for this room.');
    await guest.page.fill('#password-input', 'open sesame');
    await guest.page.press('#password-input', 'Enter');
    await guest.waitForStatus('online');
    await olga.waitForNotice(/^gus joined$/);
    assert.equal(JSON.stringify(await olga.log()).includes('sesame'), false, 'the password is shown nowhere');
    for (const tab of [olga, guest]) tab.watch.assertClean();
  });

  test('an invite link lets one person into a locked room, once', { timeout: 60_000 }, async (t) => {
    const { tab: olga, room } = await owner(t);
    await command(olga, '/lock', /^olga locked the room/);
    await olga.send('/invite');
    const link = (await olga.page.locator('#log .invite-link').textContent()) ?? '';
    assert.match(link, new RegExp(`^${server.url}/r/${room}#invite=[A-Za-z0-9_-]{22}$`));
    // Opening the link itself (the room and the fragment).
    const roomAndCode = link.slice(`${server.url}/r/`.length);
    const first = await ChatTab.open(await person(t), server.url, roomAndCode, 'first');
    await first.join('fred');
    assert.equal(new URL(first.page.url()).hash, '', 'the code leaves the address bar once used');
    await olga.waitForNotice(/^fred joined$/);
    const second = await ChatTab.open(await person(t), server.url, roomAndCode, 'second');
    await second.submitNick('sam');
    assert.equal(await banner(second, 'This invite was used already or has expired: ask for a new one.'), 'Go home');
    for (const tab of [olga, first, second]) tab.watch.assertClean();
  });
});
