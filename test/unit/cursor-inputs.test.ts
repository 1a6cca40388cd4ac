import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.ts';
import { decodeCursor, encodeCursor } from '../../src/graphql/cursor.ts';
import { normalizeTimestamp, toFilter, toPageRequest, type ConnectionArgs, type PagingLimits } from '../../src/graphql/inputs.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';

const ORDERS = compileViews([orders, customers, payments])[0]!;
const LIMITS: PagingLimits = { defaultPageSize: 25, maxPageSize: 100 };

function gatewayError(run: () => unknown): GatewayError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayError);
    return error as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

const base64urlJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('cursors', () => {
  it.each<[string, string | number, string]>([
    ['createdAt', '2026-01-02T03:04:05.000Z', 'o-1'],
    ['orderId', 'o-ü😀\u0000', 'o-ü😀\u0000'],
    ['quantity', -12.5, 'k'],
    ['name', '', 'c-1'],
  ])('round-trips (%s, %j, %j)', (sortField, sortValue, key) => {
    const cursor = encodeCursor(sortField, sortValue, key);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/); // URL-safe, no padding
    expect(decodeCursor(cursor, sortField)).toEqual([sortValue, key]);
  });

  it('rejects a cursor issued for another sort field', () => {
    const error = gatewayError(() => decodeCursor(encodeCursor('createdAt', '2026-01-02T03:04:05.000Z', 'o-1'), 'updatedAt'));
    expect(error.code).toBe('GW_QUERY_BAD_CURSOR');
    expect(error.details).toEqual({ cursorSortField: 'createdAt', sortField: 'updatedAt' });
  });

  it.each<[string, string]>([
    ['garbage', 'not-a-cursor!!'],
    ['empty', ''],
    ['plain base64 text', Buffer.from('hello').toString('base64url')],
    ['a JSON object', base64urlJson({ sortField: 'createdAt', sortValue: 'x', key: 'k' })],
    ['another version', base64urlJson([2, 'createdAt', 'x', 'k'])],
    ['too short', base64urlJson([1, 'createdAt', 'x'])],
    ['too long', base64urlJson([1, 'createdAt', 'x', 'k', 'extra'])],
    ['null sort value', base64urlJson([1, 'createdAt', null, 'k'])],
    ['boolean sort value', base64urlJson([1, 'createdAt', true, 'k'])],
    ['numeric key', base64urlJson([1, 'createdAt', 'x', 7])],
    ['numeric sort field', base64urlJson([1, 3, 'x', 'k'])],
  ])('rejects %s with GW_QUERY_BAD_CURSOR', (_name, cursor) => {
    expect(gatewayError(() => decodeCursor(cursor, 'createdAt')).code).toBe('GW_QUERY_BAD_CURSOR');
  });
});

