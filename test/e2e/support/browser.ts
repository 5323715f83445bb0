/**
 * What the end-to-end tests need around Chromium: the web bundle built into a
 * temporary directory, Debian's Chromium launched through playwright-core
 * (never a browser from `playwright install`), and a watch on every page for
 * script errors, Content-Security-Policy violations and dialogs, which a test
 * asserts never happened.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { CHROMIUM, isCI, type Peer } from '../../support/peers.js';

const run = promisify(execFile);

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/**
 * Flags for a quiet, headless Chromium in a container: no sandbox (root in
 * CI), no GPU, and none of the background traffic to Google's services that
 * would hang on a machine without internet.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Bundles web/ into `outdir` with scripts/build-web.mjs, as `npm run build` does into dist/web.
 * @throws (rejects) when the build fails.
 */
export async function buildWeb(outdir: string): Promise<void> {
  await run(process.execPath, [join(ROOT, 'scripts/build-web.mjs'), '--outdir', outdir], { cwd: ROOT });
}

/**
 * Launches Debian's /usr/bin/chromium headless.
 * @throws (rejects) when it cannot be started.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/**
 * A font with Korean glyphs (Debian's `fonts-noto-cjk`): without one, the
 * screenshot shows boxes where a Korean nickname should be.
 */
export function findCjkFont(): Peer {
  const result = spawnSync('fc-list', [':lang=ko', 'family'], { encoding: 'utf8', timeout: 15_000 });
  const families = result.status === 0 ? result.stdout.trim() : '';
  if (families !== '') {
    return { name: 'fonts-noto-cjk', available: true, detail: families.split('\n')[0] ?? families };
  }
  const why = result.status === 0 ? 'no font covers Korean' : `fc-list failed: ${result.error?.message ?? result.stderr}`;
  return { name: 'fonts-noto-cjk', available: false, detail: `${why} (apt-get install fonts-noto-cjk)` };
}

/**
 * For a peer the test can run without but whose absence spoils its output:
 * fails with CI=true, otherwise prints why the output is poorer.
 * @throws AssertionError when the peer is missing and CI=true.
 */
export function wantPeer(peer: Peer, consequence: string): void {
  if (peer.available) return;
  assert.ok(!isCI(), `${peer.name} is required (CI=true): ${peer.detail}`);
  console.log(`# note: ${peer.name} missing, ${consequence}: ${peer.detail}`);
}

/** Chromium reports a CSP violation as a console error naming the policy. */
const CSP_MESSAGE = /Content[- ]Security[- ]Policy/i;

/**
 * What went wrong on a page that should not have: uncaught script errors,
 * CSP violations and dialogs (alert, confirm, prompt: an XSS payload that
 * ran would open one). Dialogs are dismissed so that a page never hangs.
 */
export class PageWatch {
  readonly errors: string[] = [];
  readonly csp: string[] = [];
  readonly dialogs: string[] = [];

  constructor(
    readonly page: Page,
    readonly label: string,
  ) {
    page.on('pageerror', (error) => this.errors.push(error.stack ?? String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error' && CSP_MESSAGE.test(message.text())) this.csp.push(message.text());
    });
    page.on('dialog', (dialog) => {
      this.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
      void dialog.dismiss().catch(() => undefined);
    });
  }

  /**
   * Nothing went wrong on the page so far.
   * @throws AssertionError listing what did.
   */
  assertClean(): void {
    assert.deepEqual(this.errors, [], `${this.label}: uncaught errors on the page`);
    assert.deepEqual(this.csp, [], `${this.label}: Content-Security-Policy violations`);
    assert.deepEqual(this.dialogs, [], `${this.label}: dialogs opened`);
  }
}
