import { describe, expect, it } from 'vitest';
import { createRowWindow, type PageEdge } from '../../src/ui/grid/row-window.ts';
import { rowComparator, type OrderRow, type Sort } from '../../src/ui/grid/rows.ts';

/** Row n was created n minutes into 2026. */
function row(n: number, overrides: Partial<OrderRow> = {}): OrderRow {
  const at = new Date(Date.UTC(2026, 0, 1) + n * 60_000).toISOString();
  return {
    orderId: `ord-${String(n).padStart(4, '0')}`,
    state: 'CREATED',
    product: 'p',
    quantity: 1,
    unitPrice: 1,
    currency: 'EUR',
    customerId: 'cus-1',
    createdAt: at,
    updatedAt: at,
    customer: null,
    payments: [],
    ...overrides,
  };
}
const edges = (numbers: readonly number[]): PageEdge[] => numbers.map((n) => ({ cursor: `c${n}`, node: row(n) }));
const keys = (rows: readonly OrderRow[]) => rows.map((r) => Number(r.orderId.slice(4)));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ASC: Sort = { field: 'CREATED_AT', direction: 'ASC' };

describe('the grid row window', () => {
  it('orders rows as the connection does: sort value, then key, both reversed for DESC', () => {
    const tied = [row(1, { createdAt: 'T' }), row(3, { createdAt: 'T' }), row(2, { createdAt: 'U' })];
    expect(keys([...tied].sort(rowComparator(ASC)))).toEqual([1, 3, 2]);
    expect(keys([...tied].sort(rowComparator({ field: 'CREATED_AT', direction: 'DESC' })))).toEqual([2, 3, 1]);
    expect(keys([...tied].sort(rowComparator({ field: 'ORDER_ID', direction: 'DESC' })))).toEqual([3, 2, 1]);
  });

  it('extends forwards and backwards from the cursors of its end rows, and drops rows at the far end', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace(edges(range(11, 20)), { hasNextPage: true, hasPreviousPage: true });
    expect([window.startCursor(), window.endCursor()]).toEqual(['c11', 'c20']);
    expect(window.append(edges(range(21, 30)), { hasNextPage: false, hasPreviousPage: true })).toBe(10);
    expect(window.hasNext).toBe(false);
    window.trimStart(5);
    expect(keys(window.rows)).toEqual(range(16, 30));
    expect([window.hasPrevious, window.startCursor()]).toEqual([true, 'c16']);
    expect(window.prepend(edges(range(6, 15)), { hasNextPage: true, hasPreviousPage: true })).toBe(10);
    window.trimEnd(10);
    expect(keys(window.rows)).toEqual(range(6, 20));
    expect([window.hasNext, window.endCursor()]).toEqual([true, 'c20']);
  });

  it('replaces repeated rows of a page instead of holding them twice', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace(edges(range(1, 10)), { hasNextPage: true, hasPreviousPage: false });
    window.upsert(row(11)); // beyond the end: not placed, the next page brings it
    expect(keys(window.rows)).toEqual(range(1, 10));
    expect(window.append(edges(range(8, 15)), { hasNextPage: false, hasPreviousPage: true })).toBe(5);
    expect(keys(window.rows)).toEqual(range(1, 15));
  });

  it('places live rows inside the window or past an end that has nothing beyond it, and removes them', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace(edges([2, 4, 6, 8]), { hasNextPage: true, hasPreviousPage: false });
    expect(window.upsert(row(1))).toBe(true); // before the first row, nothing before it
    expect(window.upsert(row(5))).toBe(true);
    expect(window.upsert(row(9))).toBe(false); // after the last row, more rows follow
    expect(keys(window.rows)).toEqual([1, 2, 4, 5, 6, 8]);
    // Live rows have no cursor: the end cursor stays on the last paged row.
    window.trimEnd(0);
    expect(window.startCursor()).toBe('c2');
    expect(window.remove('ord-0004')).toBe(true);
    expect(window.remove('ord-0009')).toBe(false);
    expect(keys(window.rows)).toEqual([1, 2, 5, 6, 8]);
  });

  it('updates a row in place when its sort value is unchanged, and moves it (forgetting its cursor) when it changes', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace(edges(range(1, 5)), { hasNextPage: false, hasPreviousPage: false });
    window.upsert(row(5, { state: 'SHIPPED' }));
    expect(window.rows[4]!.state).toBe('SHIPPED');
    expect(window.endCursor()).toBe('c5');
    window.upsert(row(5, { createdAt: '2025-12-31T00:00:00.000Z' }));
    expect(keys(window.rows)).toEqual([5, 1, 2, 3, 4]);
    expect([window.startCursor(), window.endCursor()]).toEqual(['c1', 'c4']);
  });

  it('drops a row that moves out of the window; it comes back with the page that reaches it', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace(edges(range(10, 20)), { hasNextPage: true, hasPreviousPage: true });
    expect(window.upsert(row(15, { createdAt: '2027-01-01T00:00:00.000Z' }))).toBe(true);
    expect(keys(window.rows)).toEqual([10, 11, 12, 13, 14, 16, 17, 18, 19, 20]);
    expect(window.indexOf('ord-0015')).toBe(-1);
  });

  it('starts empty results over from live rows when the filter matched nothing', () => {
    const window = createRowWindow(rowComparator(ASC));
    window.replace([], { hasNextPage: false, hasPreviousPage: false });
    expect(window.upsert(row(3))).toBe(true);
    expect(window.upsert(row(1))).toBe(true);
    expect(keys(window.rows)).toEqual([1, 3]);
    expect(window.endCursor()).toBeUndefined();
  });
});
