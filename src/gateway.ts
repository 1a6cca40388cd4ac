/**
 * Composition root of one gateway instance: views -> store -> ingest (Kafka) -> reader ->
 * GraphQL schema -> HTTP. `npm start` (src/main.ts) and the in-process integration tests both
 * use `createGateway`, so tests exercise the same wiring as production.
 */
import { mkdir } from 'node:fs/promises';
import type { GatewayConfig } from './config.ts';
import { buildSchema } from './graphql/schema.ts';
import { createIngestor, type Ingestor } from './ingest/ingestor.ts';
import { createKafkaClient, type KafkaClient } from './kafka/client.ts';
import type { Logger } from './log.ts';
import { createLocalReader, type ViewReader } from './routing/reader.ts';
import { startHttpServer, type HttpServer, type Readiness } from './server/http.ts';
import { renderMetrics } from './server/metrics.ts';
import { openKeyValueStore, type KeyValueStore } from './store/rocks.ts';
import { openViewStore, type ViewStore } from './store/view-store.ts';
import { compileViews, loadViewDeclarations, type ViewModel } from './views/model.ts';

export interface Gateway {
  /** Base URL the HTTP server listens on (GraphQL at `${url}/graphql`). */
  readonly url: string;
  readonly views: readonly ViewModel[];
  readonly reader: ViewReader;
  readonly ingestor: Ingestor;
  readonly kv: KeyValueStore;
  readiness(): Readiness;
  stop(): Promise<void>;
}

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

export async function createGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const views = compileViews(await loadViewDeclarations(config.viewsDir), config.topicPrefix);
  await mkdir(config.dataDir, { recursive: true });
  const kv = await openKeyValueStore(config.dataDir);
  let kafka: KafkaClient | undefined;
  let http: HttpServer | undefined;
  let ingestor: Ingestor | undefined;
  try {
    const stores = new Map<string, ViewStore>();
    for (const view of views) stores.set(view.id, await openViewStore(kv, view));
    kafka = createKafkaClient({ brokers: config.kafkaBrokers, clientId: `gateway-${config.groupId}`, logger });
    ingestor = createIngestor({
      kafka,
      stores,
      groupId: config.groupId,
      deadLetterTopic: config.deadLetterTopic,
      topicPartitions: config.topicPartitions,
      logger,
    });
    const partitionCounts = await ingestor.prepare();
    const ingest = ingestor;
    const reader = createLocalReader({ stores, partitionCounts, servedPartitions: (topic) => ingest.assigned(topic) });
    const readiness = (): Readiness => {
      const progress = ingest.progress();
      const expected = [...partitionCounts.values()].reduce((sum, count) => sum + count, 0);
      const lagging = progress.filter((entry) => entry.lag > config.readyMaxLag);
      const ready = progress.length === expected && lagging.length === 0;
      return {
        ready,
        detail: {
          partitions: progress.length,
          expectedPartitions: expected,
          lagging: lagging.map((entry) => ({ topic: entry.topic, partition: entry.partition, lag: entry.lag })),
        },
      };
    };
    http = await startHttpServer({
      schema: buildSchema(views, { defaultPageSize: 50, maxPageSize: config.maxPageSize }),
      reader,
      host: config.host,
      port: config.port,
      maxQueryDepth: config.maxQueryDepth,
      readiness,
      metrics: () => renderMetrics({ ingest: ingest.counters, progress: ingest.progress(), store: kv.stats }),
      logger,
      exampleQuery: EXAMPLE_QUERY,
    });
    await ingestor.start();
    const server = http;
    const client = kafka;
    return {
      url: server.url,
      views,
      reader,
      ingestor: ingest,
      kv,
      readiness,
      async stop() {
        await server.stop();
        await ingest.stop();
        await client.stop();
        await kv.close();
      },
    };
  } catch (error) {
    await http?.stop();
    await ingestor?.stop().catch(() => undefined);
    await kafka?.stop();
    await kv.close();
    throw error;
  }
}
