import { createClient, type Client } from 'graphql-ws';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { PEER_PATH, signedHeaders } from '../../src/peer/protocol.ts';
import { signClientToken } from '../../src/server/client-auth.ts';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture, type Fixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { collect } from '../support/ws.ts';

/**
 * The reference rules (views/*.ts) through every read path, over real HTTP, WebSocket and SSE
 * with signed tokens: a customer token sees its customer, its orders and their payments only;
 * support sees everything with `email`; other callers everything but `email`. Each path runs on
 * one instance and on three instances with PEER_SECRET, where the instance asked does not own
 * the partitions it reads, so the peers that serve them must apply the rule too.
 */

const JWT_SECRET = 'authorization-test-secret-0123456789';
const PEER_SECRET = 'authorization-peer-secret-0123456789';
const PARTITIONS = 6;
const OWN = 'cus-00003';

/** Orders 1..60, six per customer: customer floor(n / 6) % 10, so cus-00003 has orders 18..23. */
const ownerOf = (n: number) => `cus-${String(Math.floor(n / 6) % 10).padStart(5, '0')}`;
const ORDERS = Array.from({ length: 60 }, (_, i) => order(i + 1, { customerId: ownerOf(i + 1) }));
/** A first attempt for every order, a second for every third. */
const PAYMENTS = ORDERS.flatMap((_, i) => [payment(i + 1, 1), ...((i + 1) % 3 === 0 ? [payment(i + 1, 2)] : [])]);
const OWN_ORDERS = ORDERS.filter((row) => row.customerId === OWN);
const OWN_ORDER_IDS = new Set(OWN_ORDERS.map((row) => row.orderId));
const OWN_PAYMENTS = PAYMENTS.filter((row) => OWN_ORDER_IDS.has(row.orderId));
const OTHER_ORDER = ORDERS.find((row) => row.customerId !== OWN)!;
const OTHER_PAYMENT = PAYMENTS.find((row) => !OWN_ORDER_IDS.has(row.orderId))!;

const exp = () => Math.floor(Date.now() / 1000) + 3600;
const tokens = {
  customer: () => signClientToken(JWT_SECRET, { sub: 'ada', role: 'customer', customerId: OWN, exp: exp() }),
  /** A customer token without a customerId: sees nothing. */
  anonymousCustomer: () => signClientToken(JWT_SECRET, { sub: 'bob', role: 'customer', exp: exp() }),
  support: () => signClientToken(JWT_SECRET, { sub: 'sue', role: 'support', exp: exp() }),
  analyst: () => signClientToken(JWT_SECRET, { sub: 'ann', role: 'analyst', exp: exp() }),
};

const globalId = (type: string, key: string) => Buffer.from(`${type}:${key}`).toString('base64');

interface Answer<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

async function ask<T = Record<string, unknown>>(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as Answer<T>;
  if (response.status !== 200 || body.errors || !body.data) throw new Error(`query failed (${response.status}): ${JSON.stringify(body)}`);
  return body.data;
}

interface Event<N = Record<string, unknown>> {
  kind: string;
  key: string | null;
  node: N | null;
}

interface Stream<N> {
  readonly events: Event<N>[];
  readonly errors: unknown[];
  stop(): void;
}

/** A graphql-ws client authenticated with `token` in connection_init. */
function wsClient(fx: Fixture, url: string, token: string): Client {
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
    connectionParams: { authorization: `Bearer ${token}` },
  });
  fx.defer(async () => client.dispose());
  return client;
}

/** A subscription over WebSocket, its events collected. */
function overWebSocket<N>(fx: Fixture, url: string, token: string, query: string, variables: Record<string, unknown>, field: string): Stream<N> {
  return collect<Event<N>>(wsClient(fx, url, token), query, variables, field);
}

