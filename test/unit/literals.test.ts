/**
 * Literals to variables (src/graphql/literals.ts) against the schema built from views/: which
 * literals lift, what the normalized text is, that it validates, and that the store stays bounded.
 * The answers themselves are compared with yoga's in test/integration/fast-path.test.ts.
 */
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { createLiteralNormalizer } from '../../src/graphql/literals.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const schema = buildSchema(compileViews([customers, orders, payments]), { defaultPageSize: 50, maxPageSize: 500 });
const fresh = (maxChars = 1 << 20) => createLiteralNormalizer(schema, { maxText: 16 * 1024, maxChars });

/** The normalized form of `second`, after `first` has marked the shape. */
const normalize = (first: string, second: string) => {
  const normalizer = fresh();
  expect(normalizer.normalize(first)).toBeUndefined();
  return normalizer.normalize(second);
};

describe('literals to variables', () => {
  it('lifts field-argument literals into typed variables of a query', () => {
    const result = normalize('{ order(orderId: "a") { orderId } }', '{ order(orderId: "b") { orderId } }');
    expect(result?.text).toBe('query($_gw0: ID!) { order(orderId: $_gw0) { orderId } }');
    expect(result?.values).toEqual({ _gw0: 'b' });
  });

  it('takes each literal as its type coerces it: Int and Float as numbers, ID from an Int as its digits', () => {
    const result = normalize(
      'query P($after: String) { orders(first: 3, after: $after) { edges { node { orderId } } } order(orderId: 12) { orderId } }',
      'query P($after: String) { orders(first: 4, after: $after) { edges { node { orderId } } } order(orderId: 12345678901234567890) { orderId } }',
    );
    expect(result?.text).toBe(
      'query P($after: String, $_gw0: Int, $_gw1: ID!) { orders(first: $_gw0, after: $after) { edges { node { orderId } } } order(orderId: $_gw1) { orderId } }',
    );
    expect(result?.values).toEqual({ _gw0: 4, _gw1: '12345678901234567890' });
    expect(result?.operationName).toBe('P');
  });

  it('lifts literals inside lists and input objects, with the type of their position', () => {
    const normalizer = fresh();
    const text = (state: string, ids: string) =>
      `{ orders(first: 2, filter: { state: { eq: ${state} }, customerId: { in: [${ids}] } }) { totalCount } }`;
    normalizer.normalize(text('CREATED', '"a", "b"'));
    const result = normalizer.normalize(text('CREATED', '"c", "d"'));
    expect(result?.text).toBe(
      'query($_gw0: Int, $_gw1: ID!, $_gw2: ID!) { orders(first: $_gw0, filter: { state: { eq: CREATED }, customerId: { in: [$_gw1, $_gw2] } }) { totalCount } }',
    );
    expect(validate(schema, parse(result!.text))).toEqual([]);
    expect(result?.values).toEqual({ _gw0: 2, _gw1: 'c', _gw2: 'd' });
    // An enum is a name, part of the shape: another enum value is another shape.
    expect(normalizer.normalize(text('SHIPPED', '"e", "f"'))).toBeUndefined();
  });

  it('sees through white space and comments, and block strings and escapes', () => {
    const result = normalize('{ order(orderId: "a") { orderId } }', '# who\n{\n  order( orderId : """b\n  c""" ) {\n orderId }\n}');
    expect(result?.values).toEqual({ _gw0: 'b\nc' });
    expect(normalize('{ order(orderId: "a") { orderId } }', '{ order(orderId: "\\u0041\\n") { orderId } }')?.values).toEqual({ _gw0: 'A\n' });
  });

  it('keeps directive arguments and variable defaults in the shape', () => {
    const normalizer = fresh();
    const text = (page: number, fixed: number) => `query Q($n: Int = ${fixed}) { orders(first: ${page}) { totalCount } }`;
    normalizer.normalize(text(1, 5));
    expect(normalizer.normalize(text(2, 5))?.values).toEqual({ _gw0: 2 });
    expect(normalizer.normalize(text(3, 6))).toBeUndefined(); // another default: another shape
    expect(normalizer.normalize(text(4, 5))?.text).toBe('query Q($n: Int = 5, $_gw0: Int) { orders(first: $_gw0) { totalCount } }');
  });

  it('leaves alone what it cannot lift exactly', () => {
    const never = (text: (n: number) => string) => {
      const normalizer = fresh();
      for (let n = 0; n < 4; n++) expect(normalizer.normalize(text(n))).toBeUndefined();
    };
    never((n) => `{ orders(first: "${n}") { totalCount } }`); // a String where an Int is expected
    never((n) => `query A { orders(first: ${n}) { totalCount } } query B { orders(first: 1) { totalCount } }`); // two operations
    never((n) => `query Q($_gw0: Int) { orders(first: $_gw0, after: "${n}") { totalCount } }`); // a name like the lifted ones
    never((n) => `subscription { customerChanged(customerId: "${n}") { kind } }`); // not a query
    never((n) => `{ orders(first: ${n} { totalCount } }`); // a syntax error
    never((n) => `{ nothing(here: ${n}) { totalCount } }`); // an unknown field: no type to lift into
    never(() => '{ orders { totalCount } }'); // no literal at all
  });

  it('stops normalizing a rejected shape', () => {
    const normalizer = fresh();
    const text = (n: number) => `{ orders(first: ${n}) { totalCount } }`;
    normalizer.normalize(text(1));
    normalizer.normalize(text(2))!.reject();
    expect(normalizer.normalize(text(3))).toBeUndefined();
  });

  it('gives a text sent again the same result, until its shape is rejected or pushed out', () => {
    const text = (n: number) => `{ orders(first: ${n}) { totalCount } }`;
    const normalizer = fresh(4096);
    normalizer.normalize(text(1));
    const second = normalizer.normalize(text(2))!;
    expect(normalizer.normalize(text(2))).toBe(second);
    expect(Object.isFrozen(second.values)).toBe(true);
    const third = normalizer.normalize(text(3))!;
    expect(third).not.toBe(second);
    expect(third.values).toEqual({ _gw0: 3 });
    expect(normalizer.normalize(text(2))).toBe(second);
    second.reject();
    expect(normalizer.normalize(text(2))).toBeUndefined();
    expect(normalizer.normalize(text(3))).toBeUndefined();

    // A shape pushed out of the store by others is new again, though its texts were kept.
    const other = fresh(4096);
    const kept = (n: number) => `{ kept: orders(first: ${n}) { totalCount } }`;
    other.normalize(kept(1));
    expect(other.normalize(kept(2))).toBeDefined();
    for (let n = 0; n < 60; n++) {
      other.normalize(`{ a${n}: orders(first: 1) { totalCount } }`);
      other.normalize(`{ a${n}: orders(first: 2) { totalCount } }`);
    }
    expect(other.normalize(kept(2))).toBeUndefined();
    expect(other.normalize(kept(2))?.values).toEqual({ _gw0: 2 });
  });

  it('keeps its store within its bound under a flood of shapes', () => {
    const normalizer = fresh(4096);
    // 2,000 shapes, each seen twice in a row: each is learnt, then pushed out by later ones.
    for (let n = 0; n < 2000; n++) {
      const text = (page: number) => `{ a${n}: orders(first: ${page}) { totalCount } }`;
      normalizer.normalize(text(1));
      expect(normalizer.normalize(text(2))?.values).toEqual({ _gw0: 2 });
    }
    // The first shape was evicted: it is new again.
    expect(normalizer.normalize('{ a0: orders(first: 3) { totalCount } }')).toBeUndefined();
    // A text over the size bound is not even lexed.
    const long = `{ orders(first: 1) { totalCount } }${' '.repeat(16 * 1024)}`;
    expect(normalizer.normalize(long)).toBeUndefined();
    expect(normalizer.normalize(long)).toBeUndefined();
  });
});
