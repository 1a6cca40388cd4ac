/**
 * The instance's Prometheus metrics, in a prom-client `Registry` of its own (several instances in
 * one process, as in the tests, do not share counters), served as text at `/metrics`. The README's
 * metrics table lists every metric; `test/unit/metrics-table.test.ts` keeps the two in step.
 *
 * Where the numbers come from:
 *
 * - GraphQL operations: yoga plugins (below), which see HTTP, SSE and WebSocket operations alike,
 *   the WebSocket ones through yoga's envelop (src/server/websocket.ts). Operation counts and
 *   latency by the gateway's own plugin (a subscription is counted when it starts, and timed until
 *   it is set up); parse and validate times by yoga's Prometheus plugin
 *   (`@graphql-yoga/plugin-prometheus`) on the same registry; errors by code as clients get them,
 *   from the results yoga answers, the WebSocket messages and the refusals in front of yoga.
 * - Ingest, partitions, store and memory: read from their owners at each scrape (`collect`).
 * - Peer calls and rebalances: observed where they happen (`peerCall`, `rebalanced`).
 * - prom-client's default process and Node.js metrics (`process_*`, `nodejs_*`).
 *
 * Label values clients choose (operation names) are bounded: at most 200 distinct names, each cut
 * to 64 characters; further names count as `(other)`.
 */
import type { Histogram as DelayHistogram } from 'node:perf_hooks';
import { createHistogram, usePrometheus } from '@graphql-yoga/plugin-prometheus';
import { getOperationAST, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReadStats } from '../store/rocks.ts';
import { NORMALIZED_TRIAL } from '../graphql/literals.ts';
import type { ResponseCache } from './response-cache.ts';

/** Ingest's running totals, as the ingestor keeps them. */
export interface IngestTotals {
  readonly records: number;
  readonly applied: number;
  readonly deadLettered: number;
  readonly deadLetteredByCode: Readonly<Record<string, number>>;
  readonly batches: number;
  readonly stalls: number;
  readonly consumerRestarts: number;
}

/** One assigned partition's position against the topic's end. */
export interface PartitionPosition {
  readonly topic: string;
  readonly partition: number;
  readonly nextOffset: string | undefined;
  readonly endOffset: string;
  readonly lag: number;
}

/** How a GraphQL operation reached the instance. */
export type Transport = 'http' | 'sse' | 'websocket';

export interface MetricsSources {
  /** Live totals (read at each scrape). */
  readonly ingest: IngestTotals;
  readonly progress: () => readonly PartitionPosition[];
  /** Whether an assigned partition is still restoring (further behind than READY_MAX_LAG). */
  readonly restoring: (topic: string, partition: number) => boolean;
  /** Partitions waiting for the dead-letter topic. */
  readonly stalled: () => ReadonlyArray<{ readonly topic: string; readonly partition: number }>;
  /** Live store read counters. */
  readonly store: ReadStats;
  /** RocksDB memory by kind (memtables, table readers, block cache), in bytes, where known. */
  readonly storeMemory?: () => Readonly<Record<string, number | undefined>>;
  /** Event-loop delay since the previous scrape; reset by each scrape. */
  readonly eventLoopDelay?: DelayHistogram;
  /** Change-log tombstone markers removed since start. */
  readonly tombstonesTrimmed?: () => number;
  /** Open connections and requests of the HTTP server (undefined before it listens). */
  readonly connections?: () => { readonly http: number; readonly websocket: number; readonly requestsInFlight: number } | undefined;
  /** The fast path's kept answers (./response-cache.ts). */
  readonly responses?: Pick<ResponseCache, 'stats' | 'size'>;
  /** Read workers running and ready (./read-workers.ts). */
  readonly readWorkers?: () => number;
}