/** A subscription over SSE (POST, accept text/event-stream), its events collected. */
function overSse<N>(fx: Fixture, url: string, token: string, query: string, variables: Record<string, unknown>, field: string): Stream<N> {
  const abort = fx.abortController();
  const stream: Stream<N> = { events: [], errors: [], stop: () => abort.abort() };
  void (async () => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: abort.signal,
    });
    if (response.status !== 200) throw new Error(`SSE refused with ${response.status}`);
    const reader = response.body!.getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += Buffer.from(value).toString('utf8');
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const message = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of message.split('\n')) {
          if (!line.startsWith('data:') || line.length <= 6) continue;
          const payload = JSON.parse(line.slice(5)) as Answer<Record<string, Event<N>>>;
          if (payload.errors) stream.errors.push(...payload.errors);
          const event = payload.data?.[field];
          if (event) stream.events.push(event);
        }
      }
    }
  })().catch((error: unknown) => {
    if (!abort.signal.aborted) stream.errors.push(error);
  });
  return stream;
}

const TRANSPORTS = { WebSocket: overWebSocket, SSE: overSse } as const;

describe('authorization declared with the views', () => {
  const fx = useFixture('authz');
  let single: TestGateway;
  const group: TestGateway[] = [];

  beforeAll(async () => {
    const env = { TOPIC_PARTITIONS: String(PARTITIONS), CLIENT_JWT_SECRET: JWT_SECRET };
    single = await fx.startGateway({ group: 'single', env });
    await fx.produce(
      'customers',
      Array.from({ length: 10 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      ORDERS.map((row) => keyed('orderId', row)),
    );
    await fx.produce(
      'payments',
      PAYMENTS.map((row) => keyed('paymentId', row)),
    );
    group.push(...(await fx.startGateways(3, { group: 'cluster', env: { ...env, PEER_SECRET } })));
    await fx.waitBalanced(group, 'orders');
    await fx.waitBalanced(group, 'payments');
    await fx.waitCaughtUp(single, ['customers', 'orders', 'payments']);
    await fx.waitCaughtUp(group, ['customers', 'orders', 'payments']);
  });

  /** The instance to ask: the single one, or a member of the three that does not own `key`'s partition. */
  const setups = {
    'one instance': () => ({ any: () => single.url, notOwning: (_viewId: string, _key: string) => single.url }),
    'three instances': () => ({
      any: () => group[0]!.url,
      notOwning: (viewId: string, key: string) => {
        const partition = partitionForKey(key, PARTITIONS);
        const member = group.find((test) => !test.gateway.ingestor.assigned(fx.topic(viewId)).includes(partition));
        if (!member) throw new Error(`every member owns ${viewId} partition ${partition}`);
        return member.url;
      },
    }),
  };

  for (const [where, setup] of Object.entries(setups)) {
    describe(`reads, ${where}`, () => {
      it('lookups: a row outside the rule is absent', async () => {
        const { notOwning } = setup();
        const own = OWN_ORDERS[0]!;
        const ownPayment = OWN_PAYMENTS[0]!;
        const lookups = async (token: string, ordersUrl: string, paymentsUrl: string) => ({
          ...(await ask(ordersUrl, token, 'query($a: ID!, $b: ID!) { own: order(orderId: $a) { orderId } other: order(orderId: $b) { orderId } }', {
            a: own.orderId,
            b: OTHER_ORDER.orderId,
          })),
          ...(await ask(
            paymentsUrl,
            token,
            'query($a: ID!, $b: ID!) { ownPayment: payment(paymentId: $a) { paymentId } otherPayment: payment(paymentId: $b) { paymentId } }',
            {
              a: ownPayment.paymentId,
              b: OTHER_PAYMENT.paymentId,
            },
          )),
          ...(await ask(
            ordersUrl,
            token,
            '{ ownCustomer: customer(customerId: "cus-00003") { customerId email } otherCustomer: customer(customerId: "cus-00004") { customerId email } }',
          )),
        });
        // Asked where neither the other order nor the other payment is owned: a peer answers, under the rule.
        const customerView = await lookups(
          tokens.customer(),
          notOwning('orders', OTHER_ORDER.orderId),
          notOwning('payments', OTHER_PAYMENT.paymentId),
        );
        expect(customerView).toEqual({
          own: { orderId: own.orderId },
          other: null,
          ownPayment: { paymentId: ownPayment.paymentId },
          otherPayment: null,
          ownCustomer: { customerId: OWN, email: 'c3@example.com' },
          otherCustomer: null,
        });
        // The own rows again where a peer owns them.
        expect(await ask(notOwning('orders', own.orderId), tokens.customer(), `{ order(orderId: "${own.orderId}") { orderId } }`)).toEqual({
          order: { orderId: own.orderId },
        });
        expect(await lookups(tokens.support(), notOwning('orders', OTHER_ORDER.orderId), notOwning('payments', OTHER_PAYMENT.paymentId))).toEqual({
          own: { orderId: own.orderId },
          other: { orderId: OTHER_ORDER.orderId },
          ownPayment: { paymentId: ownPayment.paymentId },
          otherPayment: { paymentId: OTHER_PAYMENT.paymentId },
          ownCustomer: { customerId: OWN, email: 'c3@example.com' },
          otherCustomer: { customerId: 'cus-00004', email: 'c4@example.com' },
        });
        // Everything but the e-mail address (nullable: null, no error).
        expect(
          await lookups(tokens.analyst(), notOwning('orders', OTHER_ORDER.orderId), notOwning('payments', OTHER_PAYMENT.paymentId)),
        ).toMatchObject({
          other: { orderId: OTHER_ORDER.orderId },
          otherPayment: { paymentId: OTHER_PAYMENT.paymentId },
          ownCustomer: { customerId: OWN, email: null },
          otherCustomer: { customerId: 'cus-00004', email: null },
        });
        expect(await lookups(tokens.anonymousCustomer(), notOwning('orders', own.orderId), notOwning('payments', ownPayment.paymentId))).toEqual({
          own: null,
          other: null,
          ownPayment: null,
          otherPayment: null,
          ownCustomer: null,
          otherCustomer: null,
        });
      });

      it('node and nodes: null outside the rule', async () => {
        const { notOwning } = setup();
        const own = OWN_ORDERS[1]!;
        const ids = [
          globalId('Order', own.orderId),
          globalId('Order', OTHER_ORDER.orderId),
          globalId('Payment', OTHER_PAYMENT.paymentId),
          globalId('Customer', 'cus-00005'),
        ];
        const query =
          'query($ids: [ID!]!, $id: ID!) { nodes(ids: $ids) { id ... on Order { orderId } } node(id: $id) { ... on Payment { paymentId } } }';
        const url = notOwning('orders', OTHER_ORDER.orderId);
        expect(await ask(url, tokens.customer(), query, { ids, id: globalId('Payment', OWN_PAYMENTS[0]!.paymentId) })).toEqual({
          nodes: [{ id: ids[0], orderId: own.orderId }, null, null, null],
          node: { paymentId: OWN_PAYMENTS[0]!.paymentId },
        });
        expect(await ask(url, tokens.customer(), query, { ids: [], id: globalId('Payment', OTHER_PAYMENT.paymentId) })).toEqual({
          nodes: [],
          node: null,
        });
        const supportView = await ask<{ nodes: unknown[] }>(url, tokens.support(), query, { ids, id: globalId('Payment', OTHER_PAYMENT.paymentId) });
        expect(supportView.nodes.every((node) => node !== null)).toBe(true);
      });

      it('connections: rows and totalCount are what the caller can see', async () => {
        const { any } = setup();
        const query = `query($state: OrderState) {
          orders(first: 100, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount edges { node { orderId customerId } } }
          shipped: orders(first: 100, filter: { state: { eq: $state } }) { totalCount edges { node { orderId } } }
          paged: orders(first: 2, orderBy: { field: ORDER_ID }) { totalCount pageInfo { hasNextPage } }
          payments(first: 100) { totalCount edges { node { paymentId orderId } } }
          customers(first: 100) { totalCount edges { node { customerId email } } }
        }`;
        interface Grids {
          orders: { totalCount: number; edges: Array<{ node: { orderId: string; customerId: string } }> };
          shipped: { totalCount: number; edges: unknown[] };
          paged: { totalCount: number; pageInfo: { hasNextPage: boolean } };
          payments: { totalCount: number; edges: Array<{ node: { paymentId: string } }> };
          customers: { totalCount: number; edges: Array<{ node: { customerId: string; email: string | null } }> };
        }
        const mine = await ask<Grids>(any(), tokens.customer(), query, { state: 'SHIPPED' });
        expect(mine.orders.edges.map((edge) => edge.node.orderId).sort()).toEqual(OWN_ORDERS.map((row) => row.orderId).sort());
        expect(mine.orders.totalCount).toBe(OWN_ORDERS.length);
        const ownShipped = OWN_ORDERS.filter((row) => row.state === 'SHIPPED').length;
        expect(ownShipped).toBeGreaterThan(0);
        expect(mine.shipped).toMatchObject({ totalCount: ownShipped });
        expect(mine.shipped.edges).toHaveLength(ownShipped);
        expect(mine.paged).toEqual({ totalCount: OWN_ORDERS.length, pageInfo: { hasNextPage: true } });
        expect(mine.payments.edges.map((edge) => edge.node.paymentId).sort()).toEqual(OWN_PAYMENTS.map((row) => row.paymentId).sort());
        expect(mine.payments.totalCount).toBe(OWN_PAYMENTS.length);
        expect(mine.customers).toEqual({ totalCount: 1, edges: [{ node: { customerId: OWN, email: 'c3@example.com' } }] });

        // Filtering for someone else's rows finds nothing, and counts nothing.
        const others = await ask<{ orders: { totalCount: number; edges: unknown[] } }>(
          any(),
          tokens.customer(),
          '{ orders(first: 10, filter: { customerId: { in: ["cus-00004", "cus-00005"] } }) { totalCount edges { cursor } } }',
        );
        expect(others.orders).toEqual({ totalCount: 0, edges: [] });

        for (const [role, token] of [
          ['support', tokens.support()],
          ['analyst', tokens.analyst()],
        ] as const) {
          const all = await ask<Grids>(any(), token, query, { state: 'SHIPPED' });
          expect(all.orders.totalCount).toBe(ORDERS.length);
          expect(all.orders.edges).toHaveLength(ORDERS.length);
          expect(all.shipped.totalCount).toBe(ORDERS.filter((row) => row.state === 'SHIPPED').length);
          expect(all.payments.totalCount).toBe(PAYMENTS.length);
          expect(all.customers.totalCount).toBe(10);
          const emails = all.customers.edges.map((edge) => edge.node.email);
          expect(emails, role).toEqual(role === 'analyst' ? emails.map(() => null) : emails.map((_, i) => `c${i}@example.com`));
        }
        const nothing = await ask<Grids>(any(), tokens.anonymousCustomer(), query, { state: 'SHIPPED' });
        expect([nothing.orders.totalCount, nothing.payments.totalCount, nothing.customers.totalCount, nothing.orders.edges.length]).toEqual([
          0, 0, 0, 0,
        ]);
      });

      it('relations: Customer.orders with totalCount, Order.customer, Order.payments, Payment.order', async () => {
        const { notOwning } = setup();
        const own = OWN_ORDERS.find((row) => PAYMENTS.filter((p) => p.orderId === row.orderId).length === 2)!;
        const relations = `query($orderId: ID!, $paymentId: ID!) {
          customer(customerId: "${OWN}") { orders(first: 2, orderBy: { field: ORDER_ID }) { totalCount edges { node { orderId } } } }
          order(orderId: $orderId) { customer { customerId } payments { paymentId order { orderId } } }
          payment(paymentId: $paymentId) { order { orderId customer { customerId } payments { paymentId } } }
        }`;
        const ownPayment = PAYMENTS.find((row) => row.orderId === own.orderId)!;
        const answer = await ask(notOwning('orders', own.orderId), tokens.customer(), relations, {
          orderId: own.orderId,
          paymentId: ownPayment.paymentId,
        });
        const ownPayments = PAYMENTS.filter((row) => row.orderId === own.orderId).map((row) => ({ paymentId: row.paymentId }));
        expect(answer).toEqual({
          customer: {
            orders: { totalCount: OWN_ORDERS.length, edges: OWN_ORDERS.slice(0, 2).map((row) => ({ node: { orderId: row.orderId } })) },
          },
          order: { customer: { customerId: OWN }, payments: ownPayments.map((row) => ({ ...row, order: { orderId: own.orderId } })) },
          payment: { order: { orderId: own.orderId, customer: { customerId: OWN }, payments: ownPayments } },
        });

        // Support follows the same relations to someone else's rows; the customer gets none of them.
        const otherPayment = PAYMENTS.find((row) => row.orderId === OTHER_ORDER.orderId)!;
        const variables = { orderId: OTHER_ORDER.orderId, paymentId: otherPayment.paymentId };
        const url = notOwning('orders', OTHER_ORDER.orderId);
        const support = await ask<{ order: { customer: { customerId: string }; payments: unknown[] } }>(url, tokens.support(), relations, variables);
        expect(support.order.customer.customerId).toBe(OTHER_ORDER.customerId);
        expect(support.order.payments.length).toBeGreaterThan(0);
        expect(await ask(url, tokens.customer(), relations, variables)).toMatchObject({ order: null, payment: null });
        const otherCustomer = await ask(url, tokens.support(), '{ customer(customerId: "cus-00004") { orders(first: 1) { totalCount } } }');
        expect(otherCustomer).toEqual({ customer: { orders: { totalCount: 6 } } });
      });
    });
  }

  it('a peer answers only rows inside the filter it was sent (lookup, related, pages, count)', async () => {
    const own = OWN_ORDERS[2]!;
    const partition = partitionForKey(own.orderId, PARTITIONS);
    const owner = group.find((test) => test.gateway.ingestor.assigned(fx.topic('orders')).includes(partition))!;
    const other = ORDERS.find((row) => row.customerId !== OWN && partitionForKey(row.orderId, PARTITIONS) === partition)!;
    const filter = { equals: [{ field: 'customerId', values: [OWN] }], ranges: [] };
    const call = async (op: string, args: Record<string, unknown>, view = 'orders') => {
      const body = JSON.stringify({ v: 1, op, view, partitions: [partition], args });
      const response = await fetch(`${owner.url}${PEER_PATH}`, { method: 'POST', body, headers: signedHeaders(PEER_SECRET, body) });
      const answer = (await response.json()) as { ok: boolean; result: unknown };
      expect(answer.ok).toBe(true);
      return answer.result;
    };
    const keys = [own.orderId, other.orderId].map((key) => ({ partition, key }));
    expect(((await call('lookup', { keys })) as unknown[]).every((row) => row !== null)).toBe(true);
    expect(((await call('lookup', { keys, filter })) as Array<{ orderId: string } | null>).map((row) => row?.orderId ?? null)).toEqual([
      own.orderId,
      null,
    ]);
    const pages = (await call('pages', {
      requests: [{ sortField: 'orderId', descending: false, filter, limit: 100, backward: false }],
    })) as Array<{ rows: Array<{ row: { customerId: string } }> }>;
    expect(pages[0]!.rows.length).toBeGreaterThan(0);
    expect(pages[0]!.rows.every((entry) => entry.row.customerId === OWN)).toBe(true);
    expect(await call('count', { filter })).toBe(pages[0]!.rows.length);
    const related = (await call('related', { field: 'customerId', values: [OWN, other.customerId], limit: 100, filter })) as Record<
      string,
      unknown[]
    >;
    expect(related[OWN]!.length).toBe(pages[0]!.rows.length);
    expect(related[other.customerId] ?? []).toEqual([]);
  });

  it('a list resumed from the change log delivers nothing of rows outside the rule, not even a REMOVE', async () => {
    const own = OWN_ORDERS[3]!;
    const partition = partitionForKey(own.orderId, PARTITIONS);
    const flooded = ORDERS.find((row) => row.customerId !== OWN && partitionForKey(row.orderId, PARTITIONS) === partition)!;
    const query = 'subscription($after: String) { ordersChanged(first: 100, after: $after) { kind key token node { orderId customerId } } }';
    const first = overWebSocket<{ customerId: string }>(fx, single.url, tokens.customer(), query, {}, 'ordersChanged');
    await waitFor(() => first.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'grid caught up' });
    const token = (first.events[first.events.length - 1] as unknown as { token: string }).token;
    first.stop();

    // More changes in the partition than the recent-changes buffer keeps (1000), over 600 other
    // rows of another customer: the resume reads the change log there (latest value per key),
    // where the row before each change is unknown.
    const others = Array.from({ length: 5000 }, (_, i) => order(5000 + i, { customerId: 'cus-00006' }))
      .filter((row) => partitionForKey(row.orderId, PARTITIONS) === partition)
      .slice(0, 600);
    expect(others).toHaveLength(600);
    await fx.produce(
      'orders',
      [flooded, ...others, flooded, ...others].map((row, i) => keyed('orderId', { ...row, quantity: i + 1 })),
    );
    await fx.produce('orders', [keyed('orderId', { ...own, quantity: 99 })]);
    await fx.waitCaughtUp(single, ['orders']);
    const replayed = async (bearer: string) => {
      const resumed = overWebSocket<{ customerId: string }>(fx, single.url, bearer, query, { after: token }, 'ordersChanged');
      await waitFor(() => resumed.events.some((event) => event.kind === 'CAUGHT_UP'), { what: 'resume caught up', timeoutMs: 20_000 });
      resumed.stop();
      expect(resumed.errors).toEqual([]);
      return resumed.events.slice(
        0,
        resumed.events.findIndex((event) => event.kind === 'CAUGHT_UP'),
      );
    };
    const mine = await replayed(tokens.customer());
    expect(mine.filter((event) => event.key === own.orderId).map((event) => event.kind)).toEqual(['UPSERT']);
    expect(mine.every((event) => event.kind === 'UPSERT' && event.node?.customerId === OWN)).toBe(true);
    // The same token for support: the other customer's rows are there.
    const all = await replayed(tokens.support());
    expect(all.some((event) => event.key === flooded.orderId && event.kind === 'UPSERT')).toBe(true);
    expect(all.filter((event) => event.kind === 'UPSERT').length).toBeGreaterThan(600);
  });

  for (const [transport, subscribe] of Object.entries(TRANSPORTS)) {
    for (const [where, setup] of Object.entries(setups)) {
      describe(`subscriptions over ${transport}, ${where}`, () => {
        /** Order numbers no other test of this file produces. */
        const base = 1000 + (transport === 'SSE' ? 500 : 0) + (where === 'one instance' ? 0 : 200);

        it('entity: snapshot and changes inside the rule, nothing outside, REMOVE when a row leaves it', async () => {
          const { notOwning } = setup();
          const mine = order(base + 1, { customerId: OWN });
          const theirs = order(base + 2, { customerId: 'cus-00004' });
          await fx.produce('orders', [keyed('orderId', mine), keyed('orderId', theirs)]);
          await fx.waitCaughtUp(where === 'one instance' ? single : group, ['orders']);
          const query = 'subscription($id: ID!) { orderChanged(orderId: $id) { kind key node { orderId state customerId } } }';
          const ownSub = subscribe<{ state: string }>(
            fx,
            notOwning('orders', mine.orderId),
            tokens.customer(),
            query,
            { id: mine.orderId },
            'orderChanged',
          );
          const otherSub = subscribe<{ state: string }>(
            fx,
            notOwning('orders', theirs.orderId),
            tokens.customer(),
            query,
            { id: theirs.orderId },
            'orderChanged',
          );
          const supportSub = subscribe<{ state: string }>(
            fx,
            notOwning('orders', theirs.orderId),
            tokens.support(),
            query,
            { id: theirs.orderId },
            'orderChanged',
          );
          await waitFor(() => ownSub.events.length >= 1 && otherSub.events.length >= 1 && supportSub.events.length >= 1, { what: 'snapshots' });
          expect(ownSub.events[0]).toMatchObject({ kind: 'SNAPSHOT', key: mine.orderId, node: { orderId: mine.orderId } });
          expect(otherSub.events[0]).toEqual({ kind: 'SNAPSHOT', key: theirs.orderId, node: null });
          expect(supportSub.events[0]).toMatchObject({ kind: 'SNAPSHOT', node: { orderId: theirs.orderId } });

          // A change outside the rule first, then one inside: the inside one arrives, the outside one never.
          await fx.produce('orders', [keyed('orderId', { ...theirs, state: 'CANCELLED' })]);
          await fx.produce('orders', [keyed('orderId', { ...mine, state: 'CANCELLED' })]);
          await waitFor(() => ownSub.events.some((event) => event.node?.state === 'CANCELLED'), { what: 'own change' });
          await waitFor(() => supportSub.events.some((event) => event.node?.state === 'CANCELLED'), { what: 'the change seen by support' });
          // The row leaves the caller's scope (another customer's now): REMOVE, without the row.
          await fx.produce('orders', [keyed('orderId', { ...mine, state: 'CANCELLED', customerId: 'cus-00004' })]);
          await waitFor(() => ownSub.events.some((event) => event.kind === 'REMOVE'), { what: 'REMOVE on leaving the scope' });
          await fx.waitCaughtUp(where === 'one instance' ? single : group, ['orders']);
          await new Promise((resolve) => setTimeout(resolve, 500));
          expect(ownSub.events.map((event) => event.kind)).toEqual(['SNAPSHOT', 'UPSERT', 'REMOVE']);
          expect(ownSub.events[2]!.node).toBeNull();
          expect(otherSub.events).toHaveLength(1);
          expect([...ownSub.errors, ...otherSub.errors, ...supportSub.errors]).toEqual([]);
          for (const sub of [ownSub, otherSub, supportSub]) sub.stop();
        });

        it('list: snapshot and changes inside the rule (payments through their order), email per role', async () => {
          const { any, notOwning } = setup();
          const ordersQuery = 'subscription { ordersChanged(first: 100) { kind key node { orderId customerId } } }';
          const paymentsQuery = 'subscription { paymentsChanged(first: 100) { kind key node { paymentId orderId order { customerId } } } }';
          const orders = subscribe<{ orderId: string; customerId: string }>(fx, any(), tokens.customer(), ordersQuery, {}, 'ordersChanged');
          const payments = subscribe<{ paymentId: string; orderId: string }>(fx, any(), tokens.customer(), paymentsQuery, {}, 'paymentsChanged');
          await waitFor(() => [orders, payments].every((sub) => sub.events.some((event) => event.kind === 'CAUGHT_UP')), { what: 'list snapshots' });
          const snapshotOf = (sub: Stream<Record<string, unknown>>) =>
            sub.events.filter((event) => event.kind === 'SNAPSHOT').map((event) => event.node!);
          const ownNow = (
            await ask<{ orders: { edges: Array<{ node: { orderId: string } }> } }>(
              any(),
              tokens.customer(),
              '{ orders(first: 100) { edges { node { orderId } } } }',
            )
          ).orders.edges.map((edge) => edge.node.orderId);
          expect(snapshotOf(orders).every((row) => row.customerId === OWN)).toBe(true);
          expect(
            snapshotOf(orders)
              .map((row) => row.orderId)
              .sort(),
          ).toEqual(ownNow.sort());
          const ownPaymentsNow = (
            await ask<{ payments: { edges: Array<{ node: { paymentId: string } }> } }>(
              any(),
              tokens.customer(),
              '{ payments(first: 100) { edges { node { paymentId } } } }',
            )
          ).payments.edges.map((edge) => edge.node.paymentId);
          expect(ownPaymentsNow.length).toBeGreaterThanOrEqual(OWN_PAYMENTS.length);
          expect(
            snapshotOf(payments)
              .map((row) => row.paymentId)
              .sort(),
          ).toEqual(ownPaymentsNow.sort());
          expect(snapshotOf(payments).every((row) => (row.order as { customerId: string }).customerId === OWN)).toBe(true);

          // Changes: outside the rule first, then inside.
          const theirs = order(base + 11, { customerId: 'cus-00006' });
          const mine = order(base + 12, { customerId: OWN });
          const ownOrderN = Number(OWN_ORDERS[0]!.orderId.slice(4));
          const ownNewPayment = payment(ownOrderN, base).paymentId;
          await fx.produce('orders', [keyed('orderId', theirs)]);
          await fx.produce('payments', [keyed('paymentId', payment(7, base)), keyed('paymentId', payment(ownOrderN, base))]);
          await fx.produce('orders', [keyed('orderId', mine)]);
          await waitFor(() => orders.events.some((event) => event.key === mine.orderId), { what: 'own new order' });
          await waitFor(() => payments.events.some((event) => event.key === ownNewPayment), { what: 'own new payment' });
          // An order of the caller that moves to another customer leaves the grid.
          const leaving = order(base + 13, { customerId: OWN });
          await fx.produce('orders', [keyed('orderId', leaving)]);
          await waitFor(() => orders.events.some((event) => event.key === leaving.orderId), { what: 'order to move' });
          await fx.produce('orders', [keyed('orderId', { ...leaving, customerId: 'cus-00007' })]);
          await waitFor(() => orders.events.some((event) => event.key === leaving.orderId && event.kind === 'REMOVE'), {
            what: 'REMOVE of the moved order',
          });
          await fx.waitCaughtUp(where === 'one instance' ? single : group, ['orders', 'payments']);
          await new Promise((resolve) => setTimeout(resolve, 500));
          const live = (sub: Stream<Record<string, unknown>>) => sub.events.filter((event) => event.kind === 'UPSERT' || event.kind === 'REMOVE');
          expect(live(orders).every((event) => event.kind === 'REMOVE' || (event.node as { customerId: string }).customerId === OWN)).toBe(true);
          expect(live(orders).some((event) => event.key === theirs.orderId)).toBe(false);
          expect(live(payments).map((event) => event.key)).toEqual([ownNewPayment]);
          expect([...orders.errors, ...payments.errors]).toEqual([]);
          orders.stop();
          payments.stop();

          // Field rules hold in events as in queries.
          const email = 'subscription($id: ID!) { customerChanged(customerId: $id) { kind node { customerId email } } }';
          const analyst = subscribe<{ email: string | null }>(
            fx,
            notOwning('orders', OTHER_ORDER.orderId),
            tokens.analyst(),
            email,
            { id: 'cus-00004' },
            'customerChanged',
          );
          const support = subscribe<{ email: string | null }>(fx, any(), tokens.support(), email, { id: 'cus-00004' }, 'customerChanged');
          await waitFor(() => analyst.events.length >= 1 && support.events.length >= 1, { what: 'customer snapshots' });
          expect(analyst.events[0]).toEqual({ kind: 'SNAPSHOT', node: { customerId: 'cus-00004', email: null } });
          expect(support.events[0]).toEqual({ kind: 'SNAPSHOT', node: { customerId: 'cus-00004', email: 'c4@example.com' } });
          await fx.produce('customers', [keyed('customerId', customer(4, { name: `Renamed ${base}` }))]);
          await waitFor(() => analyst.events.length >= 2 && support.events.length >= 2, { what: 'customer changes' });
          expect(analyst.events[1]).toEqual({ kind: 'UPSERT', node: { customerId: 'cus-00004', email: null } });
          expect(support.events[1]).toEqual({ kind: 'UPSERT', node: { customerId: 'cus-00004', email: 'c4@example.com' } });
          analyst.stop();
          support.stop();
        });
      });
    }
  }
});
