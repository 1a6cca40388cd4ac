/**
 * Composition root of one gateway instance: it only creates and wires the parts, in this order:
 * views -> store -> ingest (Kafka) -> cluster membership and ownership -> routed reader (local
 * reads, peer client) -> subscriptions -> GraphQL schema -> HTTP (GraphQL, health, metrics, peer
 * server). It is the only importer of ingest/ (README, Architecture; test/unit/layout.test.ts).
 * `npm start` (src/main.ts) and the in-process integration tests both use `createGateway`, so
 * tests exercise the same wiring as production. One unit, longer than most files: it is the
 * composition root, and its length is the list of parts it wires.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { GatewayConfig } from './config.ts';
import { buildSchema } from './graphql/schema.ts';
import { createIngestor, type Ingestor } from './ingest/ingestor.ts';
import { createKafkaClient, type KafkaClient } from './kafka/client.ts';
import type { Logger } from './log.ts';
import { createAssignor, groupMembers } from './cluster/membership.ts';
import { createLocalReads } from './query/local-reads.ts';
import { createOffsetWaiter } from './store/offset-waiter.ts';
import { createOwnership, type Ownership } from './cluster/ownership.ts';
import { PARTITIONERS } from './cluster/partitioner.ts';
import { createServing, type Readiness } from './cluster/serving.ts';
import { createPeerClient, type PeerClient } from './peer/client.ts';
import { PEER_PATH } from './peer/protocol.ts';
import { createPeerHandler } from './peer/server.ts';
import { createRoutedReader, type ViewReader } from './routing/reader.ts';
import { createHub, type Hub } from './subscriptions/hub.ts';
import { createRecentChanges } from './store/recent-changes.ts';
import { startHttpServer, type HttpServer } from './server/http.ts';
import { createReadWorkers, type ReadWorkers } from './server/read-workers.ts';
import { createResponseCache } from './server/response-cache.ts';
import { createMetrics, type GatewayMetrics } from './server/metrics.ts';
import { createRestoreProgress } from './cluster/restore-progress.ts';
import { tracedLocalReads } from './query/traced-reads.ts';
import { openKeyValueStore, type KeyValueStore } from './store/rocks.ts';
import { keepRocksDbThreadsLow } from './store/thread-priority.ts';
import { createClientAuth, readClientPublicKey, type ClientAuth } from './server/client-auth.ts';
import { createRateLimiter } from './server/rate-limit.ts';
import { readListenerTls, readPeerCa } from './server/tls.ts';
import { loadTrustedDocuments } from './server/trusted-documents.ts';
import { createTombstoneTrimmer, type TombstoneTrimmer } from './store/tombstone-trimmer.ts';
import { openViewStore, type ViewStore } from './store/view-store.ts';
import { compileViews, loadViewDeclarations, type ViewModel } from './views/model.ts';

export interface Gateway {
  /** Base URL the HTTP server listens on (GraphQL at `${url}/graphql`). */
  readonly url: string;
  readonly views: readonly ViewModel[];
  readonly reader: ViewReader;
  readonly ingestor: Ingestor;
  readonly ownership: Ownership;
  readonly peers: PeerClient;
  readonly kv: KeyValueStore;
  readonly stores: ReadonlyMap<string, ViewStore>;
  readonly hub: Hub;
  /** Removes change-log tombstone markers older than TOMBSTONE_RETENTION_MS. */
  readonly trimmer: TombstoneTrimmer;
  /** The instance's Prometheus registry and yoga plugins (served at /metrics). */
  readonly metrics: GatewayMetrics;
  /** GraphQL at /graphql in process, without a socket (see HttpServer.fetch). */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  readiness(): Readiness;
  /**
   * Stops gracefully (README, "Shutdown"): /readyz answers 503 `stopping` at once; after
   * `delayMs` (default 0) the listener closes and subscriptions end with their resume tokens;
   * requests in flight and WebSocket operations get until `timeoutMs` after that (default
   * SHUTDOWN_TIMEOUT_MS) before their connections are cut; then the consumer leaves the group and
   * the store closes. A second call waits for the first.
   */
  stop(options?: { delayMs?: number; timeoutMs?: number }): Promise<void>;
}

/** Rows a connection page holds when `first` / `last` is not given. */
const DEFAULT_PAGE_SIZE = 50;

/** Changes kept per partition for subscribers on other instances (older ones: change log). */
const RECENT_CHANGES_PER_PARTITION = 1_000;

