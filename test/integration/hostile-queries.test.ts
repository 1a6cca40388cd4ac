/**
 * Query limits against a real gateway: each limit allowed at its bound and refused past it, over
 * HTTP and WebSocket, with a 4xx and a registered code; hostile documents of every class while a
 * normal lookup load runs, against a gateway process whose memory and health are watched.
 */
import { readFileSync } from 'node:fs';
import { getIntrospectionQuery } from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

interface Answer {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: { code?: string; details?: Record<string, unknown> } }>;
  };
}

/** Posts a document; `variables` may be given as JSON text (too deep for JSON.stringify). */
async function post(url: string, query: string, variables?: unknown): Promise<Answer> {
  const body = typeof variables === 'string' ? `{"query":${JSON.stringify(query)},"variables":${variables}}` : JSON.stringify({ query, variables });
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body,
  });
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

const codes = (answer: Answer) => (answer.body.errors ?? []).map((error) => error.extensions?.code);

/** `n` fragments, each spreading the next twice: 2^n root fields once expanded, in about 40n bytes. */
function doublingFragments(n: number): string {
  const lines = ['query Doubling { ...F0 }'];
  for (let i = 0; i < n; i++) lines.push(`fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`);
  lines.push(`fragment F${n} on Query { orders(first: 1) { totalCount } }`);
  return lines.join('\n');
}

const nested = (depth: number) =>
  `{ order(orderId: "ord-000001") ${'{ customer { orders(first: 1) { edges { node '.repeat(depth)}{ orderId }${' } } } }'.repeat(depth)} }`;

/** Hostile documents, one per class, each distinct (so no cache absorbs them). */
function hostileDocument(i: number): { query: string; variables?: unknown } {
  switch (i % 8) {
    case 0: // ~190 KB: 10,000 aliases inside one field
      return { query: `{ orders(first: 1) { edges { node { ${Array.from({ length: 10_000 }, (_, a) => `a${a}_${i}: orderId`).join(' ')} } } } }` };
    case 1: // exponential fragment spreads
      return { query: `${doublingFragments(40)}\n# ${i}` };
    case 2: // a 60,000-deep list literal
      return { query: `{ nodes(ids: ${'['.repeat(60_000)}"x"${']'.repeat(60_000)}) { id } } # ${i}` };
    case 3: // a 10,000-deep selection set
      return { query: `{ ${'order(orderId: "x") { customer { '.repeat(5_000)}name${' } }'.repeat(5_000)} } # ${i}` };
    case 4: // a cost bomb
      return {
        query: `{ ${Array.from({ length: 50 }, (_, a) => `o${a}: orders(first: 500) { edges { node { customer { orders(first: 500) { edges { node { payments { amount } } } } } } } }`).join(' ')} } # ${i}`,
      };
    case 5: // deeply nested variables
      return { query: `query Q($ids: [ID!]!) { nodes(ids: $ids) { id } } # ${i}`, variables: `{"ids":${'['.repeat(50_000)}${']'.repeat(50_000)}}` };
    case 6: // many directives
      return { query: `{ order(orderId: "x") { ${'orderId @skip(if: false) '.repeat(500)} } } # ${i}` };
    default: // a root-field flood through a fragment
      return { query: `{ ...R } fragment R on Query { ${'order(orderId: "x") { orderId } '.repeat(400)} } # ${i}` };
  }
}