describe('toPageRequest', () => {
  const cursor = encodeCursor('createdAt', '2026-01-02T03:04:05.000Z', 'o-7');

  it('defaults to the first sort key, ascending, forwards, the default page size', () => {
    expect(toPageRequest(ORDERS, {}, LIMITS)).toEqual({
      sortField: 'createdAt',
      descending: false,
      filter: { equals: [], ranges: [] },
      limit: 25,
      backward: false,
      cursor: undefined,
    });
  });

  it('reads first/after forwards and last/before backwards', () => {
    expect(toPageRequest(ORDERS, { first: 10, after: cursor }, LIMITS)).toMatchObject({
      limit: 10,
      backward: false,
      cursor: ['2026-01-02T03:04:05.000Z', 'o-7'],
    });
    expect(toPageRequest(ORDERS, { last: 7, before: cursor }, LIMITS)).toMatchObject({
      limit: 7,
      backward: true,
      cursor: ['2026-01-02T03:04:05.000Z', 'o-7'],
    });
    // `before` alone pages backwards with the default size; `after` alone forwards
    expect(toPageRequest(ORDERS, { before: cursor }, LIMITS)).toMatchObject({
      limit: 25,
      backward: true,
      cursor: ['2026-01-02T03:04:05.000Z', 'o-7'],
    });
    expect(toPageRequest(ORDERS, { after: cursor }, LIMITS)).toMatchObject({ limit: 25, backward: false });
    // `last` without a cursor reads the end of the order
    expect(toPageRequest(ORDERS, { last: 3 }, LIMITS)).toMatchObject({ limit: 3, backward: true, cursor: undefined });
    // null arguments count as absent
    expect(toPageRequest(ORDERS, { first: null, last: 4, after: null, before: null, orderBy: null, filter: null }, LIMITS)).toMatchObject({
      limit: 4,
      backward: true,
    });
  });

  it('accepts page sizes 0 and exactly the maximum', () => {
    expect(toPageRequest(ORDERS, { first: 0 }, LIMITS).limit).toBe(0);
    expect(toPageRequest(ORDERS, { last: 100 }, LIMITS).limit).toBe(100);
  });

  it('orders by any sort field, including the key, in either direction', () => {
    expect(toPageRequest(ORDERS, { orderBy: { field: 'orderId', direction: 'DESC' } }, LIMITS)).toMatchObject({
      sortField: 'orderId',
      descending: true,
    });
    expect(toPageRequest(ORDERS, { orderBy: { field: 'updatedAt', direction: 'ASC' } }, LIMITS)).toMatchObject({
      sortField: 'updatedAt',
      descending: false,
    });
    expect(toPageRequest(ORDERS, { orderBy: { direction: 'DESC' } }, LIMITS)).toMatchObject({ sortField: 'createdAt', descending: true });
  });

  it('decodes the cursor for the requested ordering only', () => {
    const byKey = encodeCursor('orderId', 'o-7', 'o-7');
    expect(toPageRequest(ORDERS, { first: 2, after: byKey, orderBy: { field: 'orderId' } }, LIMITS).cursor).toEqual(['o-7', 'o-7']);
    expect(gatewayError(() => toPageRequest(ORDERS, { first: 2, after: byKey }, LIMITS)).code).toBe('GW_QUERY_BAD_CURSOR');
    expect(gatewayError(() => toPageRequest(ORDERS, { last: 2, before: 'junk' }, LIMITS)).code).toBe('GW_QUERY_BAD_CURSOR');
  });

  it('appends extra conditions after the filter', () => {
    const request = toPageRequest(ORDERS, { filter: { state: { eq: 'SHIPPED' } } }, LIMITS, [{ field: 'customerId', values: ['c-1'] }]);
    expect(request.filter).toEqual({
      equals: [
        { field: 'state', values: ['SHIPPED'] },
        { field: 'customerId', values: ['c-1'] },
      ],
      ranges: [],
    });
  });

  it.each<[string, ConnectionArgs, string]>([
    ['first and last', { first: 1, last: 1 }, 'last'],
    ['negative first', { first: -1 }, 'first'],
    ['negative last', { last: -5 }, 'last'],
    ['first above the maximum', { first: 101 }, 'first'],
    ['last above the maximum', { last: 1000 }, 'last'],
    ['first with before', { first: 2, before: encodeCursor('createdAt', 'x', 'k') }, 'before'],
    ['last with after', { last: 2, after: encodeCursor('createdAt', 'x', 'k') }, 'after'],
    ['unknown orderBy field', { orderBy: { field: 'product' } }, 'orderBy.field'],
    ['orderBy a field that does not exist', { orderBy: { field: 'nope' } }, 'orderBy.field'],
    ['filter on an unknown field', { filter: { nope: { eq: 'x' } } }, 'filter.nope'],
    ['in list over 1000 values', { filter: { state: { in: Array.from({ length: 1001 }, () => 'CREATED') } } }, 'filter.state.in'],
    ['gt with gte', { filter: { createdAt: { gt: '2026-01-01T00:00:00Z', gte: '2026-01-01T00:00:00Z' } } }, 'filter.createdAt'],
  ])('rejects %s with GW_QUERY_BAD_ARGUMENT', (_name, args, argument) => {
    const error = gatewayError(() => toPageRequest(ORDERS, args, LIMITS));
    expect(error.code).toBe('GW_QUERY_BAD_ARGUMENT');
    expect(error.details).toEqual({ argument });
  });
});

