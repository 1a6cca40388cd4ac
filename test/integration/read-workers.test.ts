import { beforeAll, describe, expect, it } from 'vitest';
import { encodeToken } from '../../src/routing/consistency.ts';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

/**
 * Read workers (src/server/read-workers.ts, src/read-worker.ts) on a real broker and store: a
 * repeated query answered by a worker is the answer the main thread gives; pages read by a worker
 * while the main thread writes the same rows are each one state of the store; what a worker must
 * not answer (a consistency token ahead of the store) is answered by the main thread. /metrics
 * shows who answered.
 */

const GRID =
  'query Grid($state: OrderState) { orders(first: 20, orderBy: {field: CREATED_AT, direction: DESC}, filter: {state: {eq: $state}}) ' +
  '{ edges { node { orderId state createdAt quantity customer { customerId name } payments { paymentId orderId status } } } } }';
const LOOKUP = 'query Lookup($id: ID!) { order(orderId: $id) { orderId state quantity customer { name } payments { paymentId } } }';

interface GridNode {
  orderId: string;
  state: string;
  createdAt: string;
  quantity: number;
  customer: { customerId: string; name: string } | null;
  payments: Array<{ paymentId: string; orderId: string; status: string }>;
}

describe('read workers', () => {
  const fx = useFixture('readworkers');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { READ_WORKERS: '1', RESPONSE_CACHE_MB: '0' } });
    await fx.produce(
      'customers',
      Array.from({ length: 10 }, (_, n) => keyed('customerId', customer(n))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 120 }, (_, n) =>
        keyed('orderId', order(n, { customerId: customer(n % 10).customerId, state: n % 2 ? 'SHIPPED' : 'FAILED' })),
      ),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 120 }, (_, n) => keyed('paymentId', payment(n, 1))),
    );
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
    // The workers start with the first query the fast path hands over (a text's third run); a
    // worker then builds its schema and attaches to the store.
    for (let i = 0; i < 3; i++) await send({ query: LOOKUP, variables: { id: order(1).orderId } });
    const deadline = Date.now() + 30_000;
    while (!/^gw_read_workers 1$/m.test(await (await fetch(`${gw.url}/metrics`)).text())) {
      if (Date.now() > deadline) throw new Error('the read worker did not become ready within 30 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  const tasks = async (outcome: 'answered' | 'declined' | 'busy'): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(new RegExp(`^gw_read_worker_tasks_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  const send = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return {
      status: response.status,
      json: (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[]; extensions?: Record<string, unknown> },
    };
  };

  it('answers a repeated query as yoga answered its first run', async () => {
    const grid = { query: GRID, variables: { state: 'SHIPPED' } };
    const lookup = { query: LOOKUP, variables: { id: order(7).orderId } };
    // The first runs are yoga's (graphql-js, then graphql-jit compiles); from then on the fast
    // path hands the text to a worker.
    const [firstGrid, firstLookup] = [await send(grid), await send(lookup)];
    for (let i = 0; i < 3; i++) {
      await send(grid);
      await send(lookup);
    }
    const before = await tasks('answered');
    for (let i = 0; i < 5; i++) {
      expect(await send(grid)).toEqual(firstGrid);
      expect(await send(lookup)).toEqual(firstLookup);
    }
    expect(await tasks('answered')).toBe(before + 10);
    expect(firstGrid.json.errors).toBeUndefined();
    expect((firstGrid.json.data as { orders: { edges: unknown[] } }).orders.edges).toHaveLength(20);
  });

  it('hands back a query whose consistency token is ahead of the store, and the main thread waits for it', async () => {
    const body = { query: LOOKUP, variables: { id: order(3).orderId } };
    await send(body);
    const { json } = await send(body);
    const freshness = json.extensions!.freshness as Record<string, Record<string, string>>;
    const read = freshness[fx.topic('orders')]!;
    const [[partition, next]] = Object.entries(read) as [[string, string]];
    // One record past what the store has applied in the order's partition: no worker can answer
    // it until that record arrives, so the main thread waits for it.
    const token = encodeToken({ [fx.topic('orders')]: { [partition]: String(BigInt(next) + 1n) } });
    const declined = await tasks('declined');
    const answer = send(body, { 'x-gw-consistency': token });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await fx.produce('orders', [keyed('orderId', order(3, { customerId: customer(3).customerId, state: 'CANCELLED' }))]);
    const answered = await answer;
    expect(answered.status).toBe(200);
    expect(answered.json.errors).toBeUndefined();
    expect((answered.json.data as { order: { state: string } }).order.state).toBe('CANCELLED');
    expect(await tasks('declined')).toBe(declined + 1);
  });

  it('answers after writes with what they wrote: cached rows, relation lists and counts follow each write', async () => {
    const lookup = {
      query: 'query Full($id: ID!) { order(orderId: $id) { orderId state quantity customer { name } payments { paymentId status } } }',
      variables: { id: order(11).orderId },
    };
    const count = {
      query: 'query Count($state: OrderState) { orders(first: 1, filter: {state: {eq: $state}}) { totalCount } }',
      variables: { state: 'SHIPPED' },
    };
    // Compiled, handed to the worker, and read there until its caches hold the rows and lists.
    for (let i = 0; i < 5; i++) {
      await send(lookup);
      await send(count);
    }
    const shipped = ((await send(count)).json.data as { orders: { totalCount: number } }).orders.totalCount;
    // A write elsewhere first, then one to each thing the two queries read.
    await fx.produce('orders', [keyed('orderId', order(13, { customerId: customer(3).customerId, state: 'SHIPPED', quantity: 3 }))]);
    await fx.produce('orders', [keyed('orderId', order(11, { customerId: customer(1).customerId, state: 'CANCELLED', quantity: 42 }))]);
    await fx.produce('payments', [keyed('paymentId', payment(11, 2, { status: 'PENDING' }))]);
    await fx.produce('customers', [keyed('customerId', customer(1, { name: 'Renamed' }))]);
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
    const answered = await tasks('answered');
    expect((await send(lookup)).json.data).toEqual({
      order: {
        orderId: order(11).orderId,
        state: 'CANCELLED',
        quantity: 42,
        customer: { name: 'Renamed' },
        payments: [
          { paymentId: payment(11, 1).paymentId, status: payment(11, 1).status },
          { paymentId: payment(11, 2).paymentId, status: 'PENDING' },
        ],
      },
    });
    expect((await send(count)).json.data).toEqual({ orders: { totalCount: shipped - 1 } });
    expect(await tasks('answered')).toBe(answered + 2);
  });

  it('reads pages that are each one state of the store while the main thread writes their rows', async () => {
    const bodies = ['SHIPPED', 'FAILED'].map((state) => ({ query: GRID, variables: { state } }));
    for (const body of bodies) {
      await send(body);
      await send(body);
    }
    const answeredBefore = await tasks('answered');
    // Writer: flips orders between SHIPPED and FAILED and moves their quantity, in many small
    // batches, while readers ask for both states' pages.
    let writing = true;
    const writer = (async () => {
      let round = 0;
      while (writing) {
        round++;
        const batch = Array.from({ length: 12 }, (_, i) => {
          const n = (round * 7 + i * 10) % 120;
          const state = (n + round) % 2 ? 'SHIPPED' : 'FAILED';
          return keyed('orderId', order(n, { customerId: customer(n % 10).customerId, state, quantity: 1 + (round % 50) }));
        });
        await fx.produce('orders', batch);
      }
      return round;
    })();
    const problems: string[] = [];
    let pages = 0;
    const reader = async (body: (typeof bodies)[number]) => {
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        const { status, json } = await send(body);
        pages++;
        if (status !== 200 || json.errors) {
          problems.push(`status ${status}: ${JSON.stringify(json.errors)}`);
          continue;
        }
        const nodes = (json.data as { orders: { edges: Array<{ node: GridNode }> } }).orders.edges.map((edge) => edge.node);
        const wanted = body.variables.state;
        for (const node of nodes) {
          if (node.state !== wanted) problems.push(`${node.orderId} is ${node.state} on the ${wanted} page`);
          if (node.payments.some((p) => p.orderId !== node.orderId)) problems.push(`${node.orderId} lists another order's payment`);
          if (!node.customer) problems.push(`${node.orderId} has no customer`);
        }
        for (let i = 1; i < nodes.length; i++) {
          const [a, b] = [nodes[i - 1]!, nodes[i]!];
          if (a.createdAt < b.createdAt || (a.createdAt === b.createdAt && a.orderId < b.orderId)) {
            problems.push(`${a.orderId} before ${b.orderId} is out of order`);
          }
        }
        if (new Set(nodes.map((node) => node.orderId)).size !== nodes.length) problems.push('a page repeats an order');
      }
    };
    await Promise.all([reader(bodies[0]!), reader(bodies[1]!), reader(bodies[0]!), reader(bodies[1]!)]);
    writing = false;
    const rounds = await writer;
    expect(rounds).toBeGreaterThan(5);
    expect(pages).toBeGreaterThan(40);
    expect(problems).toEqual([]);
    // Most pages were a worker's; the rest were handed back (the store changed during each try).
    expect(await tasks('answered')).toBeGreaterThan(answeredBefore + pages / 4);
  });
});
