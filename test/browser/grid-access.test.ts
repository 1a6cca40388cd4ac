import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { signClientToken } from '../../src/server/client-auth.ts';
import { customer, iso, keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { BROWSER_TEST_TIMEOUT_MS, foreignRequests, openBrowser, skipReason, text } from './browser.ts';
import { extend, gridState, renderedKeys, scrollToTop, settled, wheel } from './grid-page.ts';

const skip = skipReason();
if (skip) console.warn(`browser tests skipped: ${skip}`);

const SECRET = 'browser-client-secret-0123456789abcdef';

/** Scrolls the grid to its end and returns every key seen, in order. */
async function scrollToEnd(page: Page, expected: number): Promise<string[]> {
  const seen: string[] = [];
  extend(seen, await renderedKeys(page));
  for (let step = 0; step < 100 && seen.length < expected; step++) {
    await wheel(page, 280);
    extend(seen, await renderedKeys(page));
  }
  return seen;
}

describe.skipIf(skip)('the grid page with client authentication', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  const fx = useFixture('grid-auth');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { CLIENT_JWT_SECRET: SECRET } });
    await fx.produce(
      'customers',
      Array.from({ length: 5 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 20 }, (_, i) => keyed('orderId', order(i + 1, { customerId: 'cus-00001' }))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers']);
  }, BROWSER_TEST_TIMEOUT_MS);

  it('asks for the token, then reads and follows the rows with it over HTTP and WebSocket', async () => {
    const { page, requests } = await openBrowser(fx);
    const authorized: string[] = [];
    page.on('request', (request) => {
      if (request.method() === 'POST') authorized.push(request.headers()['authorization'] ?? '');
    });
    await page.goto(`${gw.url}/grid`);
    await expect.poll(async () => text(page.locator('#error')), { timeout: 20_000 }).toContain('GW_AUTH_REQUIRED');
    expect((await gridState(page)).rows).toBe(0);

    const token = signClientToken(SECRET, { sub: 'grid-test', exp: Math.floor(Date.now() / 1000) + 600 });
    await page.locator('#token').fill(token);
    await page.locator('#token').press('Enter');
    await settled(page);
    expect((await renderedKeys(page)).length).toBe(20);
    expect(authorized.at(-1)).toBe(`Bearer ${token}`);
    await page.locator('#grid[data-live="live"]').waitFor({ timeout: 20_000 });

    const fresh = order(901, { createdAt: iso(Date.parse('2027-01-01T00:00:00Z')), updatedAt: iso(Date.parse('2027-01-01T00:00:00Z')) });
    await fx.produce('orders', [keyed('orderId', fresh)]);
    await expect.poll(async () => (await renderedKeys(page))[0], { timeout: 20_000 }).toBe(fresh.orderId);

    // The token is kept for the tab (sessionStorage): a reload reads with it at once.
    await page.reload();
    await settled(page);
    expect(await page.locator('#token').inputValue()).toBe(token);
    expect((await renderedKeys(page)).length).toBe(21);
    expect(foreignRequests(requests, gw.url)).toEqual([]);
  });
});

describe.skipIf(skip)('the grid page when its WebSocket fails', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  const fx = useFixture('grid-ws');

  it('shows the rows, retries the subscription with a growing delay, and reads the rows again once it is live', async () => {
    const gw = await fx.startGateway();
    await fx.produce(
      'customers',
      Array.from({ length: 5 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 10 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers']);
    const { page } = await openBrowser(fx);
    // The first five connections are closed at once (1011), the sixth goes through to the gateway.
    const attempts: number[] = [];
    await page.routeWebSocket(/\/graphql$/, (socket) => {
      attempts.push(Date.now());
      if (attempts.length <= 5) void socket.close({ code: 1011, reason: 'closed by the test' });
      else socket.connectToServer();
    });
    await page.goto(`${gw.url}/grid`);
    await page.locator('#grid[data-live="retrying"]').waitFor({ timeout: 10_000 });
    // The rows come without the subscription (after its catch-up wait).
    await settled(page);
    expect(await renderedKeys(page)).toHaveLength(10);
    await page.locator('#grid[data-live="live"]').waitFor({ timeout: 60_000 });
    await settled(page);
    // Caught up only after the rows were read: the grid starts over once (a new subscription and
    // the rows again), no more than that.
    expect((await gridState(page)).generation).toBe(2);
    expect(attempts).toHaveLength(7);
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]!);
    expect(gaps[3]!).toBeGreaterThan(gaps[0]!);

    const fresh = order(903, { createdAt: iso(Date.parse('2027-01-01T00:00:00Z')), updatedAt: iso(Date.parse('2027-01-01T00:00:00Z')) });
    await fx.produce('orders', [keyed('orderId', fresh)]);
    await expect.poll(async () => (await renderedKeys(page))[0], { timeout: 20_000 }).toBe(fresh.orderId);
  });
});

describe.skipIf(skip)('the grid page through the HAProxy load balancer of a cluster', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  const fx = useFixture('grid-lb');

  it('pages through every row and follows live changes through the balancer', async () => {
    const cluster = await fx.startCluster({ instances: 2, env: { TOPIC_PARTITIONS: '4', GROUP_SESSION_TIMEOUT_MS: '2000', READY_MAX_LAG: '0' } });
    await fx.produce(
      'customers',
      Array.from({ length: 10 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 120 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    const count = async () => {
      const response = await fetch(`${cluster.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: '{ orders(first: 200, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount edges { node { orderId } } } }',
        }),
      });
      return (await response.json()) as { data?: { orders: { totalCount: number; edges: Array<{ node: { orderId: string } }> } } };
    };
    const reference = await waitFor(
      async () => {
        const body = await count();
        // Every order in the count and in the edges: while partitions still move between the two
        // instances, the count and the page are separate reads and may come from different copies.
        const orders = body.data?.orders;
        return orders?.totalCount === 120 && orders.edges.length === 120 ? orders.edges.map((edge) => edge.node.orderId) : undefined;
      },
      { what: 'the cluster answering with every order', timeoutMs: 60_000 },
    );

    const { page, requests } = await openBrowser(fx);
    await page.goto(`${cluster.url}/grid?pageSize=30&windowRows=90`);
    await settled(page);
    expect(await scrollToEnd(page, reference.length)).toEqual(reference);
    await page.locator('#grid[data-live="live"]').waitFor({ timeout: 20_000 });

    // Back to the top, where a new first row comes into view.
    await scrollToTop(page);
    const fresh = order(902, { createdAt: iso(Date.parse('2027-01-01T00:00:00Z')), updatedAt: iso(Date.parse('2027-01-01T00:00:00Z')) });
    await fx.produce('orders', [keyed('orderId', fresh)]);
    await expect.poll(async () => (await renderedKeys(page))[0], { timeout: 20_000 }).toBe(fresh.orderId);
    const balancer = new URL(cluster.url);
    expect(requests.some((url) => url.startsWith(`ws://${balancer.host}/graphql`))).toBe(true);
    expect(foreignRequests(requests, cluster.url)).toEqual([]);
  });
});
