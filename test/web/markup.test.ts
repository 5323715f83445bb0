import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { findLink, type Inline, parseMarkup, plainText } from '../../web/markup.js';

const text = (t: string): Inline => ({ kind: 'text', text: t });
const link = (t: string, href = t): Inline => ({ kind: 'link', text: t, href });

/** Every href in a tree. */
function hrefs(nodes: readonly Inline[]): string[] {
  return nodes.flatMap((n) => (n.kind === 'link' ? [n.href] : n.kind === 'em' || n.kind === 'strong' ? hrefs(n.children) : []));
}

describe('light formatting', () => {
  test('plain text is one text piece; nothing is lost', () => {
    assert.deepEqual(parseMarkup('hello world'), [text('hello world')]);
    assert.deepEqual(parseMarkup(''), []);
  });

  test('`code` and fenced code blocks keep their content as typed', () => {
    assert.deepEqual(parseMarkup('run `npm test` now'), [text('run '), { kind: 'code', text: 'npm test' }, text(' now')]);
    assert.deepEqual(parseMarkup('`**not bold** http://x.test`'), [{ kind: 'code', text: '**not bold** http://x.test' }]);
    assert.deepEqual(parseMarkup('before\n```js\nconst x = `y` * 2;\n```\nafter'), [
      text('before\n'),
      { kind: 'pre', text: 'const x = `y` * 2;', lang: 'js' },
      text('after'),
    ]);
    assert.deepEqual(parseMarkup('```\n  indented\n\n  kept\n```'), [{ kind: 'pre', text: '  indented\n\n  kept' }]);
    assert.deepEqual(parseMarkup('```one line```'), [{ kind: 'pre', text: 'one line' }]);
    assert.deepEqual(parseMarkup('``` not closed'), [text('``` not closed')]);
    assert.deepEqual(parseMarkup('a ` b'), [text('a ` b')]);
  });

  test('*emphasis* and **strong**, nested, never inside words or across lines', () => {
    assert.deepEqual(parseMarkup('*hi* and **there**'), [
      { kind: 'em', children: [text('hi')] },
      text(' and '),
      { kind: 'strong', children: [text('there')] },
    ]);
    assert.deepEqual(parseMarkup('**a *b* c**'), [{ kind: 'strong', children: [text('a '), { kind: 'em', children: [text('b')] }, text(' c')] }]);
    for (const literal of ['2*3*4', 'a * b * c', '* not *', '*no\nspan*', '**', '****', 'snake_case_name', 'x**y**z']) {
      assert.deepEqual(parseMarkup(literal), [text(literal)], literal);
    }
    assert.deepEqual(parseMarkup('(*aside*)'), [text('('), { kind: 'em', children: [text('aside')] }, text(')')]);
  });

  test('links: http, https and www. ones; trailing punctuation and unmatched brackets stay outside', () => {
    assert.deepEqual(parseMarkup('see https://example.com/a?b=1 now'), [text('see '), link('https://example.com/a?b=1'), text(' now')]);
    assert.deepEqual(parseMarkup('go to www.example.com.'), [text('go to '), link('www.example.com', 'https://www.example.com/'), text('.')]);
    assert.deepEqual(parseMarkup('(http://x.test/a).'), [text('('), link('http://x.test/a'), text(').')]);
    assert.deepEqual(parseMarkup('http://w.test/A_(b)'), [link('http://w.test/A_(b)')]);
    assert.deepEqual(parseMarkup('https://x.test/a*b*c'), [link('https://x.test/a*b*c')], 'a link is never cut by emphasis');
    assert.deepEqual(parseMarkup('*see https://x.test/doc*'), [{ kind: 'em', children: [text('see '), link('https://x.test/doc')] }]);
    assert.deepEqual(parseMarkup('www. alone, wwwexample.com, www.nodot'), [text('www. alone, wwwexample.com, www.nodot')]);
  });

  test('only http and https links: no javascript:, data: or markup becomes one', () => {
    for (const input of [
      'javascript:alert(1)',
      '[x](javascript:alert(1))',
      'data:text/html,<script>alert(1)</script>',
      '<a href="javascript:alert(1)">x</a>',
      'https://x.test/"><img src=x onerror=alert(1)>',
      'www.x.test/<script>alert(1)</script>',
    ]) {
      for (const href of hrefs(parseMarkup(input))) assert.match(href, /^https?:\/\/[^\s<>"]+$/, input);
      assert.equal(plainText(parseMarkup(input)), input, 'the text is all still there, as text');
    }
    assert.equal(findLink('javascript://x.test/%0Aalert(1)'), null);
  });

  test('whatever the text: no exception, every character still there (the markers aside), only http(s) links', () => {
    const pieces = fc.constantFrom('*', '**', '`', '```', '\n', ' ', 'a', '한', 'http://x.test/', 'www.y.test', '(', ')', '.', '<b>', 'javascript:');
    fc.assert(
      fc.property(fc.array(pieces, { maxLength: 30 }), (parts) => {
        const input = parts.join('');
        const nodes = parseMarkup(input);
        for (const href of hrefs(nodes)) assert.match(href, /^https?:\/\//);
        const strip = (s: string) => s.replace(/[*`\n]/g, '');
        // A code block's language (its first line, when one word) is not shown, but is not lost either.
        const all = (list: readonly Inline[]): string =>
          list.map((n) => (n.kind === 'pre' ? (n.lang ?? '') + n.text : n.kind === 'em' || n.kind === 'strong' ? all(n.children) : n.text)).join('');
        assert.equal(strip(all(nodes)), strip(input));
      }),
      { numRuns: 3000 },
    );
  });
});
