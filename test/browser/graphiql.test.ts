import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../src/gateway.ts';
import { customer, keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { ARTIFACTS, BROWSER_TEST_TIMEOUT_MS, foreignRequests, openBrowser, skipReason, text, type Session } from './browser.ts';

const skip = skipReason();
if (skip) console.warn(`browser tests skipped: ${skip}`);

/** Monaco renders spaces as no-break spaces, and each line as an element of its own. */
const normalize = (text: string) => text.replaceAll('\u00a0', ' ').replace(/\s+/g, ' ').trim();

describe.skipIf(skip)('GraphiQL served by the gateway, offline', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  const fx = useFixture('graphiql');
  let gw: TestGateway;
  let session: Session;

  beforeAll(async () => {
    gw = await fx.startGateway();
    await fx.produce(
      'customers',
      Array.from({ length: 10 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 12 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.waitCaughtUp(gw, ['orders', 'customers']);
    session = await openBrowser(fx);
    await session.page.goto(`${gw.url}/graphql`);
    await session.page.locator('.graphiql-query-editor .view-lines').waitFor({ timeout: 60_000 });
  }, BROWSER_TEST_TIMEOUT_MS);

  it('opens with the example grid query in the editor', async () => {
    const editor = session.page.locator('.graphiql-query-editor .view-lines');
    await expect.poll(async () => normalize(await text(editor)), { timeout: 20_000 }).toContain('query OrdersGrid($after: String) {');
    // The first lines of the example, as the editor shows them.
    const firstLines = EXAMPLE_QUERY.split('\n').slice(0, 3).map(normalize);
    for (const line of firstLines) expect(normalize(await text(editor))).toContain(line);
  });

  it('lists Query.orders in the Docs panel', async () => {
    const { page } = session;
    await page
      .getByRole('button', { name: /documentation explorer/i })
      .first()
      .click();
    const docs = page.locator('.graphiql-doc-explorer');
    await docs.getByText('Query', { exact: true }).first().click();
    await expect.poll(async () => normalize(await text(docs)), { timeout: 20_000 }).toMatch(/\borders\b/);
    await docs.getByText('orders', { exact: true }).first().click();
    await expect.poll(async () => normalize(await text(docs)), { timeout: 20_000 }).toContain('OrderConnection');
  });

  it('completes a field name as it is typed, and runs a typed query', async () => {
    const { page } = session;
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type('{ ord', { delay: 30 });
    const suggestions = page.locator('.suggest-widget .monaco-list-row .label-name');
    await expect.poll(async () => suggestions.allTextContents(), { timeout: 20_000 }).toContain('orders');
    await page.keyboard.press('Escape');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText('{ orders(first: 3, orderBy: { field: ORDER_ID }) { totalCount edges { node { orderId state } } } }');
    const editorText = page.locator('.graphiql-query-editor .view-lines');
    await expect.poll(async () => normalize(await text(editorText)), { timeout: 10_000 }).toContain('{ orders(first: 3');
    // GraphiQL reads the operation names of an edit after a short debounce.
    await page.waitForTimeout(1000);
    await page.keyboard.press('ControlOrMeta+Enter');
    const response = page.locator('.graphiql-response');
    await expect.poll(async () => normalize(await text(response)), { timeout: 20_000 }).toContain('"orderId": "ord-000001"');
    const shown = normalize(await text(response));
    expect(shown).toContain('"totalCount": 12');
    expect(shown).toContain('"orderId": "ord-000003"');
    expect(shown).not.toContain('ord-000004');
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql.png') });
  });

  it('opens the example again on the next visit, next to the tab GraphiQL kept, and a query from the URL', async () => {
    const { page } = session;
    const editor = page.locator('.graphiql-query-editor .view-lines');
    await page.goto(`${gw.url}/graphql`);
    await expect.poll(async () => normalize(await text(editor)), { timeout: 30_000 }).toContain('query OrdersGrid($after: String) {');
    const tabs = page.locator('.graphiql-tab');
    expect(await tabs.count()).toBeGreaterThanOrEqual(2);
    await page.goto(`${gw.url}/graphql?query=${encodeURIComponent('{ order(orderId: "ord-000002") { state } }')}`);
    await expect.poll(async () => normalize(await text(editor)), { timeout: 30_000 }).toContain('{ order(orderId: "ord-000002") { state } }');
  });

  it('made no request to any host but the gateway', () => {
    expect(session.requests.length).toBeGreaterThan(1);
    expect(session.requests.some((url) => url.startsWith(`${gw.url}/graphql`))).toBe(true);
    expect(foreignRequests(session.requests, gw.url)).toEqual([]);
  });
});
