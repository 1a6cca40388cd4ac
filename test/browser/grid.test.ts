import path from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { customer, iso, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { ARTIFACTS, BROWSER_TEST_TIMEOUT_MS, foreignRequests, openBrowser, skipReason, text, type Session } from './browser.ts';
import { cell, extend, gridState, renderedKeys, settled, visibleRows, wheel } from './grid-page.ts';

const skip = skipReason();
if (skip) console.warn(`browser tests skipped: ${skip}`);

const ORDERS = 300;
/** Small pages and a small window, so scrolling through 300 rows reads pages both ways and drops rows. */
const GRID = '/grid?pageSize=40&windowRows=120';

interface Connection {
  orders: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: Array<{ node: { orderId: string } }> };
}

describe.skipIf(skip)('the live grid page', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  const fx = useFixture('grid');
  let gw: TestGateway;
  let session: Session;
  let page: Page;

  /** Every orderId of the connection for `orderBy` and `filter`, read through GraphQL page by page. */
  const reference = async (orderBy: Record<string, string>, filter: Record<string, unknown> = {}) => {
    const keys: string[] = [];
    let after: string | null = null;
    let totalCount = 0;
    for (let pages = 0; pages < 20; pages++) {
      const data: Connection = await gw.query<Connection>(
        `query($after: String, $orderBy: OrderOrder, $filter: OrderFilter) {
          orders(first: 100, after: $after, orderBy: $orderBy, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { node { orderId } } }
        }`,
        { after, orderBy, filter },
      );
      totalCount = data.orders.totalCount;
      keys.push(...data.orders.edges.map((edge) => edge.node.orderId));
      if (!data.orders.pageInfo.hasNextPage) return { keys, totalCount };
      after = data.orders.pageInfo.endCursor;
    }
    throw new Error('the reference read did not end within 20 pages');
  };

  beforeAll(async () => {
    gw = await fx.startGateway();
    await fx.produce(
      'customers',
      Array.from({ length: 50 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: ORDERS }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 60 }, (_, i) => keyed('paymentId', payment(i + 1, 1))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers', 'payments']);
    session = await openBrowser(fx);
    page = session.page;
  }, BROWSER_TEST_TIMEOUT_MS);

  it('renders the first page of real rows with their customer and payment columns, the count and the freshness', async () => {
    await page.goto(`${gw.url}${GRID}`);
    await settled(page);
    const expected = await reference({ field: 'CREATED_AT', direction: 'DESC' });
    const keys = await renderedKeys(page);
    expect(keys.length).toBeGreaterThan(10);
    expect(keys).toEqual(expected.keys.slice(0, keys.length));
    expect((await gridState(page)).total).toBe(ORDERS);
    expect(await text(page.locator('#total'))).toBe(`${ORDERS} orders`);
    const first = order(Number(keys[0]!.slice(4)));
    const buyer = customer(Number(first.customerId.slice(4)));
    expect(await text(cell(page, keys[0]!, 'customerName'))).toBe(buyer.name);
    expect(await text(cell(page, keys[0]!, 'tier'))).toBe(buyer.tier);
    expect(await text(cell(page, keys[0]!, 'country'))).toBe(buyer.country);
    // Orders 1..60 have a first payment.
    const paid = payment(7, 1);
    await page.goto(`${gw.url}${GRID}&customer=${order(7).customerId}`);
    await settled(page);
    expect(await text(cell(page, paid.orderId, 'paymentCount'))).toBe('1');
    expect(await text(cell(page, paid.orderId, 'paymentStatus'))).toBe(paid.status);
    expect(await text(cell(page, paid.orderId, 'paymentAmount'))).toBe(paid.amount.toFixed(2));
    expect(await text(page.locator('#freshness'))).toMatch(
      new RegExp(`^as of offsets .*${fx.prefix.replaceAll('.', '\\.')}orders 0:\\d+ 1:\\d+ 2:\\d+.*, \\d+(\\.\\d)? m?s ago$`),
    );
  });

  it('scrolls through the whole connection and back with cursors, with no duplicate and no gap', async () => {
    await page.goto(`${gw.url}${GRID}`);
    await settled(page);
    const expected = await reference({ field: 'CREATED_AT', direction: 'DESC' });
    session.graphqlBodies.length = 0;

    const down: string[] = [];
    extend(down, await renderedKeys(page));
    let maxHeld = 0;
    for (let step = 0; step < 200 && down.length < expected.keys.length; step++) {
      await wheel(page, 280);
      extend(down, await renderedKeys(page));
      maxHeld = Math.max(maxHeld, (await gridState(page)).rows);
    }
    expect(down).toEqual(expected.keys);
    const bottom = await gridState(page);
    expect(bottom.hasNext).toBe(false);
    expect(bottom.hasPrevious).toBe(true); // rows at the top were dropped from the window
    expect(maxHeld).toBeLessThanOrEqual(120 + 40 + 40);

    const up: string[] = [];
    extend(up, (await renderedKeys(page)).reverse());
    for (let step = 0; step < 200 && up.length < expected.keys.length; step++) {
      await wheel(page, -280);
      extend(up, (await renderedKeys(page)).reverse());
    }
    expect(up).toEqual([...expected.keys].reverse());
    expect((await gridState(page)).hasPrevious).toBe(false);

    const paging = session.graphqlBodies.filter((body) => body.query.includes('GridPage')).map((body) => body.variables ?? {});
    expect(paging.some((variables) => typeof variables['after'] === 'string' && variables['first'] === 40)).toBe(true);
    expect(paging.some((variables) => typeof variables['before'] === 'string' && variables['last'] === 40)).toBe(true);
    expect(paging.every((variables) => !('offset' in variables) && !('skip' in variables))).toBe(true);
  });

  it('reads the grid again when the sort or a filter changes', async () => {
    await page.goto(`${gw.url}${GRID}`);
    await settled(page);
    let generation = (await gridState(page)).generation;

    await page.locator('#sort-field').selectOption('ORDER_ID');
    await page.locator('#sort-direction').selectOption('ASC');
    await expect.poll(async () => (await gridState(page)).generation).toBeGreaterThan(generation);
    await settled(page);
    const byId = await reference({ field: 'ORDER_ID', direction: 'ASC' });
    const idKeys = await renderedKeys(page);
    expect(idKeys).toEqual(byId.keys.slice(0, idKeys.length));
    expect(page.url()).toContain('sort=ORDER_ID');

    generation = (await gridState(page)).generation;
    await page.locator('#filter-state').selectOption('SHIPPED');
    await expect.poll(async () => (await gridState(page)).generation).toBeGreaterThan(generation);
    await settled(page);
    const shipped = await reference({ field: 'ORDER_ID', direction: 'ASC' }, { state: { eq: 'SHIPPED' } });
    expect(await renderedKeys(page)).toEqual(shipped.keys.slice(0, (await renderedKeys(page)).length));
    expect((await gridState(page)).total).toBe(shipped.totalCount);
    expect(shipped.totalCount).toBe(ORDERS / 5);

    generation = (await gridState(page)).generation;
    await page.locator('#filter-currency').fill('eur');
    await page.locator('#filter-currency').press('Enter');
    await expect.poll(async () => (await gridState(page)).generation).toBeGreaterThan(generation);
    await settled(page);
    const shippedEur = await reference({ field: 'ORDER_ID', direction: 'ASC' }, { state: { eq: 'SHIPPED' }, currency: { eq: 'EUR' } });
    expect(await renderedKeys(page)).toEqual(shippedEur.keys);
    expect((await gridState(page)).total).toBe(shippedEur.totalCount);

    generation = (await gridState(page)).generation;
    await page.locator('#filter-state').selectOption('');
    await page.locator('#filter-currency').fill('');
    await page.locator('#filter-currency').press('Enter');
    await page.locator('#filter-customer').fill('cus-00007');
    await page.locator('#filter-customer').press('Enter');
    await expect.poll(async () => (await gridState(page)).generation).toBeGreaterThan(generation);
    await settled(page);
    const ofCustomer = await reference({ field: 'ORDER_ID', direction: 'ASC' }, { customerId: { eq: 'cus-00007' } });
    expect(await renderedKeys(page)).toEqual(ofCustomer.keys);
    expect(ofCustomer.keys.length).toBe(ORDERS / 50);
  });

  it('applies live changes without a reload: a new order appears, an update changes its row, a tombstone removes it', async () => {
    await page.goto(`${gw.url}${GRID}`);
    await settled(page);
    await page.locator('#grid[data-live="live"]').waitFor();
    const { generation } = await gridState(page);
    await page.evaluate('window.__sameDocument = true');

    const fresh = order(5001, {
      customerId: 'cus-00001',
      state: 'CREATED',
      createdAt: iso(Date.parse('2027-01-01T00:00:00Z')),
      updatedAt: iso(Date.parse('2027-01-01T00:00:00Z')),
    });
    await fx.produce('orders', [keyed('orderId', fresh)]);
    await expect.poll(async () => (await renderedKeys(page))[0], { timeout: 20_000 }).toBe(fresh.orderId);
    expect(await text(cell(page, fresh.orderId, 'state'))).toBe('CREATED');
    expect(await text(cell(page, fresh.orderId, 'customerName'))).toBe(customer(1).name);
    await expect.poll(async () => (await gridState(page)).total, { timeout: 10_000 }).toBe(ORDERS + 1);

    await fx.produce('orders', [keyed('orderId', { ...fresh, state: 'SHIPPED', updatedAt: iso(Date.parse('2027-01-01T00:05:00Z')) })]);
    await expect.poll(async () => text(cell(page, fresh.orderId, 'state')), { timeout: 20_000 }).toBe('SHIPPED');
    expect((await renderedKeys(page))[0]).toBe(fresh.orderId);

    await fx.produce('orders', [{ key: fresh.orderId, value: null }]);
    await expect.poll(async () => (await renderedKeys(page)).includes(fresh.orderId), { timeout: 20_000 }).toBe(false);
    await expect.poll(async () => (await gridState(page)).total, { timeout: 10_000 }).toBe(ORDERS);

    expect((await gridState(page)).generation).toBe(generation);
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
  });

  it('keeps the rows in view where they are when a row appears above them', async () => {
    await page.goto(`${gw.url}${GRID}`);
    await settled(page);
    await page.locator('#grid[data-live="live"]').waitFor();
    await wheel(page, 28 * 30);
    const before = await visibleRows(page);
    expect(before.length).toBeGreaterThan(5);
    const rowsBefore = (await gridState(page)).rows;

    const above = order(5002, { createdAt: iso(Date.parse('2027-02-01T00:00:00Z')), updatedAt: iso(Date.parse('2027-02-01T00:00:00Z')) });
    await fx.produce('orders', [keyed('orderId', above)]);
    await expect.poll(async () => (await gridState(page)).rows, { timeout: 20_000 }).toBe(rowsBefore + 1);
    await page.waitForTimeout(200);
    const after = await visibleRows(page);
    expect(after.slice(0, before.length)).toEqual(before);

    await wheel(page, -28 * 40);
    expect((await renderedKeys(page))[0]).toBe(above.orderId);
    await page.screenshot({ path: path.join(ARTIFACTS, 'grid.png') });
  });

  it('made no request to any host but the gateway', () => {
    expect(session.requests.some((url) => url.startsWith(`${gw.url.replace('http', 'ws')}/graphql`))).toBe(true);
    expect(foreignRequests(session.requests, gw.url)).toEqual([]);
  });
});
