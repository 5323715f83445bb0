/**
 * The browser bundle: scripts/build-web.mjs produces what the server serves,
 * and nothing in it needs an inline script, an inline style or another origin
 * (the Content-Security-Policy forbids them; the machine may have no internet).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = new URL('../..', import.meta.url).pathname;
let out: string;

before(async () => {
  out = await mkdtemp(join(tmpdir(), 'wschat-web-'));
  await run(process.execPath, [join(root, 'scripts/build-web.mjs'), '--outdir', out], { cwd: root });
});

after(async () => {
  await rm(out, { recursive: true, force: true });
});

test('the build writes index.html and the assets it references', async () => {
  assert.deepEqual((await readdir(out)).sort(), ['assets', 'index.html']);
  const assets = (await readdir(join(out, 'assets'))).sort();
  for (const name of ['app.js', 'app.js.map', 'styles.css', 'favicon.svg']) assert.ok(assets.includes(name), name);
  const html = await readFile(join(out, 'index.html'), 'utf8');
  const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
  for (const url of referenced.filter((u) => u.startsWith('/assets/'))) {
    assert.ok(assets.includes(url.slice('/assets/'.length)), `${url} exists`);
  }
  assert.ok(referenced.includes('/assets/app.js'));
  assert.ok(referenced.includes('/assets/styles.css'));
});

test('index.html has no inline script, inline style or foreign origin', async () => {
  const html = await readFile(join(out, 'index.html'), 'utf8');
  for (const tag of html.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\bsrc="\/assets\//, tag);
  assert.doesNotMatch(html, /<script\b[^>]*>[^<]+<\/script>/, 'no inline script body');
  assert.doesNotMatch(html, /<style\b/i);
  assert.doesNotMatch(html, /\sstyle=/i);
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  assert.doesNotMatch(html, /(?:src|href)="(?:https?:)?\/\//, 'no other origin');
});

test('the bundle is minified ESM with a source map and loads nothing from elsewhere', async () => {
  const js = await readFile(join(out, 'assets', 'app.js'), 'utf8');
  assert.match(js, /\/\/# sourceMappingURL=app\.js\.map\s*$/);
  // esbuild writes "\n" in strings as a real line break inside a template literal, so a few lines remain.
  const lines = js.split('\n').length;
  assert.ok(lines < 40 && js.length / lines > 2000, `minified (${lines} lines)`);
  assert.doesNotMatch(js, /\bimport\s*\(|\bimport\s*["'{*]|from\s*["']/, 'no imports left: one self-contained file');
  assert.doesNotMatch(js, /node:/, 'no Node module reached the browser bundle');
  const css = await readFile(join(out, 'assets', 'styles.css'), 'utf8');
  assert.doesNotMatch(css, /@import|url\(\s*["']?(?:https?:)?\/\//, 'no external fonts or stylesheets');
});

test('no source of the browser client writes HTML', async () => {
  const files = [
    ...(await readdir(join(root, 'web'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'web', f)),
    ...(await readdir(join(root, 'src/client'))).filter((f) => f.endsWith('.ts')).map((f) => join(root, 'src/client', f)),
  ];
  assert.ok(files.length > 5);
  for (const file of files) {
    const source = await readFile(file, 'utf8');
    assert.doesNotMatch(source, /\.(?:innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|setAttribute\(\s*['"]style/, file);
  }
});
