/** Prometheus text exposition of the instance's counters and per-partition lag. */
import type { Histogram } from 'node:perf_hooks';
import type { ReadStats } from '../store/rocks.ts';

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

export interface MetricsInput {
  readonly ingest: IngestTotals;
  readonly progress: readonly PartitionPosition[];
  /** Partitions waiting for the dead-letter topic. */
  readonly stalled: ReadonlyArray<{ readonly topic: string; readonly partition: number }>;
  readonly store: ReadStats;
  /** RocksDB memory by kind (memtables, table readers, block cache), in bytes, where known. */
  readonly storeMemory?: Readonly<Record<string, number | undefined>>;
  /** Event-loop delay since the previous scrape; reset by each render. */
  readonly eventLoopDelay?: Histogram;
  /** Change-log tombstone markers removed since start. */
  readonly tombstonesTrimmed?: number;
}

export function renderMetrics(input: MetricsInput): string {
  const lines = [
    '# HELP gw_ingest_records_total Records consumed from view topics (applied or dead-lettered).',
    '# TYPE gw_ingest_records_total counter',
    `gw_ingest_records_total ${input.ingest.records}`,
    '# HELP gw_ingest_applied_total Valid records applied to the store.',
    '# TYPE gw_ingest_applied_total counter',
    `gw_ingest_applied_total ${input.ingest.applied}`,
    '# HELP gw_dead_letter_total Records sent to the dead-letter topic.',
    '# TYPE gw_dead_letter_total counter',
    `gw_dead_letter_total ${input.ingest.deadLettered}`,
    '# HELP gw_dead_letter_by_code_total Records sent to the dead-letter topic, by error code.',
    '# TYPE gw_dead_letter_by_code_total counter',
    ...Object.entries(input.ingest.deadLetteredByCode).map(([code, count]) => `gw_dead_letter_by_code_total{code="${code}"} ${count}`),
    '# HELP gw_ingest_stalls_total Times a partition was paused because the dead-letter topic refused writes.',
    '# TYPE gw_ingest_stalls_total counter',
    `gw_ingest_stalls_total ${input.ingest.stalls}`,
    '# HELP gw_partition_stalled Partitions waiting because the dead-letter topic refuses writes (1 while waiting).',
    '# TYPE gw_partition_stalled gauge',
    ...input.stalled.map((entry) => `gw_partition_stalled{topic="${entry.topic}",partition="${entry.partition}"} 1`),
    '# HELP gw_ingest_consumer_restarts_total Consumers restarted after a crash.',
    '# TYPE gw_ingest_consumer_restarts_total counter',
    `gw_ingest_consumer_restarts_total ${input.ingest.consumerRestarts}`,
    '# HELP gw_store_read_round_trips_total Store reads (row fetches and range readers opened).',
    '# TYPE gw_store_read_round_trips_total counter',
    `gw_store_read_round_trips_total ${input.store.roundTrips}`,
    '# HELP gw_store_entries_read_total Keys and index entries read from the store (queries and ingest).',
    '# TYPE gw_store_entries_read_total counter',
    `gw_store_entries_read_total ${input.store.entriesRead}`,
    '# HELP gw_partition_lag Records in the topic not yet applied, per assigned partition.',
    '# TYPE gw_partition_lag gauge',
    ...input.progress.map((entry) => `gw_partition_lag{topic="${entry.topic}",partition="${entry.partition}"} ${entry.lag}`),
    '# HELP gw_partition_next_offset Next offset to apply, per assigned partition.',
    '# TYPE gw_partition_next_offset gauge',
    ...input.progress.map(
      (entry) => `gw_partition_next_offset{topic="${entry.topic}",partition="${entry.partition}"} ${entry.nextOffset ?? 0}`,
    ),
    '# HELP gw_process_memory_bytes Memory of this process: rss, V8 heap used and total, external (incl. Buffers).',
    '# TYPE gw_process_memory_bytes gauge',
    ...Object.entries(processMemory()).map(([kind, bytes]) => `gw_process_memory_bytes{kind="${kind}"} ${bytes}`),
    '# HELP gw_store_memory_bytes Memory RocksDB reports: memtables, table readers (indexes, filters), block cache.',
    '# TYPE gw_store_memory_bytes gauge',
    ...Object.entries(input.storeMemory ?? {})
      .filter((entry): entry is [string, number] => entry[1] !== undefined)
      .map(([kind, bytes]) => `gw_store_memory_bytes{kind="${kind}"} ${bytes}`),
    '# HELP gw_changelog_tombstones_trimmed_total Change-log tombstone markers removed after TOMBSTONE_RETENTION_MS.',
    '# TYPE gw_changelog_tombstones_trimmed_total counter',
    `gw_changelog_tombstones_trimmed_total ${input.tombstonesTrimmed ?? 0}`,
  ];
  const delay = input.eventLoopDelay;
  if (delay && delay.count > 0) {
    // How long callbacks (queries, ingest slices, peer calls) waited for the thread since the last
    // scrape: the p99 and max say how long a query could have queued behind other work.
    lines.push(
      '# HELP gw_event_loop_delay_seconds Event-loop delay since the previous scrape (quantiles; 1 is the maximum).',
      '# TYPE gw_event_loop_delay_seconds summary',
      ...[0.5, 0.99, 1].map((q) => `gw_event_loop_delay_seconds{quantile="${q}"} ${(q === 1 ? delay.max : delay.percentile(q * 100)) / 1e9}`),
    );
    delay.reset();
  }
  return `${lines.join('\n')}\n`;
}

function processMemory(): Record<string, number> {
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap_used: usage.heapUsed, heap_total: usage.heapTotal, external: usage.external };
}