describe('query limits', () => {
  const fx = useFixture('limits');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ scope: 'file', env: { QUERY_TIMEOUT_MS: '10000' } });
    await fx.produce(
      'customers',
      Array.from({ length: 10 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 100 }, (_, i) => keyed('orderId', order(i, { customerId: customer(i % 10).customerId }))),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 100 }, (_, i) => keyed('paymentId', payment(i, 1))),
    );
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
  });

  it('passes GraphiQL’s introspection query', async () => {
    const answer = await post(gw.url, getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true }));
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    expect(JSON.stringify(answer.body.data)).toContain('"name":"Order"');
  });

  it.each([
    ['depth', nested(2), nested(3)],
    [
      'aliases',
      `{ order(orderId: "x") { ${Array.from({ length: 25 }, (_, a) => `a${a}: orderId`).join(' ')} customer { ${Array.from({ length: 25 }, (_, a) => `b${a}: name`).join(' ')} } } }`,
      `{ order(orderId: "x") { ${Array.from({ length: 25 }, (_, a) => `a${a}: orderId`).join(' ')} customer { ${Array.from({ length: 26 }, (_, a) => `b${a}: name`).join(' ')} } } }`,
    ],
    [
      'directives',
      `{ order(orderId: "x") { ${'orderId @include(if: true) '.repeat(30)} } }`,
      `{ order(orderId: "x") { ${'orderId @include(if: true) '.repeat(31)} } }`,
    ],
    [
      'rootFields',
      `{ ...R } fragment R on Query { ${'order(orderId: "x") { orderId } '.repeat(50)} }`,
      `{ ...R } fragment R on Query { ${'order(orderId: "x") { orderId } '.repeat(51)} }`,
    ],
    ['tokens', `{ ${'order(orderId: "x") { orderId } '.repeat(20)} __typename }`, `{ ${'__typename '.repeat(1501)} }`],
    ['breadth', `{ order(orderId: "x") { ${'customer { name } '.repeat(50)} } }`, `{ order(orderId: "x") { ${'customer { name } '.repeat(51)} } }`],
  ])('%s: allowed at the bound, refused past it with 400 and GW_QUERY_TOO_COMPLEX', async (limit, allowed, refused) => {
    const ok = await post(gw.url, allowed);
    expect(ok.status, JSON.stringify(ok.body.errors)).toBe(200);
    expect(ok.body.errors).toBeUndefined();
    const no = await post(gw.url, refused);
    expect(no.status).toBe(400);
    expect(new Set(codes(no))).toEqual(new Set(['GW_QUERY_TOO_COMPLEX']));
    expect(no.body.errors!.map((error) => (error.extensions!.details as { limit: string }).limit)).toContain(limit);
  });

  it('refuses exponential fragment spreads at once, linearly', async () => {
    const answer = await post(gw.url, doublingFragments(60));
    expect(answer.status).toBe(400);
    expect(codes(answer)).toContain('GW_QUERY_TOO_COMPLEX');
  });

  it('multiplies cost by page sizes, with variables', async () => {
    const query = `query Grid($n: Int!) { orders(first: $n) { edges { node { customer { orders(first: $n) { edges { node { payments { amount } } } } } } } } }`;
    const small = await post(gw.url, query, { n: 5 });
    expect(small.status).toBe(200);
    expect(small.body.errors).toBeUndefined();
    const large = await post(gw.url, query, { n: 500 });
    expect(large.status).toBe(400);
    expect(codes(large)).toEqual(['GW_QUERY_TOO_COSTLY']);
    expect(large.body.errors![0]!.extensions!.details).toMatchObject({ max: 50_000 });
  });

  it('answers deep literals and deep variables with 400, never a 500', async () => {
    for (const i of [2, 3, 5]) {
      const { query, variables } = hostileDocument(i);
      const answer = await post(gw.url, query, variables);
      expect(answer.status, `${i}: ${JSON.stringify(answer.body).slice(0, 300)}`).toBe(400);
    }
    const within = await post(gw.url, `{ nodes(ids: ${'['.repeat(300)}"x"${']'.repeat(300)}) { id } }`);
    expect(within.status).toBe(400);
    expect(codes(within)).not.toContain('GW_INTERNAL_ERROR');
  });

  it('applies every limit over WebSocket too, failing only that operation', async () => {
    const client = fx.wsClient(gw.url);
    const outcome = (query: string, variables: Record<string, unknown> = {}) =>
      new Promise<{ errors: unknown[]; events: number }>((resolve) => {
        const seen = { errors: [] as unknown[], events: 0 };
        client.subscribe(
          { query, variables },
          {
            next: () => {
              seen.events += 1;
              resolve(seen);
            },
            error: (error) => {
              seen.errors.push(...(Array.isArray(error) ? error : [error]));
              resolve(seen);
            },
            complete: () => resolve(seen),
          },
        );
      });
    const deep = await outcome(
      `subscription { orderChanged(orderId: "ord-000001") { node ${'{ customer { orders(first: 1) { edges { node '.repeat(3)}{ orderId }${' } } } }'.repeat(3)} } }`,
    );
    expect(JSON.stringify(deep.errors)).toContain('GW_QUERY_TOO_COMPLEX');
    const costly = await outcome(
      'subscription S($n: Int!) { ordersChanged(first: $n) { node { customer { orders(first: $n) { edges { node { payments { amount } } } } } } } }',
      { n: 500 },
    );
    expect(JSON.stringify(costly.errors)).toContain('GW_QUERY_TOO_COSTLY');
    const tokens = await outcome(`subscription { ${'__typename '.repeat(1501)} }`);
    expect(JSON.stringify(tokens.errors)).toContain('GW_QUERY_TOO_COMPLEX');
    // The socket still serves a normal subscription.
    const fine = await outcome('subscription { orderChanged(orderId: "ord-000001") { kind key } }');
    expect(fine.events).toBe(1);
    await client.dispose();
  });

  it('cancels a query that runs past QUERY_TIMEOUT_MS with GW_QUERY_TIMEOUT', async () => {
    const slow = await fx.startGateway({ group: 'slow', env: { QUERY_TIMEOUT_MS: '1' } });
    await fx.waitCaughtUp(slow, ['customers', 'orders', 'payments']);
    const answer = await post(
      slow.url,
      '{ orders(first: 100) { edges { node { customer { orders(first: 5) { edges { node { payments { amount } } } } } payments { amount } } } } }',
    );
    expect(codes(answer)).toContain('GW_QUERY_TIMEOUT');
    // Within the limit the same query answers.
    const full = await post(
      gw.url,
      '{ orders(first: 100) { edges { node { customer { orders(first: 5) { edges { node { payments { amount } } } } } payments { amount } } } } }',
    );
    expect(full.body.errors).toBeUndefined();
  });
});

