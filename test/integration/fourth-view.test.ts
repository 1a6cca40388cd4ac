import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { keyed, order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import type { TestGateway } from '../support/gateway.ts';

describe('a fourth view is a new file', () => {
  const fx = useFixture('v4');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({
      transport: 'in-process',
      env: { VIEWS_DIR: path.resolve(import.meta.dirname, '../fixtures/views') },
    });
  });

  it('gets a topic, a lookup, a sorted and filtered connection and its relation', async () => {
    await fx.produce('orders', [keyed('orderId', order(7))]);
    const shipments = [
      { shipmentId: 'shp-1', orderId: 'ord-000007', carrier: 'DHL', weightGrams: 1200, shippedAt: '2026-05-01T10:00:00Z' },
      { shipmentId: 'shp-2', orderId: 'ord-000007', carrier: 'UPS', weightGrams: 300, fragile: true, shippedAt: '2026-05-01T09:00:00Z' },
      { shipmentId: 'shp-3', orderId: 'ord-000008', carrier: 'DHL', weightGrams: 50, shippedAt: '2026-05-02T08:00:00Z' },
    ];
    await fx.produce(
      'shipments',
      shipments.map((row) => keyed('shipmentId', row)),
    );
    await fx.waitCaughtUp(gw, ['orders', 'shipments']);
    const data = await gw.query<{
      shipment: { carrier: string; fragile: boolean | null; order: { orderId: string } };
      shipments: { totalCount: number; edges: Array<{ node: { shipmentId: string; weightGrams: number } }> };
      heavy: { edges: Array<{ node: { shipmentId: string } }> };
    }>(`{
      shipment(shipmentId: "shp-1") { carrier fragile order { orderId } }
      shipments(filter: { carrier: { eq: DHL } }, orderBy: { field: SHIPPED_AT, direction: DESC }) {
        totalCount edges { node { shipmentId weightGrams } }
      }
      heavy: shipments(filter: { weightGrams: { gte: 300 } }, orderBy: { field: WEIGHT_GRAMS }) { edges { node { shipmentId } } }
    }`);
    expect(data.shipment).toEqual({ carrier: 'DHL', fragile: null, order: { orderId: 'ord-000007' } });
    expect(data.shipments.totalCount).toBe(2);
    expect(data.shipments.edges.map((edge) => edge.node.shipmentId)).toEqual(['shp-3', 'shp-1']);
    expect(data.heavy.edges.map((edge) => edge.node.shipmentId)).toEqual(['shp-2', 'shp-1']);
  });
});
