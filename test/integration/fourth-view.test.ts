import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKafka, startTestGateway, uniqueName, waitCaughtUp, type TestGateway, type TestKafka } from '../support/gateway.ts';
import { keyed, order } from '../support/data.ts';

describe('a fourth view is a new file', () => {
  let kafka: TestKafka;
  let gw: TestGateway;
  let prefix: string;

  beforeAll(async () => {
    prefix = `${uniqueName('v4')}.`;
    kafka = await createTestKafka();
    gw = await startTestGateway({
      topicPrefix: prefix,
      env: { VIEWS_DIR: path.resolve(import.meta.dirname, '../fixtures/views') },
    });
  });

  afterAll(async () => {
    await gw?.stop();
    await kafka?.stop();
  });

  it('gets a topic, a lookup, a sorted and filtered connection and its relation', async () => {
    await kafka.produce(`${prefix}orders`, [keyed('orderId', order(7))]);
    const shipments = [
      { shipmentId: 'shp-1', orderId: 'ord-000007', carrier: 'DHL', weightGrams: 1200, shippedAt: '2026-05-01T10:00:00Z' },
      { shipmentId: 'shp-2', orderId: 'ord-000007', carrier: 'UPS', weightGrams: 300, fragile: true, shippedAt: '2026-05-01T09:00:00Z' },
      { shipmentId: 'shp-3', orderId: 'ord-000008', carrier: 'DHL', weightGrams: 50, shippedAt: '2026-05-02T08:00:00Z' },
    ];
    await kafka.produce(`${prefix}shipments`, shipments.map((row) => keyed('shipmentId', row)));
    await waitCaughtUp(gw, kafka, ['orders', 'shipments']);
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
