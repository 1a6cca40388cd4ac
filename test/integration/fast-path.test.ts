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
    const cors = [...response.headers].filter(([name]) => name === 'vary' || name.startsWith('access-control-'));
    return { status: response.status, type: response.headers.get('content-type'), cors, text: await response.text() };
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
    // A page of another origin (or of the gateway itself): yoga adds no CORS header for an origin
    // outside CORS_ORIGINS, and neither does the fast path.
    {
      name: 'a browser request (Origin)',
      body: { query: LOOKUP, variables: { id: order(5).orderId } },
      headers: { origin: 'https://elsewhere.test' },
      fast: true,
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

  describe('texts that differ only in their literals', () => {
    /** Yoga's own answer to a text: a weighted Accept keeps a request off the fast path. */
    const reference = (body: unknown) => send(body, { accept: 'application/json;q=0.9' });
    /**
     * An answer without its errors' locations: yoga answers a text's first run through graphql-js
     * (errors with locations) and later runs compiled (errors without), so the reference run of a
     * text may differ from the answer there; the locations are checked on their own below.
     */
    const comparable = (answer: { status: number; type: string | null; text: string }) => {
      const body = JSON.parse(answer.text) as { errors?: Array<Record<string, unknown>> };
      for (const error of body.errors ?? []) delete error.locations;
      return { status: answer.status, type: answer.type, body };
    };
    const json = { accept: 'application/json' };

    it('run as one normalized document from the fourth text of a shape on, answered as yoga answers each text', async () => {
      const before = await fastPathCount('answered');
      const texts = Array.from(
        { length: 12 },
        (_, n) => `{ order(orderId: ${JSON.stringify(order(n).orderId)}) { orderId state quantity customer { name } payments { amount } } }`,
      );
      for (const query of texts) {
        const answer = await send({ query }, json);
        expect(answer).toEqual(await reference({ query }));
        expect(answer.status).toBe(200);
      }
      // The first text marks the shape, the next two run it through yoga (parse, then compile).
      expect((await fastPathCount('answered')) - before).toBe(texts.length - 3);
    });

    it('see through white space and comments, and take an ID written as an Int as its digits', async () => {
      const texts = ['{order(orderId:7){orderId}}', '# a comment\n{ order ( orderId : 8 ) { orderId } }', '{ order(orderId: 9) {\n orderId\n} }'];
      const queries = [...texts, ...texts.map((text) => text.replace(/orderId: ?(\d)/, 'orderId: "$1"'))];
      for (let round = 0; round < 2; round++) {
        for (const query of queries) expect(await send({ query }, json)).toEqual(await reference({ query }));
      }
    });

    it('answer the original text where a literal makes an error, with its locations', async () => {
      const cases = [
        // A field error next to data (a bad cursor written into the text).
        (n: number) =>
          `query Nested { orders(first: ${n}) { edges { node { orderId customer { orders(first: 1, after: "bad${n}") { totalCount } } } } } }`,
        // Over the cost limit by a literal.
        (n: number) => `{ orders(first: ${n * 400}) { totalCount edges { node { orderId payments { amount } } } } }`,
        // An Int out of range after the shape was learnt from Ints in range.
        (n: number) => `{ orders(first: ${n < 3 ? n : 2 ** 40 + n}) { totalCount } }`,
        // A String where an Int is expected: another shape, never lifted.
        (n: number) => `{ orders(first: "${n}") { totalCount } }`,
        // A variable named like the lifted ones: left alone.
        (n: number) => `query Q($_gw0: Int) { orders(first: $_gw0, after: "x${n}") { totalCount } }`,
      ];
      for (const make of cases) {
        for (let n = 1; n <= 6; n++) {
          const query = make(n);
          const answer = await send({ query }, json);
          expect(comparable(answer), query).toEqual(comparable(await reference({ query })));
        }
      }
      // A new text's first run is graphql-js's: its error points into the text as sent.
      const query = cases[0]!(7);
      const nested = JSON.parse((await send({ query }, json)).text);
      expect(nested.errors[0].extensions.code).toBe('GW_QUERY_BAD_CURSOR');
      expect(nested.errors[0].locations).toEqual([{ line: 1, column: query.indexOf('orders(first: 1') + 1 }]);
    });

    it('check the cost of each text, also when the same texts come again', async () => {
      const text = (n: number) =>
        `{ orders(first: ${n}) { edges { node { customer { orders(first: ${n}) { edges { node { payments { amount } } } } } } } } }`;
      for (const n of [1, 2, 3]) await send({ query: text(n) }, json);
      const before = await fastPathCount('answered');
      for (let round = 0; round < 3; round++) {
        // Within the limit, over it (the literals decide), and the first text with empty variables.
        for (const body of [{ query: text(5) }, { query: text(500) }, { query: text(5), variables: {} }]) {
          const answer = await send(body, json);
          expect(comparable(answer), `${round} ${JSON.stringify(body)}`).toEqual(comparable(await reference(body)));
          if (body.query === text(500)) expect(JSON.parse(answer.text).errors[0].extensions.code).toBe('GW_QUERY_TOO_COSTLY');
          else expect(answer.status).toBe(200);
        }
      }
      // Every answer within the limit came from the fast path; the costly text always from yoga.
      expect((await fastPathCount('answered')) - before).toBe(6);
    });

    it('keep directive arguments, variable defaults and operation names as they are written', async () => {
      const texts = (n: number) => [
        `query Named($first: Int = ${n}) { orders(first: $first) { totalCount } }`,
        `query Both { orders(first: ${n}) { totalCount } } query Other { orders(first: 2) { totalCount } }`,
        `{ orders(first: ${n}) @skip(if: false) { totalCount edges { node { orderId @include(if: ${n % 2 === 0}) } } } }`,
      ];
      for (let n = 1; n <= 5; n++) {
        for (const query of texts(n)) {
          for (const operationName of [undefined, 'Named', 'Both', 'Other']) {
            const body = { query, ...(operationName ? { operationName } : {}) };
            expect(await send(body, json), `${query} ${operationName}`).toEqual(await reference(body));
          }
        }
      }
    });
  });
  describe('with CORS_ORIGINS', () => {
    const LISTED = 'https://app.example.test';
    let cors: TestGateway;
    beforeAll(async () => {
      cors = await fx.startGateway({ group: 'cors', env: { CORS_ORIGINS: LISTED } });
      await fx.waitCaughtUp(cors, ['customers', 'orders', 'payments']);
    });

    const answered = async (): Promise<number> => {
      const text = await (await fetch(`${cors.url}/metrics`)).text();
      return Number(/^gw_graphql_fast_path_total\{outcome="answered"\} (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const post = async (origin: string) => {
      const response = await fetch(`${cors.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', origin },
        body: JSON.stringify({ query: LOOKUP, variables: { id: order(8).orderId } }),
      });
      const headers = [...response.headers].filter(([name]) => name === 'vary' || name.startsWith('access-control-'));
      return { status: response.status, headers, text: await response.text() };
    };

    it('leaves a listed origin to yoga, which adds its CORS headers', async () => {
      const before = await answered();
      const first = await post(LISTED);
      expect(Object.fromEntries(first.headers)['access-control-allow-origin']).toBe(LISTED);
      for (let i = 0; i < 3; i++) expect(await post(LISTED)).toEqual(first);
      expect((await answered()) - before).toBe(0);
    });

    it('answers another origin as yoga does: Vary: Origin and no CORS header', async () => {
      const before = await answered();
      const first = await post('https://elsewhere.test');
      expect(first.headers).toEqual([['vary', 'Origin']]);
      for (let i = 0; i < 3; i++) expect(await post('https://elsewhere.test')).toEqual(first);
      expect((await answered()) - before).toBeGreaterThanOrEqual(2);
    });
  });
});
