import { beforeAll, describe, expect, it } from 'vitest';
import { encodeToken, tokenFromProduced } from '../../src/routing/consistency.ts';
import { PEER_PATH, signedHeaders } from '../../src/peer/protocol.ts';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { collect } from '../support/ws.ts';

interface Change {
  kind: string;
  key: string | null;
  token: string;
  node: { orderId: string; state: string } | null;
}

const SECRET = 'test-peer-secret-0123456789';

const QUERIES: Array<{ name: string; query: string; variables?: Record<string, unknown> }> = [
  {
    name: 'lookups',
    query:
      '{ a: order(orderId: "ord-000007") { orderId state customer { name } payments { paymentId } } b: order(orderId: "ord-000420") { orderId } c: order(orderId: "nope") { orderId } d: customer(customerId: "cus-00013") { name orders(first: 3) { totalCount edges { node { orderId } } } } }',
  },
  {
    name: 'grid createdAt desc',
    query:
      '{ orders(first: 40, orderBy: {field: CREATED_AT, direction: DESC}) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { orderId customer { name } payments { paymentId status order { orderId } } } } } }',
  },
  {
    name: 'grid filtered updatedAt',
    query:
      '{ orders(first: 25, orderBy: {field: UPDATED_AT}, filter: {state: {in: [SHIPPED, CREATED]}, currency: {eq: "EUR"}}) { totalCount pageInfo { hasNextPage endCursor } edges { node { orderId state currency } } } }',
  },
  {
    name: 'grid by key backwards',
    query: '{ orders(last: 30, orderBy: {field: ORDER_ID}) { totalCount pageInfo { hasPreviousPage startCursor } edges { node { orderId } } } }',
  },
  { name: 'grid by customer', query: '{ orders(first: 10, filter: {customerId: {eq: "cus-00007"}}) { totalCount edges { node { orderId } } } }' },
  {
    name: 'payments',
    query:
      '{ payments(first: 30, orderBy: {field: CREATED_AT, direction: DESC}, filter: {status: {eq: CAPTURED}}) { totalCount edges { node { paymentId order { orderId customer { tier } } } } } }',
  },
  {
    name: 'customers',
    query:
      '{ customers(first: 20, orderBy: {field: NAME}) { totalCount edges { node { customerId name orders(first: 2, orderBy: {field: CREATED_AT, direction: DESC}) { edges { node { orderId } } } } } } }',
  },
];

/**
 * GraphQL queries go in process to yoga (test.query, test.graphql, test.fetch), including the
 * peer calls they cause between the instances; subscriptions (WebSocket) and the peer endpoint
 * itself go over real sockets (test.url).
 */
