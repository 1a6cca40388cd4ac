import { beforeAll, describe, expect, it } from 'vitest';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

const GRID = `query Grid($filter: OrderFilter, $orderBy: OrderOrder) {
  orders(first: 100, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { node { orderId state updatedAt } }
  }
}`;

describe('ingest to query on a real broker and RocksDB', () => {
  const fx = useFixture('iq');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ transport: 'in-process' });
  });

  const ids = (data: { orders: { edges: Array<{ node: { orderId: string } }> } }) => data.orders.edges.map((edge) => edge.node.orderId);

  it('serves a produced row, moves it on update and removes it on tombstone', async () => {
    await fx.produce('customers', [keyed('customerId', customer(1))]);
    await fx.produce(
      'orders',
      [1, 2, 3].map((n) => keyed('orderId', order(n, { customerId: 'cus-00001', state: 'CREATED' }))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers']);

    const lookup = await gw.query<{ order: { orderId: string; state: string; quantity: number; customer: { name: string } } }>(
      '{ order(orderId: "ord-000002") { orderId state quantity customer { name } } }',
    );
    expect(lookup.order).toEqual({ orderId: 'ord-000002', state: 'CREATED', quantity: order(2).quantity, customer: { name: customer(1).name } });

    const before = await gw.query<Parameters<typeof ids>[0]>(GRID, { orderBy: { field: 'UPDATED_AT', direction: 'DESC' } });
    expect(ids(before)).toEqual(['ord-000003', 'ord-000002', 'ord-000001']);

    // ord-000001 becomes the most recently updated and SHIPPED.
    await fx.produce('orders', [keyed('orderId', order(1, { customerId: 'cus-00001', state: 'SHIPPED', updatedAt: '2027-01-01T00:00:00.000Z' }))]);
    await fx.waitCaughtUp(gw, ['orders']);
    const after = await gw.query<Parameters<typeof ids>[0]>(GRID, { orderBy: { field: 'UPDATED_AT', direction: 'DESC' } });
    expect(ids(after)).toEqual(['ord-000001', 'ord-000003', 'ord-000002']);
    const shipped = await gw.query<{ orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } }>(GRID, {
      filter: { state: { eq: 'SHIPPED' } },
    });
    expect(ids(shipped)).toEqual(['ord-000001']);
    expect(shipped.orders.totalCount).toBe(1);
    const created = await gw.query<{ orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } }>(GRID, {
      filter: { state: { eq: 'CREATED' } },
    });
    expect(ids(created).sort()).toEqual(['ord-000002', 'ord-000003']);
    expect(created.orders.totalCount).toBe(2);

    // Tombstone: gone from the lookup, every grid, every filter and every count.
    await fx.produce('orders', [{ key: 'ord-000003', value: null }]);
    await fx.waitCaughtUp(gw, ['orders']);
    const gone = await gw.query<{ order: unknown }>('{ order(orderId: "ord-000003") { orderId } }');
    expect(gone.order).toBeNull();
    for (const field of ['CREATED_AT', 'UPDATED_AT', 'ORDER_ID']) {
      for (const direction of ['ASC', 'DESC']) {
        const grid = await gw.query<{ orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } }>(GRID, {
          orderBy: { field, direction },
        });
        expect(ids(grid)).not.toContain('ord-000003');
        expect(grid.orders.totalCount).toBe(2);
      }
    }
    const createdAfter = await gw.query<{ orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } }>(GRID, {
      filter: { state: { eq: 'CREATED' } },
    });
    expect(ids(createdAfter)).toEqual(['ord-000002']);
    expect(createdAfter.orders.totalCount).toBe(1);
    const byCustomer = await gw.query<{ customer: { orders: { totalCount: number } } }>(
      '{ customer(customerId: "cus-00001") { orders { totalCount } } }',
    );
    expect(byCustomer.customer.orders.totalCount).toBe(2);
  });

  it('keeps cached rows and relation lists fresh: reads after each write see it', async () => {
    const read = () =>
      gw.query<{ order: { state: string; customer: { name: string }; payments: Array<{ paymentId: string; status: string }> } }>(
        '{ order(orderId: "ord-000050") { state customer { name } payments { paymentId status } } }',
      );
    await fx.produce('customers', [keyed('customerId', customer(50, { name: 'Before' }))]);
    await fx.produce('orders', [keyed('orderId', order(50, { customerId: 'cus-00050', state: 'CREATED' }))]);
    await fx.produce('payments', [keyed('paymentId', payment(50, 1, { status: 'PENDING' }))]);
    await fx.waitCaughtUp(gw, ['orders', 'customers', 'payments']);
    const first = await read(); // fills the row cache and the payments list cache
    expect(first.order.state).toBe('CREATED');
    expect(first.order.payments.map((p) => p.status)).toEqual(['PENDING']);
    expect(await read()).toEqual(first);

    const [firstPayment] = first.order.payments;
    await fx.produce('customers', [keyed('customerId', customer(50, { name: 'After' }))]);
    await fx.produce('orders', [keyed('orderId', order(50, { customerId: 'cus-00050', state: 'VALIDATED' }))]);
    await fx.produce('payments', [
      keyed('paymentId', payment(50, 1, { status: 'CAPTURED' })),
      keyed('paymentId', payment(50, 2, { status: 'FAILED' })),
    ]);
    await fx.waitCaughtUp(gw, ['orders', 'customers', 'payments']);
    const second = await read();
    expect(second.order.state).toBe('VALIDATED');
    expect(second.order.customer.name).toBe('After');
    expect(second.order.payments).toHaveLength(2);
    expect(second.order.payments.find((p) => p.paymentId === firstPayment!.paymentId)?.status).toBe('CAPTURED');

    await fx.produce('payments', [{ key: firstPayment!.paymentId, value: null }]);
    await fx.waitCaughtUp(gw, ['payments']);
    expect((await read()).order.payments.map((p) => p.status)).toEqual(['FAILED']);
  });

  it('reports the applied offsets it read at in extensions', async () => {
    const { body } = await gw.graphql('{ orders(first: 1) { totalCount } }');
    const freshness = body.extensions?.freshness as Record<string, Record<string, string>>;
    const ends = await fx.endOffsets('orders');
    expect(Object.keys(freshness)).toEqual([fx.topic('orders')]);
    for (const [partition, end] of ends) expect(freshness[fx.topic('orders')]![String(partition)]).toBe(end);
  });

  it('resolves global ids through node and nodes', async () => {
    const data = await gw.query<{ order: { id: string } }>('{ order(orderId: "ord-000001") { id } }');
    const nodes = await gw.query<{ node: { orderId: string }; nodes: Array<{ orderId: string } | null> }>(
      `query($id: ID!, $ids: [ID!]!) { node(id: $id) { ... on Order { orderId } } nodes(ids: $ids) { ... on Order { orderId } } }`,
      { id: data.order.id, ids: [data.order.id, Buffer.from('Order:ord-999999').toString('base64')] },
    );
    expect(nodes.node.orderId).toBe('ord-000001');
    expect(nodes.nodes).toEqual([{ orderId: 'ord-000001' }, null]);
    const bad = await gw.graphql('{ node(id: "bm90LWEtdHlwZTp4") { id } }');
    expect(bad.body.errors?.[0]?.extensions?.code).toBe('GW_QUERY_BAD_ID');
  });
});
