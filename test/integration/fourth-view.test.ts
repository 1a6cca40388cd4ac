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

  it('serves pages through its declared index, which follows updates and deletions', async () => {
    type Page = { totalCount: number; edges: Array<{ node: { shipmentId: string; carrier: string } }> };
    const parcels = [
      { shipmentId: 'shp-10', orderId: 'ord-000010', carrier: 'DHL', weightGrams: 100, shippedAt: '2026-05-03T10:00:00Z' },
      { shipmentId: 'shp-11', orderId: 'ord-000010', carrier: 'UPS', weightGrams: 200, shippedAt: '2026-05-03T11:00:00Z' },
      { shipmentId: 'shp-12', orderId: 'ord-000010', carrier: 'POSTNL', weightGrams: 300, shippedAt: '2026-05-03T12:00:00Z' },
      { shipmentId: 'shp-13', orderId: 'ord-000011', carrier: 'DHL', weightGrams: 400, shippedAt: '2026-05-03T13:00:00Z' },
      { shipmentId: 'shp-14', orderId: 'ord-000010', carrier: 'DHL', weightGrams: 500, shippedAt: '2026-05-03T14:00:00Z' },
    ];
    await fx.produce(
      'shipments',
      parcels.map((row) => keyed('shipmentId', row)),
    );
    await fx.waitCaughtUp(gw, ['shipments']);
    const pages = () =>
      gw.query<{ pair: Page; postnl: Page }>(`{
        pair: shipments(filter: { orderId: { eq: "ord-000010" }, carrier: { in: [DHL, UPS] } }, orderBy: { field: SHIPPED_AT, direction: DESC }, first: 2) {
          totalCount edges { node { shipmentId carrier } }
        }
        postnl: shipments(filter: { carrier: { eq: POSTNL }, orderId: { eq: "ord-000010" } }) { totalCount edges { node { shipmentId carrier } } }
      }`);
    let data = await pages();
    expect(data.pair.totalCount).toBe(3);
    expect(data.pair.edges.map((edge) => edge.node.shipmentId)).toEqual(['shp-14', 'shp-11']);
    expect(data.postnl.edges.map((edge) => edge.node.shipmentId)).toEqual(['shp-12']);

    // shp-14 moves to another carrier, shp-11 is deleted: both leave the pair's entries.
    await fx.produce('shipments', [keyed('shipmentId', { ...parcels[4]!, carrier: 'POSTNL' }), { key: 'shp-11', value: null }]);
    await fx.waitCaughtUp(gw, ['shipments']);
    data = await pages();
    expect(data.pair.totalCount).toBe(1);
    expect(data.pair.edges.map((edge) => edge.node.shipmentId)).toEqual(['shp-10']);
    expect(data.postnl.edges.map((edge) => edge.node)).toEqual([
      { shipmentId: 'shp-12', carrier: 'POSTNL' },
      { shipmentId: 'shp-14', carrier: 'POSTNL' },
    ]);
  });
});
