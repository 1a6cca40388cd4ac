/**
 * `npm run demo` (or `deploy/gw demo`): a local broker, generated data, one gateway, and the URLs
 * of its pages (the live grid, GraphiQL). Runs until Ctrl-C, producing live traffic, then stops
 * what it started. Data and live traffic: deploy/demo-traffic.ts (a restart continues what the
 * topics hold).
 *
 * Knobs (environment): DEMO_ORDERS (history backfill, default 20000), DEMO_CUSTOMERS (2000),
 * DEMO_RATE (live records per second, default 50), PORT (4000), KAFKA_PORT (9092),
 * KAFKA_BROKERS (use a running broker instead of starting one), DATA_DIR (.data/demo).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, REPO_ROOT } from '../src/config.ts';
import { createGateway } from '../src/gateway.ts';
import { createKafkaClient } from '../src/kafka/client.ts';
import { createLogger } from '../src/log.ts';
import { endOffsetsToken, gatewayQuery, resumeFromGateway, seedDemoData, startLiveTraffic } from './demo-traffic.ts';

const run = promisify(execFile);
const launcher = path.join(REPO_ROOT, 'deploy', 'kafka', 'kafka.sh');
const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function number(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
  return value;
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
  const topics = ['orders', 'customers', 'payments'].map((topic) => `${config.topicPrefix}${topic}`);

  let stopping = false;
  let live: { stop(): void } | undefined;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    live?.stop();
    say('\nstopping...');
    await kafka.stop();
    await gateway.stop();
    if (startedBroker) await run('bash', [launcher, 'stop'], { env: process.env, timeout: 60_000 });
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const existingOrders = (await kafka.offsets(topics[0]!)).reduce((sum, entry) => sum + Number(entry.high), 0);
  const data = await seedDemoData({ producer, prefix: config.topicPrefix, existingOrders, orders, customers: number('DEMO_CUSTOMERS', 2000), say });
  say('waiting for the gateway to apply the topics...');
  const query = gatewayQuery(gateway.fetch, `${gateway.url}/graphql`, await endOffsetsToken(kafka, topics));
  await query('{ orders(first: 0) { totalCount } }', {});
  for (let waited = 0; !gateway.readiness().ready && waited < 300; waited++) await sleep(1000);
  const from = await resumeFromGateway(data, query);
  if (rate > 0) {
    live = startLiveTraffic({
      producer,
      prefix: config.topicPrefix,
      generator: data.generator,
      rate,
      onError: (error) => logger.error('demo produce failed', { error }),
    });
  }

  say('');
  say(`Grid:      ${gateway.url}/grid        (live orders: scroll, sort, filter)`);
  say(`GraphiQL:  ${gateway.url}/graphql     (opens with an example grid query)`);
  say(`Health:    ${gateway.url}/healthz   ${gateway.url}/readyz   ${gateway.url}/metrics`);
  say('Both pages are served by the gateway and load nothing from elsewhere: they work offline.');
  say(`Live traffic: ${rate} records/s, ${from}.`);
  say(`Stop: Ctrl-C (stops the gateway${startedBroker ? ' and the broker it started' : ''}).`);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
