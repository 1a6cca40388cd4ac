/**
 * Turns the measurements into the report's rows: each figure with its same-run baseline, the
 * ratio, and the target from the issue with met / not met. Targets are reported, never enforced.
 */
import type { LoadResult } from './http-load.ts';
import type { IngestResult, KcatResult } from './ingest.ts';
import type { PrefillResult } from './prefill.ts';
import type { ProfileResult } from './profile.ts';
import { format, type Machine, type Row } from './report.ts';
import type { BenchSettings } from './settings.ts';

export const TARGETS = {
  ingestRecordsPerSecond: 100_000,
  rssMegabytes: 400,
  lookupQpsRatio: 1,
  gridP99Ms: 20,
} as const;

export interface RowInput {
  readonly settings: BenchSettings;
  readonly host: Machine;
  readonly prefill: PrefillResult;
  readonly kcat: KcatResult;
  readonly gateway: {
    readonly ingest: IngestResult;
    readonly lookup: LoadResult;
    readonly grid: LoadResult;
    readonly gridSingle: LoadResult;
    readonly rssAfterLoadBytes: number;
  };
  readonly baselineLookup: LoadResult;
  readonly profile: ProfileResult | undefined;
}

const MB = 1e6;

export function buildRows(input: RowInput): { rows: Row[]; notes: string[]; appendix: string[] } {
  const { settings, host, prefill, kcat, gateway, baselineLookup: base, profile } = input;
  const { ingest, lookup, grid, gridSingle } = gateway;
  const c = `${settings.connections} conns`;
  const rows: Row[] = [
    { figure: 'Pre-fill produce (kcat -P, not a figure of merit)', value: prefill.total / (prefill.ms / 1000), unit: 'rec/s', note: `${format(prefill.ms / 1000)} s` },
    {
      figure: 'Ingest, spawn to caught up',
      value: ingest.recordsPerSecond,
      unit: 'rec/s',
      baseline: kcat.recordsPerSecond,
      ratio: ingest.recordsPerSecond / kcat.recordsPerSecond,
      target: `>= ${format(TARGETS.ingestRecordsPerSecond)} rec/s`,
      met: ingest.recordsPerSecond >= TARGETS.ingestRecordsPerSecond,
    },
    { figure: 'Ingest time, spawn to caught up', value: ingest.ms / 1000, unit: 's', baseline: kcat.ms / 1000, ratio: kcat.ms / ingest.ms },
    { figure: 'Ingest, first record to caught up', value: ingest.steadyRecordsPerSecond, unit: 'rec/s', baseline: kcat.recordsPerSecond, ratio: ingest.steadyRecordsPerSecond / kcat.recordsPerSecond },
    {
      figure: 'RSS once caught up (VmRSS)',
      value: ingest.rssBytes / MB,
      unit: 'MB',
      target: `<= ${TARGETS.rssMegabytes} MB`,
      met: ingest.rssBytes / MB <= TARGETS.rssMegabytes,
    },
    { figure: 'Peak RSS during ingest (VmHWM)', value: ingest.peakRssBytes / MB, unit: 'MB' },
    { figure: 'RSS after the HTTP runs', value: gateway.rssAfterLoadBytes / MB, unit: 'MB' },
    {
      figure: `Lookup order(orderId) QPS, ${c}`,
      value: lookup.qps,
      unit: 'req/s',
      baseline: base.qps,
      ratio: lookup.qps / base.qps,
      target: `>= ${TARGETS.lookupQpsRatio}x baseline`,
      met: lookup.qps / base.qps >= TARGETS.lookupQpsRatio,
    },
    { figure: `Lookup p50, ${c}`, value: lookup.p50Ms, unit: 'ms', baseline: base.p50Ms, ratio: base.p50Ms / lookup.p50Ms },
    { figure: `Lookup p99, ${c}`, value: lookup.p99Ms, unit: 'ms', baseline: base.p99Ms, ratio: base.p99Ms / lookup.p99Ms },
    { figure: `Grid page QPS, ${c}`, value: grid.qps, unit: 'req/s' },
    { figure: `Grid page p50, ${c}`, value: grid.p50Ms, unit: 'ms' },
    {
      figure: `Grid page p99, ${c}`,
      value: grid.p99Ms,
      unit: 'ms',
      target: `<= ${TARGETS.gridP99Ms} ms`,
      met: grid.p99Ms <= TARGETS.gridP99Ms,
    },
    { figure: 'Grid page QPS, 1 client', value: gridSingle.qps, unit: 'req/s' },
    { figure: 'Grid page p50, 1 client', value: gridSingle.p50Ms, unit: 'ms' },
    {
      figure: 'Grid page p99, 1 client',
      value: gridSingle.p99Ms,
      unit: 'ms',
      target: `<= ${TARGETS.gridP99Ms} ms`,
      met: gridSingle.p99Ms <= TARGETS.gridP99Ms,
    },
  ];

  const notes: string[] = [];
  const runs: Array<[string, LoadResult]> = [
    ['gateway lookup', lookup],
    ['baseline lookup', base],
    ['gateway grid', grid],
    ['gateway grid (1 client)', gridSingle],
  ];
  for (const [name, run] of runs) {
    if (run.failed > 0) notes.push(`${name}: ${run.failed} of ${run.requests} responses failed (not 200, errors, or empty)`);
  }
  if (host.loadAverageAtStart > host.nproc / 2) {
    notes.push(`the machine was busy at start (load average ${host.loadAverageAtStart} on ${host.nproc} cores): figures are pessimistic`);
  }
  notes.push(`ingest: HTTP up ${format(ingest.httpUpMs / 1000)} s and first record ${format(ingest.firstRecordMs / 1000)} s after spawn`);
  notes.push(`baseline lookup server holds ${format(prefill.sampleOrders.length)} orders; the wrk script draws from ${format(prefill.lookupIds.length)} ids`);
  notes.push('wrk latencies are per request from send to last byte; with 32 clients on 2 cores they include queueing');

  const appendix: string[] = [];
  if (profile) {
    appendix.push(
      `CPU profile of a second, profiled ingest (${format(profile.recordsPerSecond)} rec/s under the profiler, ` +
        `${format(profile.totalMs / 1000)} s sampled; ${profile.file}), top self time:`,
    );
    for (const hot of profile.top) {
      appendix.push(`  ${format(hot.percent).padStart(6)} %  ${format(hot.selfMs).padStart(9)} ms  ${hot.fn}  ${hot.location}`);
    }
  }
  return { rows, notes, appendix };
}
