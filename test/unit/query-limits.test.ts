/**
 * The query limits and the cost function on the reference schema: figures as executed (through
 * fragments, spread n times counting n times), in time linear in the document.
 */
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { checkCost, fixedCost, LIST_FACTOR, operationCost, selectOperation } from '../../src/graphql/cost.ts';
import { checkShape, limitedParse, MAX_NESTING, type QueryLimits } from '../../src/graphql/limits.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const schema = buildSchema(compileViews([customers, orders, payments]), { defaultPageSize: 50, maxPageSize: 500 });
const LIMITS: QueryLimits = {
  maxTokens: 2000,
  maxDepth: 12,
  maxAliases: 50,
  maxDirectives: 30,
  maxRootFields: 50,
  maxBreadth: 100,
  maxCost: 50_000,
  defaultPageSize: 50,
  maxPageSize: 500,
};
const cost = (query: string, variables: Record<string, unknown> = {}) => {
  const document = parse(query);
  return operationCost(schema, document, selectOperation(document, undefined)!, variables, LIMITS);
};
const shapeOf = (query: string) =>
  checkShape(parse(query), { ...LIMITS, maxDepth: 0, maxAliases: 0, maxDirectives: 0, maxRootFields: 0, maxBreadth: 0 });
const figure = (query: string, limit: string) =>
  shapeOf(query).find((error) => error.extensions.details && (error.extensions.details as { limit: string }).limit === limit)?.extensions.details as
    | { value: number }
    | undefined;

describe('shape limits', () => {
  it('measure fragments as executed, each fragment once', () => {
    const lines = ['{ ...F0 }'];
    for (let i = 0; i < 40; i++) lines.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    lines.push('fragment F40 on Query { a: order(orderId: "x") { orderId @include(if: true) } }');
    const query = lines.join('\n');
    const started = performance.now();
    expect(figure(query, 'rootFields')?.value).toBe(2 ** 40);
    expect(figure(query, 'aliases')?.value).toBe(2 ** 40);
    expect(figure(query, 'directives')?.value).toBe(2 ** 40);
    expect(figure(query, 'depth')?.value).toBe(2);
    // Linear: a 2^40 expansion is measured in far less than a second (a generous bound).
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('measure breadth as the widest selection set, fragments included', () => {
    expect(
      figure('{ order(orderId: "x") { orderId state ...F customer { name } } } fragment F on Order { product quantity }', 'breadth')?.value,
    ).toBe(5);
    expect(figure(`{ order(orderId: "x") { customer { ${'name '.repeat(7)} } } }`, 'breadth')?.value).toBe(7);
  });

  it('exempt introspection subtrees from depth, and survive fragment cycles', () => {
    expect(figure('{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }', 'depth')?.value).toBe(1);
    expect(figure('{ ...A } fragment A on Query { ...B } fragment B on Query { ...A order(orderId: "x") { orderId } }', 'rootFields')?.value).toBe(1);
  });

  it('refuse at the lexer: too many tokens, too deep brackets', () => {
    const parseLimited = limitedParse(100);
    expect(() => parseLimited(`{ ${'a '.repeat(101)}}`)).toThrow(/more than 100 tokens/);
    expect(() => limitedParse(10_000)(`{ nodes(ids: ${'['.repeat(MAX_NESTING)}"x"${']'.repeat(MAX_NESTING)}) { id } }`)).toThrow(
      /nests brackets more than/,
    );
    expect(() => parseLimited('{ a')).toThrow(/Syntax Error/);
    expect(parseLimited('{ a }').kind).toBe('Document');
  });
});

describe('cost', () => {
  it('counts fields, and multiplies a connection by its page size, literal or variable', () => {
    expect(cost('{ order(orderId: "x") { orderId state } }')).toBe(3);
    // orders: 1 + 10 × (edges 1 + (node 1 + orderId 1))
    expect(cost('{ orders(first: 10) { edges { node { orderId } } } }')).toBe(1 + 10 * 3);
    expect(cost('query Q($n: Int) { orders(first: $n) { edges { node { orderId } } } }', { n: 7 })).toBe(1 + 7 * 3);
    // Without first/last: the default page size; above the maximum: the maximum.
    expect(cost('{ orders { totalCount } }')).toBe(1 + 50);
    expect(cost('{ orders(last: 9999) { totalCount } }')).toBe(1 + 500);
  });

  it('multiplies nodes(ids:) by its ids and other lists by LIST_FACTOR, lists inside a page by 1', () => {
    expect(cost('query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: ['a', 'b', 'c'] })).toBe(1 + 3);
    expect(cost('{ order(orderId: "x") { payments { amount } } }')).toBe(1 + 1 + LIST_FACTOR);
  });

  it('is fixed per document unless a variable gives a page size or ids, through fragments too', () => {
    const fixed = (query: string) => {
      const document = parse(query);
      return fixedCost(schema, document, selectOperation(document, undefined)!, LIMITS);
    };
    // Variables that only pick rows do not move the cost.
    expect(fixed('query L($id: ID!) { order(orderId: $id) { orderId state } }')).toBe(3);
    expect(fixed('query P($after: String) { orders(first: 10, after: $after) { edges { node { orderId } } } }')).toBe(1 + 10 * 3);
    // Page sizes and id lists given as variables do, wherever they are.
    expect(fixed('query P($n: Int) { orders(first: $n) { totalCount } }')).toBeUndefined();
    expect(fixed('query P($n: Int) { orders(first: 5) { edges { node { customer { orders(last: $n) { totalCount } } } } } }')).toBeUndefined();
    expect(fixed('query N($ids: [ID!]!) { ...F } fragment F on Query { nodes(ids: $ids) { id } }')).toBeUndefined();
    // Over the limit whatever the variables: fixed, and refused as checkCost refuses it.
    const over =
      'query O($id: ID!) { order(orderId: $id) { orderId } orders(first: 500) { edges { node { customer { orders(first: 500) { totalCount } } } } } }';
    expect(fixed(over)).toBeGreaterThan(LIMITS.maxCost);
    expect(checkCost(schema, parse(over), undefined, { id: 'x' }, LIMITS)?.extensions.code).toBe('GW_QUERY_TOO_COSTLY');
  });

  it('costs each fragment once, whatever it spreads', () => {
    const lines = ['{ ...F0 }'];
    for (let i = 0; i < 60; i++) lines.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
    lines.push('fragment F60 on Query { orders(first: 500) { totalCount } }');
    expect(cost(lines.join('\n'))).toBe(2 ** 60 * 501);
    const error = checkCost(schema, parse(lines.join('\n')), undefined, {}, LIMITS);
    expect(error?.extensions.code).toBe('GW_QUERY_TOO_COSTLY');
    expect(checkCost(schema, parse('{ orders(first: 5) { totalCount } }'), undefined, {}, LIMITS)).toBeUndefined();
  });
});
