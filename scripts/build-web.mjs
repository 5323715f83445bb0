#!/usr/bin/env node
/**
 * Builds the browser client into dist/web/:
 *   dist/web/index.html              (served at / and /r/<room>)
 *   dist/web/assets/app.js (+ .map)  (web/main.ts bundled: ESM, minified)
 *   dist/web/assets/styles.css (+ .map)
 *   dist/web/assets/<other static files of web/>, e.g. favicon.svg
 *
 * Usage: node scripts/build-web.mjs [--outdir DIR] [--watch]
 * Everything is bundled: the page loads nothing from another origin (no CDN),
 * and no inline script or style, as the server's Content-Security-Policy requires.
 */
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const webDir = join(root, 'web');
const { values } = parseArgs({
  options: {
    outdir: { type: 'string', default: join(root, 'dist', 'web') },
    watch: { type: 'boolean', default: false },
  },
});
const outdir = resolve(values.outdir);
const assets = join(outdir, 'assets');

/** Files of web/ that are sources, not static assets. */
const SOURCE = new Set(['.ts', '.json', '.css', '.html']);

async function copyStatic() {
  await mkdir(assets, { recursive: true });
  await copyFile(join(webDir, 'index.html'), join(outdir, 'index.html'));
  for (const entry of await readdir(webDir, { withFileTypes: true })) {
    if (entry.isFile() && !SOURCE.has(extname(entry.name))) {
      await copyFile(join(webDir, entry.name), join(assets, entry.name));
    }
  }
}

/** @type {import('esbuild').BuildOptions} */
const options = {
  absWorkingDir: root,
  entryPoints: { app: 'web/main.ts', styles: 'web/styles.css' },
  outdir: assets,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome100', 'firefox100', 'safari15.4'],
  minify: true,
  sourcemap: true,
  tsconfig: 'web/tsconfig.json',
  legalComments: 'none',
  logLevel: 'warning',
};

const started = performance.now();
await rm(outdir, { recursive: true, force: true });
await copyStatic();
if (values.watch) {
  const context = await esbuild.context({
    ...options,
    plugins: [{ name: 'static', setup: (build) => build.onEnd(() => copyStatic()) }],
  });
  await context.watch();
  console.log(`watching web/ -> ${outdir}`);
} else {
  await esbuild.build(options);
  console.log(`built web/ -> ${outdir} in ${Math.round(performance.now() - started)} ms`);
}
