/**
 * Turns the measurements into the report's rows: each figure with its same-run baseline, the
 * ratio, and the target (listed in BENCHMARKS.md) with met / not met. Targets are reported, never enforced.
 * HTTP figures are medians over the rounds.
 */
import { REQUEST_TIMEOUT_SECONDS, type LoadSummary } from './http-load.ts';
import type { IngestResult, KcatResult, StallSummary } from './ingest.ts';
import type { Stall } from './stall-monitor.ts';
import type { FloorResult } from './ingest-floor.ts';
import type { KafkaStreamsFigures, KafkaStreamsResult } from './kafka-streams.ts';
import type { Contest, GridFigures, LiveGridFigures, LookupFigures } from './phases.ts';
import type { PrefillResult } from './prefill.ts';
import type { ProfileResult } from './profile.ts';
import { format, type Machine, type Row } from './report.ts';
import type { BenchSettings } from './settings.ts';

export const TARGETS = {
  ingestRecordsPerSecond: 100_000,
  rssMegabytes: 400,
  /** Lookups with variables, hot ids: QPS against stock yoga over a Map. */
  lookupQpsRatio: 1,
  /** Lookups with variables, ids from the whole data set: QPS against stock yoga holding every order. */
  lookupWholeQpsRatio: 3,
  /** Gateway catch-up records/s over Kafka Streams KTables' on the same topics. */
  kafkaStreamsRatio: 1,
  gridP99Ms: 20,
  ingestLoopDelayMs: 50,
  /** Grid pages without totalCount, 1 and 32 clients: QPS against PostGraphile (and p99 no higher than its). */
  gridPostgraphileQpsRatio: 3,
  /** Lookups with the id in the query text: QPS against PostGraphile's, and at most this many times slower than with variables. */
  documentsPostgraphileQpsRatio: 2,
  documentsWithinVariables: 3,
} as const;

/** What the report says about the PostgreSQL baseline. */
export interface PostgresBaseline {
  readonly version: string;
  readonly settings: Readonly<Record<string, string>>;
  readonly loadMs: number;
  readonly rows: Readonly<Record<string, number>>;
  readonly pool: number;
}

export interface RowInput {
  readonly settings: BenchSettings;
  readonly host: Machine;
  readonly prefill: PrefillResult;
  readonly kcat: KcatResult;
  /** Undefined with BENCH_KAFKA_STREAMS=0. */
  readonly kafkaStreams: KafkaStreamsResult | undefined;
  /** Undefined with BENCH_INGEST_FLOOR=0. */
  readonly floor?: FloorResult;
  readonly ingest: IngestResult;
  /** Undefined when the stall monitor wrote nothing (not Linux). */
  readonly stalls?: StallSummary;
  readonly lookup: LookupFigures;
  readonly grid: GridFigures;
  /** Undefined with BENCH_LIVE_UPDATES=0. */
  readonly liveGrid?: LiveGridFigures | undefined;
  readonly postgres: PostgresBaseline | undefined;
  readonly rssAfterLoadBytes: number;
  /** The gateway's own memory figures after the HTTP runs, bytes by kind (heap_used, heap_total, external, memtables, table_readers, block_cache). */
  readonly memoryAfterLoad?: Readonly<Record<string, number>>;
  /** RSS `settledSeconds` after catch-up, with no load in between. */
  readonly settledRssBytes: number;
  readonly settledSeconds: number;
  readonly profile: { readonly ingest: ProfileResult; readonly grid: ProfileResult } | undefined;
}

const MB = 1e6;

/** `; V8 heap 171 MB (133 used), external 38 MB, ...` from the gateway's memory figures. */
function memoryNote(memory: Readonly<Record<string, number>> | undefined): string {
  if (!memory || memory.heap_total === undefined) return '';
  const mb = (bytes: number | undefined) => `${Math.round((bytes ?? 0) / MB)} MB`;
  return (
    `; V8 heap ${mb(memory.heap_total)} (${mb(memory.heap_used)} used), external ${mb(memory.external)}, ` +
    `memtables ${mb(memory.memtables)}, table readers ${mb(memory.table_readers)}, block cache ${mb(memory.block_cache)}`
  );
}

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
  if (run.cacheHits !== undefined) {
    notes.push(`${name}: ${run.cacheHits.toLocaleString('en-US')} of ${run.requests.toLocaleString('en-US')} answers from the response cache`);
  }
  if (run.workerAnswers !== undefined) {
    notes.push(`${name}: ${run.workerAnswers.toLocaleString('en-US')} of ${run.requests.toLocaleString('en-US')} answers from the read workers`);
  }
  if (run.maxIdleWaitMs > 5000) {
    notes.push(`${name}: the server needed up to ${format(run.maxIdleWaitMs / 1000)} s to finish work queued by the previous round`);
  }
  return notes;
}