export const EXAMPLE_QUERY = `# A grid page: the newest 50 shipped orders in EUR, with customer and payments.
query OrdersGrid($after: String) {
  orders(
    first: 50
    after: $after
    orderBy: { field: CREATED_AT, direction: DESC }
    filter: { state: { eq: SHIPPED }, currency: { eq: "EUR" } }
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        orderId state product quantity unitPrice currency createdAt
        customer { name tier country }
        payments { paymentId status amount method }
      }
    }
  }
}
`;

/**
 * The next offset of a partition as this instance serves it from its own store now, for the
 * response cache: undefined while it is not assigned here (partitioned views), restoring, or
 * stalled, and when the views of its topic disagree (one of them is behind).
 */
function servedOffsets(
  views: readonly ViewModel[],
  stores: ReadonlyMap<string, ViewStore>,
  ingest: Pick<Ingestor, 'assigned' | 'caughtUp'>,
  stalledSince: (topic: string, partition: number) => string | undefined,
): (topic: string, partition: number) => string | undefined {
  // Per topic: its views' stores, and whether one of them is partitioned (held only where assigned).
  const byTopic = new Map<string, { stores: ViewStore[]; partitioned: boolean }>();
  for (const view of views) {
    const store = stores.get(view.id);
    if (!store) continue;
    const held = byTopic.get(view.topic) ?? { stores: [], partitioned: false };
    held.stores.push(store);
    held.partitioned ||= !view.replicated;
    byTopic.set(view.topic, held);
  }
  return (topic, partition) => {
    const held = byTopic.get(topic);
    if (!held || !ingest.caughtUp(topic, partition) || stalledSince(topic, partition) !== undefined) return undefined;
    if (held.partitioned && !ingest.assigned(topic).includes(partition)) return undefined;
    let offset: string | undefined;
    for (const store of held.stores) {
      const next = store.nextOffset(partition) ?? '0';
      if (offset !== undefined && next !== offset) return undefined;
      offset = next;
    }
    return offset;
  };
}

/** The security settings' files, read and checked before anything starts (GW_CONFIG_INVALID). */
function loadSecurity(config: GatewayConfig) {
  const auth = config.clientAuth;
  let clientAuth: ClientAuth | undefined;
  if (auth) {
    const publicKeyPem = auth.publicKeyFile === undefined ? undefined : readClientPublicKey(auth.publicKeyFile, auth.algorithms);
    clientAuth = createClientAuth({ ...auth, publicKeyPem });
  }
  return {
    clientAuth,
    tls: config.tls && readListenerTls(config.tls.certFile, config.tls.keyFile),
    peerCa: config.peerTlsCaFile === undefined ? undefined : readPeerCa(config.peerTlsCaFile),
    trustedDocuments: config.trustedDocumentsFile === undefined ? undefined : loadTrustedDocuments(config.trustedDocumentsFile),
    rateLimit: config.rateLimit && createRateLimiter(config.rateLimit),
  };
}

