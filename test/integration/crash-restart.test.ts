import { beforeAll, describe, expect, it } from 'vitest';
import { openKeyValueStore } from '../../src/store/rocks.ts';
import { openViewStore } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { iso, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import { once, postGraphQL } from '../support/gateway.ts';
import { waitFor } from '../support/wait.ts';

describe('SIGKILL during ingest, then restart', () => {
  const KEYS = 40_000;
  const VERSIONS = 3;
  const fx = useFixture('crash');
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await fx.tempDir('gw-crash-');
  });

  it('resumes from the stored offsets and ends equal to the latest value per key', { timeout: 240_000 }, async () => {
    // Every run uses the same data dir, group and topics.
    const spawn = () => fx.spawnGateway({ dataDir });
    // Create the topics, then fill them while no gateway runs.
    const creator = await spawn();
    await creator.kill('SIGTERM');
    const latest = new Map<string, { state: string; updatedAt: string }>();
    const states = ['CREATED', 'VALIDATED', 'SHIPPED'];
    for (let version = 0; version < VERSIONS; version++) {
      for (let start = 0; start < KEYS; start += 5000) {
        const batch = [];
        for (let n = start; n < start + 5000; n++) {
          const row = order(n, { state: states[version], updatedAt: iso(Date.parse('2026-03-01T00:00:00Z') + version * 1000 + n) });
          latest.set(row.orderId, { state: row.state as string, updatedAt: row.updatedAt });
          batch.push({ key: row.orderId, value: JSON.stringify(row) });
        }
        await fx.produce('orders', batch);
      }
    }
    const ends = await fx.endOffsets('orders');
    const total = [...ends.values()].reduce((sum, end) => sum + Number(end), 0);
    expect(total).toBe(KEYS * VERSIONS);

    // Start, let it apply part of the backlog, SIGKILL it mid-ingest.
    const gateway = await spawn();
    await waitFor(async () => (await gateway.metric('gw_ingest_applied_total')) >= total * 0.1, {
      what: 'partial ingest',
      intervalMs: 5,
      timeoutMs: 60_000,
    });
    await gateway.kill('SIGKILL');

    // What the store holds after the crash: a consistent offset per partition.
    const kv = await openKeyValueStore(dataDir);
    const closeKv = once(() => kv.close());
    fx.defer(closeKv);
    const ordersView = compileViews([customers, orders, payments], fx.prefix).find((view) => view.id === 'orders')!;
    const store = await openViewStore(kv, ordersView);
    const stored = [...ends.keys()].map((partition) => Number(store.nextOffset(partition) ?? 0));
    await closeKv();
    const applied = stored.reduce((sum, offset) => sum + offset, 0);
    expect(applied).toBeGreaterThan(0);
    expect(applied).toBeLessThan(total);

    // Restart: it re-reads exactly what the store had not applied, nothing before.
    const restarted = await spawn();
    await waitFor(async () => (await restarted.metric('gw_ingest_records_total')) >= total - applied, {
      what: 'catch-up after restart',
      timeoutMs: 120_000,
    });
    await waitFor(async () => (await fetch(`${restarted.url}/readyz`)).status === 200, { what: 'ready' });
    expect(await restarted.metric('gw_ingest_records_total')).toBe(total - applied);

    // The view equals the latest value per key in the topic.
    const seen = new Map<string, { state: string; updatedAt: string }>();
    let after: string | null = null;
    for (let page = 0; page < 200; page++) {
      const {
        body,
      }: Awaited<
        ReturnType<
          typeof postGraphQL<{
            orders: {
              pageInfo: { hasNextPage: boolean; endCursor: string };
              edges: Array<{ node: { orderId: string; state: string; updatedAt: string } }>;
            };
          }>
        >
      > = await postGraphQL<{
        orders: {
          pageInfo: { hasNextPage: boolean; endCursor: string };
          edges: Array<{ node: { orderId: string; state: string; updatedAt: string } }>;
        };
      }>(
        restarted.url,
        'query($after: String) { orders(first: 500, after: $after, orderBy: { field: ORDER_ID }) { pageInfo { hasNextPage endCursor } edges { node { orderId state updatedAt } } } }',
        {
          after,
        },
      );
      for (const { node } of body.data!.orders.edges) seen.set(node.orderId, { state: node.state, updatedAt: node.updatedAt });
      if (!body.data!.orders.pageInfo.hasNextPage) break;
      after = body.data!.orders.pageInfo.endCursor;
    }
    expect(seen.size).toBe(KEYS);
    expect(seen).toEqual(latest);
    await restarted.kill('SIGTERM');
  });
});
