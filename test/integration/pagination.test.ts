import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

type OrderRow = ReturnType<typeof order>;

const PAGE = `query Page($first: Int, $after: String, $last: Int, $before: String, $orderBy: OrderOrder, $filter: OrderFilter) {
  orders(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { orderId state currency createdAt updatedAt } }
  }
}`;

interface PageData {
  orders: {
    totalCount: number;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
    edges: Array<{ cursor: string; node: Pick<OrderRow, 'orderId' | 'state' | 'currency' | 'createdAt' | 'updatedAt'> }>;
  };
}

const SORT_FIELD: Record<string, keyof OrderRow> = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', ORDER_ID: 'orderId' };

interface FilterCase {
  name: string;
  filter: Record<string, unknown> | undefined;
  matches: (row: OrderRow) => boolean;
}

const FILTERS: FilterCase[] = [
  { name: 'none', filter: undefined, matches: () => true },
  { name: 'state', filter: { state: { eq: 'SHIPPED' } }, matches: (row) => row.state === 'SHIPPED' },
  { name: 'currency in', filter: { currency: { in: ['EUR', 'GBP'] } }, matches: (row) => row.currency === 'EUR' || row.currency === 'GBP' },
  {
    name: 'state and currency',
    filter: { state: { in: ['CREATED', 'FAILED'] }, currency: { eq: 'USD' } },
    matches: (row) => (row.state === 'CREATED' || row.state === 'FAILED') && row.currency === 'USD',
  },
  {
    name: 'createdAt range',
    filter: { createdAt: { gte: '2026-01-01T02:00:00Z', lt: '2026-01-01T05:00:00Z' } },
    matches: (row) => row.createdAt >= '2026-01-01T02:00:00.000Z' && row.createdAt < '2026-01-01T05:00:00.000Z',
  },
];

function reference(rows: OrderRow[], field: keyof OrderRow, descending: boolean, matches: (row: OrderRow) => boolean): string[] {
  const sorted = rows.filter(matches).sort((a, b) => {
    const bySort = String(a[field]) < String(b[field]) ? -1 : String(a[field]) > String(b[field]) ? 1 : 0;
    return bySort !== 0 ? bySort : a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0;
  });
  if (descending) sorted.reverse();
  return sorted.map((row) => row.orderId);
}

describe('grid pagination over 1,200 orders', () => {
  const COUNT = 1200;
  const rows = Array.from({ length: COUNT }, (_, i) => order(i + 1));
  const fx = useFixture('pg');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ transport: 'in-process' });
    await fx.produce(
      'orders',
      rows.map((row) => keyed('orderId', row)),
    );
    await fx.waitCaughtUp(gw, ['orders']);
  });

  for (const filterCase of FILTERS) {
    for (const field of Object.keys(SORT_FIELD)) {
      for (const direction of ['ASC', 'DESC']) {
        it(`filter ${filterCase.name}, ${field} ${direction}: forwards and backwards equal the reference`, async () => {
          const expected = reference(rows, SORT_FIELD[field]!, direction === 'DESC', filterCase.matches);
          expect(expected.length).toBeGreaterThan(20);
          const orderBy = { field, direction };
          const forward: string[] = [];
          let after: string | null = null;
          let pages = 0;
          for (;;) {
            const data: PageData = await gw.query<PageData>(PAGE, { first: 97, after, orderBy, filter: filterCase.filter });
            expect(data.orders.totalCount).toBe(expected.length);
            expect(data.orders.pageInfo.hasPreviousPage).toBe(after !== null);
            forward.push(...data.orders.edges.map((edge) => edge.node.orderId));
            pages++;
            if (!data.orders.pageInfo.hasNextPage) break;
            after = data.orders.pageInfo.endCursor;
            expect(pages).toBeLessThan(100);
          }
          expect(forward).toEqual(expected);

          const backward: string[] = [];
          let before: string | null = null;
          for (;;) {
            const data: PageData = await gw.query<PageData>(PAGE, { last: 89, before, orderBy, filter: filterCase.filter });
            backward.unshift(...data.orders.edges.map((edge) => edge.node.orderId));
            expect(data.orders.pageInfo.hasNextPage).toBe(before !== null);
            if (!data.orders.pageInfo.hasPreviousPage) break;
            before = data.orders.pageInfo.startCursor;
          }
          expect(backward).toEqual(expected);
        });
      }
    }
  }

  it('has no duplicate and no gap while other rows change between page requests', async () => {
    const orderBy = { field: 'CREATED_AT', direction: 'ASC' };
    const seen: string[] = [];
    const live = new Map(rows.map((row) => [row.orderId, row]));
    const deletedUnseen = new Set<string>();
    const stable = new Set(live.keys());
    let after: string | null = null;
    let extra = 0;
    for (let page = 0; page < 100; page++) {
      const data: PageData = await gw.query<PageData>(PAGE, { first: 50, after, orderBy });
      seen.push(...data.orders.edges.map((edge) => edge.node.orderId));
      if (!data.orders.pageInfo.hasNextPage) break;
      after = data.orders.pageInfo.endCursor;
      // Between pages: change states (not the sort key), insert rows on both sides of the cursor,
      // delete one row already seen and one not yet seen.
      const seenSet = new Set(seen);
      const unseen = [...live.keys()].filter((id) => !seenSet.has(id));
      const changes = [];
      const restate = unseen[unseen.length >> 1];
      if (restate) changes.push(keyed('orderId', { ...live.get(restate)!, state: 'CANCELLED' }));
      for (const n of [100_000 + extra, 200_000 + extra]) {
        const inserted = order(n, { createdAt: n < 200_000 ? '2025-12-31T00:00:00.000Z' : '2026-12-31T00:00:00.000Z' });
        changes.push(keyed('orderId', inserted));
        live.set(inserted.orderId, inserted);
      }
      extra++;
      const goneSeen = seen[seen.length - 3];
      const goneUnseen = unseen[unseen.length - 1 - page];
      for (const gone of [goneSeen, goneUnseen]) {
        if (!gone) continue;
        changes.push({ key: gone, value: null });
        live.delete(gone);
        stable.delete(gone);
      }
      if (goneUnseen) deletedUnseen.add(goneUnseen);
      await fx.produce('orders', changes);
      await fx.waitCaughtUp(gw, ['orders']);
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of stable) expect(seen).toContain(id);
    for (const id of deletedUnseen) expect(seen).not.toContain(id);
    const createdAt = seen.map((id) => rows.find((row) => row.orderId === id)?.createdAt ?? live.get(id)?.createdAt ?? '');
    expect([...createdAt].sort()).toEqual(createdAt);
  });

  it('rejects a cursor issued for another sort order with GW_QUERY_BAD_CURSOR', async () => {
    const first = await gw.query<PageData>(PAGE, { first: 1, orderBy: { field: 'UPDATED_AT', direction: 'ASC' } });
    const { status, body } = await gw.graphql(PAGE, {
      first: 1,
      after: first.orders.pageInfo.endCursor,
      orderBy: { field: 'CREATED_AT', direction: 'ASC' },
    });
    expect(status).toBe(200);
    expect(body.errors?.[0]?.extensions?.code).toBe('GW_QUERY_BAD_CURSOR');
  });
});
