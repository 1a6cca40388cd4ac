/**
 * Building blocks around the real gateway: a real broker (from global setup), a real RocksDB in a
 * temp dir, real HTTP on port 0 (or yoga's fetch in process), unique topic names and group ids.
 * Test files use them through the fixture (./fixture.ts), which also closes what they start.
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
  body: {
    data?: T;
    errors?: Array<{ message: string; path?: unknown[]; extensions?: Record<string, unknown> }>;
    extensions?: Record<string, unknown>;
  };
}

/**
 * How a test reaches a gateway's GraphQL endpoint: 'http' over a real socket (the whole HTTP
 * layer), or 'in-process' straight into yoga's fetch handler (no socket; /graphql only, without
 * the body limits, client authentication, health, metrics and peer paths in front of yoga).
 */
export type Transport = 'http' | 'in-process';

/** A fetch of a path on one gateway (`/graphql`, `/metrics`, ...). */
export type PathFetch = (path: string, init?: RequestInit) => Promise<Response>;

export interface TestGateway {
  readonly gateway: Gateway;
  readonly config: GatewayConfig;
  /** Base URL of its real HTTP server (it always listens, on port 0 by default). */
  readonly url: string;
  readonly transport: Transport;
  /** A request over this gateway's transport; in process only /graphql answers. */
  fetch: PathFetch;
  graphql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Data of a query that must succeed without errors. */
  query<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Stops the gateway and removes its temp data dir; safe to call twice. */
  stop(): Promise<void>;
}

/** POSTs a GraphQL request through `request` and reads the JSON answer. */
export async function requestGraphQL<T>(request: PathFetch, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  const response = await request('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse<T>['body'] };
}

/** A GraphQL POST over real HTTP to the gateway at `url`. */
export function postGraphQL<T>(url: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
  return requestGraphQL<T>((path, init) => fetch(`${url}${path}`, init), query, variables);
}

/** Something to close when a test (or a test file) ends. */
export type Dispose = () => Promise<void>;

/** Wraps `dispose` so that only its first call does the work; later calls share its result. */
export function once(dispose: Dispose): Dispose {
  let running: Promise<void> | undefined;
  return () => (running ??= dispose());
}

export interface TestGatewayOptions {
  topicPrefix: string;
  /** Data directory to use and keep; by default a fresh temp dir, removed by stop(). */
  dataDir?: string;
  env?: Record<string, string>;
  /** How graphql(), query() and fetch() reach it (default 'http'). */
  transport?: Transport;
  /**
   * Receives each thing to close as soon as it exists (the temp dir, then the gateway), so a
   * start that fails half-way, or a test that fails before stop(), leaves nothing running.
   */
  defer?: (dispose: Dispose) => void;
}

/** Starts an in-process gateway (`createGateway`) and waits until it reports ready. */
export async function startTestGateway(options: TestGatewayOptions): Promise<TestGateway> {
  const defer = options.defer ?? (() => undefined);
  let dataDir = options.dataDir;
  let removeDataDir: Dispose = async () => undefined;
  if (dataDir === undefined) {
    const tempDir = await mkdtemp(path.join(os.tmpdir(), 'gw-test-data-'));
    dataDir = tempDir;
    removeDataDir = once(() => rm(tempDir, { recursive: true, force: true }));
    defer(removeDataDir);
  }
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
  const stopGateway = once(() => gateway.stop());
  defer(stopGateway);
  const stop = once(async () => {
    await stopGateway();
    await removeDataDir();
  });
  try {
    await waitFor(() => gateway.readiness().ready, { what: 'gateway ready', timeoutMs: 60_000 });
  } catch (error) {
    await stop();
    throw error;
  }
  const transport = options.transport ?? 'http';
  const request: PathFetch =
    transport === 'in-process'
      ? (requestPath, init) => gateway.fetch(`${gateway.url}${requestPath}`, init)
      : (requestPath, init) => fetch(`${gateway.url}${requestPath}`, init);
  const graphql = <T>(query: string, variables?: Record<string, unknown>) => requestGraphQL<T>(request, query, variables);
  return {
    gateway,
    config,
    url: gateway.url,
    transport,
    fetch: request,
    graphql,
    async query<T>(query: string, variables?: Record<string, unknown>) {
      const { status, body } = await graphql<T>(query, variables);
      if (status !== 200 || body.errors || !body.data) {
        throw new Error(`query failed (${status}): ${JSON.stringify(body.errors ?? body)}`);
      }
      return body.data;
    },
    stop,
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
