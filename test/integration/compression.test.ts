import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, createTestKafka, startTestGateway, uniqueName, waitCaughtUp, type TestGateway, type TestKafka } from '../support/gateway.ts';
import { order } from '../support/data.ts';

/** Produces keyed JSON records with kcat (librdkafka), compressed with `codec`. */
function kcatProduce(topic: string, codec: string, rows: ReadonlyArray<ReturnType<typeof order>>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'kcat',
      ['-P', '-b', brokers(), '-t', topic, '-K', '\t', '-z', codec, '-X', 'topic.partitioner=murmur2_random'],
      (error) => (error ? reject(error) : resolve()),
    );
    child.stdin!.end(rows.map((row) => `${row.orderId}\t${JSON.stringify(row)}\n`).join(''));
  });
}

describe('batches compressed by other producers', () => {
  let kafka: TestKafka;
  let gw: TestGateway;
  let prefix: string;

  beforeAll(async () => {
    prefix = `${uniqueName('codec')}.`;
    kafka = await createTestKafka();
    gw = await startTestGateway({ topicPrefix: prefix });
  });

  afterAll(async () => {
    await gw?.stop();
    await kafka?.stop();
  });

  for (const [i, codec] of ['gzip', 'snappy', 'lz4', 'zstd'].entries()) {
    it(`reads ${codec} batches`, async () => {
      const rows = Array.from({ length: 50 }, (_, n) => order(1000 * (i + 1) + n, { product: `compressed ${codec} `.repeat(20) }));
      await kcatProduce(`${prefix}orders`, codec, rows);
      await waitCaughtUp(gw, kafka, ['orders']);
      const data = await gw.query<{ orders: { totalCount: number } }>(
        `{ orders(first: 1, filter: { createdAt: { gte: "${rows[0]!.createdAt}", lte: "${rows[rows.length - 1]!.createdAt}" } }) { totalCount } }`,
      );
      expect(data.orders.totalCount).toBeGreaterThanOrEqual(rows.length);
      const one = await gw.query<{ order: { product: string } }>(`{ order(orderId: "${rows[7]!.orderId}") { product } }`);
      expect(one.order.product).toBe(rows[7]!.product);
      expect(gw.gateway.ingestor.counters.deadLettered).toBe(0);
    });
  }
});
