/**
 * Turns the measurements into the report's rows: each figure with its same-run baseline, the
 * ratio, and the target (listed in BENCHMARKS.md) with met / not met. Targets are reported, never enforced.
 * HTTP figures are medians over the rounds.
 */
import { REQUEST_TIMEOUT_SECONDS, type LoadSummary } from './http-load.ts';
import type { IngestResult, KcatResult } from './ingest.ts';
import type { KafkaStreamsFigures, KafkaStreamsResult } from './kafka-streams.ts';
import type { GridFigures, LookupFigures } from './phases.ts';
import type { PrefillResult } from './prefill.ts';
import type { ProfileResult } from './profile.ts';
import { format, type Machine, type Row } from './report.ts';
import type { BenchSettings } from './settings.ts';

export const TARGETS = {
  ingestRecordsPerSecond: 100_000,
  rssMegabytes: 400,
  lookupQpsRatio: 1,
  /** Gateway catch-up records/s over Kafka Streams KTables' on the same topics. */
  kafkaStreamsRatio: 1,
  gridP99Ms: 20,
} as const;

export interface RowInput {
  readonly settings: BenchSettings;
  readonly host: Machine;
  readonly prefill: PrefillResult;
  readonly kcat: KcatResult;
  /** Undefined with BENCH_KAFKA_STREAMS=0. */
  readonly kafkaStreams: KafkaStreamsResult | undefined;
  readonly ingest: IngestResult;
  readonly lookup: LookupFigures;
  readonly grid: GridFigures;
  readonly rssAfterLoadBytes: number;
  /** RSS `settledSeconds` after catch-up, with no load in between. */
  readonly settledRssBytes: number;
  readonly settledSeconds: number;
  readonly profile: { readonly ingest: ProfileResult; readonly grid: ProfileResult } | undefined;
}

const MB = 1e6;

const range = (values: readonly number[], unit = ''): string =>
  values.length < 2 ? '' : `rounds ${format(Math.min(...values))}-${format(Math.max(...values))}${unit}`;

function httpNotes(name: string, run: LoadSummary): string[] {
  const notes: string[] = [];
  if (run.failed > 0) {
    notes.push(
      `${name}: ${run.failed} requests failed (not 200, errors, empty, or slower than ${REQUEST_TIMEOUT_SECONDS} s); ${run.requests} completed`,
    );
  }
  if (run.runs.some((one) => one.requests === 0)) notes.push(`${name}: a ${run.durationSeconds} s round completed no request`);
  if (run.maxIdleWaitMs > 5000) {
    notes.push(`${name}: the server needed up to ${format(run.maxIdleWaitMs / 1000)} s to finish work queued by the previous round`);
  }
  return notes;
}

/**
 * Gateway against Kafka Streams KTables: records/s (spawn to caught up for both) with the target
 * for the at_least_once variants, and CPU seconds over the same span.
 */
function kafkaStreamsRows({ ingest, kafkaStreams }: RowInput): Row[] {
  const rows: Row[] = [];
  const label = (variant: KafkaStreamsFigures): string =>
    `${variant.threads} thread${variant.threads === 1 ? '' : 's'}${variant.guarantee === 'at_least_once' ? '' : `, ${variant.guarantee}`}`;
  for (const variant of kafkaStreams?.variants ?? []) {
    const ratio = ingest.recordsPerSecond / variant.recordsPerSecond;
    const targeted = variant.guarantee === 'at_least_once';
    rows.push({
      figure: `Ingest vs Kafka Streams KTable (${label(variant)})`,
      value: ingest.recordsPerSecond,
      unit: 'rec/s',
      baseline: variant.recordsPerSecond,
      ratio,
      target: targeted ? `>= ${format(TARGETS.kafkaStreamsRatio)}x KTable` : undefined,
      met: targeted ? ratio >= TARGETS.kafkaStreamsRatio : undefined,
      note: [
        `KS ${format(variant.ms / 1000)} s`,
        range(
          variant.runs.map((run) => variant.records / (run.ms / 1000)),
          ' rec/s',
        ),
      ]
        .filter(Boolean)
        .join(', '),
    });
    rows.push({
      figure: `Ingest CPU vs Kafka Streams KTable (${label(variant)})`,
      value: ingest.cpuSeconds,
      unit: 's',
      baseline: variant.cpuSeconds,
      ratio: variant.cpuSeconds / ingest.cpuSeconds,
      note: `KS RSS ${format(variant.rssBytes / MB)} MB`,
    });
  }
  return rows;
}

