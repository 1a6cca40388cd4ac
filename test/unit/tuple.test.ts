import { describe, expect, it } from 'vitest';
import { decodeTuple, encodeTuple, extendTuple, prefixEnd, type TupleElement } from '../../src/store/tuple.ts';
import { prng } from '../support/prng.ts';

/** Reference order, written independently of the encoding: null < string < number (the tag order). */
function rank(element: TupleElement): number {
  return element === null ? 0 : typeof element === 'string' ? 1 : 2;
}

function compareElement(a: TupleElement, b: TupleElement): number {
  const byRank = rank(a) - rank(b);
  if (byRank !== 0) return byRank;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  return 0;
}

function compareTuples(a: readonly TupleElement[], b: readonly TupleElement[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const order = compareElement(a[i]!, b[i]!);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);

// Characters chosen to hit the interesting UTF-8 cases: NUL (escaped), 0x01 (the null tag),
// ASCII, 2-, 3- and 4-byte sequences, U+FFFF and a character above a surrogate pair in UTF-16 order.
const ALPHABET = ['\u0000', '\u0001', 'a', 'b', 'z', '~', '\u007f', 'é', 'ÿ', '€', '\uE000', '\uFFFF', '😀', '𝄞'];
const NUMBERS = [0, -0, 1, -1, 0.5, -0.5, 1e-300, -1e-300, 2 ** 53, -(2 ** 53), 1e300, -1e300, Infinity, -Infinity, 42, 43];

function randomElement(random: () => number): TupleElement {
  const kind = random();
  if (kind < 0.1) return null;
  if (kind < 0.55) {
    const length = Math.floor(random() * 4);
    let text = '';
    for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)]!;
    return text;
  }
  if (random() < 0.5) return NUMBERS[Math.floor(random() * NUMBERS.length)]!;
  return Math.round((random() - 0.5) * 2000) / 8;
}

function randomTuple(random: () => number): TupleElement[] {
  const length = Math.floor(random() * 4);
  const tuple: TupleElement[] = [];
  for (let i = 0; i < length; i++) tuple.push(randomElement(random));
  return tuple;
}

describe('encodeTuple / decodeTuple round trip', () => {
  const cases: Array<[string, TupleElement[]]> = [
    ['empty tuple', []],
    ['empty string', ['']],
    ['strings with NUL characters', ['\u0000', 'a\u0000b', '\u0000\u0000', 'end\u0000']],
    ['non-ASCII and emoji', ['héllo', '日本語', '😀👍🏽', '\uFFFF', '𝄞\u0000😀']],
    ['null', [null, null]],
    ['negative, fractions and infinities', [-1, -0.25, 0.125, 3.5, -1e-300, Infinity, -Infinity]],
    ['large integers', [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 60, 1e300, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE]],
    ['mixed', ['r', 'orders', 3, 'key\u0000with nul', null, -7.5, '', 0]],
  ];

  for (const [name, tuple] of cases) {
    it(name, () => {
      const encoded = encodeTuple(tuple);
      expect(decodeTuple(encoded)).toEqual(tuple);
    });
  }

  it('folds -0 into 0 (same bytes, decodes to +0)', () => {
    expect(encodeTuple([-0]).equals(encodeTuple([0]))).toBe(true);
    expect(Object.is(decodeTuple(encodeTuple([-0]))[0], 0)).toBe(true);
  });

  it('decodes from a Uint8Array view at a non-zero offset', () => {
    const encoded = encodeTuple(['x\u0000y', 12.5, null]);
    const backing = new Uint8Array(encoded.length + 7);
    backing.set(encoded, 5);
    expect(decodeTuple(backing.subarray(5, 5 + encoded.length))).toEqual(['x\u0000y', 12.5, null]);
  });

  it('round-trips random tuples', () => {
    const random = prng(7);
    for (let i = 0; i < 2000; i++) {
      const tuple = randomTuple(random).map((element) => (Object.is(element, -0) ? 0 : element));
      expect(decodeTuple(encodeTuple(tuple))).toEqual(tuple);
    }
  });

  it('extendTuple equals encoding the concatenated tuple', () => {
    const prefix = encodeTuple(['i', 'orders', 2]);
    expect(extendTuple(prefix, ['a\u0000', 5, null]).equals(encodeTuple(['i', 'orders', 2, 'a\u0000', 5, null]))).toBe(true);
  });

  it('rejects malformed input', () => {
    expect(() => decodeTuple(Buffer.from([0x09]))).toThrow(RangeError);
    expect(() => decodeTuple(Buffer.from([0x03, 0x80, 0x00]))).toThrow(RangeError);
    expect(() => decodeTuple(Buffer.from([0x02, 0x61]))).toThrow(RangeError);
  });
});

