import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parse } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/server/metrics.ts';

/**
 * The README's metrics table against the registry: after a small workload (a query and a
 * subscription through yoga with the metrics plugins, a peer call, a rebalance, a refusal), every
 * metric the registry exposes has a row with its type and labels, and every row is exposed.
 */

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Row {
  readonly names: string[];
  readonly type: string;
  readonly labels: string[];
}

async function metricsTable(): Promise<Row[]> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('\n### Metrics\n');
  expect(start).toBeGreaterThan(0);
  const section = readme.slice(start + 1, readme.indexOf('\n#', start + 2));
  return [...section.matchAll(/^\| (`[^|]+`) \| ([^|]+) \| ([^|]+) \| [^|]+ \|$/gm)].map((match) => ({
    names: [...match[1]!.matchAll(/`([^`]+)`/g)].map((name) => name[1]!),
    type: match[2]!.trim(),
    labels: match[3]!.trim() === '-' ? [] : [...match[3]!.matchAll(/`([^`]+)`/g)].map((label) => label[1]!),
  }));
}

/** A registry after a small workload. */
async function exercised() {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const metrics = createMetrics({
    ingest: { records: 3, applied: 2, deadLettered: 1, deadLetteredByCode: { GW_RECORD_INVALID: 1 }, batches: 1, stalls: 1, consumerRestarts: 0 },
    progress: () => [{ topic: 'orders', partition: 0, nextOffset: '2', endOffset: '3', lag: 1 }],
    restoring: () => true,
    stalled: () => [{ topic: 'orders', partition: 0 }],
    store: { roundTrips: 1, readersOpened: 1, entriesRead: 2 },
    storeMemory: () => ({ memtables: 1024, table_readers: 2048, block_cache: undefined }),
    eventLoopDelay: delay,
    tombstonesTrimmed: () => 0,
    connections: () => ({ http: 1, websocket: 0, requestsInFlight: 1 }),
  });
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Query { hello: String } type Subscription { ticks: Int }',
      resolvers: {
        Query: { hello: () => 'hi' },
        Subscription: {
          ticks: {
            subscribe: async function* () {
              yield { ticks: 1 };
            },
          },
        },
      },
    }),
    plugins: metrics.plugins,
    logging: false,
  });
  const post = (query: string, accept = 'application/json') =>
    yoga.fetch('http://localhost/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify({ query }),
    });
  expect(await (await post('query Hello { hello }')).json()).toEqual({ data: { hello: 'hi' } });
  expect(await (await post('{ nope }')).text()).toContain('GRAPHQL_VALIDATION_FAILED');
  expect(await (await post('subscription Ticks { ticks }', 'text/event-stream')).text()).toContain('"ticks":1');
  metrics.peerCall('http://10.0.0.2:4000', 'pages', 0.004, undefined);
  metrics.peerCall('http://10.0.0.2:4000', 'lookup', 2, 'GW_PEER_TIMEOUT');
  metrics.rebalanced(2, 1);
  metrics.fastPath('answered');
  metrics.readWorker('answered');
  metrics.clientErrors(['GW_AUTH_REQUIRED'], 'http');
  metrics.clientErrors(['GW_SUBSCRIPTION_LIMIT'], 'websocket');
  await new Promise((resolve) => setTimeout(resolve, 30));
  return metrics;
}

