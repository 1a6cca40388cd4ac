import { randomBytes } from 'node:crypto';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { beforeAll, describe, expect, it } from 'vitest';
import { startTracing } from '../../src/tracing.ts';
import { customer, keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';
import { collect } from '../support/ws.ts';

const SECRET = 'test-peer-secret-0123456789';

/** A metric's value in a Prometheus text exposition (the first line matching name and labels). */
function value(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([label, expected]) => line.includes(`${label}="${expected}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/**
 * Two in-process instances of one group, with tracing started through its test hook (an
 * in-memory exporter, each span exported when it ends): one GraphQL request over HTTP that
 * reads partitions of both instances is one trace, and the owner's spans are in it. Metrics of
 * the same instances count WebSocket operations like HTTP ones.
 */
describe('tracing and metrics across instances', () => {
  const fx = useFixture('observe');
  const exporter = new InMemorySpanExporter();
  const group: TestGateway[] = [];

  beforeAll(async () => {
    const tracing = await startTracing({ exporter, serviceName: 'gateway-test', exportEachSpan: true });
    fx.defer(() => tracing.stop());
    // The first instance creates the topics.
    group.push(...(await fx.startGateways(2, { group: 'traced', env: { TOPIC_PARTITIONS: '4', PEER_SECRET: SECRET } })));
    await fx.produce(
      'customers',
      Array.from({ length: 20 }, (_, i) => keyed('customerId', customer(i))),
    );
    await fx.produce(
      'orders',
      Array.from({ length: 80 }, (_, i) => keyed('orderId', order(i + 1))),
    );
    await fx.waitBalanced(group, 'orders');
    await fx.waitCaughtUp(group, ['customers', 'orders']);
  });

  const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
  const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

  it("makes one trace of a request across two instances: operation, peer call, the owner's answer and store reads", async () => {
    const [a, b] = group as [TestGateway, TestGateway];
    const traceId = randomBytes(16).toString('hex');
    const clientSpan = randomBytes(8).toString('hex');
    const response = await fetch(`${a.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${clientSpan}-01` },
      body: JSON.stringify({
        query: 'query Grid { orders(first: 30, orderBy: { field: ORDER_ID }) { totalCount edges { node { orderId customer { name } } } } }',
      }),
    });
    const body = (await response.json()) as { data?: { orders: { totalCount: number } }; errors?: unknown };
    expect(body.errors).toBeUndefined();
    expect(body.data!.orders.totalCount).toBe(80);

    const operation = await waitFor(() => spansOf(traceId).find((span) => span.name === 'query Grid'), { what: 'the operation span' });
    expect(parentOf(operation)).toBe(clientSpan);
    expect(operation.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'Grid', 'gw.transport': 'http' });

    const spans = spansOf(traceId);
    const calls = spans.filter((span) => span.name.startsWith('peer ') && span.name !== 'peer serve');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(parentOf(call)).toBe(operation.spanContext().spanId);
      expect(call.attributes['server.address']).toBe(b.url);
    }
    // The owner's answer joins the caller's trace under the call, with its store reads.
    const served = spans.filter((span) => span.name === 'peer serve');
    expect(served.length).toBe(calls.length);
    const callIds = new Set(calls.map((call) => call.spanContext().spanId));
    for (const serve of served) {
      expect(callIds.has(parentOf(serve)!)).toBe(true);
      expect(serve.attributes['http.response.status_code']).toBe(200);
    }
    const servedIds = new Set(served.map((serve) => serve.spanContext().spanId));
    const remoteReads = spans.filter((span) => span.name.startsWith('store ') && servedIds.has(parentOf(span)!));
    expect(remoteReads.map((span) => span.name)).toContain('store pages');
    const localReads = spans.filter((span) => span.name.startsWith('store ') && parentOf(span) === operation.spanContext().spanId);
    expect(localReads.map((span) => span.name)).toEqual(expect.arrayContaining(['store pages', 'store lookup']));
    expect(new Set(spans.map((span) => span.spanContext().traceId))).toEqual(new Set([traceId]));
  });

  it('makes an ingest batch span per applied batch', async () => {
    await fx.produce('orders', [keyed('orderId', order(500, { state: 'SHIPPED' }))]);
    const batch = await waitFor(
      () => exporter.getFinishedSpans().find((span) => span.name === 'ingest batch' && span.attributes['gw.applied'] === 1),
      { what: 'an ingest batch span' },
    );
    expect(batch.attributes['messaging.destination.name']).toBe(fx.topic('orders'));
    expect(parentOf(batch)).toBeUndefined();
  });

  it('counts and traces WebSocket operations like HTTP ones, and peer calls per peer', async () => {
    const [a, b] = group as [TestGateway, TestGateway];
    const client = fx.wsClient(a.url);
    const sub = collect<{ kind: string }>(
      client,
      'subscription Watch($id: ID!) { orderChanged(orderId: $id) { kind } }',
      { id: 'ord-000007' },
      'orderChanged',
    );
    await waitFor(() => sub.events.length > 0, { what: 'the snapshot over WebSocket' });
    const text = await (await fetch(`${a.url}/metrics`)).text();
    expect(value(text, 'gw_graphql_requests_total', { operation_type: 'subscription', operation_name: 'Watch', transport: 'websocket' })).toBe(1);
    expect(value(text, 'gw_subscriptions_active', { transport: 'websocket' })).toBe(1);
    expect(value(text, 'gw_websocket_connections')).toBe(1);
    expect(value(text, 'gw_graphql_requests_total', { operation_type: 'query', operation_name: 'Grid', transport: 'http' })).toBe(1);
    expect(value(text, 'gw_peer_call_duration_seconds_count', { peer: b.url })).toBeGreaterThan(0);
    expect(value(text, 'gw_rebalances_total')).toBeGreaterThan(0);
    expect(value(text, 'gw_partitions_moved_total', { direction: 'assigned' })).toBeGreaterThan(0);
    expect(value(text, 'gw_partition_restoring')).toBe(0);
    const span = exporter.getFinishedSpans().find((candidate) => candidate.name === 'subscription Watch');
    expect(span?.attributes['gw.transport']).toBe('websocket');

    // A WebSocket error is counted by its code.
    const bad = collect(client, 'subscription { orderChanged(orderId: "x") { nope } }', {}, 'orderChanged');
    await waitFor(() => bad.done, { what: 'the validation error' });
    const after = await (await fetch(`${a.url}/metrics`)).text();
    expect(value(after, 'gw_graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED', transport: 'websocket' })).toBe(1);
    sub.stop();
    await waitFor(async () => value(await (await fetch(`${a.url}/metrics`)).text(), 'gw_subscriptions_active', { transport: 'websocket' }) === 0, {
      what: 'the subscription counted as closed',
    });
  });
});