/**
 * The ingest floor (ingest-floor.ts) against the 1-thread KTable: how fast the gateway's own
 * decoding and store writes go with no Kafka at all, with every index and with rows only.
 */
function floorRows({ floor, kafkaStreams, ingest }: RowInput): Row[] {
  const kTable = kafkaStreams?.variants.find((variant) => variant.threads === 1 && variant.guarantee === 'at_least_once');
  const versus = (recordsPerSecond: number) =>
    kTable ? { baseline: kTable.recordsPerSecond, ratio: recordsPerSecond / kTable.recordsPerSecond } : {};
  const rows: Row[] = [];
  for (const variant of floor?.variants ?? []) {
    const what = variant.name === 'indexed' ? 'every index' : 'rows only, no index';
    const cpu = `main thread ${format(variant.mainThreadCpuSeconds)} s, process ${format(variant.processCpuSeconds)} s of CPU`;
    rows.push({
      figure: `Ingest floor: store writes alone, ${what}, vs KTable (1 thread)`,
      value: variant.writesPerSecond,
      unit: 'rec/s',
      ...versus(variant.writesPerSecond),
      note: `no Kafka, no decoding; ${cpu}; the gateway's catch-up is ${format(ingest.recordsPerSecond / variant.writesPerSecond)}x this`,
    });
    rows.push({
      figure: `Ingest floor: decoding and store writes, ${what}, vs KTable (1 thread)`,
      value: variant.decodeAndWritePerSecond,
      unit: 'rec/s',
      ...versus(variant.decodeAndWritePerSecond),
      note: `no Kafka; ${floor!.slice} records per atomic write`,
    });
  }
  return rows;
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

/**
 * `61 ms late: main thread 18 ms on the CPU (2 ms in the kernel, 40 page faults), 40 ms waiting
 * for a core, 8 ms neither; GC pauses 6 ms`
 */
function stallSplit(stall: Stall): string {
  return (
    `${format(stall.delayMs)} ms late: main thread ${format(stall.cpuMs)} ms on the CPU ` +
    `(${format(stall.systemMs)} ms in the kernel, ${stall.minorFaults + stall.majorFaults} page faults), ` +
    `${format(stall.waitMs)} ms waiting for a core, ${format(stall.blockedMs)} ms neither; GC pauses ${format(stall.gcMs)} ms`
  );
}

/** The longest stalls of the catch-up, split by the kernel's account (stall-monitor.ts). */
function stallRows(stalls: StallSummary | undefined): Row[] {
  if (!stalls) return [];
  const rows: Row[] = [
    {
      figure: 'Event-loop stalls over 50 ms during ingest',
      value: stalls.over50,
      unit: 'stalls',
      note: stalls.longest
        ? `${stalls.over50OnCpu} of them with over 50 ms of the main thread's own CPU time (stall-monitor.ts, 5 ms ticks)`
        : 'none over 20 ms either (stall-monitor.ts, 5 ms ticks)',
    },
  ];
  if (stalls.longest) {
    rows.push({
      figure: 'Longest stall during ingest, by where the time went',
      value: stalls.longest.delayMs,
      unit: 'ms',
      note: stallSplit(stalls.longest),
    });
  }
  if (stalls.host) {
    const { stalls: hosts, longestOwn } = stalls.host;
    rows.push({
      figure: 'Stalls over 40 ms during ingest in which the host held the core',
      value: hosts.length,
      unit: 'stalls',
      note:
        hosts.length === 0
          ? 'every stall over 40 ms had the perf samples its CPU time gives (host-pauses.ts)'
          : hosts
              .slice(0, 3)
              .map(
                (entry) =>
                  `${format(entry.stall.delayMs)} ms late: ${entry.samples} of ${entry.expected} samples, ${format(entry.longestGapMs)} ms without one`,
              )
              .join('; ') + ' (host-pauses.ts: the vCPU was away, the guest charged the time to the thread)',
    });
    if (longestOwn && longestOwn !== stalls.longest) {
      rows.push({
        figure: 'Longest stall during ingest the host did not cause',
        value: longestOwn.delayMs,
        unit: 'ms',
        note: stallSplit(longestOwn),
      });
    }
  }
  if (stalls.mostCpu) {
    rows.push({
      figure: 'Most main-thread CPU within one stall during ingest',
      value: stalls.mostCpu.cpuMs,
      unit: 'ms',
      note: `what the gateway's own work blocked the loop for at most; ${stallSplit(stalls.mostCpu)}`,
    });
  }
  return rows;
}

export function buildRows(input: RowInput): { rows: Row[]; notes: string[]; appendix: string[] } {
  const { settings, host, prefill, kcat, ingest, profile } = input;
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
    ...floorRows(input),
    { figure: 'Slowest /metrics answer during ingest', value: ingest.slowestMetricsMs, unit: 'ms', note: 'event loop blocked by ingest' },
    {
      figure: 'Max event-loop delay during ingest',
      value: ingest.maxEventLoopDelayMs,
      unit: 'ms',
      target: `<= ${TARGETS.ingestLoopDelayMs} ms`,
      met: ingest.maxEventLoopDelayMs <= TARGETS.ingestLoopDelayMs,
      note: 'gw_event_loop_delay_seconds max, first record to caught up; includes GC, time other processes had the core and time the host had the vCPU',
    },
    ...stallRows(input.stalls),
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
    {
      figure: 'RSS after the HTTP runs',
      value: input.rssAfterLoadBytes / MB,
      unit: 'MB',
      target: `<= ${TARGETS.rssMegabytes} MB`,
      met: input.rssAfterLoadBytes / MB <= TARGETS.rssMegabytes,
      note: `every lookup, new-document and grid round done${memoryNote(input.memoryAfterLoad)}`,
    },
    ...lookupRows(input.lookup, c),
    ...gridRows(input.grid, c),
    ...liveGridRows(input.grid, input.liveGrid, c),
  ];

  const contests: Array<[string, Contest | undefined]> = [
    ['lookup, hot ids', input.lookup.hot],
    ['lookup, all ids', input.lookup.whole],
    ['lookup, id in the text', input.lookup.documents],
    ['grid with totalCount, 1 client', input.grid.countedSingle],
    [`grid with totalCount, ${c}`, input.grid.countedConcurrent],
    ['grid without totalCount, 1 client', input.grid.plainSingle],
    [`grid without totalCount, ${c}`, input.grid.plainConcurrent],
    ['grid without totalCount, 1 client, response cache', input.grid.keptSingle],
    [`grid without totalCount, ${c}, response cache`, input.grid.keptConcurrent],
    ...(input.liveGrid
      ? ([
          [`grid without totalCount, 1 client, ${input.liveGrid.rate} order updates/s arriving`, input.liveGrid.single],
          [`grid without totalCount, ${c}, ${input.liveGrid.rate} order updates/s arriving`, input.liveGrid.concurrent],
        ] satisfies Array<[string, Contest]>)
      : []),
  ];
  const notes: string[] = contests.flatMap(([name, figures]) =>
    Object.entries(figures ?? {}).flatMap(([server, run]) => (run ? httpNotes(`${server} ${name}`, run) : [])),
  );
  if (host.loadAverageAtStart > host.nproc / 2 || (host.cpuPressureAtStart ?? 0) > 20) {
    notes.push(
      `the machine was busy at start (load average ${host.loadAverageAtStart} on ${host.nproc} cores, ` +
        `CPU pressure ${host.cpuPressureAtStart ?? '-'} %): figures are pessimistic`,
    );
  }
  notes.push(
    `HTTP figures are medians of ${settings.rounds} rounds of ${settings.durationSeconds} s; kcat is the median of ${settings.rounds} rounds`,
    'grid rows without "response cache" send Cache-Control: no-cache, so the gateway reads every page from its store; ' +
      'rows with it leave the response cache on, and no record arrives during the HTTP rounds',
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
  const { lookup } = input;
  notes.push(
    `stock yoga holds ${format(lookup.yogaOrders)} orders (up in ${format(lookup.yogaStartMs / 1000)} s, RSS ${format(lookup.yogaRssBytes / MB)} MB after its runs); ` +
      `the hot lookups draw from ${format(lookup.hotIds)} ids${lookup.whole ? `, the others from all ${format(lookup.wholeIds)}` : ''}`,
  );
  if (input.postgres) {
    const pg = input.postgres;
    notes.push(
      `PostgreSQL ${pg.version} (${Object.entries(pg.rows)
        .map(([table, rows]) => `${format(rows)} ${table}`)
        .join(', ')}, loaded in ${format(pg.loadMs / 1000)} s), shared_buffers ${pg.settings.shared_buffers}, ` +
        `fsync and synchronous_commit ${pg.settings.fsync}; PostGraphile v5 amber preset, pool of ${pg.pool}`,
    );
  } else {
    notes.push('BENCH_POSTGRES=0: no PostgreSQL/PostGraphile baseline and no whole-data-set lookups');
  }
  notes.push(
    `wrk counts a request from send to last byte and drops requests still in flight when a round ends; with ${settings.connections} clients ` +
      'on 2 cores latencies include queueing, and with pages slower than the round QPS and p50 are optimistic',
  );

  const appendix: string[] = ['Grid variants, one request each on the idle servers before the load (the scripts rotate through them):'];
  for (const variant of input.grid.variants) {
    const count = variant.totalCount < 0 ? '' : `totalCount ${format(variant.totalCount)}, `;
    appendix.push(
      `  ${format(variant.ms, 'ms').padStart(10)}  ${variant.server.padEnd(12)} ${variant.name.padEnd(62)} ${count}${format(variant.bytes / 1000)} kB`,
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

type Metric = 'qps' | 'p50Ms' | 'p99Ms';

/**
 * One row comparing a server with a baseline on one metric (ratio > 1 means the gateway is
 * better: QPS divided, latencies inverted), with the per-round spread of the QPS ratio.
 */
function versus(
  figure: string,
  value: LoadSummary | undefined,
  baseline: LoadSummary | undefined,
  metric: Metric,
  target?: { readonly text: string; readonly met: (value: LoadSummary, baseline: LoadSummary) => boolean },
): Row[] {
  if (!value) return [];
  const unit = metric === 'qps' ? 'req/s' : 'ms';
  if (!baseline) return [{ figure, value: value[metric], unit }];
  const ratio = metric === 'qps' ? value.qps / baseline.qps : baseline[metric] / value[metric];
  const rounds = value.runs.map((run, i) => run.qps / (baseline.runs[i]?.qps ?? Number.NaN));
  return [
    {
      figure,
      value: value[metric],
      unit,
      baseline: baseline[metric],
      ratio,
      target: target?.text,
      met: target ? value.failed === 0 && target.met(value, baseline) : undefined,
      note: metric === 'qps' ? range(rounds, 'x') : undefined,
    },
  ];
}

const qpsAtLeast = (ratio: number, of: string) => ({
  text: `>= ${ratio}x ${of}`,
  met: (value: LoadSummary, baseline: LoadSummary) => value.qps / baseline.qps >= ratio,
});

/** Lookups: hot ids against yoga and PostGraphile, every id against both, then new documents. */
function lookupRows(lookup: LookupFigures, c: string): Row[] {
  const { hot, whole, documents } = lookup;
  const variables = whole ?? hot;
  return [
    ...versus(`Lookup order(orderId) QPS, ${c}, hot ids, vs yoga`, hot.gateway, hot.yoga, 'qps', qpsAtLeast(TARGETS.lookupQpsRatio, 'yoga')),
    ...versus(`Lookup p50, ${c}, hot ids, vs yoga`, hot.gateway, hot.yoga, 'p50Ms'),
    ...versus(`Lookup p99, ${c}, hot ids, vs yoga`, hot.gateway, hot.yoga, 'p99Ms'),
    ...versus(`Lookup QPS, ${c}, hot ids, vs PostGraphile`, hot.gateway, hot.postgraphile, 'qps'),
    ...versus(`Lookup QPS, ${c}, all ids, vs yoga`, whole?.gateway, whole?.yoga, 'qps', qpsAtLeast(TARGETS.lookupWholeQpsRatio, 'yoga')),
    ...versus(`Lookup p99, ${c}, all ids, vs yoga`, whole?.gateway, whole?.yoga, 'p99Ms'),
    ...versus(`Lookup QPS, ${c}, all ids, vs PostGraphile`, whole?.gateway, whole?.postgraphile, 'qps'),
    ...versus(`Lookup p99, ${c}, all ids, vs PostGraphile`, whole?.gateway, whole?.postgraphile, 'p99Ms'),
    ...versus(`Lookup QPS, ${c}, all ids, vs bare node:http (1 thread)`, whole?.gateway, whole?.floor, 'qps'),
    ...versus(`Lookup QPS, ${c}, all ids, vs bare node:http (2 threads)`, whole?.gateway, whole?.floor2, 'qps'),
    ...versus(`Lookup QPS, ${c}, all ids, yoga vs bare node:http (1 thread)`, whole?.yoga, whole?.floor, 'qps'),
    ...versus(
      `Lookup, id in the query text, QPS, ${c}, vs PostGraphile`,
      documents.gateway,
      documents.postgraphile,
      'qps',
      qpsAtLeast(TARGETS.documentsPostgraphileQpsRatio, 'PostGraphile'),
    ),
    ...versus(`Lookup, id in the query text, QPS, ${c}, vs yoga`, documents.gateway, documents.yoga, 'qps'),
    ...versus(`Lookup, id in the query text, p99, ${c}, vs PostGraphile`, documents.gateway, documents.postgraphile, 'p99Ms'),
    ...versus(
      `Lookup, id in the query text, QPS, ${c}, vs with variables (${whole ? 'all' : 'hot'} ids)`,
      documents.gateway,
      variables.gateway,
      'qps',
      {
        text: `>= 1/${TARGETS.documentsWithinVariables} of variables`,
        met: (value, baseline) => value.qps * TARGETS.documentsWithinVariables >= baseline.qps,
      },
    ),
  ];
}

/** Grid pages: without totalCount (the main figure) against PostGraphile, then with totalCount. */
function gridRows(grid: GridFigures, c: string): Row[] {
  const p99NotAbove = {
    text: "<= PostGraphile's",
    met: (value: LoadSummary, baseline: LoadSummary) => value.p99Ms <= baseline.p99Ms,
  };
  const p99Within = {
    text: `<= ${TARGETS.gridP99Ms} ms`,
    met: (value: LoadSummary) => value.p99Ms <= TARGETS.gridP99Ms,
  };
  const { plainSingle, plainConcurrent, countedSingle, countedConcurrent, keptSingle, keptConcurrent } = grid;
  const rows: Row[] = [];
  for (const [clients, figures] of [
    ['1 client', plainSingle],
    [c, plainConcurrent],
  ] as const) {
    rows.push(
      ...versus(
        `Grid page QPS, ${clients}, no totalCount, vs PostGraphile`,
        figures.gateway,
        figures.postgraphile,
        'qps',
        figures.postgraphile ? qpsAtLeast(TARGETS.gridPostgraphileQpsRatio, 'PostGraphile') : undefined,
      ),
      ...versus(`Grid page p50, ${clients}, no totalCount`, figures.gateway, figures.postgraphile, 'p50Ms'),
      ...versus(
        `Grid page p99, ${clients}, no totalCount`,
        figures.gateway,
        figures.postgraphile,
        'p99Ms',
        figures.postgraphile ? p99NotAbove : undefined,
      ),
    );
  }
  // The same pages as the gateway serves them by default: repeats answered from its response
  // cache while the partitions they read are unchanged (no writes during the HTTP rounds).
  for (const [clients, figures] of [
    ['1 client', keptSingle],
    [c, keptConcurrent],
  ] as const) {
    rows.push(
      ...versus(`Grid page QPS, ${clients}, no totalCount, response cache, vs PostGraphile`, figures.gateway, figures.postgraphile, 'qps'),
      ...versus(`Grid page p99, ${clients}, no totalCount, response cache`, figures.gateway, figures.postgraphile, 'p99Ms'),
    );
  }
  rows.push(
    ...versus('Grid page QPS, 1 client, totalCount, vs PostGraphile', countedSingle.gateway, countedSingle.postgraphile, 'qps'),
    ...versus('Grid page p50, 1 client, totalCount', countedSingle.gateway, countedSingle.postgraphile, 'p50Ms'),
    ...versus('Grid page p99, 1 client, totalCount', countedSingle.gateway, countedSingle.postgraphile, 'p99Ms', p99Within),
    ...versus(`Grid page QPS, ${c}, totalCount`, countedConcurrent.gateway, undefined, 'qps'),
    ...versus(`Grid page p50, ${c}, totalCount`, countedConcurrent.gateway, undefined, 'p50Ms'),
    ...versus(`Grid page p99, ${c}, totalCount`, countedConcurrent.gateway, undefined, 'p99Ms', p99Within),
  );
  return rows;
}

/**
 * Grid pages read fresh while order updates arrive, against the same pages with nothing arriving
 * (the rows above): what a live grid keeps of its speed while its data changes.
 */
function liveGridRows(grid: GridFigures, live: LiveGridFigures | undefined, c: string): Row[] {
  if (!live) return [];
  const arriving = `${live.rate.toLocaleString('en-US')} order updates/s arriving`;
  const rows: Row[] = [];
  for (const [clients, figures, quiet] of [
    ['1 client', live.single, grid.plainSingle],
    [c, live.concurrent, grid.plainConcurrent],
  ] as const) {
    rows.push(
      ...versus(`Grid page QPS, ${clients}, no totalCount, ${arriving}, vs none arriving`, figures.gateway, quiet.gateway, 'qps'),
      ...versus(`Grid page p99, ${clients}, no totalCount, ${arriving}, vs none arriving`, figures.gateway, quiet.gateway, 'p99Ms'),
    );
  }
  return rows;
}
