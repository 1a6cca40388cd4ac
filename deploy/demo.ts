/**
 * `npm run demo` (or `deploy/gw demo`): a local broker, generated data, one gateway, and the
 * GraphiQL URL. Runs until Ctrl-C, producing live traffic, then stops what it started.
 *
 * Knobs (environment): DEMO_ORDERS (history backfill, default 20000), DEMO_CUSTOMERS (2000),
 * DEMO_RATE (live records per second, default 50), PORT (4000), KAFKA_PORT (9092),
 * KAFKA_BROKERS (use a running broker instead of starting one), DATA_DIR (.data/demo).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../src/config.ts';
import { createDataGenerator, type GeneratedRecord } from '../src/demo/generator.ts';
import { createGateway, EXAMPLE_QUERY } from '../src/gateway.ts';
import { createKafkaClient, type RecordProducer } from '../src/kafka/client.ts';
import { createLogger } from '../src/log.ts';

const run = promisify(execFile);
const launcher = path.join(REPO_ROOT, 'deploy', 'kafka', 'kafka.sh');
const say = (line: string) => process.stdout.write(`${line}\n`);

function number(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
}

async function produce(producer: RecordProducer, records: readonly GeneratedRecord[]): Promise<void> {
  const byTopic = new Map<string, GeneratedRecord[]>();
  for (const record of records) {
    const list = byTopic.get(record.topic) ?? [];
    list.push(record);
    byTopic.set(record.topic, list);
  }
  await Promise.all(
    [...byTopic].map(([topic, list]) =>
      producer.send(topic, list.map((record) => ({ key: record.key, value: record.value === null ? null : JSON.stringify(record.value) }))),
    ),
  );
}

async function main(): Promise<void> {
  const orders = number('DEMO_ORDERS', 20_000);
  const rate = number('DEMO_RATE', 50);
  let brokers = process.env.KAFKA_BROKERS;
  const startedBroker = !brokers;
  if (!brokers) {
    say('starting a local Kafka broker (deploy/kafka/kafka.sh)...');
    const { stdout } = await run('bash', [launcher, 'start'], { env: process.env, timeout: 300_000 });
    brokers = /KAFKA_BROKERS=(\S+)/.exec(stdout)?.[1];
    if (!brokers) throw new Error(`the launcher did not report KAFKA_BROKERS:\n${stdout}`);
  }
  const config = loadConfig({
    ...process.env,
    KAFKA_BROKERS: brokers,
    PORT: process.env.PORT ?? '4000',
    GROUP_ID: process.env.GROUP_ID ?? 'demo',
    DATA_DIR: process.env.DATA_DIR ?? path.join(REPO_ROOT, '.data', 'demo'),
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  });
  const logger = createLogger(config.logLevel);
  const gateway = await createGateway(config, logger);
  const kafka = createKafkaClient({ brokers: config.kafkaBrokers, clientId: 'demo-generator', logger });
  const producer = await kafka.producer();

  const generator = createDataGenerator({ seed: 42, customers: number('DEMO_CUSTOMERS', 2000), startTime: Date.now() });
  const existing = (await kafka.offsets(`${config.topicPrefix}orders`)).reduce((sum, entry) => sum + Number(entry.high), 0);
  if (existing === 0) {
    say(`generating ${orders} orders with customers and payments...`);
    await produce(producer, generator.customers());
    for (const chunk of generator.history(orders, { days: 30, chunk: 2000 })) await produce(producer, chunk);
  } else {
    say(`topics already hold ${existing} order records; adding live traffic only`);
    generator.customers();
  }

  say('');
  say(`GraphiQL:  ${gateway.url}/graphql`);
  say(`Health:    ${gateway.url}/healthz   ${gateway.url}/readyz   ${gateway.url}/metrics`);
  say('');
  say('Try this grid query in GraphiQL (it is also preloaded there):');
  say(EXAMPLE_QUERY);
  say(`Live traffic: ${rate} records/s. Ctrl-C stops the demo${startedBroker ? ' and its broker' : ''}.`);

  let stopping = false;
  const timer = setInterval(() => {
    if (stopping || rate === 0) return;
    produce(producer, generator.tick(Date.now(), Math.max(1, Math.round(rate / 4)))).catch((error: unknown) =>
      logger.error('demo produce failed', { error }),
    );
  }, 250);

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    say('\nstopping...');
    await kafka.stop();
    await gateway.stop();
    if (startedBroker) await run('bash', [launcher, 'stop'], { env: process.env, timeout: 60_000 });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
