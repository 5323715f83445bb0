import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CONFUSABLE_MAPPINGS, prototypeOf, skeleton } from '../../../src/chat/unicode/confusables.js';

describe('skeleton (UTS #39 §4)', () => {
  test("the data is Unicode's whole confusables.txt, not a hand-made list", () => {
    assert.ok(CONFUSABLE_MAPPINGS > 6000, `${CONFUSABLE_MAPPINGS} mappings`);
    // A few lines of confusables.txt (13.0.0), source -> prototype.
    assert.equal(prototypeOf('\u0430'), 'a', 'CYRILLIC SMALL LETTER A');
    assert.equal(prototypeOf('\u0391'), 'A', 'GREEK CAPITAL LETTER ALPHA');
    assert.equal(prototypeOf('\u13aa'), 'A', 'CHEROKEE LETTER GO');
    assert.equal(prototypeOf('m'), 'rn');
    assert.equal(prototypeOf('0'), 'O');
    assert.equal(prototypeOf('a'), undefined, 'prototypes map to nothing');
  });

  test('maps look-alikes of any script to one string', () => {
    assert.equal(skeleton('\u0430lice'), skeleton('alice'));
    assert.equal(skeleton('\u0410dministrator'), skeleton('Administrator'));
    assert.equal(skeleton('\u0391dministrator'), skeleton('Administrator'));
    assert.equal(skeleton('𝔭𝒶ỿ𝕡𝕒ℓ'), 'paypal');
    assert.notEqual(skeleton('alice'), skeleton('alicf'));
  });

  test('works on NFD and is idempotent', () => {
    assert.equal(skeleton('é'), skeleton('e\u0301'));
    for (const s of ['Zoë', 'ǅ', 'ﬀ', '𝔭𝒶ỿ𝕡𝕒ℓ', '김철수', 'Ελένη']) assert.equal(skeleton(skeleton(s)), skeleton(s), s);
  });
});