describe('hostile documents under a normal load', () => {
  const fx = useFixture('storm');

  it('keeps lookups answering, /healthz within a second, and memory bounded', async () => {
    const dataDir = await fx.tempDir('storm');
    const instance = await fx.spawnGateway({ dataDir, env: { TOPIC_PARTITIONS: '3' } });
    const url = instance.url;
    await waitFor(async () => (await fetch(`${url}/readyz`)).status === 200, { what: 'gateway ready' });
    await fx.produce(
      'orders',
      Array.from({ length: 500 }, (_, i) => keyed('orderId', order(i))),
    );
    await waitFor(async () => (await post(url, '{ orders(first: 1) { totalCount } }')).body.data?.orders !== undefined, { what: 'gateway answers' });
    await waitFor(
      async () =>
        ((await post(url, '{ orders(first: 1) { totalCount } }')).body.data?.orders as { totalCount: number } | undefined)?.totalCount === 500,
      {
        what: 'orders applied',
      },
    );
    const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${instance.child.pid}/status`, 'utf8'))![1]) * 1024;
    const rssBefore = rss();
    const lookup = (i: number) => post(url, 'query L($id: ID!) { order(orderId: $id) { orderId state } }', { id: order(i % 500).orderId });

    // The same lookup load alone first, as the baseline.
    const baseline: number[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, worker) => {
        for (let i = worker; i < 400; i += 4) {
          const started = performance.now();
          await lookup(i);
          baseline.push(performance.now() - started);
        }
      }),
    );

    let running = true;
    const lookupLatencies: number[] = [];
    const healthLatencies: number[] = [];
    const statuses = new Map<number, number>();
    const lookups = Array.from({ length: 4 }, async (_, worker) => {
      for (let i = worker; running && i < 100_000; i += 4) {
        const started = performance.now();
        const answer = await lookup(i);
        lookupLatencies.push(performance.now() - started);
        expect(answer.status).toBe(200);
        expect(answer.body.data?.order).toMatchObject({ orderId: order(i % 500).orderId });
      }
    });
    const health = (async () => {
      while (running) {
        const started = performance.now();
        const answer = await fetch(`${url}/healthz`);
        healthLatencies.push(performance.now() - started);
        expect(answer.status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    // 240 hostile documents (30 of each class), 10 at a time.
    let peakRss = rssBefore;
    for (let batch = 0; batch < 24; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, j) => {
          const { query, variables } = hostileDocument(batch * 10 + j);
          return post(url, query, variables);
        }),
      );
      for (const answer of answers) {
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }
      peakRss = Math.max(peakRss, rss());
    }
    running = false;
    await Promise.all([...lookups, health]);

    const sorted = (values: number[]) => [...values].sort((a, b) => a - b);
    const quantile = (values: number[], q: number) => sorted(values)[Math.min(values.length - 1, Math.floor(q * values.length))]!;
    console.log(
      `[storm] 240 hostile documents: statuses ${JSON.stringify(Object.fromEntries(statuses))}; ` +
        `lookups alone p50 ${quantile(baseline, 0.5).toFixed(1)} ms, p99 ${quantile(baseline, 0.99).toFixed(1)} ms; ` +
        `${lookupLatencies.length} lookups meanwhile, p50 ${quantile(lookupLatencies, 0.5).toFixed(1)} ms, p99 ${quantile(lookupLatencies, 0.99).toFixed(1)} ms; ` +
        `/healthz max ${Math.max(...healthLatencies).toFixed(1)} ms; RSS ${(rssBefore / 2 ** 20).toFixed(0)} MB before, peak ${(peakRss / 2 ** 20).toFixed(0)} MB`,
    );
    expect(Math.max(...healthLatencies)).toBeLessThan(1000);
    expect(peakRss - rssBefore).toBeLessThan(300 * 2 ** 20);
    expect(instance.child.exitCode).toBeNull();
  });
});
