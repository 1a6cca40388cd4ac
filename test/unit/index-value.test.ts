import { describe, expect, it } from 'vitest';
import { readIndexValue } from '../../src/store/keys.ts';

/** What readIndexValue must give: JSON.parse's elements 0..last (undefined past the end). */
function expected(text: string, last: number): unknown[] {
  const parsed = JSON.parse(text) as unknown[];
  return Array.from({ length: last + 1 }, (_, i) => parsed[i]);
}

function read(text: string, last: number, out: unknown[] = []): unknown[] {
  readIndexValue(text, last, out);
  return out.slice(0, last + 1);
}

/** Element by element with Object.is, so -0 and 0 differ and NaN cannot hide. */
function expectSame(actual: unknown[], wanted: unknown[], text: string): void {
  expect(actual.length, text).toBe(wanted.length);
  actual.forEach((value, i) => {
    if (!Object.is(value, wanted[i])) throw new Error(`${text}: element ${i} is ${String(value)}, JSON.parse gives ${String(wanted[i])}`);
  });
}

const STRINGS = [
  '',
  'ord-0000000001',
  'a,b',
  'a]b',
  '[x]',
  'say "hi"',
  'back\\slash',
  'tab\there',
  'line\nbreak',
  '\u0000',
  'ünïcödé',
  'emoji 🧾',
  'lone \ud800 surrogate',
  'null',
  'true',
  '123',
  '-1',
  ' ',
];
const NUMBERS = [0, -0, 1, -1, 1.5, -1e-7, 1e21, 1e-21, 123456789012345680000, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2, 0.1 + 0.2];
const OTHERS = [null, true, false];

describe('readIndexValue', () => {
  it('gives what JSON.parse gives for every element up to the one asked for, and undefined past the end', () => {
    const rows: unknown[][] = [
      [],
      ['ord-1'],
      ['ord-1', 'SHIPPED', 'cus-7', 'EUR', '2026-11-20T10:00:00.000Z', '2026-11-21T10:00:00.000Z'],
      ['ord-2', null, 3, -0, true, false, 1e21],
      ...STRINGS.map((text) => ['k', text, 'after']),
      ...NUMBERS.map((number) => ['k', number, 'after']),
      ...OTHERS.map((value) => [value, 'k']),
    ];
    for (const row of rows) {
      const text = JSON.stringify(row);
      for (let last = 0; last <= row.length + 1; last++) expectSame(read(text, last), expected(text, last), text);
    }
  });

  it('agrees with JSON.parse on random arrays of scalars, with a reused output array', () => {
    const pool = ['a', 'Z', '0', ',', '[', ']', '"', '\\', '{', '}', ':', ' ', 'é', '🧾', '\n', '\u001f', 'n', 'u', 'l'];
    let seed = 7;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const out: unknown[] = [];
    for (let n = 0; n < 3_000; n++) {
      const row: unknown[] = [];
      const length = Math.floor(random() * 8);
      for (let i = 0; i < length; i++) {
        const kind = random();
        if (kind < 0.5) {
          let text = '';
          const size = Math.floor(random() * 12);
          for (let c = 0; c < size; c++) text += pool[Math.floor(random() * pool.length)];
          row.push(text);
        } else if (kind < 0.8) {
          row.push((random() - 0.5) * 10 ** Math.floor(random() * 40 - 20));
        } else if (kind < 0.9) {
          row.push(Math.floor(random() * 1000));
        } else {
          row.push(OTHERS[Math.floor(random() * OTHERS.length)]);
        }
      }
      const text = JSON.stringify(row);
      const last = Math.floor(random() * (length + 2));
      expectSame(read(text, last, out), expected(text, last), text);
    }
  });

  it('leaves values that are not flat arrays of scalars to JSON.parse', () => {
    for (const text of ['[{"a":1},"k"]', '[[1,2],3]', '["k",{"x":"]"}]', '[ 1, "k" ]']) {
      for (let last = 0; last <= 3; last++) expect(read(text, last), text).toEqual(expected(text, last));
    }
  });

  it('throws as JSON.parse does on a value that is no JSON at all', () => {
    for (const text of ['', 'x', '["unterminated', '["k"x]', '[0x10]', '[NaN]', '[-]']) {
      expect(() => JSON.parse(text), text).toThrow(SyntaxError);
      expect(() => readIndexValue(text, 3, []), text).toThrow(SyntaxError);
    }
  });
});