export async function createGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const security = loadSecurity(config);
  if (security.trustedDocuments) logger.info('trusted documents only', { documents: security.trustedDocuments.size });
  const views = compileViews(await loadViewDeclarations(config.viewsDir), config.topicPrefix);
  await mkdir(config.dataDir, { recursive: true });
  const kv = await openKeyValueStore(config.dataDir, {
    cacheSize: config.storeCacheMb * 1024 * 1024,
    memtableBudget: config.storeMemtableMb * 1024 * 1024,
  });
  const background = keepRocksDbThreadsLow(config.storeBackgroundNice);
  let kafka: KafkaClient | undefined;
  let http: HttpServer | undefined;
  let ingestor: Ingestor | undefined;
  let peerClient: PeerClient | undefined;
  let workers: ReadWorkers | undefined;
  const eventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  eventLoopDelay.enable();
  try {
    const stores = new Map<string, ViewStore>();
    for (const view of views) stores.set(view.id, await openViewStore(kv, view, { rowCache: config.rowCacheRows }));
    const client = createKafkaClient({
      brokers: config.kafkaBrokers,
      clientId: `gateway-${config.groupId}`,
      logger,
      security: config.kafkaSecurity,
    });
    kafka = client;
    const peerSecret = config.peerSecret ?? randomBytes(32).toString('hex');
    if (!config.peerSecret) logger.warn('PEER_SECRET is not set: this instance cannot read partitions owned by other instances');

    let ownership: Ownership | undefined;
    let hubRef: Hub | undefined;
    // Known once the HTTP server listens when the port is chosen by the OS (PORT=0).
    let selfUrl = config.advertisedUrl ?? '';
    let partitionCounts = new Map<string, number>();
    let metricsRef: GatewayMetrics | undefined;
    // Partitions of the partitioned views this instance holds, to count what each rebalance moved.
    const held = new Map<string, ReadonlySet<number>>();
    const countMoved = (): void => {
      let assigned = 0;
      let revoked = 0;
      for (const view of views.filter((candidate) => !candidate.replicated)) {
        const now = new Set(ingest.assigned(view.topic));
        const before = held.get(view.topic) ?? new Set<number>();
        for (const partition of now) if (!before.has(partition)) assigned++;
        for (const partition of before) if (!now.has(partition)) revoked++;
        held.set(view.topic, now);
      }
      metricsRef?.rebalanced(assigned, revoked);
    };
    const ingest = createIngestor({
      kafka: client,
      stores,
      groupId: config.groupId,
      replicaGroupId: `${config.groupId}.replica.${randomUUID()}`,
      deadLetterTopic: config.deadLetterTopic,
      deadLetterMaxBytes: config.deadLetterMaxBytes,
      recordMaxBytes: config.recordMaxBytes,
      partitionOf: PARTITIONERS[config.partitioner],
      topicPartitions: config.topicPartitions,
      logger,
      maxLag: config.readyMaxLag,
      sessionTimeoutMs: config.groupSessionTimeoutMs,
      assignor: createAssignor({
        views,
        selfUrl: () => selfUrl,
        assigned: (topic) => ingest.assigned(topic),
        partitionCount: (viewId) => partitionCounts.get(viewId) ?? 0,
        holds: (view, partition) => stores.get(view.id)?.nextOffset(partition) !== undefined,
        logger,
      }),
      onRebalance: () => {
        countMoved();
        workers?.refresh();
        void ownership?.refresh().then(() => hubRef?.rebalanced());
      },
    });
    ingestor = ingest;
    partitionCounts = await ingest.prepare();
    const stalledSince = (topic: string, partition: number): string | undefined => {
      const stall = ingest.stall(topic, partition);
      return stall && new Date(stall.since).toISOString();
    };
    const serving = createServing({ views, partitions: ingest, maxLag: config.readyMaxLag });
    const trimmer = createTombstoneTrimmer({ stores, partitionCounts, retentionMs: config.tombstoneRetentionMs, logger });
    ownership = createOwnership({
      selfUrl: () => selfUrl,
      localPartitions: (topic) => ingest.assigned(topic),
      caughtUp: (topic, partition) => ingest.caughtUp(topic, partition),
      members: async () => groupMembers(await client.describeGroup(config.groupId)),
      logger,
    });
    const local = tracedLocalReads(createLocalReads(stores));
    const servedOffset = servedOffsets(views, stores, ingest, stalledSince);
    const responses = createResponseCache({
      maxBytes: config.responseCacheMb * 1024 * 1024,
      minMs: config.responseCacheMinUs / 1000,
      servedOffset,
    });
    const metrics = createMetrics({
      ingest: ingest.counters,
      progress: () => ingest.progress(),
      restoring: (topic, partition) => !ingest.caughtUp(topic, partition),
      stalled: () => ingest.stalled(),
      store: kv.stats,
      storeMemory: () => kv.memory(),
      eventLoopDelay,
      tombstonesTrimmed: () => trimmer.removed,
      connections: () => http?.connections,
      responses,
      readWorkers: () => workers?.size ?? 0,
    });
    metricsRef = metrics;
    if (config.readWorkers > 0) {
      workers = createReadWorkers({
        count: config.readWorkers,
        kv,
        views,
        viewsDir: config.viewsDir,
        topicPrefix: config.topicPrefix,
        partitionCounts,
        partitioner: config.partitioner,
        rowCacheRows: config.rowCacheRows,
        defaultPageSize: DEFAULT_PAGE_SIZE,
        maxPageSize: config.maxPageSize,
        served: (topic, partition) => servedOffset(topic, partition) !== undefined,
        counted: metrics.readWorker,
        logger,
      });
    }
    const peers = createPeerClient({ secret: peerSecret, timeoutMs: config.peerTimeoutMs, ca: security.peerCa, observe: metrics.peerCall });
    peerClient = peers;
    const waiter = createOffsetWaiter(stores, ingest.events);
    const partitioner = PARTITIONERS[config.partitioner];
    const reader = createRoutedReader({
      views,
      local,
      partitionCounts,
      partitioner,
      ownership,
      peers,
      waiter,
      consistencyWaitMs: config.consistencyWaitMs,
      rebalanceWaitMs: config.rebalanceWaitMs,
      caughtUp: (topic, partition) => ingest.caughtUp(topic, partition),
      stalledSince,
      selfUrl: () => selfUrl,
    });
    const viewsById = new Map(views.map((view) => [view.id, view]));
    const recent = createRecentChanges(stores, ingest.events, RECENT_CHANGES_PER_PARTITION);
    const hub = createHub({
      views,
      events: ingest.events,
      partitionCounts,
      partitioner,
      reader,
      recent,
      ownership,
      peers,
      servesLocally: serving.servesLocally,
      maxSubscriptions: config.subscriptionsPerInstance,
      bufferSize: config.subscriptionBuffer,
      logger,
    });
    hubRef = hub;
    let stopping: Promise<void> | undefined;
    // While stopping, /readyz answers 503 {"status":"stopping"} whatever the partitions say.
    const readiness = (): Readiness => (stopping ? { ready: false, detail: { status: 'stopping' } } : serving.readiness());
    const restoreProgress = createRestoreProgress({
      progress: () => ingest.progress(),
      restoring: (topic, partition) => !ingest.caughtUp(topic, partition),
      logger,
    });
    http = await startHttpServer({
      schema: buildSchema(views, { defaultPageSize: DEFAULT_PAGE_SIZE, maxPageSize: config.maxPageSize }),
      reader,
      host: config.host,
      port: config.port,
      queryLimits: {
        ...config.queryLimits,
        maxDepth: config.maxQueryDepth,
        defaultPageSize: DEFAULT_PAGE_SIZE,
        maxPageSize: config.maxPageSize,
        timeoutMs: config.queryTimeoutMs,
      },
      readiness,
      unhealthy: () => (ingest.failure ? `a consumer is down (restarting): ${ingest.failure.message}` : undefined),
      metrics: () => metrics.render(),
      plugins: metrics.plugins,
      fastPathMetrics: metrics,
      responses,
      workers,
      countErrors: metrics.clientErrors,
      logger,
      exampleQuery: EXAMPLE_QUERY,
      subscriptions: { hub, maxPerConnection: config.subscriptionsPerConnection },
      clientAuth: security.clientAuth,
      corsOrigins: config.corsOrigins,
      tls: security.tls,
      trustedDocuments: security.trustedDocuments,
      rateLimit: security.rateLimit,
      graphiql: config.graphiql,
      introspection: config.introspection,
      metricsToken: config.metricsToken,
      peer: {
        path: PEER_PATH,
        handle: createPeerHandler({
          secret: peerSecret,
          local,
          views: viewsById,
          serves: serving.peerServes,
          stalledSince,
          logger,
          waiter,
          consistencyWaitMs: config.consistencyWaitMs,
          recent,
        }),
      },
    });
    selfUrl = config.advertisedUrl ?? http.url;
    await ingest.start();
    trimmer.start();
    restoreProgress.start();
    const server = http;
    const owned = ownership;
    return {
      url: server.url,
      views,
      reader,
      ingestor: ingest,
      ownership: owned,
      peers,
      kv,
      stores,
      hub,
      readiness,
      trimmer,
      metrics,
      fetch: server.fetch,
      stop(options = {}) {
        stopping ??= (async () => {
          const delayMs = options.delayMs ?? 0;
          const timeoutMs = options.timeoutMs ?? config.shutdownTimeoutMs;
          server.beginStop();
          if (delayMs > 0) {
            logger.info('stopping: /readyz answers 503, serving on', { delayMs });
            await new Promise((resolve) => setTimeout(resolve, delayMs));
          }
          // Subscriptions end with their resume tokens (WebSocket and SSE), then the listener
          // closes and what is in flight gets until the deadline.
          hub.close();
          await server.stop(Date.now() + timeoutMs);
          restoreProgress.stop();
          trimmer.stop();
          eventLoopDelay.disable();
          await ingest.stop();
          await peers.close();
          await client.stop();
          background.stop();
          // Workers read the store through its handle: they go first.
          await workers?.close();
          await kv.close();
        })();
        return stopping;
      },
    };
  } catch (error) {
    eventLoopDelay.disable();
    background.stop();
    // Undo what started, but report the error that stopped the start, not a later one from the
    // clean-up (a half-started ingestor may fail to stop, or find the store already closed).
    const undo: Array<[string, (() => Promise<void>) | undefined]> = [
      ['http server', http && (() => http!.stop())],
      ['ingest', ingestor && (() => ingestor!.stop())],
      ['peer client', peerClient && (() => peerClient!.close())],
      ['kafka client', kafka && (() => kafka!.stop())],
      ['read workers', workers && (() => workers!.close())],
      ['store', () => kv.close()],
    ];
    for (const [what, step] of undo) {
      await step?.().catch((cleanupError: unknown) => logger.warn(`stopping the ${what} after a failed start failed`, { error: cleanupError }));
    }
    throw error;
  }
}