export interface GatewayMetrics {
  readonly registry: Registry;
  /** Yoga plugins: operations, latency, active subscriptions, parse and validate time, errors. */
  readonly plugins: Plugin[];
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
  /** One call to another instance: its duration, and the error code when it failed. */
  peerCall(peer: string, op: string, seconds: number, errorCode: string | undefined): void;
  /** A rebalance of the partitioned views' group, with the partitions this instance gained and lost. */
  rebalanced(assigned: number, revoked: number): void;
  /** Errors sent to a client, by code (counted by the transports that send them). */
  clientErrors(codes: readonly string[], transport: Transport): void;
  /**
   * One query operation answered outside yoga (src/server/fast-path.ts), counted as the plugins
   * count yoga's, with how long it ran.
   */
  operation(document: DocumentNode, operationName: string | null | undefined, context: unknown, seconds: number): void;
  /** A request the fast path took: answered there, or handed to yoga. */
  fastPath(outcome: 'answered' | 'yoga'): void;
  /** A fast-path query offered to the read workers (./read-workers.ts), by what became of it. */
  readWorker(outcome: 'answered' | 'declined' | 'busy'): void;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const PHASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];
const MAX_OPERATION_NAMES = 200;
const MAX_OPERATION_NAME_LENGTH = 64;

/** The transport of an operation's context: set for WebSocket, from the request otherwise. */
export function transportOf(context: unknown): Transport {
  const value = context as { transport?: Transport; request?: Request } | undefined;
  if (value?.transport) return value.transport;
  return value?.request?.headers.get('accept')?.includes('text/event-stream') ? 'sse' : 'http';
}

/** The codes of a result's errors (`extensions.code`, `UNCODED` when there is none). */
export function errorCodes(errors: ReadonlyArray<{ readonly extensions?: Readonly<Record<string, unknown>> | undefined }> | undefined): string[] {
  return (errors ?? []).map((error) => {
    const code = error.extensions?.['code'];
    return typeof code === 'string' ? code : 'UNCODED';
  });
}

/** Label sets remembered per document (operation names sent with it, times transports). */
const LABEL_SETS_PER_DOCUMENT = 16;

