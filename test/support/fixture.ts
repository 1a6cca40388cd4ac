/**
 * The integration test fixture: the broker of the test run, unique topic and group names per test
 * file, gateways started in process (`createGateway`) or as real processes (alone, or N behind
 * HAProxy), readiness waits built on `waitFor`, and a list of leftovers.
 *
 * Everything started through the fixture (gateways, processes, clusters, Kafka clients and
 * consumers, WebSockets, graphql-ws clients, open requests, temp dirs) is a leftover until it is
 * closed. A leftover created inside a test is closed after that test (afterEach), one created in
 * a beforeAll hook or with `scope: 'file'` after the last test of the file (afterAll); both run
 * whether the test passed or failed, newest first, and a leftover the test closed itself is not
 * closed twice.
 *
 *   const fx = useFixture('orders');                    // in a describe block, before its own hooks
 *   beforeAll(async () => {
 *     gw = await fx.startGateway({ transport: 'in-process' });
 *     await fx.produce('orders', rows);
 *     await fx.waitCaughtUp(gw, ['orders']);
 *   });
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import WebSocket from 'ws';
import type { ConsumerOptions, OutgoingRecord, ProducedRecord, RecordConsumer } from '../../src/kafka/client.ts';
import { startCluster, type Cluster, type ClusterOptions } from './cluster.ts';
import {
  brokers,
  createTestKafka,
  once,
  startTestGateway,
  uniqueName,
  waitCaughtUp,
  type Dispose,
  type TestGateway,
  type TestKafka,
  type Transport,
} from './gateway.ts';
import { spawnGateway, type GatewayProcess } from './process.ts';
import { waitFor } from './wait.ts';
import { wsClient } from './ws.ts';

/** When a leftover is closed: after the test that created it, or after the file's last test. */
export type Scope = 'test' | 'file';

export interface FixtureGatewayOptions {
  /** Environment over the defaults (TOPIC_PARTITIONS 3, LOG_LEVEL warn, PORT 0, ...). */
  readonly env?: Record<string, string>;
  /** Its consumer group is `<prefix><group>` (default `group`); an env GROUP_ID wins. */
  readonly group?: string;
  /** Data directory to use and keep; by default a fresh temp dir, removed with the gateway. */
  readonly dataDir?: string;
  /** How graphql(), query() and fetch() reach it (default 'http'). */
  readonly transport?: Transport;
  readonly scope?: Scope;
}

export interface Fixture {
  /** The topic prefix of this test file, `<label>-<pid>-<n>-<random>.`. */
  readonly prefix: string;
  /** A Kafka client with a producer (from the file's beforeAll on). */
  readonly kafka: TestKafka;
  /** The topic of a view: `<prefix><viewId>`. */
  topic(viewId: string): string;
  /** A name no other test uses, for consumer groups and the like. */
  uniqueName(label: string): string;
  /** Produces to the topic of a view. */
  produce(viewId: string, records: readonly OutgoingRecord[]): Promise<ProducedRecord[]>;
  /** End offsets per partition of the topic of a view. */
  endOffsets(viewId: string): Promise<Map<number, string>>;

  /** Starts an in-process gateway on this file's topics and waits until it is ready. */
  startGateway(options?: FixtureGatewayOptions): Promise<TestGateway>;
  /** Starts `count` gateways one after the other (each joins the group in turn). */
  startGateways(count: number, options?: FixtureGatewayOptions): Promise<TestGateway[]>;
  /**
   * Starts the gateway as a real child process (`node src/main.ts`) on this file's topics, in
   * group `<prefix><group>` (default `group`), with `dataDir` (default a fresh temp dir).
   */
  spawnGateway(options?: { dataDir?: string; group?: string; env?: Record<string, string>; scope?: Scope }): Promise<GatewayProcess>;
  /** N gateway processes behind HAProxy (see ./cluster.ts) on this file's topics, in group `<prefix><group>` (default `cluster`). */
  startCluster(options: Omit<ClusterOptions, 'topicPrefix'> & { group?: string; scope?: Scope }): Promise<Cluster>;

  /** Until each view's topic, as it ends now, is applied by the gateway(s) holding its partitions. */
  waitCaughtUp(gateways: TestGateway | readonly TestGateway[], viewIds: readonly string[]): Promise<void>;
  /**
   * Until the group's assignment of a view's topic is balanced (each member holds its even share)
   * and every member's ownership map names an owner for every partition.
   */
  waitBalanced(group: readonly TestGateway[], viewId: string): Promise<void>;

  /** A graphql-ws client of the gateway at `httpUrl`. */
  wsClient(httpUrl: string): Client;
  /** A raw graphql-transport-ws socket to `${httpUrl}/graphql`. */
  websocket(httpUrl: string, options?: { headers?: Record<string, string> }): WebSocket;
  /** A consumer of the fixture's Kafka client; stop() may be called early. */
  consumer(options: ConsumerOptions): RecordConsumer;
  /** An AbortController aborted when its scope ends (for streamed responses). */
  abortController(): AbortController;
  /** A fresh temp dir, removed when its scope ends. */
  tempDir(label: string): Promise<string>;
  /** Registers anything else to close; by default in the current scope. */
  defer(dispose: Dispose, scope?: Scope): void;
}

