import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { augmentedScriptSet, meetsLevel, restrictionLevel, scriptExtensions } from '../../../src/chat/unicode/scripts.js';

describe('scripts (UTS #39 §5)', () => {
  test('Script_Extensions from the Unicode data', () => {
    assert.deepEqual(scriptExtensions(0x61), ['Latin']);
    assert.deepEqual(scriptExtensions(0x430), ['Cyrillic']);
    assert.deepEqual(scriptExtensions(0x20), ['Common']);
    assert.ok(scriptExtensions(0x3001).includes('Han') && scriptExtensions(0x3001).includes('Hiragana'), 'IDEOGRAPHIC COMMA');
    assert.deepEqual(scriptExtensions(0x378), ['Unknown']);
    assert.equal(augmentedScriptSet(0x21), null, 'Common goes with anything');
    assert.ok(augmentedScriptSet(0x5c71)?.has('Japanese'), 'Han is used by Japanese');
  });

  test('restriction levels (UTS #39 §5.2)', () => {
    const cases: Array<[string, string]> = [
      ['alice', 'ascii-only'],
      ['Zoë', 'single-script'],
      ['ελένη', 'single-script'],
      ['fox 🦊', 'single-script'],
      ['山田たろう', 'single-script'],
      ['abc山田', 'highly-restrictive'],
      ['Kim 김', 'highly-restrictive'],
      ['alice محمد', 'moderately-restrictive'],
      ['\u0430lice', 'minimally-restrictive'],
      ['\u0391dmin', 'minimally-restrictive'],
      ['abc ᏣᎳᎩ', 'minimally-restrictive'],
      ['محمد ελένη', 'minimally-restrictive'],
    ];
    for (const [text, level] of cases) assert.equal(restrictionLevel(text), level, text);
    assert.ok(meetsLevel('single-script', 'moderately-restrictive'));
    assert.ok(meetsLevel('moderately-restrictive', 'moderately-restrictive'));
    assert.ok(!meetsLevel('minimally-restrictive', 'moderately-restrictive'));
  });
});
