import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, uniqueName, type TestGateway } from '../support/gateway.ts';

describe('bad GraphQL gets GraphQL errors, never a 500', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ topicPrefix: `${uniqueName('bad')}.` });
  });

  afterAll(async () => {
    await gw?.stop();
  });

  const cases: Array<{ name: string; query: string; variables?: Record<string, unknown>; code?: string }> = [
    { name: 'syntax error', query: '{ orders(first: 1) { edges { node { orderId } }' },
    { name: 'unknown field', query: '{ orders(first: 1) { edges { node { nope } } } }' },
    { name: 'unknown argument', query: '{ order(id: "x") { orderId } }' },
    { name: 'bad variable type', query: 'query($n: Int) { orders(first: $n) { totalCount } }', variables: { n: 'ten' } },
    { name: 'bad enum literal', query: '{ orders(filter: { state: { eq: LOST } }) { totalCount } }' },
    { name: 'bad DateTime', query: 'query($t: DateTime) { orders(filter: { createdAt: { gte: $t } }) { totalCount } }', variables: { t: 'yesterday' } },
    { name: 'page too large', query: '{ orders(first: 100000) { totalCount } }', code: 'GW_QUERY_BAD_ARGUMENT' },
    { name: 'first and last', query: '{ orders(first: 1, last: 1) { totalCount } }', code: 'GW_QUERY_BAD_ARGUMENT' },
    { name: 'garbage cursor', query: '{ orders(first: 1, after: "garbage") { totalCount } }', code: 'GW_QUERY_BAD_CURSOR' },
    {
      name: 'too deep',
      query: '{ orders { edges { node { customer { orders { edges { node { customer { orders { edges { node { customer { name } } } } } } } } } } } } }',
      code: 'GW_QUERY_TOO_COMPLEX',
    },
    {
      name: 'too many aliases',
      query: `{ ${Array.from({ length: 60 }, (_, i) => `a${i}: order(orderId: "x") { orderId }`).join(' ')} }`,
      code: 'GW_QUERY_TOO_COMPLEX',
    },
  ];

  for (const entry of cases) {
    it(entry.name, async () => {
      const { status, body } = await gw.graphql(entry.query, entry.variables);
      expect(status).toBeLessThan(500);
      expect(body.errors?.length).toBeGreaterThan(0);
      if (entry.code) expect(body.errors?.[0]?.extensions?.code).toBe(entry.code);
    });
  }

  it('answers a body that is not JSON with a 4xx', async () => {
    const response = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });

  it('serves GraphiQL, /healthz and /readyz', async () => {
    const page = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });
});
