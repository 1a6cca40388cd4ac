/**
 * A bench's live writes: updates of random orders of the generated sample (a random state, a new
 * `updatedAt`) at a steady rate, in one batch every 100 ms, through the project's Kafka client.
 */
import { createKafkaClient } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { topicName } from './prefill.ts';

const STATES = ['CREATED', 'VALIDATED', 'PAID', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'FAILED'];
const BATCH_MS = 100;

/** Updates random orders of `sample` at `rate` records per second until stopped; returns how many it sent. */
export function startWriter(brokers: string, sample: readonly Record<string, unknown>[], rate: number) {
  const kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'gw-bench-writer', logger: createLogger('warn') });
  let stopped = false;
  let sent = 0;
  const done = (async () => {
    if (rate === 0) return;
    const producer = await kafka.producer();
    const perBatch = Math.max(1, Math.round((rate * BATCH_MS) / 1000));
    const interval = (perBatch * 1000) / rate;
    let next = performance.now();
    while (!stopped) {
      const now = new Date().toISOString();
      const records = Array.from({ length: perBatch }, () => {
        const row = sample[Math.floor(Math.random() * sample.length)]!;
        const value = { ...row, state: STATES[Math.floor(Math.random() * STATES.length)], updatedAt: now };
        return { key: String(row.orderId), value: JSON.stringify(value) };
      });
      await producer.send(topicName('orders'), records);
      sent += records.length;
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  return {
    async stop(): Promise<number> {
      stopped = true;
      await done;
      await kafka.stop();
      return sent;
    },
  };
}
