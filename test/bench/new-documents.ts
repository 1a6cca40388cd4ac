/**
 * `npm run bench:documents`: lookups whose id is written into the query text (every document new
 * to the gateway) against the same lookups with variables (one document), on one gateway over
 * the broker at KAFKA_BROKERS (default 127.0.0.1:9092), 8 clients, rounds alternating. Prints
 * requests per second of each and their ratio. Figures only: it asserts nothing.
 *
 * Knobs: BENCH_DOC_ORDERS (orders produced, default 3000), BENCH_DOC_REQUESTS (per round, 3000),
 * BENCH_DOC_ROUNDS (2), BENCH_DOC_CLIENTS (8).
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { createGateway } from '../../src/gateway.ts';
import { createKafkaClient } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';

const knob = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
};
const orders = knob('BENCH_DOC_ORDERS', 3000);
const requests = knob('BENCH_DOC_REQUESTS', 3000);
const rounds = knob('BENCH_DOC_ROUNDS', 2);
const clients = knob('BENCH_DOC_CLIENTS', 8);
const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

const prefix = `bench-docs-${process.pid}-${Date.now()}.`;
const dataDir = path.join(os.tmpdir(), prefix);
const logger = createLogger('error');
const config = loadConfig({
  KAFKA_BROKERS: brokers,
  PORT: '0',
  DATA_DIR: dataDir,
  TOPIC_PREFIX: prefix,
  GROUP_ID: `${prefix}group`,
  LOG_LEVEL: 'error',
  TOPIC_PARTITIONS: '3',
});
const gateway = await createGateway(config, logger);
const kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'bench-documents', logger });
try {
  const producer = await kafka.producer();
  const row = (i: number) => ({
    orderId: `ord-${i}`,
    customerId: `cus-${i % 50}`,
    state: 'CREATED',
    product: 'Product',
    quantity: 1,
    unitPrice: 1,
    currency: 'EUR',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  });
  for (let i = 0; i < orders; i += 500) {
    const batch = Array.from({ length: Math.min(500, orders - i) }, (_, j) => row(i + j));
    await producer.send(
      `${prefix}orders`,
      batch.map((value) => ({ key: value.orderId, value: JSON.stringify(value) })),
    );
  }
  const store = gateway.stores.get('orders')!;
  while ([0, 1, 2].reduce((sum, partition) => sum + Number(store.nextOffset(partition) ?? 0), 0) < orders)
    await new Promise((resolve) => setTimeout(resolve, 100));

  const measure = async (make: (i: number) => { query: string; variables?: unknown }): Promise<number> => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = next++; i < requests; i = next++) {
          const response = await fetch(`${gateway.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(make(i)),
          });
          const body = (await response.json()) as { data?: { order?: unknown } };
          if (!body.data?.order) throw new Error(`lookup ${i} failed: ${JSON.stringify(body).slice(0, 200)}`);
        }
      }),
    );
    return requests / ((performance.now() - started) / 1000);
  };
  const selection = '{ orderId state customer { name } }';
  const withVariables = (i: number) => ({
    query: `query Lookup($id: ID!) { order(orderId: $id) ${selection} }`,
    variables: { id: `ord-${i % orders}` },
  });
  await measure(withVariables); // warm-up
  for (let round = 1; round <= rounds; round++) {
    const variables = await measure(withVariables);
    const salt = `${round}-${Date.now()}`;
    const inText = await measure((i) => ({ query: `{ order(orderId: "ord-${i % orders}") ${selection} } # ${salt}-${i}` }));
    console.log(
      `round ${round}: variables ${variables.toFixed(0)} req/s, id in the text ${inText.toFixed(0)} req/s, ratio ${(variables / inText).toFixed(2)}x; load average ${os.loadavg()[0]!.toFixed(2)}`,
    );
  }
} finally {
  await gateway.stop();
  await kafka.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