describe('toFilter', () => {
  it('maps eq and in to equality conditions', () => {
    expect(toFilter(ORDERS, { state: { eq: 'SHIPPED' }, currency: { in: ['EUR', 'USD'] }, quantity: { eq: 3 } })).toEqual({
      equals: [
        { field: 'state', values: ['SHIPPED'] },
        { field: 'currency', values: ['EUR', 'USD'] },
        { field: 'quantity', values: [3] },
      ],
      ranges: [],
    });
  });

  it('keeps an empty in list (it matches nothing) and eq plus in as two conditions', () => {
    expect(toFilter(ORDERS, { state: { in: [], eq: 'CREATED' } })).toEqual({
      equals: [
        { field: 'state', values: ['CREATED'] },
        { field: 'state', values: [] },
      ],
      ranges: [],
    });
  });

  it('maps gt/gte/lt/lte to bounds with the right inclusiveness', () => {
    expect(toFilter(ORDERS, { quantity: { gt: 1, lte: 5 }, unitPrice: { gte: 2.5, lt: 10 }, product: { gte: 'G' } })).toEqual({
      equals: [],
      ranges: [
        { field: 'quantity', lower: { value: 1, inclusive: false }, upper: { value: 5, inclusive: true } },
        { field: 'unitPrice', lower: { value: 2.5, inclusive: true }, upper: { value: 10, inclusive: false } },
        { field: 'product', lower: { value: 'G', inclusive: true }, upper: undefined },
      ],
    });
  });

  it('normalizes timestamps in eq, in and ranges to toISOString form', () => {
    expect(
      toFilter(ORDERS, {
        createdAt: { gte: '2026-01-02T03:04:05+02:00', lt: '2026-01-03T00:00:00Z' },
        updatedAt: { eq: '2026-01-02T03:04:05.5Z', in: ['2026-01-01T23:00:00-01:00', '2026-01-02T00:00:00.000Z'] },
      }),
    ).toEqual({
      equals: [
        { field: 'updatedAt', values: ['2026-01-02T03:04:05.500Z'] },
        { field: 'updatedAt', values: ['2026-01-02T00:00:00.000Z', '2026-01-02T00:00:00.000Z'] },
      ],
      ranges: [
        {
          field: 'createdAt',
          lower: { value: '2026-01-02T01:04:05.000Z', inclusive: true },
          upper: { value: '2026-01-03T00:00:00.000Z', inclusive: false },
        },
      ],
    });
  });

  it('ignores null and absent conditions', () => {
    expect(toFilter(ORDERS, null)).toEqual({ equals: [], ranges: [] });
    expect(toFilter(ORDERS, undefined)).toEqual({ equals: [], ranges: [] });
    expect(toFilter(ORDERS, { state: null, currency: { eq: null, in: null, gt: null, lte: null } })).toEqual({ equals: [], ranges: [] });
  });

  it.each<[string, Record<string, unknown>]>([
    ['gt with gte', { gt: 1, gte: 2 }],
    ['lt with lte', { lt: 9, lte: 8 }],
  ])('rejects %s with GW_QUERY_BAD_ARGUMENT', (_name, condition) => {
    const error = gatewayError(() => toFilter(ORDERS, { quantity: condition }));
    expect(error.code).toBe('GW_QUERY_BAD_ARGUMENT');
    expect(error.details).toEqual({ argument: 'filter.quantity' });
  });

  it('rejects a value that is not a timestamp for a timestamp field', () => {
    expect(() => toFilter(ORDERS, { createdAt: { eq: 'yesterday' } })).toThrow(TypeError);
    expect(() => normalizeTimestamp(12)).toThrow(TypeError);
  });

  // A zone-less date-time would be read in the server's local zone: it is refused, not guessed.
  it('rejects a date-time without a zone', () => {
    expect(() => normalizeTimestamp('2026-01-02T03:04:05')).toThrow(TypeError);
  });
});
