/**
 * A steady stream of order updates for read benchmarks under live writes: `rate` records a
 * second to the orders topic through one `kcat -P` (keyed lines, librdkafka's `murmur2_random`
 * partitioner: the Java client's partitions, as the pre-fill writes them), each an existing order
 * of the bench's data set with a new state, quantity, currency and `updatedAt`, so rows, index
 * entries, relation lists and counters change as they do in a live system. Records go out every
 * 50 ms; the order ids step through the whole data set by a prime stride (7,919), so unless the
 * set's size is a multiple of it no order is updated twice before all were.
 */
import { exited, spawnTracked } from './cleanup.ts';

const STATES = ['CREATED', 'VALIDATED', 'FAILED', 'SHIPPED', 'CANCELLED'] as const;
const CURRENCIES = ['EUR', 'USD', 'GBP'] as const;
const TICK_MS = 50;
const STRIDE = 7_919;

export interface OrderUpdatesOptions {
  readonly brokers: string;
  readonly topic: string;
  /** Records per second. */
  readonly rate: number;
  /** Orders in the data set (ids ord-0000000001 on) and customers (cus-000001 on). */
  readonly orders: number;
  readonly customers: number;
}

export interface OrderUpdates {
  /** Records handed to kcat so far. */
  readonly sent: number;
  /** Stops the stream; resolves when kcat has flushed and exited. */
  stop(): Promise<void>;
}

export function startOrderUpdates(options: OrderUpdatesOptions): OrderUpdates {
  const kcat = spawnTracked(
    'kcat',
    ['-P', '-b', options.brokers, '-t', options.topic, '-K', '\t', '-X', 'topic.partitioner=murmur2_random', '-X', 'queue.buffering.max.ms=5'],
    {
      stdio: ['pipe', 'ignore', 'inherit'],
    },
  );
  const started = performance.now();
  let sent = 0;
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * options.rate) / 1000);
    let lines = '';
    const now = new Date().toISOString();
    for (; sent < due; sent++) {
      const n = 1 + ((sent * STRIDE) % options.orders);
      const orderId = `ord-${String(n).padStart(10, '0')}`;
      const record = {
        orderId,
        customerId: `cus-${String(1 + (n % options.customers)).padStart(6, '0')}`,
        state: STATES[sent % STATES.length],
        product: 'Webcam',
        quantity: 1 + (sent % 4),
        unitPrice: 43.99,
        currency: CURRENCIES[sent % CURRENCIES.length],
        createdAt: '2024-06-01T00:00:00.000Z',
        updatedAt: now,
      };
      lines += `${orderId}\t${JSON.stringify(record)}\n`;
    }
    if (lines) kcat.stdin!.write(lines);
  }, TICK_MS);
  return {
    get sent() {
      return sent;
    },
    async stop() {
      clearInterval(timer);
      kcat.stdin!.end();
      await exited(kcat);
    },
  };
}