describe('metrics', () => {
  it('the README table lists exactly the metrics the registry exposes, with their types and labels', async () => {
    const rows = await metricsTable();
    // (a scrape resets the event-loop delay: one scrape per workload)
    const json = await (await exercised()).registry.getMetricsAsJSON();
    const exact = new Map(rows.filter((row) => !row.names[0]!.endsWith('*')).map((row) => [row.names[0]!, row]));
    const wildcards = rows.filter((row) => row.names[0]!.endsWith('*')).flatMap((row) => row.names.map((name) => name.slice(0, -1)));
    expect(exact.size).toBeGreaterThan(25);
    expect(wildcards).toEqual(['process_', 'nodejs_']);

    const exposed = json.map((metric) => metric.name);
    const own = exposed.filter((name) => name.startsWith('gw_'));
    expect(own.sort()).toEqual([...exact.keys()].sort());
    const others = exposed.filter((name) => !name.startsWith('gw_'));
    expect(others.filter((name) => !wildcards.some((prefix) => name.startsWith(prefix)))).toEqual([]);
    for (const prefix of wildcards)
      expect(
        others.some((name) => name.startsWith(prefix)),
        prefix,
      ).toBe(true);

    for (const metric of json.filter((candidate) => candidate.name.startsWith('gw_'))) {
      const row = exact.get(metric.name)!;
      expect(row.type, metric.name).toBe(metric.type);
      // Every metric has a sample after the workload, and its labels are the table's.
      const labels = new Set(metric.values.flatMap((value) => Object.keys(value.labels).filter((label) => label !== 'le')));
      expect(metric.values.length, `${metric.name} has a sample`).toBeGreaterThan(0);
      expect([...labels].sort(), metric.name).toEqual([...row.labels].sort());
    }
  });

  it('counts operations per transport and errors by code, as the exposition shows', async () => {
    const text = await (await exercised()).render();
    expect(text).toContain('gw_graphql_requests_total{operation_type="query",operation_name="Hello",transport="http"} 1');
    expect(text).toContain('gw_graphql_requests_total{operation_type="subscription",operation_name="Ticks",transport="sse"} 1');
    expect(text).toMatch(/^gw_graphql_request_duration_seconds_count\{operation_type="query",operation_name="Hello",transport="http"\} 1$/m);
    expect(text).toContain('gw_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED",transport="http"} 1');
    expect(text).toContain('gw_graphql_errors_total{code="GW_SUBSCRIPTION_LIMIT",transport="websocket"} 1');
    expect(text).toContain('gw_subscriptions_active{transport="sse"} 0');
    expect(text).toContain('gw_peer_call_errors_total{peer="http://10.0.0.2:4000",code="GW_PEER_TIMEOUT"} 1');
    expect(text).toContain('gw_partitions_moved_total{direction="assigned"} 2');
    expect(text).toContain('gw_partitions_moved_total{direction="revoked"} 1');
    expect(text).toContain('gw_dead_letter_by_code_total{code="GW_RECORD_INVALID"} 1');
    expect(text).toContain('gw_partition_restoring{topic="orders",partition="0"} 1');
    expect(text).toMatch(/^gw_event_loop_delay_seconds\{quantile="1"\} \d/m);
  });

  it('bounds the operation names it keeps as label values', async () => {
    const metrics = createMetrics({
      ingest: { records: 0, applied: 0, deadLettered: 0, deadLetteredByCode: {}, batches: 0, stalls: 0, consumerRestarts: 0 },
      progress: () => [],
      restoring: () => false,
      stalled: () => [],
      store: { roundTrips: 0, readersOpened: 0, entriesRead: 0 },
    });
    const yoga = createYoga({
      schema: createSchema({ typeDefs: 'type Query { a: Int }', resolvers: { Query: { a: () => 1 } } }),
      plugins: metrics.plugins,
      logging: false,
    });
    for (let i = 0; i < 210; i++) {
      await yoga.fetch('http://localhost/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `query Q${i}${'x'.repeat(100)} { a }` }),
      });
    }
    const text = await metrics.render();
    const names = new Set([...text.matchAll(/^gw_graphql_requests_total\{[^}]*operation_name="([^"]*)"/gm)].map((match) => match[1]!));
    expect(names.size).toBe(201);
    expect(names.has('(other)')).toBe(true);
    expect([...names].every((name) => name.length <= 64)).toBe(true);
  });

  it('labels the operations of a document by the name asked for and the transport, again and again', async () => {
    const metrics = createMetrics({
      ingest: { records: 0, applied: 0, deadLettered: 0, deadLetteredByCode: {}, batches: 0, stalls: 0, consumerRestarts: 0 },
      progress: () => [],
      restoring: () => false,
      stalled: () => [],
      store: { roundTrips: 0, readersOpened: 0, entriesRead: 0 },
    });
    const document = parse('query A { a } query B { b } mutation M { m }');
    for (let round = 0; round < 3; round++) {
      metrics.operation(document, 'A', { transport: 'http' }, 0.001);
      metrics.operation(document, 'B', { transport: 'http' }, 0.001);
      metrics.operation(document, 'M', { transport: 'websocket' }, 0.001);
      metrics.operation(document, 'A', { transport: 'websocket' }, 0.001);
    }
    // Names the document does not hold, past what is remembered per document: still counted.
    for (let i = 0; i < 40; i++) metrics.operation(document, `Z${i}`, { transport: 'http' }, 0.001);
    const text = await metrics.render();
    expect(text).toContain('gw_graphql_requests_total{operation_type="query",operation_name="A",transport="http"} 3');
    expect(text).toContain('gw_graphql_requests_total{operation_type="query",operation_name="B",transport="http"} 3');
    expect(text).toContain('gw_graphql_requests_total{operation_type="mutation",operation_name="M",transport="websocket"} 3');
    expect(text).toContain('gw_graphql_requests_total{operation_type="query",operation_name="A",transport="websocket"} 3');
    expect(text).toContain('gw_graphql_requests_total{operation_type="unknown",operation_name="Z39",transport="http"} 1');
    expect(text).toMatch(/^gw_graphql_request_duration_seconds_count\{operation_type="query",operation_name="B",transport="http"\} 3$/m);
  });
});
