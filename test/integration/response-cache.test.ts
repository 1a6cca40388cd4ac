import { beforeAll, describe, expect, it } from 'vitest';
import { signClientToken } from '../../src/server/client-auth.ts';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

/**
 * The response cache (src/server/response-cache.ts) on a real broker and store: a repeated query
 * is answered from it while the partitions it read are unchanged, and never after one moved on,
 * whichever view the change is in (the page's own rows, a joined customer, a related payment, a
 * key that did not exist). Every answer is compared with a fresh read (`Cache-Control: no-cache`)
 * of the same state, and /metrics shows which answers were sent from the cache.
 */

const JWT_SECRET = 'response-cache-test-secret-0123456789';
const exp = () => Math.floor(Date.now() / 1000) + 3600;
const analyst = signClientToken(JWT_SECRET, { sub: 'ann', role: 'analyst', exp: exp() });
const owner = (customerId: string) => signClientToken(JWT_SECRET, { sub: customerId, role: 'customer', customerId, exp: exp() });

const GRID =
  'query Grid($state: OrderState) { orders(first: 5, orderBy: {field: CREATED_AT, direction: DESC}, filter: {state: {eq: $state}}) ' +
  '{ totalCount edges { node { orderId state quantity customer { name tier } payments { paymentId status amount } } } } }';
const LOOKUP = 'query Lookup($id: ID!) { order(orderId: $id) { orderId state customer { name } payments { paymentId } } }';