describe('order preservation', () => {
  it('Buffer.compare of encodings agrees with element-wise tuple order for random tuples', () => {
    const random = prng(20260102);
    const tuples = Array.from({ length: 1500 }, () => randomTuple(random));
    const encoded = tuples.map((tuple) => ({ tuple, bytes: encodeTuple(tuple) }));

    const byBytes = [...encoded].sort((a, b) => Buffer.compare(a.bytes, b.bytes)).map((entry) => entry.tuple);
    const byTuple = [...encoded].sort((a, b) => compareTuples(a.tuple, b.tuple)).map((entry) => entry.tuple);
    // Sorting is not stable between equal elements (-0 vs 0), so compare positions by order, not identity.
    for (let i = 0; i < byBytes.length; i++) expect(compareTuples(byBytes[i]!, byTuple[i]!)).toBe(0);

    // And pairwise, which also checks equality: equal tuples encode to equal bytes.
    let mismatches = 0;
    for (let i = 0; i < 20000; i++) {
      const a = encoded[Math.floor(random() * encoded.length)]!;
      const b = encoded[Math.floor(random() * encoded.length)]!;
      if (sign(Buffer.compare(a.bytes, b.bytes)) !== sign(compareTuples(a.tuple, b.tuple))) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('orders the edge cases explicitly', () => {
    const ordered: TupleElement[][] = [
      [],
      [null],
      [null, null],
      [''],
      ['', null],
      ['\u0000'],
      ['\u0000', 'x'],
      ['\u0000\u0000'],
      ['\u0001'],
      ['a'],
      ['a', null],
      ['a', ''],
      ['a', -Infinity],
      ['a', 0],
      ['a\u0000'],
      ['a\u0000b'],
      ['a\u0001'],
      ['ab'],
      ['\uFFFF'],
      ['😀'], // U+1F600: F0 9F 98 80 > EF BF BF, though '\uFFFF' > '\uD83D' in UTF-16
      [-Infinity],
      [-1e300],
      [-1],
      [-0.5],
      [-1e-300],
      [0],
      [1e-300],
      [0.5],
      [1],
      [2 ** 53],
      [1e300],
      [Infinity],
    ];
    for (let i = 0; i + 1 < ordered.length; i++) {
      const a = encodeTuple(ordered[i]!);
      const b = encodeTuple(ordered[i + 1]!);
      expect(Buffer.compare(a, b), `${JSON.stringify(ordered[i])} < ${JSON.stringify(ordered[i + 1])}`).toBe(-1);
    }
  });
});

describe('prefixEnd', () => {
  const prefixes: Array<[string, TupleElement[], TupleElement[]]> = [
    // [name, prefix, next sibling]
    ['string ending the prefix', ['i', 'orders', 'a'], ['i', 'orders', 'a\u0000']],
    ['string sibling', ['i', 'orders', 'a'], ['i', 'orders', 'b']],
    ['number ending the prefix', ['r', 'orders', 2], ['r', 'orders', 3]],
    ['empty string', ['c', ''], ['c', '\u0000']],
    ['null', ['x', null], ['x', '']],
  ];

  for (const [name, prefixTuple, sibling] of prefixes) {
    it(`is above every extension and below the next sibling: ${name}`, () => {
      const prefix = encodeTuple(prefixTuple);
      const end = prefixEnd(prefix);
      expect(end.subarray(0, prefix.length).equals(prefix)).toBe(true);
      expect(Buffer.compare(prefix, end)).toBe(-1);
      const random = prng(prefix.length * 31 + 1);
      const extensions: TupleElement[][] = [
        [null],
        [''],
        ['\uFFFF\uFFFF'],
        ['😀😀😀'],
        [Infinity],
        [Infinity, Infinity, '\uFFFF'],
        ...Array.from({ length: 300 }, () => [randomElement(random), ...randomTuple(random)]),
      ];
      for (const extension of extensions) {
        const extended = extendTuple(prefix, extension);
        expect(Buffer.compare(extended, end), JSON.stringify(extension)).toBe(-1);
        expect(Buffer.compare(extended, prefix)).toBe(1);
      }
      expect(Buffer.compare(end, encodeTuple(sibling))).toBe(-1);
      // Sanity: the sibling is not itself a tuple extension of the prefix.
      expect(compareTuples(sibling, prefixTuple)).toBeGreaterThan(0);
    });
  }
});
