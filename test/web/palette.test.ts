/**
 * The nickname palette of web/styles.css, read from the stylesheet itself:
 * in each theme, every colour is readable on every background a nickname
 * shows on (WCAG 2.x AA for normal text, 4.5:1), and the colours stay apart
 * from each other (a distance in OKLab, the perceptual space CSS Color 4
 * uses), so that two people rarely look alike.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NICK_COLOURS } from '../../web/format.js';

const css = readFileSync(new URL('../../web/styles.css', import.meta.url), 'utf8');

/** The custom properties of the first rule block after `marker` (":root {" or the dark theme's). */
function variables(marker: RegExp): Map<string, string> {
  const at = css.search(marker);
  assert.ok(at >= 0, `no ${marker} in styles.css`);
  const open = css.indexOf('{', css.indexOf(':root', at));
  const close = css.indexOf('}', open);
  const out = new Map<string, string>();
  for (const match of css.slice(open + 1, close).matchAll(/--([\w-]+):\s*([^;]+);/g)) out.set(match[1] ?? '', (match[2] ?? '').trim());
  return out;
}

const light = variables(/^:root\s*\{/m);
const dark = new Map([...light, ...variables(/@media \(prefers-color-scheme: dark\)/)]);

function rgb(hex: string): [number, number, number] {
  const match = /^#([0-9a-f]{6})$/i.exec(hex);
  assert.ok(match, `not a #rrggbb colour: ${hex}`);
  const n = Number.parseInt(match[1] ?? '', 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function linear(c: number): number {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** WCAG 2.x relative luminance and contrast ratio. */
function luminance(hex: string): number {
  const [r, g, b] = rgb(hex).map(linear) as [number, number, number];
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** sRGB to OKLab (Björn Ottosson's matrices, as CSS Color 4 has them). */
function oklab(hex: string): [number, number, number] {
  const [r, g, b] = rgb(hex).map(linear) as [number, number, number];
  const l = Math.cbrt(0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b);
  const m = Math.cbrt(0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b);
  const s = Math.cbrt(0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

/** Backgrounds a nickname shows on: the log, the member list, own lines, lines that mention you. */
const BACKGROUNDS = ['bg', 'bg-soft', 'own-bg', 'mention-bg'];
/** OKLab distance (x100) below which two colours pass for one at a glance. */
const MIN_DISTANCE = 8;

for (const [theme, vars] of [
  ['light', light],
  ['dark', dark],
] as const) {
  describe(`the nickname palette, ${theme} theme`, () => {
    const palette = Array.from({ length: NICK_COLOURS }, (_, i) => vars.get(`nick-${i}`) ?? '');

    test(`${NICK_COLOURS} colours, each used by a [data-c] rule`, () => {
      assert.ok(NICK_COLOURS >= 12);
      for (const [i, colour] of palette.entries()) {
        assert.match(colour, /^#[0-9a-f]{6}$/i, `--nick-${i}`);
        assert.ok(css.includes(`[data-c="${i}"] { color: var(--nick-${i}); }`), `a rule for colour ${i}`);
      }
      assert.equal(vars.get(`nick-${NICK_COLOURS}`), undefined, 'no colour beyond the palette');
    });

    test('every colour passes WCAG AA (4.5:1) on every background a name shows on', () => {
      for (const background of BACKGROUNDS) {
        const bg = vars.get(background) ?? '';
        for (const [i, colour] of palette.entries()) {
          const ratio = contrast(colour, bg);
          assert.ok(ratio >= 4.5, `--nick-${i} ${colour} on --${background} ${bg}: ${ratio.toFixed(2)}:1`);
        }
      }
    });

    test(`the colours stay apart (OKLab distance >= ${MIN_DISTANCE})`, () => {
      const labs = palette.map(oklab);
      for (let i = 0; i < labs.length; i++) {
        for (let j = i + 1; j < labs.length; j++) {
          const [a, b] = [labs[i] as number[], labs[j] as number[]];
          const distance = 100 * Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
          assert.ok(distance >= MIN_DISTANCE, `--nick-${i} ${palette[i]} and --nick-${j} ${palette[j]}: ${distance.toFixed(1)}`);
        }
      }
    });
  });
}