describe('three instances answer exactly like one', () => {
  const orders = Array.from({ length: 600 }, (_, i) => order(i + 1));
  const fx = useFixture('multi');
  let single: TestGateway;
  const group: TestGateway[] = [];

  beforeAll(async () => {
    single = await fx.startGateway({ transport: 'in-process', group: 'single', env: { TOPIC_PARTITIONS: '6' } });
    await fx.produce(
      'customers',
      Array.from({ length: 50 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      orders.map((row) => keyed('orderId', row)),
    );
    await fx.produce(
      'payments',
      orders.filter((_, i) => i % 5 !== 0).map((_, i) => keyed('paymentId', payment(i + 1, 1))),
    );
    const env = { TOPIC_PARTITIONS: '6', PEER_SECRET: SECRET, CONSISTENCY_WAIT_MS: '1500' };
    group.push(...(await fx.startGateways(3, { transport: 'in-process', group: 'cluster', env })));
    // Every member holds a share of every topic, and every member knows the whole map.
    await fx.waitBalanced(group, 'orders');
    await fx.waitCaughtUp(single, ['customers', 'orders', 'payments']);
    await fx.waitCaughtUp(group, ['customers', 'orders', 'payments']);
  });

  for (const { name, query, variables } of QUERIES) {
    it(`${name}: every instance equals the single instance`, async () => {
      const expected = await single.query(query, variables);
      for (const test of group) expect(await test.query(query, variables)).toEqual(expected);
    });
  }

  it('pages through every order forwards from any instance, merging partitions exactly', async () => {
    const all: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page++) {
      const via = group[page % 3]!; // each page from another instance: cursors are portable
      const data: { orders: { pageInfo: { hasNextPage: boolean; endCursor: string }; edges: Array<{ node: { orderId: string } }> } } =
        await via.query(
          'query($after: String) { orders(first: 70, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) { pageInfo { hasNextPage endCursor } edges { node { orderId } } } }',
          { after },
        );
      all.push(...data.orders.edges.map((edge) => edge.node.orderId));
      if (!data.orders.pageInfo.hasNextPage) break;
      after = data.orders.pageInfo.endCursor;
    }
    const expected = [...orders]
      .sort((a, b) => (a.updatedAt === b.updatedAt ? (a.orderId < b.orderId ? 1 : -1) : a.updatedAt < b.updatedAt ? 1 : -1))
      .map((row) => row.orderId);
    expect(all).toEqual(expected);
  });

  it('makes one peer call per peer per batch, whatever the page size', async () => {
    const grid = (first: number) =>
      `{ orders(first: ${first}, orderBy: {field: CREATED_AT}) { edges { node { orderId customer { name } payments { paymentId } } } } }`;
    const callsFor = async (first: number) => {
      const peers = group[0]!.gateway.peers.calls;
      const before = [...peers.values()].reduce((sum, n) => sum + n, 0);
      await group[0]!.query(grid(first));
      return [...peers.values()].reduce((sum, n) => sum + n, 0) - before;
    };
    // Two remote batches (the page and its payments), at most one call to each of 2 peers per
    // batch; customers are a replicated view, read locally. A small page may skip a peer.
    for (const first of [5, 50, 200]) {
      const calls = await callsFor(first);
      expect(calls).toBeGreaterThan(0);
      expect(calls).toBeLessThanOrEqual(2 * 2);
    }
  });

  it('reports freshness for every partition it read, local or remote', async () => {
    const { body } = await group[1]!.graphql('{ orders(first: 1) { totalCount } }');
    const freshness = body.extensions?.freshness as Record<string, Record<string, string>>;
    const ends = await fx.endOffsets('orders');
    expect(Object.keys(freshness[fx.topic('orders')]!).sort()).toEqual([...ends.keys()].map(String).sort());
    for (const [partition, end] of ends) expect(freshness[fx.topic('orders')]![String(partition)]).toBe(end);
  });

  it('reads its own writes with a token built from the produce result, on any instance', async () => {
    for (let round = 0; round < 6; round++) {
      const row = order(10_000 + round, { state: 'VALIDATED' });
      const [produced] = await fx.produce('orders', [keyed('orderId', row)]);
      expect(produced!.partition).toBe(partitionForKey(row.orderId, 6));
      const token = tokenFromProduced([{ topic: fx.topic('orders'), partition: produced!.partition, offset: produced!.baseOffset }]);
      const via = group[round % 3]!;
      const response = await via.fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gw-consistency': token },
        body: JSON.stringify({ query: `{ order(orderId: "${row.orderId}") { orderId state } }` }),
      });
      const body = (await response.json()) as { data: { order: unknown }; extensions: { consistencyToken: string } };
      expect(body.data.order).toEqual({ orderId: row.orderId, state: 'VALIDATED' });
      expect(body.extensions.consistencyToken).toMatch(/^c1\./);
    }
  });

  it('fails with GW_CONSISTENCY_TIMEOUT when the required offsets do not come, and rejects bad tokens', async () => {
    const far = encodeToken({ [fx.topic('orders')]: { '0': '999999999', '3': '999999999' } });
    const timedOut = await group[0]!.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }', extensions: { consistencyToken: far } }),
    });
    const timedOutBody = (await timedOut.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(timedOutBody.errors[0]!.extensions.code).toBe('GW_CONSISTENCY_TIMEOUT');
    const bad = await group[0]!.fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gw-consistency': 'c1.not-json' },
      body: JSON.stringify({ query: '{ orders(first: 1) { totalCount } }' }),
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0]!.extensions.code).toBe('GW_QUERY_BAD_TOKEN');
  });

  it('serves a subscription on one instance for a key owned by another', async () => {
    const key = 'ord-000321';
    const partition = partitionForKey(key, 6);
    const host = group.find((test) => !test.gateway.ingestor.assigned(fx.topic('orders')).includes(partition))!;
    const client = fx.wsClient(host.url);
    const sub = collect<Change>(
      client,
      'subscription($id: ID!) { orderChanged(orderId: $id) { kind key token node { orderId state } } }',
      { id: key },
      'orderChanged',
    );
    await waitFor(() => sub.events.length >= 1, { what: 'snapshot' });
    expect(sub.events[0]).toMatchObject({ kind: 'SNAPSHOT', node: { orderId: key, state: order(321).state } });
    for (const [index, state] of ['VALIDATED', 'SHIPPED'].entries()) {
      await fx.produce('orders', [keyed('orderId', order(321, { state }))]);
      // Wait for this change's own event: the snapshot may already carry the same state.
      await waitFor(() => sub.events[index + 1]?.node?.state === state, { what: `remote change ${state}` });
    }
    expect(sub.events.map((event) => event.kind)).toEqual(['SNAPSHOT', 'UPSERT', 'UPSERT']);
    sub.stop();
    await client.dispose();
  });

  it('a live grid over every partition, resumed on another instance with exactly the missed changes', async () => {
    const filter = { state: { eq: 'FAILED' } };
    const query =
      'subscription($filter: OrderFilter, $after: String) { ordersChanged(filter: $filter, first: 3, after: $after) { kind key token node { orderId state } } }';
    const firstClient = fx.wsClient(group[0]!.url);
    const first = collect<Change>(firstClient, query, { filter }, 'ordersChanged');
    await waitFor(() => first.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'grid caught up' });
    const live = Array.from({ length: 30 }, (_, i) => order(20_000 + i, { state: 'FAILED' }));
    await fx.produce(
      'orders',
      live.map((row) => keyed('orderId', row)),
    );
    await waitFor(() => live.every((row) => first.events.some((event) => event.key === row.orderId)), { what: 'live changes from every owner' });
    const token = first.events[first.events.length - 1]!.token;
    first.stop();
    await firstClient.dispose();

    const missed = Array.from({ length: 12 }, (_, i) => order(21_000 + i, { state: 'FAILED' }));
    await fx.produce('orders', [...missed.map((row) => keyed('orderId', row)), keyed('orderId', order(22_000, { state: 'SHIPPED' }))]);
    await fx.waitCaughtUp(group, ['orders']);
    const secondClient = fx.wsClient(group[2]!.url);
    const second = collect<Change>(secondClient, query, { filter, after: token }, 'ordersChanged');
    await waitFor(() => second.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'resume caught up', timeoutMs: 20_000 });
    const replay = second.events.slice(
      0,
      second.events.findIndex((event) => event.kind === 'CAUGHT_UP'),
    );
    expect(
      replay
        .filter((event) => event.kind === 'UPSERT')
        .map((event) => event.key)
        .sort(),
    ).toEqual(missed.map((row) => row.orderId).sort());
    expect(replay.some((event) => event.kind === 'UPSERT' && live.some((row) => row.orderId === event.key))).toBe(false);
    second.stop();
    await secondClient.dispose();
  });

  it('ends a resume with GW_RESUME_TOO_FAR when the owner no longer has the deletions since the token', async () => {
    const key = 'ord-000123';
    const partition = partitionForKey(key, 6);
    const owner = group.find((test) => test.gateway.ingestor.assigned(fx.topic('orders')).includes(partition))!;
    const follower = group.find((test) => test !== owner)!;
    const query = 'subscription($id: ID!, $after: String) { orderChanged(orderId: $id, after: $after) { kind key token } }';
    const client = fx.wsClient(follower.url);
    const first = collect<Change>(client, query, { id: key }, 'orderChanged');
    await waitFor(() => first.events.length >= 1, { what: 'snapshot' });
    const token = first.events[0]!.token;
    first.stop();

    // More changes in that partition than the owner keeps in memory, so a resume reads its change
    // log; then the owner's tombstones up to now expire (as TOMBSTONE_RETENTION_MS would do).
    const sameKeys = Array.from({ length: 5000 }, (_, i) => order(30_000 + i)).filter((row) => partitionForKey(String(row.orderId), 6) === partition);
    const updates = Array.from({ length: 1200 }, (_, i) => keyed('orderId', { ...sameKeys[i % sameKeys.length]!, quantity: i + 1 }));
    await fx.produce('orders', updates);
    await fx.waitCaughtUp(group, ['orders']);
    const store = owner.gateway.stores.get('orders')!;
    store.trimTombstones(partition, store.nextOffset(partition)!, 100_000);

    const resumed = collect<Change>(client, query, { id: key, after: token }, 'orderChanged');
    await waitFor(() => resumed.errors.length > 0 || resumed.done, { what: 'resume refused', timeoutMs: 20_000 });
    expect(JSON.stringify(resumed.errors)).toContain('GW_RESUME_TOO_FAR');
    expect(resumed.events.filter((event) => event.kind !== 'CAUGHT_UP')).toEqual([]);
    resumed.stop();
    await client.dispose();
  });

  it('rejects a peer call without the secret', async () => {
    const body = JSON.stringify({ v: 1, op: 'count', view: 'orders', partitions: [0], args: { filter: { equals: [], ranges: [] } } });
    const unsigned = await fetch(`${group[0]!.url}${PEER_PATH}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ ok: false, code: 'GW_PEER_UNAUTHORIZED' });
    const wrongSecret = await fetch(`${group[0]!.url}${PEER_PATH}`, {
      method: 'POST',
      body,
      headers: signedHeaders('another-secret-of-some-length', body),
    });
    expect(wrongSecret.status).toBe(401);
  });

  it('refuses partitions it does not hold, whatever the caller believes (forged map)', async () => {
    const target = group[0]!;
    const notMine = [0, 1, 2, 3, 4, 5].filter((p) => !target.gateway.ingestor.assigned(fx.topic('orders')).includes(p));
    const body = JSON.stringify({ v: 1, op: 'count', view: 'orders', partitions: notMine, args: { filter: { equals: [], ranges: [] } } });
    const response = await fetch(`${target.url}${PEER_PATH}`, {
      method: 'POST',
      body,
      headers: signedHeaders(SECRET, body),
    });
    expect(response.status).toBe(409);
    expect(await response.json()).toMatchObject({ ok: false, code: 'GW_PEER_NOT_OWNER', partitions: notMine });
  });
});