export function buildRows(input: RowInput): { rows: Row[]; notes: string[]; appendix: string[] } {
  const { settings, host, prefill, kcat, ingest, profile } = input;
  const { gateway: lookup, baseline: base } = input.lookup;
  const { singleClient: single, concurrent: grid } = input.grid;
  const c = `${settings.connections} clients`;
  const rows: Row[] = [
    {
      figure: 'Pre-fill produce (kcat -P, not a figure of merit)',
      value: prefill.total / (prefill.ms / 1000),
      unit: 'rec/s',
      note: `${format(prefill.ms / 1000)} s`,
    },
    {
      figure: 'Ingest, spawn to caught up',
      value: ingest.recordsPerSecond,
      unit: 'rec/s',
      baseline: kcat.recordsPerSecond,
      ratio: ingest.recordsPerSecond / kcat.recordsPerSecond,
      target: `>= ${format(TARGETS.ingestRecordsPerSecond)} rec/s`,
      met: ingest.recordsPerSecond >= TARGETS.ingestRecordsPerSecond,
      note:
        kcat.roundsMs.length > 1
          ? `kcat ${range(
              kcat.roundsMs.map((ms) => kcat.records / (ms / 1000)),
              ' rec/s',
            )}`
          : undefined,
    },
    { figure: 'Ingest time, spawn to caught up', value: ingest.ms / 1000, unit: 's', baseline: kcat.ms / 1000, ratio: kcat.ms / ingest.ms },
    {
      figure: 'Ingest, first record to caught up',
      value: ingest.steadyRecordsPerSecond,
      unit: 'rec/s',
      baseline: kcat.recordsPerSecond,
      ratio: ingest.steadyRecordsPerSecond / kcat.recordsPerSecond,
    },
    ...kafkaStreamsRows(input),
    { figure: 'Slowest /metrics answer during ingest', value: ingest.slowestMetricsMs, unit: 'ms', note: 'event loop blocked by ingest' },
    {
      figure: 'RSS once caught up (VmRSS)',
      value: ingest.rssBytes / MB,
      unit: 'MB',
      target: `<= ${TARGETS.rssMegabytes} MB`,
      met: ingest.rssBytes / MB <= TARGETS.rssMegabytes,
      note: `anon ${format(ingest.rssAnonBytes / MB)} MB, file ${format(ingest.rssFileBytes / MB)} MB`,
    },
    {
      figure: `RSS ${input.settledSeconds} s after catch-up, idle`,
      value: input.settledRssBytes / MB,
      unit: 'MB',
      target: `<= ${TARGETS.rssMegabytes} MB`,
      met: input.settledRssBytes / MB <= TARGETS.rssMegabytes,
      note: 'flushes done, freed pages returned',
    },
    { figure: 'Peak RSS during ingest (VmHWM)', value: ingest.peakRssBytes / MB, unit: 'MB' },
    { figure: 'RSS after the HTTP runs', value: input.rssAfterLoadBytes / MB, unit: 'MB' },
    {
      figure: `Lookup order(orderId) QPS, ${c}`,
      value: lookup.qps,
      unit: 'req/s',
      baseline: base.qps,
      ratio: lookup.qps / base.qps,
      target: `>= ${TARGETS.lookupQpsRatio}x baseline`,
      met: lookup.failed === 0 && lookup.qps / base.qps >= TARGETS.lookupQpsRatio,
      note: range(input.lookup.qpsRatios, 'x'),
    },
    { figure: `Lookup p50, ${c}`, value: lookup.p50Ms, unit: 'ms', baseline: base.p50Ms, ratio: base.p50Ms / lookup.p50Ms },
    { figure: `Lookup p99, ${c}`, value: lookup.p99Ms, unit: 'ms', baseline: base.p99Ms, ratio: base.p99Ms / lookup.p99Ms },
    { figure: 'Grid page QPS, 1 client', value: single.qps, unit: 'req/s', note: `${single.requests} pages in all rounds` },
    { figure: 'Grid page p50, 1 client', value: single.p50Ms, unit: 'ms' },
    {
      figure: 'Grid page p99, 1 client',
      value: single.p99Ms,
      unit: 'ms',
      target: `<= ${TARGETS.gridP99Ms} ms`,
      met: single.failed === 0 && single.p99Ms <= TARGETS.gridP99Ms,
    },
    { figure: `Grid page QPS, ${c}`, value: grid.qps, unit: 'req/s', note: `${grid.requests} pages in all rounds` },
    { figure: `Grid page p50, ${c}`, value: grid.p50Ms, unit: 'ms' },
    {
      figure: `Grid page p99, ${c}`,
      value: grid.p99Ms,
      unit: 'ms',
      target: `<= ${TARGETS.gridP99Ms} ms`,
      met: grid.failed === 0 && grid.p99Ms <= TARGETS.gridP99Ms,
    },
  ];

  const notes: string[] = [
    ...httpNotes('gateway lookup', lookup),
    ...httpNotes('baseline lookup', base),
    ...httpNotes('grid, 1 client', single),
    ...httpNotes(`grid, ${c}`, grid),
  ];
  if (host.loadAverageAtStart > host.nproc / 2 || (host.cpuPressureAtStart ?? 0) > 20) {
    notes.push(
      `the machine was busy at start (load average ${host.loadAverageAtStart} on ${host.nproc} cores, ` +
        `CPU pressure ${host.cpuPressureAtStart ?? '-'} %): figures are pessimistic`,
    );
  }
  notes.push(
    `HTTP figures are medians of ${settings.rounds} rounds of ${settings.durationSeconds} s; kcat is the median of ${settings.rounds} rounds`,
  );
  if (input.kafkaStreams) {
    const ks = input.kafkaStreams;
    const first = ks.variants[0]?.runs[0];
    notes.push(
      `Kafka Streams ${ks.kafkaStreamsVersion} (RocksDB ${ks.rocksdbVersion}), ${ks.jvmFlags.join(' ')}: one KTable per topic, ` +
        `raw values, no JSON parse, no indexes; timed from spawning java` +
        (first
          ? ` (JVM to KafkaStreams.start ${format(first.jvmStartMs / 1000)} s, first record ${format(first.firstRecordMs / 1000)} s in round 1)`
          : ''),
    );
  }
  notes.push(`ingest: HTTP up ${format(ingest.httpUpMs / 1000)} s and first record ${format(ingest.firstRecordMs / 1000)} s after spawn`);
  notes.push(
    `baseline lookup server holds ${format(prefill.sampleOrders.length)} orders; the wrk script draws from ${format(prefill.lookupIds.length)} ids`,
  );
  notes.push(
    `wrk counts a request from send to last byte and drops requests still in flight when a round ends; with ${settings.connections} clients ` +
      'on 2 cores latencies include queueing, and with pages slower than the round QPS and p50 are optimistic',
  );

  const appendix: string[] = ['Grid variants, one request each on the idle gateway before the load (the script rotates through them):'];
  for (const variant of input.grid.variants) {
    appendix.push(
      `  ${format(variant.ms, 'ms').padStart(10)}  ${variant.name.padEnd(46)} totalCount ${format(variant.totalCount)}, ${format(variant.bytes / 1000)} kB`,
    );
  }
  appendix.push('');
  for (const [name, result] of Object.entries(profile ?? {})) {
    appendix.push(
      `CPU profile, ${name} (${format(result.rate)} ${result.rateUnit} under the profiler, ` +
        `${format(result.totalMs / 1000)} s sampled; ${result.file}), top self time:`,
    );
    for (const hot of result.top) {
      appendix.push(`  ${format(hot.percent).padStart(6)} %  ${format(hot.selfMs).padStart(9)} ms  ${hot.fn}  ${hot.location}`);
    }
    appendix.push('');
  }
  return { rows, notes, appendix };
}