/** Closes every leftover, newest first; errors are collected and thrown after the last one. */
async function drain(leftovers: Dispose[]): Promise<void> {
  const errors: unknown[] = [];
  for (let dispose = leftovers.pop(); dispose; dispose = leftovers.pop()) {
    await dispose().catch((error: unknown) => errors.push(error));
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'closing test leftovers failed');
}

/** Closes a socket at once and waits for it to be closed (at most 5 s). */
async function closeSocket(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return;
  // terminate() of a socket still connecting reports the aborted handshake as an 'error' event.
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    setTimeout(resolve, 5000).unref();
  });
  socket.terminate();
  await closed;
}

/**
 * The fixture of one test file (or describe block): call it at the top of the describe block, so
 * its hooks run before the block's own beforeAll and after its own afterAll.
 */
export function useFixture(label: string): Fixture {
  const prefix = `${uniqueName(label)}.`;
  const fileLeftovers: Dispose[] = [];
  const testLeftovers: Dispose[] = [];
  let inTest = false;
  let kafka: TestKafka | undefined;

  const defer = (dispose: Dispose, scope?: Scope) => {
    (scope === 'file' || (scope === undefined && !inTest) ? fileLeftovers : testLeftovers).push(dispose);
  };

  beforeAll(async () => {
    const client = await createTestKafka();
    kafka = client;
    defer(
      once(() => client.stop()),
      'file',
    );
  });
  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    inTest = false;
    await drain(testLeftovers);
  });
  afterAll(async () => {
    await drain(testLeftovers);
    await drain(fileLeftovers);
  });

  const requireKafka = (): TestKafka => {
    if (!kafka) throw new Error('the fixture starts its Kafka client in beforeAll: use it from a hook or a test');
    return kafka;
  };

  const fixture: Fixture = {
    prefix,
    get kafka() {
      return requireKafka();
    },
    topic: (viewId) => `${prefix}${viewId}`,
    uniqueName,
    produce: (viewId, records) => requireKafka().produce(`${prefix}${viewId}`, records),
    endOffsets: (viewId) => requireKafka().endOffsets(`${prefix}${viewId}`),

    startGateway(options = {}) {
      return startTestGateway({
        topicPrefix: prefix,
        dataDir: options.dataDir,
        env: { ...(options.group ? { GROUP_ID: `${prefix}${options.group}` } : {}), ...options.env },
        transport: options.transport,
        defer: (dispose) => defer(dispose, options.scope),
      });
    },

    async startGateways(count, options) {
      const started: TestGateway[] = [];
      for (let i = 0; i < count; i++) started.push(await fixture.startGateway(options));
      return started;
    },

    async spawnGateway(options = {}) {
      const dataDir = options.dataDir ?? (await fixture.tempDir('gw-process-'));
      const spawned = await spawnGateway({
        KAFKA_BROKERS: brokers(),
        DATA_DIR: dataDir,
        GROUP_ID: `${prefix}${options.group ?? 'group'}`,
        TOPIC_PREFIX: prefix,
        TOPIC_PARTITIONS: '3',
        ...options.env,
      });
      defer(() => spawned.kill('SIGKILL'), options.scope);
      return spawned;
    },

    async startCluster({ scope, group, ...options }) {
      // startCluster stops what it started when it fails; once started, stop() is safe to call twice.
      const env = { ...(group ? { GROUP_ID: `${prefix}${group}` } : {}), ...options.env };
      const cluster = await startCluster({ ...options, env, topicPrefix: prefix });
      defer(() => cluster.stop(), scope);
      return cluster;
    },

    waitCaughtUp: (gateways, viewIds) => waitCaughtUp(gateways, requireKafka(), viewIds),

    async waitBalanced(group, viewId) {
      const topic = group[0]!.gateway.reader.view(viewId).topic;
      const partitions = group[0]!.config.topicPartitions;
      const shares = new Set([Math.floor(partitions / group.length), Math.ceil(partitions / group.length)]);
      await waitFor(
        () =>
          group.every((test) => shares.has(test.gateway.ingestor.assigned(topic).length)) &&
          group.reduce((sum, test) => sum + test.gateway.ingestor.assigned(topic).length, 0) === partitions &&
          group.every((test) => Object.keys(test.gateway.ownership.snapshot()[topic] ?? {}).length === partitions),
        { what: `stable ${group.length}-member assignment of ${topic}`, timeoutMs: 60_000 },
      );
    },

    wsClient(httpUrl) {
      const client = wsClient(httpUrl);
      defer(once(async () => client.dispose()));
      return client;
    },

    websocket(httpUrl, options = {}) {
      const socket = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers: options.headers });
      defer(() => closeSocket(socket));
      return socket;
    },

    consumer(options) {
      const consumer = requireKafka().client.consumer(options);
      const stop = once(() => consumer.stop());
      defer(stop);
      return { ...consumer, stop };
    },

    abortController() {
      const controller = new AbortController();
      defer(async () => controller.abort());
      return controller;
    },

    async tempDir(dirLabel) {
      const dir = await mkdtemp(path.join(os.tmpdir(), dirLabel));
      defer(() => rm(dir, { recursive: true, force: true }));
      return dir;
    },

    defer,
  };
  return fixture;
}
