/**
 * Test harness around the real gateway: a real broker (from global setup), a real RocksDB in a
 * temp dir, real HTTP on port 0, and unique topic names and group ids per test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { loadConfig, type GatewayConfig } from '../../src/config.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { createKafkaClient, type KafkaClient, type OutgoingRecord, type ProducedRecord } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { waitFor } from './wait.ts';

let counter = 0;

/** A name no other test (or earlier run against the same broker) uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export function brokers(): string {
  return inject('kafkaBrokers');
}

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  body: { data?: T; errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, unknown> }>; extensions?: Record<string, unknown> };
}

export interface TestGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  readonly url: string;
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Data of a query that must succeed without errors. */
  query<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

export async function postGraphQL<T>(url: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse<T>['body'] };
}

export interface TestGatewayOptions {
  topicPrefix: string;
  dataDir?: string;
  env?: Record<string, string>;
}

export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'gw-test-data-')));
  const config = loadConfig({
    KAFKA_BROKERS: brokers(),
    HOST: '127.0.0.1',
    PORT: '0',
    DATA_DIR: dataDir,
    GROUP_ID: `${options.topicPrefix}group`,
    TOPIC_PREFIX: options.topicPrefix,
    TOPIC_PARTITIONS: '3',
    LOG_LEVEL: 'warn',
    ...options.env,
  });
  const gateway = await createGateway(config, createLogger(config.logLevel, { test: options.topicPrefix }));
  await waitFor(() => gateway.readiness().ready, { what: 'gateway ready', timeoutMs: 60_000 });
  const graphql = <T>(query: string, variables?: Record<string, unknown>) => postGraphQL<T>(gateway.url, query, variables);
  return {
    gateway,
    config,
    url: gateway.url,
    graphql,
    async query<T>(query: string, variables?: Record<string, unknown>) {
      const { status, body } = await graphql<T>(query, variables);
      if (status !== 200 || body.errors || !body.data) {
        throw new Error(`query failed (${status}): ${JSON.stringify(body.errors ?? body)}`);
      }
      return body.data;
    },
    async stop() {
      await gateway.stop();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestKafka {
  readonly client: KafkaClient;
  produce(topic: string, records: readonly OutgoingRecord[]): Promise<ProducedRecord[]>;
  /** End offsets per partition of a topic. */
  endOffsets(topic: string): Promise<Map<number, string>>;
  stop(): Promise<void>;
}

export async function createTestKafka(): Promise<TestKafka> {
  const client = createKafkaClient({ brokers: brokers().split(','), clientId: 'gateway-tests', logger: createLogger('error') });
  const producer = await client.producer();
  return {
    client,
    produce: (topic, records) => producer.send(topic, records),
    async endOffsets(topic) {
      return new Map((await client.offsets(topic)).map((entry) => [entry.partition, entry.high]));
    },
    stop: () => client.stop(),
  };
}

/**
 * Waits until everything currently in each view's topic is applied by the instance(s) assigned
 * its partitions (pass every instance of a multi-instance group).
 */
export async function waitCaughtUp(tests: TestGateway | readonly TestGateway[], kafka: TestKafka, viewIds: readonly string[]): Promise<void> {
  const instances = Array.isArray(tests) ? tests : [tests as TestGateway];
  for (const viewId of viewIds) {
    const view = instances[0]!.gateway.reader.view(viewId);
    const ends = await kafka.endOffsets(view.topic);
    await waitFor(
      () =>
        [...ends].every(([partition, end]) =>
          instances.some(
            (test) =>
              (view.replicated || test.gateway.ingestor.assigned(view.topic).includes(partition)) &&
              BigInt(test.gateway.stores.get(viewId)!.nextOffset(partition) ?? '0') >= BigInt(end),
          ),
        ),
      { what: `${view.topic} caught up`, timeoutMs: 60_000 },
    );
  }
}

export function json(value: Record<string, unknown> | null): string | null {
  return value === null ? null : JSON.stringify(value);
}