export function createMetrics(sources: MetricsSources): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const names = new Set<string>();
  const operationName = (name: string | undefined): string => {
    const value = (name || 'Anonymous').slice(0, MAX_OPERATION_NAME_LENGTH);
    if (names.has(value)) return value;
    if (names.size >= MAX_OPERATION_NAMES) return '(other)';
    names.add(value);
    return value;
  };
  const labelsOf = (document: DocumentNode, name: string | null | undefined, transport: Transport) => {
    const operation = getOperationAST(document, name ?? undefined);
    return {
      operation_type: operation?.operation ?? 'unknown',
      operation_name: operationName(name ?? operation?.name?.value),
      transport,
    };
  };
  // The labels per document, operation name and transport: the same document arrives again and
  // again (yoga and the fast path cache it), so its operation is looked up once.
  const knownLabels = new WeakMap<DocumentNode, Map<string, ReturnType<typeof labelsOf>>>();
  const operationLabels = (document: DocumentNode, name: string | null | undefined, context: unknown) => {
    const transport = transportOf(context);
    const key = `${transport}\u0000${name ?? ''}`;
    let known = knownLabels.get(document);
    const labels = known?.get(key);
    if (labels) return labels;
    const made = labelsOf(document, name, transport);
    if (!known) knownLabels.set(document, (known = new Map()));
    if (known.size < LABEL_SETS_PER_DOCUMENT) known.set(key, made);
    return made;
  };

  // GraphQL operations.
  const operationLabelNames = ['operation_type', 'operation_name', 'transport'] as const;
  const requests = new Counter({
    name: 'gw_graphql_requests_total',
    help: 'GraphQL operations started (queries executed, subscriptions started), by operation and transport.',
    labelNames: operationLabelNames,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'gw_graphql_request_duration_seconds',
    help: 'GraphQL operation latency: a query until its result, a subscription until it is set up (snapshot read or resume replayed).',
    labelNames: operationLabelNames,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'gw_graphql_errors_total',
    help: 'Errors sent to clients, by extensions.code (UNCODED without one) and transport, including refusals in front of GraphQL.',
    labelNames: ['code', 'transport'],
    registers: [registry],
  });
  const activeSubscriptions = new Gauge({
    name: 'gw_subscriptions_active',
    help: 'Subscriptions open now, by transport.',
    labelNames: ['transport'],
    registers: [registry],
  });
  const clientErrors = (codes: readonly string[], transport: Transport): void => {
    for (const code of codes) errors.inc({ code, transport });
  };

  const fastPathRequests = new Counter({
    name: 'gw_graphql_fast_path_total',
    help: 'Repeated queries the fast path took, by outcome: answered there, or handed to yoga (an error to answer, a new text).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const readWorkerTasks = new Counter({
    name: 'gw_read_worker_tasks_total',
    help: 'Fast-path queries offered to the read workers, by outcome: answered by a worker, declined (the main thread ran it), busy (every worker had its limit in flight).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const operationsPlugin: Plugin = {
    onExecute({ args }) {
      const labels = operationLabels(args.document, args.operationName, args.contextValue);
      requests.inc(labels);
      const end = duration.startTimer(labels);
      return {
        onExecuteDone() {
          end();
        },
      };
    },
    onSubscribe({ args }) {
      const labels = operationLabels(args.document, args.operationName, args.contextValue);
      requests.inc(labels);
      const end = duration.startTimer(labels);
      return {
        onSubscribeResult({ result }) {
          end();
          if (!(Symbol.asyncIterator in result)) return undefined;
          const transport = { transport: labels.transport };
          activeSubscriptions.inc(transport);
          return {
            onEnd() {
              activeSubscriptions.dec(transport);
            },
          };
        },
        onSubscribeError() {
          end();
        },
      };
    },
  };

  /** Errors in what yoga answers over HTTP and SSE (WebSocket counts its own messages). */
  const answeredErrorsPlugin: Plugin = {
    onResultProcess({ request, result, setResult, serverContext }) {
      if ((serverContext as Record<symbol, unknown>)[NORMALIZED_TRIAL]) return;
      const transport: Transport = request.headers.get('accept')?.includes('text/event-stream') ? 'sse' : 'http';
      if (Symbol.asyncIterator in result) {
        const source = result[Symbol.asyncIterator]();
        const counted: AsyncIterableIterator<ExecutionResult> = {
          next: async () => {
            const step = await source.next();
            if (!step.done) clientErrors(errorCodes(step.value.errors), transport);
            return step;
          },
          return: async (value?: unknown) => (source.return ? source.return(value) : { done: true, value: undefined }),
          throw: async (error?: unknown) => (source.throw ? source.throw(error) : Promise.reject(error)),
          [Symbol.asyncIterator]() {
            return counted;
          },
        };
        setResult(counted);
        return;
      }
      for (const each of Array.isArray(result) ? result : [result]) clientErrors(errorCodes(each.errors), transport);
    },
  };

  // Parse and validate time, by yoga's Prometheus plugin on this registry.
  const phaseHistogram = <Phase extends 'parse' | 'validate'>(phase: Phase, name: string, help: string) =>
    createHistogram<Phase, 'operation_type' | 'transport'>({
      registry,
      histogram: { name, help, labelNames: ['operation_type', 'transport'], buckets: PHASE_BUCKETS },
      fillLabelsFn: (params, context) => ({ operation_type: params.operationType ?? 'unknown', transport: transportOf(context) }),
      phases: [phase],
    });
  const prometheusPlugin = usePrometheus({
    registry,
    endpoint: false,
    metrics: {
      graphql_envelop_phase_parse: phaseHistogram(
        'parse',
        'gw_graphql_parse_duration_seconds',
        'Time to parse a GraphQL document (cached documents take next to none).',
      ),
      graphql_envelop_phase_validate: phaseHistogram(
        'validate',
        'gw_graphql_validate_duration_seconds',
        'Time to validate a GraphQL document, query limits included.',
      ),
      graphql_envelop_deprecated_field: false,
      graphql_envelop_request: false,
      graphql_envelop_request_duration: false,
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_error_result: false,
      graphql_envelop_execute_resolver: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_schema_change: false,
      graphql_yoga_http_duration: false,
    },
  });

  // Connections.
  new Gauge({
    name: 'gw_http_connections',
    help: 'Open TCP connections of the HTTP server (keep-alive, busy and upgraded to WebSocket).',
    registers: [registry],
    collect() {
      this.set(sources.connections?.()?.http ?? 0);
    },
  });
  new Gauge({
    name: 'gw_websocket_connections',
    help: 'Open WebSocket connections.',
    registers: [registry],
    collect() {
      this.set(sources.connections?.()?.websocket ?? 0);
    },
  });
  new Gauge({
    name: 'gw_http_requests_in_flight',
    help: 'HTTP requests being answered (SSE streams and peer calls included).',
    registers: [registry],
    collect() {
      this.set(sources.connections?.()?.requestsInFlight ?? 0);
    },
  });

  // Peer calls and rebalances.
  const peerDuration = new Histogram({
    name: 'gw_peer_call_duration_seconds',
    help: 'Calls to other instances, by peer URL and op, failed ones included.',
    labelNames: ['peer', 'op'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const peerErrors = new Counter({
    name: 'gw_peer_call_errors_total',
    help: 'Calls to other instances that failed, by peer URL and error code.',
    labelNames: ['peer', 'code'],
    registers: [registry],
  });
  const rebalances = new Counter({
    name: 'gw_rebalances_total',
    help: 'Rebalances of the partitioned views consumer group this instance took part in.',
    registers: [registry],
  });
  const moved = new Counter({
    name: 'gw_partitions_moved_total',
    help: 'Partitions this instance gained (assigned) or lost (revoked) in rebalances.',
    labelNames: ['direction'],
    registers: [registry],
  });

  // Ingest: totals the ingestor keeps, copied at each scrape.
  const total = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  const ingest = sources.ingest;
  total('gw_ingest_records_total', 'Records consumed from view topics (applied or dead-lettered).', () => ingest.records);
  total('gw_ingest_applied_total', 'Valid records applied to the store.', () => ingest.applied);
  total(
    'gw_ingest_batches_total',
    'Store writes of applied records (one per slice of a partition batch, sized to a few ms of work).',
    () => ingest.batches,
  );
  total('gw_dead_letter_total', 'Records sent to the dead-letter topic.', () => ingest.deadLettered);
  new Counter({
    name: 'gw_dead_letter_by_code_total',
    help: 'Records sent to the dead-letter topic, by error code.',
    labelNames: ['code'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, count] of Object.entries(ingest.deadLetteredByCode)) this.inc({ code }, count);
    },
  });
  total('gw_ingest_stalls_total', 'Times a partition was paused because the dead-letter topic refused writes.', () => ingest.stalls);
  total('gw_ingest_consumer_restarts_total', 'Consumers restarted after a crash.', () => ingest.consumerRestarts);
  new Gauge({
    name: 'gw_partition_stalled',
    help: 'Partitions waiting because the dead-letter topic refuses writes (1 while waiting).',
    labelNames: ['topic', 'partition'],
    registers: [registry],
    collect() {
      this.reset();
      for (const entry of sources.stalled()) this.set({ topic: entry.topic, partition: entry.partition }, 1);
    },
  });
  const perPartition = (name: string, help: string, value: (entry: PartitionPosition) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const entry of sources.progress()) this.set({ topic: entry.topic, partition: entry.partition }, value(entry));
      },
    });
  perPartition('gw_partition_lag', 'Records in the topic not yet applied, per assigned partition.', (entry) => entry.lag);
  perPartition('gw_partition_next_offset', 'Next offset to apply, per assigned partition.', (entry) => Number(entry.nextOffset ?? 0));
  perPartition('gw_partition_end_offset', "The topic's end offset as last read, per assigned partition.", (entry) => Number(entry.endOffset));
  perPartition('gw_partition_restoring', 'Assigned partitions still restoring: 1 while further behind than READY_MAX_LAG.', (entry) =>
    sources.restoring(entry.topic, entry.partition) ? 1 : 0,
  );

  // Store and memory.
  total(
    'gw_store_read_round_trips_total',
    'Store reads (row fetches, and range readers opened or positioned again).',
    () => sources.store.roundTrips,
  );
  total('gw_store_entries_read_total', 'Keys and index entries read from the store (queries and ingest).', () => sources.store.entriesRead);
  total(
    'gw_changelog_tombstones_trimmed_total',
    'Change-log tombstone markers removed after TOMBSTONE_RETENTION_MS.',
    () => sources.tombstonesTrimmed?.() ?? 0,
  );
  new Counter({
    name: 'gw_response_cache_total',
    help: 'Fast-path answers: sent from the response cache (hit), dropped on use because a partition they read moved on (stale), kept (stored).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const stats = sources.responses?.stats ?? { hits: 0, stale: 0, stored: 0 };
      this.inc({ outcome: 'hit' }, stats.hits);
      this.inc({ outcome: 'stale' }, stats.stale);
      this.inc({ outcome: 'stored' }, stats.stored);
    },
  });
  new Gauge({
    name: 'gw_response_cache_bytes',
    help: 'Bytes the response cache holds (keys, answers and a fixed overhead per entry).',
    registers: [registry],
    collect() {
      this.set(sources.responses?.size ?? 0);
    },
  });
  new Gauge({
    name: 'gw_read_workers',
    help: 'Read worker threads running and ready to take queries (READ_WORKERS of them when all are up).',
    registers: [registry],
    collect() {
      this.set(sources.readWorkers?.() ?? 0);
    },
  });
  new Gauge({
    name: 'gw_store_memory_bytes',
    help: 'Memory RocksDB reports: memtables, table readers (indexes, filters), block cache.',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [kind, bytes] of Object.entries(sources.storeMemory?.() ?? {})) if (bytes !== undefined) this.set({ kind }, bytes);
    },
  });
  new Gauge({
    name: 'gw_process_memory_bytes',
    help: 'Memory of this process: rss, V8 heap used and total, external (incl. Buffers).',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const usage = process.memoryUsage();
      this.set({ kind: 'rss' }, usage.rss);
      this.set({ kind: 'heap_used' }, usage.heapUsed);
      this.set({ kind: 'heap_total' }, usage.heapTotal);
      this.set({ kind: 'external' }, usage.external);
    },
  });
  new Gauge({
    name: 'gw_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape: quantiles 0.5 and 0.99, and 1 for the maximum.',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      this.reset();
      const delay = sources.eventLoopDelay;
      if (!delay || delay.count === 0) return;
      // How long callbacks (queries, ingest slices, peer calls) waited for the thread since the
      // last scrape: the p99 and max say how long a query could have queued behind other work.
      for (const q of [0.5, 0.99, 1]) this.set({ quantile: String(q) }, (q === 1 ? delay.max : delay.percentile(q * 100)) / 1e9);
      delay.reset();
    },
  });

  return {
    registry,
    plugins: [prometheusPlugin, operationsPlugin, answeredErrorsPlugin],
    render: () => registry.metrics(),
    get contentType() {
      return registry.contentType;
    },
    peerCall(peer, op, seconds, errorCode) {
      peerDuration.observe({ peer, op }, seconds);
      if (errorCode !== undefined) peerErrors.inc({ peer, code: errorCode });
    },
    rebalanced(assigned, revoked) {
      rebalances.inc();
      if (assigned > 0) moved.inc({ direction: 'assigned' }, assigned);
      if (revoked > 0) moved.inc({ direction: 'revoked' }, revoked);
    },
    clientErrors,
    operation(document, name, context, seconds) {
      const labels = operationLabels(document, name, context);
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
    fastPath(outcome) {
      fastPathRequests.inc({ outcome });
    },
    readWorker(outcome) {
      readWorkerTasks.inc({ outcome });
    },
  };
}
