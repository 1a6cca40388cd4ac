import { beforeAll, describe, expect, it } from 'vitest';
import { tokenFromProduced } from '../../src/routing/consistency.ts';
import { customer, keyed, order, payment } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

/**
 * The fast path (src/server/fast-path.ts) answers a query text from its third request on (the
 * first runs through graphql-js, the second compiles it). Each case is sent four times over a real
 * socket: every answer must equal yoga's first one byte for byte (status, content type, body), and
 * /metrics must show which path answered.
 */
describe('fast path for repeated queries', () => {
  const fx = useFixture('fast');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway();
    await fx.produce(
      'customers',
      Array.from({ length: 5 }, (_, n) => keyed('customerId', customer(n))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 30 }, (_, n) => keyed('orderId', order(n, { customerId: customer(n % 5).customerId }))),
    );
    await fx.produce(
      'payments',
      Array.from({ length: 30 }, (_, n) => keyed('paymentId', payment(n, 1))),
    );
    await fx.waitCaughtUp(gw, ['customers', 'orders', 'payments']);
  });

  const fastPathCount = async (outcome: string): Promise<number> => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(new RegExp(`^gw_graphql_fast_path_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  };

  const send = async (body: unknown, headers: Record<string, string>) => {
    const response = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
  };

  const LOOKUP =
    'query Lookup($id: ID!) { order(orderId: $id) { orderId state quantity unitPrice createdAt customer { name } payments { paymentId amount } } }';
  const PAGE =
    'query Page($n: Int, $after: String) { orders(first: $n, after: $after) { totalCount edges { cursor node { orderId customer { name } } } } }';

  const cases: Array<{ name: string; body: unknown; headers?: Record<string, string>; fast: boolean }> = [
    { name: 'a lookup with variables', body: { query: LOOKUP, variables: { id: order(3).orderId } }, fast: true },
    { name: 'a lookup of a missing key', body: { query: LOOKUP, variables: { id: 'nope' }, operationName: 'Lookup' }, fast: true },
    {
      name: 'graphql-response+json',
      body: { query: LOOKUP, variables: { id: order(4).orderId } },
      headers: { accept: 'application/graphql-response+json, application/json' },
      fast: true,
    },
    { name: 'a page without accept', body: { query: PAGE, variables: { n: 5 } }, headers: { accept: '' }, fast: true },
    // A field error inside the data: answered with the error, as yoga masks and serializes it.
    {
      name: 'a field error next to data',
      body: {
        query:
          'query Nested($after: String) { orders(first: 2) { edges { node { orderId customer { name orders(first: 1, after: $after) { totalCount } } } } } }',
        variables: { after: 'garbage' },
      },
      fast: true,
    },
    // Errors without data go back to yoga, which answers them.
    { name: 'variables that do not coerce', body: { query: LOOKUP, variables: { id: { x: 1 } } }, fast: false },
    { name: 'missing variables', body: { query: LOOKUP }, fast: false },
    {
      name: 'a request error as graphql-response+json',
      body: { query: LOOKUP, variables: { id: [1, 2] } },
      headers: { accept: 'application/graphql-response+json' },
      fast: false,
    },
    { name: 'a cost over the limit by its variables', body: { query: PAGE, variables: { n: 1000 } }, fast: false },
    { name: 'an unknown operation name', body: { query: LOOKUP, variables: { id: 'x' }, operationName: 'Other' }, fast: false },
    { name: 'unknown extensions', body: { query: LOOKUP, variables: { id: 'x' }, extensions: { persistedQuery: { sha256Hash: 'x' } } }, fast: false },
    {
      name: 'a malformed consistency token',
      body: { query: LOOKUP, variables: { id: 'x' } },
      headers: { 'x-gw-consistency': 'garbage' },
      fast: false,
    },
    {
      name: 'a browser request (Origin)',
      body: { query: LOOKUP, variables: { id: order(5).orderId } },
      headers: { origin: 'https://elsewhere.test' },
      fast: false,
    },
    {
      name: 'weighted accept',
      body: { query: LOOKUP, variables: { id: order(6).orderId } },
      headers: { accept: 'application/json;q=0.9' },
      fast: false,
    },
  ];

  it('answers a field error next to data as yoga does (masked, serialized without internals)', async () => {
    const nested = cases.find((entry) => entry.name === 'a field error next to data')!;
    const answer = JSON.parse((await send(nested.body, { accept: 'application/json' })).text);
    expect(answer.errors[0].extensions).toEqual({ code: 'GW_QUERY_BAD_CURSOR', retriable: false });
    expect(answer.data.orders.edges).toHaveLength(2);
  });

  for (const entry of cases) {
    it(`${entry.name}: ${entry.fast ? 'answered by the fast path' : 'answered by yoga'}, as yoga answers it`, async () => {
      const headers = { accept: 'application/json', ...entry.headers };
      if (headers.accept === '') delete (headers as Record<string, string>).accept;
      const answeredBefore = await fastPathCount('answered');
      const first = await send(entry.body, headers);
      for (let i = 0; i < 3; i++) expect(await send(entry.body, headers)).toEqual(first);
      const answered = (await fastPathCount('answered')) - answeredBefore;
      if (entry.fast) {
        // At least the third and fourth (earlier cases may have compiled the same text).
        expect(first.status).toBe(200);
        expect(answered).toBeGreaterThanOrEqual(2);
      } else {
        expect(answered).toBe(0);
      }
    });
  }

  it('new variables reuse the compiled query', async () => {
    for (let n = 0; n < 3; n++) await send({ query: LOOKUP, variables: { id: order(n).orderId } }, { accept: 'application/json' });
    const before = await fastPathCount('answered');
    for (let n = 10; n < 20; n++) {
      const answer = JSON.parse((await send({ query: LOOKUP, variables: { id: order(n).orderId } }, { accept: 'application/json' })).text);
      expect(answer.data.order.orderId).toBe(order(n).orderId);
      expect(answer.extensions.consistencyToken).toMatch(/^c1\./);
    }
    expect((await fastPathCount('answered')) - before).toBe(10);
  });

  it('waits for a consistency token, read-your-writes, in the header and in extensions', async () => {
    for (const [state, carry] of [
      ['CANCELLED', 'header'],
      ['SHIPPED', 'extensions'],
    ] as const) {
      const body = { query: LOOKUP, variables: { id: order(7).orderId } };
      for (let i = 0; i < 3; i++) await send(body, { accept: 'application/json' });
      const before = await fastPathCount('answered');
      const [produced] = await fx.produce('orders', [keyed('orderId', order(7, { state }))]);
      const token = tokenFromProduced([{ topic: fx.topic('orders'), partition: produced!.partition, offset: produced!.baseOffset }]);
      const answer =
        carry === 'header'
          ? await send(body, { accept: 'application/json', 'x-gw-consistency': token })
          : await send({ ...body, extensions: { consistencyToken: token } }, { accept: 'application/json' });
      expect(JSON.parse(answer.text).data.order.state).toBe(state);
      expect((await fastPathCount('answered')) - before).toBe(1);
    }
  });
});