describe('response cache', () => {
  const fx = useFixture('respcache');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { CLIENT_JWT_SECRET: JWT_SECRET, RESPONSE_CACHE_MIN_US: '0' } });
    await fx.produce(
      'customers',
      Array.from({ length: 5 }, (_, n) => keyed('customerId', customer(n))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 40 }, (_, n) => keyed('orderId', order(n, { customerId: customer(n % 5).customerId, state: 'SHIPPED' }))),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 40 }, (_, n) => keyed('paymentId', payment(n, 1))),
    );
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
  });

  const cacheCount = async (outcome: 'hit' | 'stale' | 'stored'): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(new RegExp(`^gw_response_cache_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  const send = async (body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${analyst}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };
  /** The same request read from the store, not the cache. */
  const fresh = (body: unknown, headers: Record<string, string> = {}) => send(body, { ...headers, 'cache-control': 'no-cache' });

  /**
   * Sends `body` until the cache answers it: yoga answers a new text's first runs (parse, then
   * compile; a text with literals goes through their normalized form too), then the fast path
   * offers the answer to the cache, which keeps it the second time.
   */
  const warm = async (body: unknown, headers: Record<string, string> = {}) => {
    for (let i = 0; i < 6; i++) await send(body, headers);
    const hits = await cacheCount('hit');
    const answer = await send(body, headers);
    expect(await cacheCount('hit')).toBe(hits + 1);
    return answer;
  };

  /** Produces, waits until applied, then checks the cached request now answers what a fresh read does. */
  const afterChange = async (topic: string, records: Array<{ key: string; value: string | null }>, body: unknown) => {
    const before = await send(body);
    await fx.produce(topic, records);
    await fx.waitCaughtUp(gw, [topic]);
    const stale = await cacheCount('stale');
    const after = await send(body);
    expect(after).toEqual(await fresh(body));
    expect(after.text).not.toBe(before.text);
    expect(await cacheCount('stale')).toBe(stale + 1);
    return JSON.parse(after.text);
  };

  it('answers a repeated page from the cache, byte for byte what a fresh read gives', async () => {
    const body = { query: GRID, variables: { state: 'SHIPPED' } };
    const cached = await warm(body);
    expect(cached).toEqual(await fresh(body));
    expect(cached.status).toBe(200);
    expect(JSON.parse(cached.text).data.orders.edges).toHaveLength(5);
  });

  it('reads fresh with Cache-Control: no-cache or no-store, and keys answers by their media type', async () => {
    const body = { query: GRID, variables: { state: 'SHIPPED' } };
    await warm(body);
    const hits = await cacheCount('hit');
    await fresh(body);
    await send(body, { 'cache-control': 'no-store' });
    expect(await cacheCount('hit')).toBe(hits);
    const typed = await warm(body, { accept: 'application/graphql-response+json' });
    expect(typed.type).toBe('application/graphql-response+json; charset=utf-8');
    expect((await send(body)).type).toBe('application/json; charset=utf-8');
  });

  it('drops a page when an order enters it, when a joined customer changes, and when a related payment arrives', async () => {
    const body = { query: GRID, variables: { state: 'SHIPPED' } };
    await warm(body);
    // A new order, newest of all: it heads the page.
    const newest = order(100, { customerId: customer(1).customerId, state: 'SHIPPED', createdAt: '2099-01-01T00:00:00.000Z' });
    let answer = await afterChange('orders', [keyed('orderId', newest)], body);
    expect(answer.data.orders.edges[0].node.orderId).toBe(newest.orderId);
    expect(answer.data.orders.totalCount).toBe(41);
    await warm(body);
    // The customer of the rows on the page is renamed (a replicated view).
    answer = await afterChange('customers', [keyed('customerId', customer(1, { name: 'Renamed Customer' }))], body);
    expect(answer.data.orders.edges[0].node.customer.name).toBe('Renamed Customer');
    await warm(body);
    // A payment for the newest order (the payments topic is partitioned by payment key).
    answer = await afterChange('payments', [keyed('paymentId', payment(100, 1, { orderId: newest.orderId, status: 'CAPTURED' }))], body);
    expect(answer.data.orders.edges[0].node.payments.map((row: { paymentId: string }) => row.paymentId)).toEqual([payment(100, 1).paymentId]);
    await warm(body);
    // The order leaves the filter: deleted.
    answer = await afterChange('orders', [{ key: newest.orderId, value: null }], body);
    expect(answer.data.orders.edges.map((edge: { node: { orderId: string } }) => edge.node.orderId)).not.toContain(newest.orderId);
  });

  it('drops a kept "no such order" when the order arrives', async () => {
    const body = { query: LOOKUP, variables: { id: order(200).orderId } };
    const missing = await warm(body);
    expect(JSON.parse(missing.text).data.order).toBeNull();
    const answer = await afterChange('orders', [keyed('orderId', order(200, { customerId: customer(2).customerId }))], body);
    expect(answer.data.order.orderId).toBe(order(200).orderId);
  });

  it('keeps answers apart per caller: a customer never gets a page kept for another caller', async () => {
    const body = { query: GRID, variables: { state: 'SHIPPED' } };
    const everyone = await warm(body);
    const mine = customer(3).customerId;
    const own = await warm(body, { authorization: `Bearer ${owner(mine)}` });
    const theirs = await warm(body, { authorization: `Bearer ${owner(customer(4).customerId)}` });
    const ids = (answer: { text: string }) =>
      JSON.parse(answer.text).data.orders.edges.map((edge: { node: { orderId: string } }) => edge.node.orderId) as string[];
    const ownIds = new Set(
      Array.from({ length: 40 }, (_, n) => n)
        .filter((n) => n % 5 === 3)
        .map((n) => order(n).orderId),
    );
    expect(ids(own).length).toBeGreaterThan(0);
    for (const id of ids(own)) expect(ownIds.has(id)).toBe(true);
    for (const id of ids(theirs)) expect(ownIds.has(id)).toBe(false);
    expect(ids(everyone)).not.toEqual(ids(own));
    // Each caller's kept answer is what a fresh read gives that caller.
    expect(own).toEqual(await fresh(body, { authorization: `Bearer ${owner(mine)}` }));
  });

  it('does not keep answers with errors', async () => {
    const body = { query: GRID.replace('orders(first: 5,', 'orders(first: 5, after: "garbage",'), variables: { state: 'SHIPPED' } };
    const stored = await cacheCount('stored');
    for (let i = 0; i < 5; i++) {
      const answer = JSON.parse((await send(body)).text);
      expect(answer.errors[0].extensions.code).toBe('GW_QUERY_BAD_CURSOR');
    }
    expect(await cacheCount('stored')).toBe(stored);
  });
});
