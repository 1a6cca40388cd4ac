import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { order } from '../support/data.ts';
import { useFixture } from '../support/fixture.ts';
import { brokers, type TestGateway } from '../support/gateway.ts';

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
  const fx = useFixture('codec');
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await fx.startGateway({ transport: 'in-process' });
  });

  for (const [i, codec] of ['gzip', 'snappy', 'lz4', 'zstd'].entries()) {
    it(`reads ${codec} batches`, async () => {
      const rows = Array.from({ length: 50 }, (_, n) => order(1000 * (i + 1) + n, { product: `compressed ${codec} `.repeat(20) }));
      await kcatProduce(fx.topic('orders'), codec, rows);
      await fx.waitCaughtUp(gw, ['orders']);
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
