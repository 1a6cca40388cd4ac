import { beforeAll, describe, expect, it } from 'vitest';
import { useFixture } from '../support/fixture.ts';
import type { GraphQLResponse, TestGateway } from '../support/gateway.ts';

const METRICS_TOKEN = 'metrics-token-0123456789';
const MISSPELLED = '{ ordr(orderId: "x") { orderId } }';
const BAD_ENUM = 'query($s: OrderState!) { orders(first: 1, filter: { state: { eq: $s } }) { totalCount } }';
/**
 * The same bad variable in a subscription. WebSocket queries run through yoga's plugins, so
 * compiled by graphql-jit like HTTP ones (no suggestions of their own); subscriptions keep
 * graphql-js, which suggests enum values in variable errors.
 */
const BAD_ENUM_SUBSCRIPTION = 'subscription($s: OrderState!) { ordersChanged(first: 1, filter: { state: { eq: $s } }) { kind } }';

/** Runs one operation over graphql-ws and resolves with the first `next` or `error` message. */
function overWebSocket(
  fx: ReturnType<typeof useFixture>,
  url: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ type: string; payload: unknown }> {
  const socket = fx.websocket(url);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; payload: unknown };
      if (message.type === 'connection_ack') socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
      if (message.type === 'next' || message.type === 'error') {
        clearTimeout(timer);
        resolve(message);
      }
    });
  });
}

const messages = (response: GraphQLResponse) => (response.body.errors ?? []).map((error) => error.message).join('\n');

describe('production switches: GRAPHIQL=false, INTROSPECTION=false, METRICS_TOKEN', () => {
  const fx = useFixture('prod');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ env: { GRAPHIQL: 'false', INTROSPECTION: 'false', METRICS_TOKEN } });
  });

  it('serves no GraphiQL page', async () => {
    const page = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    expect(await page.text()).not.toContain('GraphiQL');
  });

  it('refuses __schema and __type (also through fragments) with GW_INTROSPECTION_DISABLED, and keeps __typename', async () => {
    for (const query of [
      '{ __schema { queryType { name } } }',
      '{ __type(name: "Order") { name fields { name } } }',
      'query { ...Spy } fragment Spy on Query { __schema { types { name } } }',
      '{ order(orderId: "x") { orderId } __type(name: "Query") { name } }',
    ]) {
      const { status, body } = await gw.graphql(query);
      expect(status, query).toBe(400);
      expect(body.data).toBeUndefined();
      expect(body.errors?.[0]?.extensions).toMatchObject({ code: 'GW_INTROSPECTION_DISABLED', retriable: false });
    }
    const typename = await gw.graphql('{ __typename order(orderId: "x") { __typename } }');
    expect(typename.status).toBe(200);
    expect(typename.body.data).toEqual({ __typename: 'Query', order: null });
  });

  it('hides "Did you mean" suggestions in validation and variable errors', async () => {
    const misspelled = await gw.graphql(MISSPELLED);
    expect(misspelled.status).toBe(400);
    expect(messages(misspelled)).toContain('Cannot query field "ordr" on type "Query".');
    expect(messages(misspelled)).not.toContain('Did you mean');
    const badEnum = await gw.graphql(BAD_ENUM, { s: 'SHIPPD' });
    expect(messages(badEnum)).toContain('"SHIPPD"');
    expect(messages(badEnum)).not.toContain('Did you mean');
  });

  it('does the same over WebSocket', async () => {
    const introspection = await overWebSocket(fx, gw.url, '{ __schema { queryType { name } } }');
    expect(introspection.type).toBe('error');
    expect(introspection.payload).toMatchObject([{ extensions: { code: 'GW_INTROSPECTION_DISABLED' } }]);
    const misspelled = await overWebSocket(fx, gw.url, MISSPELLED);
    expect(misspelled.type).toBe('error');
    expect(JSON.stringify(misspelled.payload)).toContain('Cannot query field');
    expect(JSON.stringify(misspelled.payload)).not.toContain('Did you mean');
    const badEnum = await overWebSocket(fx, gw.url, BAD_ENUM_SUBSCRIPTION, { s: 'SHIPPD' });
    expect(JSON.stringify(badEnum.payload)).toContain('SHIPPD');
    expect(JSON.stringify(badEnum.payload)).not.toContain('Did you mean');
  });

  it('puts /metrics behind the bearer token; health and readiness stay open', async () => {
    const none = await fetch(`${gw.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toMatchObject({ errors: [{ extensions: { code: 'GW_METRICS_UNAUTHORIZED', retriable: false } }] });
    for (const authorization of [`Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(1)}`, METRICS_TOKEN, `Basic ${METRICS_TOKEN}`]) {
      expect((await fetch(`${gw.url}/metrics`, { headers: { authorization } })).status, authorization).toBe(401);
    }
    const ok = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('gw_ingest_records_total');
    for (const path of ['/healthz', '/readyz']) expect((await fetch(`${gw.url}${path}`)).status).toBe(200);
  });
});

describe('production switches at their defaults', () => {
  const fx = useFixture('dev');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway();
  });

  it('serves GraphiQL, introspection, suggestions and open metrics', async () => {
    const page = await fetch(`${gw.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(await page.text()).toContain('GraphiQL');
    const introspection = await gw.graphql('{ __schema { queryType { name } } }');
    expect(introspection.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect(messages(await gw.graphql(MISSPELLED))).toContain('Did you mean "order"');
    // graphql-js (subscriptions) suggests enum values in variable errors; graphql-jit (queries) does not.
    expect(JSON.stringify((await overWebSocket(fx, gw.url, BAD_ENUM_SUBSCRIPTION, { s: 'SHIPPD' })).payload)).toContain(
      'Did you mean the enum value',
    );
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
  });
});
