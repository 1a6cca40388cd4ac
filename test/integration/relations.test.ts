import { beforeAll, describe, expect, it } from 'vitest';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const GRID = `query Grid($first: Int!) {
  orders(first: $first, orderBy: { field: CREATED_AT, direction: DESC }, filter: { state: { in: [SHIPPED, CREATED, VALIDATED, FAILED, CANCELLED] } }) {
    edges { node { orderId customerId customer { customerId name } payments { paymentId orderId status order { orderId } } } }
  }
}`;

interface GridData {
  orders: {
    edges: Array<{
      node: {
        orderId: string;
        customerId: string;
        customer: { customerId: string; name: string } | null;
        payments: Array<{ paymentId: string; orderId: string; status: string; order: { orderId: string } }>;
      };
    }>;
  };
}

describe('relations', () => {
  const ORDERS = 300;
  const orders = Array.from({ length: ORDERS }, (_, i) => order(i + 1));
  const customers = Array.from({ length: 45 }, (_, i) => customer(i)); // cus-00045..49 stay unknown
  const payments = orders.flatMap((_, i) => {
    const n = i + 1;
    if (n % 10 === 0) return []; // some orders have no payment
    return n % 4 === 0 ? [payment(n, 1), payment(n, 2)] : [payment(n, 1)];
  });
  const fx = useFixture('rel');
  let gw: TestGateway;

  beforeAll(async () => {
    // Without the row cache, so store reads count the page's structure, not what is cached.
    gw = await fx.startGateway({ transport: 'in-process', env: { ROW_CACHE_ROWS: '0' } });
    await fx.produce(
      'customers',
      customers.map((row) => keyed('customerId', row)),
    );
    await fx.produce(
      'orders',
      orders.map((row) => keyed('orderId', row)),
    );
    await fx.produce(
      'payments',
      payments.map((row) => keyed('paymentId', row)),
    );
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
  });

  it('Order.customer, Order.payments and Payment.order equal the joined reference', async () => {
    const data = await gw.query<GridData>(GRID, { first: 200 });
    expect(data.orders.edges).toHaveLength(200);
    for (const { node } of data.orders.edges) {
      const expectedCustomer = customers.find((row) => row.customerId === node.customerId);
      expect(node.customer).toEqual(expectedCustomer ? { customerId: expectedCustomer.customerId, name: expectedCustomer.name } : null);
      const expectedPayments = payments
        .filter((row) => row.orderId === node.orderId)
        .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.paymentId < b.paymentId ? -1 : 1))
        .map((row) => ({ paymentId: row.paymentId, orderId: row.orderId, status: row.status, order: { orderId: node.orderId } }));
      expect(node.payments).toEqual(expectedPayments);
    }
  });

  it('Customer.orders is a connection equal to the reference, per customer', async () => {
    const data = await gw.query<{
      customers: { edges: Array<{ node: { customerId: string; orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } } }> };
    }>(`{ customers(first: 20, orderBy: { field: CUSTOMER_ID }) {
      edges { node { customerId orders(first: 3, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount edges { node { orderId } } } } }
    } }`);
    expect(data.customers.edges).toHaveLength(20);
    for (const { node } of data.customers.edges) {
      const mine = orders
        .filter((row) => row.customerId === node.customerId)
        .sort((a, b) => (a.createdAt > b.createdAt ? -1 : a.createdAt < b.createdAt ? 1 : a.orderId > b.orderId ? -1 : 1));
      expect(node.orders.totalCount).toBe(mine.length);
      expect(node.orders.edges.map((edge) => edge.node.orderId)).toEqual(mine.slice(0, 3).map((row) => row.orderId));
    }
  });

  it('costs the same number of store reads for a grid page of 10 and of 200 rows', async () => {
    const readsFor = async (first: number) => {
      const before = gw.gateway.kv.stats.roundTrips;
      const data = await gw.query<GridData>(GRID, { first });
      expect(data.orders.edges).toHaveLength(first);
      return gw.gateway.kv.stats.roundTrips - before;
    };
    const small = await readsFor(10);
    const large = await readsFor(200);
    expect(small).toBeGreaterThan(0);
    expect(large).toBe(small);

    const customerGrid = async (first: number) => {
      const before = gw.gateway.kv.stats.roundTrips;
      await gw.query(
        `query($first: Int!) { customers(first: $first) { edges { node { customerId orders(first: 2) { edges { node { orderId payments { paymentId } } } } } } } }`,
        {
          first,
        },
      );
      return gw.gateway.kv.stats.roundTrips - before;
    };
    expect(await customerGrid(40)).toBe(await customerGrid(5));
  });
});
