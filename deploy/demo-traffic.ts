/**
 * Demo data for `deploy/gw demo` and `deploy/gw cluster --demo`: on empty topics, seeded
 * customers and a history of orders; then live traffic that continues what the topics hold.
 *
 * History covers the 30 days up to DEMO_HISTORY_END, a fixed instant, so the generated data (ids,
 * states, amounts, timestamps) is the same on every machine and the README's examples run as
 * written. Live traffic is stamped with the current time.
 *
 * When the topics already hold orders, the state is read back through a gateway first (after it
 * has applied everything the topics held at that moment, by a consistency token of their end
 * offsets): new orders are numbered after the highest one, open orders move on from their state,
 * customers from their tier, so a restart never takes an order back to an earlier state.
 */
import type { KafkaClient, RecordProducer } from '../src/kafka/client.ts';
import { encodeToken } from '../src/routing/consistency.ts';
import { createDataGenerator, type DataGenerator, type GeneratedRecord } from '../src/demo/generator.ts';
import { readResumeState, type DemoQuery } from '../src/demo/resume.ts';

/** End of the generated history: 2026-11-15T00:00:00Z. */
export const DEMO_HISTORY_END = Date.UTC(2026, 10, 15);
export const DEMO_HISTORY_DAYS = 30;
const SEED = 42;

/** Sends records to their topics (`<prefix><topic>`), one request per topic. */
export async function produceRecords(producer: RecordProducer, prefix: string, records: readonly GeneratedRecord[]): Promise<void> {
  const byTopic = new Map<string, GeneratedRecord[]>();
  for (const record of records) {
    const list = byTopic.get(record.topic) ?? [];
    list.push(record);
    byTopic.set(record.topic, list);
  }
  await Promise.all(
    [...byTopic].map(([topic, list]) =>
      producer.send(
        `${prefix}${topic}`,
        list.map((record) => ({ key: record.key, value: record.value === null ? null : JSON.stringify(record.value) })),
      ),
    ),
  );
}

export interface DemoData {
  readonly generator: DataGenerator;
  /** Whether the topics were empty and got the generated history. */
  readonly seeded: boolean;
}

/** Writes the history when the topics hold no order; otherwise leaves them as they are. */
export async function seedDemoData(options: {
  producer: RecordProducer;
  prefix: string;
  existingOrders: number;
  orders: number;
  customers: number;
  say: (line: string) => void;
}): Promise<DemoData> {
  const generator = createDataGenerator({ seed: SEED, customers: options.customers, startTime: DEMO_HISTORY_END });
  if (options.existingOrders > 0) {
    options.say(`topics already hold ${options.existingOrders} order records: live traffic continues from them`);
    return { generator, seeded: false };
  }
  options.say(
    `generating ${options.orders} orders (${DEMO_HISTORY_DAYS} days up to ${new Date(DEMO_HISTORY_END).toISOString().slice(0, 10)}) with customers and payments...`,
  );
  await produceRecords(options.producer, options.prefix, generator.customers());
  for (const chunk of generator.history(options.orders, { days: DEMO_HISTORY_DAYS, chunk: 2000 }))
    await produceRecords(options.producer, options.prefix, chunk);
  return { generator, seeded: true };
}

/** Reads the topics' state back through a gateway, so live traffic continues it (see the top of this file). */
export async function resumeFromGateway(data: DemoData, query: DemoQuery): Promise<string> {
  if (data.seeded) return 'from the generated history';
  const state = await readResumeState(query);
  data.generator.resume(state);
  return `after ord-${String(state.lastOrder).padStart(10, '0')}, with ${state.openOrders.length} open orders`;
}

/** A consistency token of the topics' end offsets now: a read sent with it sees everything they hold. */
export async function endOffsetsToken(kafka: KafkaClient, topics: readonly string[]): Promise<string> {
  const offsets: Record<string, Record<string, string>> = {};
  for (const topic of topics) offsets[topic] = Object.fromEntries((await kafka.offsets(topic)).map((entry) => [String(entry.partition), entry.high]));
  return encodeToken(offsets);
}

/** Errors a read may meet while a gateway catches up; it is tried again then. */
const CATCHING_UP = new Set(['GW_CONSISTENCY_TIMEOUT', 'GW_PARTITION_UNAVAILABLE', 'GW_PARTITION_RESTORING', 'GW_STORE_UNAVAILABLE']);

/**
 * GraphQL reads at `url` (a gateway's /graphql) that see at least `token`'s offsets; a gateway
 * still catching up is asked again every second, for at most `timeoutMs`.
 */
export function gatewayQuery(
  fetchFn: (url: string, init: RequestInit) => Promise<Response>,
  url: string,
  token: string,
  timeoutMs = 300_000,
): DemoQuery {
  return async <T>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await fetchFn(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gw-consistency': token },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: T; errors?: Array<{ message: string; extensions?: { code?: string } }> };
      const error = body.errors?.[0];
      if (!error && body.data) return body.data;
      if (!CATCHING_UP.has(error?.extensions?.code ?? '') || Date.now() > deadline) {
        throw new Error(`reading the demo state failed: ${error?.extensions?.code ?? response.status} ${error?.message ?? ''}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
}

/** Produces `rate` records a second (every 250 ms, one batch at a time) until stopped. */
export function startLiveTraffic(options: {
  producer: RecordProducer;
  prefix: string;
  generator: DataGenerator;
  rate: number;
  onError: (error: unknown) => void;
}): { stop(): void } {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || options.rate <= 0) return;
    busy = true;
    produceRecords(options.producer, options.prefix, options.generator.tick(Date.now(), Math.max(1, Math.round(options.rate / 4))))
      .catch(options.onError)
      .finally(() => (busy = false));
  }, 250);
  return { stop: () => clearInterval(timer) };
}
