import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

/**
 * GraphQL requests go in process to yoga (gw.graphql, gw.fetch); what the HTTP layer in front of
 * yoga answers (body framing, health, readiness, metrics) goes over a real socket (gw.url).
 */
describe('bad GraphQL gets GraphQL errors, never a 500', () => {
  const fx = useFixture('bad');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ transport: 'in-process' });
  });

  const cases: Array<{ name: string; query: string; variables?: Record<string, unknown>; code?: string }> = [
    { name: 'syntax error', query: '{ orders(first: 1) { edges { node { orderId } }' },
    { name: 'unknown field', query: '{ orders(first: 1) { edges { node { nope } } } }' },
    { name: 'unknown argument', query: '{ order(id: "x") { orderId } }' },
    { name: 'bad variable type', query: 'query($n: Int) { orders(first: $n) { totalCount } }', variables: { n: 'ten' } },
    { name: 'bad enum literal', query: '{ orders(filter: { state: { eq: LOST } }) { totalCount } }' },
    {
      name: 'bad DateTime',
      query: 'query($t: DateTime) { orders(filter: { createdAt: { gte: $t } }) { totalCount } }',
      variables: { t: 'yesterday' },
    },
    { name: 'page too large', query: '{ orders(first: 100000) { totalCount } }', code: 'GW_QUERY_BAD_ARGUMENT' },
    { name: 'first and last', query: '{ orders(first: 1, last: 1) { totalCount } }', code: 'GW_QUERY_BAD_ARGUMENT' },
    { name: 'garbage cursor', query: '{ orders(first: 1, after: "garbage") { totalCount } }', code: 'GW_QUERY_BAD_CURSOR' },
    {
      name: 'too deep',
      query:
        '{ orders { edges { node { customer { orders { edges { node { customer { orders { edges { node { customer { name } } } } } } } } } } } } }',
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
    const response = await gw.fetch('/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
  });

  /** Sends a POST with the given framing through node:http, so a test controls the headers. */
  const post = (body: string, headers: Record<string, string | number>): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  it('refuses a body over 256 KiB with 413, and a chunked body with 411, before reading it', async () => {
    const padding = ' '.repeat(300 * 1024);
    const large = JSON.stringify({ query: `{ order(orderId: "x") { orderId } }${padding}` });
    const tooLarge = await post(large, { 'content-length': Buffer.byteLength(large) });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.text).errors[0].message).toContain('exceeds');

    const small = JSON.stringify({ query: '{ order(orderId: "x") { orderId } }' });
    const chunked = await post(small, { 'transfer-encoding': 'chunked' });
    expect(chunked.status).toBe(411);
    expect(JSON.parse(chunked.text).errors[0].message).toContain('content-length');

    // The same small body with its length is a normal query.
    const normal = await post(small, { 'content-length': Buffer.byteLength(small) });
    expect(normal.status).toBe(200);
    expect(JSON.parse(normal.text).data).toEqual({ order: null });
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

  it('exposes Prometheus metrics, including event-loop delay and store reads', async () => {
    await gw.graphql('{ orders(first: 5) { totalCount edges { node { orderId } } } }');
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value('gw_store_read_round_trips_total')).toBeGreaterThan(0);
    expect(value('gw_store_entries_read_total')).toBeGreaterThanOrEqual(0);
    expect(value('gw_changelog_tombstones_trimmed_total')).toBe(0);
    const maxDelay = value('gw_event_loop_delay_seconds\\{quantile="1"\\}');
    expect(maxDelay).toBeGreaterThan(0);
    expect(maxDelay).toBeLessThan(60);
  });
});
