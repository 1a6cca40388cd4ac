/**
 * Ingest figures.
 *
 * - Baseline: `kcat -C … -o beginning -e -q -f '%k\t%s\n' > /dev/null` over the three topics, one
 *   after the other: what it costs just to fetch and print every record on this machine (median
 *   of BENCH_ROUNDS rounds).
 * - Gateway: from spawning `node src/main.ts` (fresh data dir, new group) until /metrics shows
 *   every partition's next offset at the topic's end offset; records/s counts
 *   `gw_ingest_records_total` over that time. Memory and CPU time (utime + stime) are read from
 *   /proc right then.
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { exited, spawnTracked } from './cleanup.ts';
import { topicName } from './prefill.ts';
import { median } from './http-load.ts';
import { cpuMs, logTail, memoryOf, type ServerProcess } from './servers.ts';
import { TOPICS } from './settings.ts';
import type { SampledStall } from './host-pauses.ts';
import type { Stall, StallReport } from './stall-monitor.ts';

export type EndOffsets = ReadonlyMap<string, ReadonlyMap<number, bigint>>;

export interface KcatResult {
  readonly records: number;
  /** Median over the rounds of the time to read all three topics. */
  readonly ms: number;
  readonly recordsPerSecond: number;
  readonly roundsMs: number[];
}

export function totalRecords(ends: EndOffsets): number {
  let total = 0n;
  for (const partitions of ends.values()) for (const end of partitions.values()) total += end;
  return Number(total);
}

async function kcatRound(brokers: string, devNull: number, timeoutSeconds: number): Promise<number> {
  const started = performance.now();
  for (const topic of TOPICS) {
    const name = topicName(topic);
    const child = spawnTracked('kcat', ['-C', '-b', brokers, '-t', name, '-o', 'beginning', '-e', '-q', '-f', '%k\t%s\n'], {
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    const code = await exited(child).finally(() => clearTimeout(timer));
    if (code !== 0) throw new Error(`kcat -C ${name} exited with ${code}: ${stderr.slice(-2000)}`);
  }
  return performance.now() - started;
}

export async function kcatConsume(brokers: string, ends: EndOffsets, timeoutSeconds: number, rounds: number): Promise<KcatResult> {
  const devNull = openSync('/dev/null', 'w');
  const roundsMs: number[] = [];
  try {
    for (let round = 0; round < rounds; round++) roundsMs.push(await kcatRound(brokers, devNull, timeoutSeconds));
  } finally {
    closeSync(devNull);
  }
  const ms = median(roundsMs);
  const records = totalRecords(ends);
  return { records, ms, recordsPerSecond: records / (ms / 1000), roundsMs };
}

interface Metrics {
  readonly records: number;
  readonly applied: number;
  readonly deadLettered: number;
  /** The gateway's longest event-loop delay since its previous /metrics answer, in ms. */
  readonly loopDelayMaxMs: number;
  /** "topic/partition" -> next offset, for assigned partitions. */
  readonly nextOffsets: Map<string, bigint>;
}

async function readMetrics(url: string): Promise<Metrics> {
  // Generous: the event loop may be blocked by a large synchronous batch write for seconds.
  const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(120_000) });
  const text = await response.text();
  const scalar = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  const nextOffsets = new Map<string, bigint>();
  for (const match of text.matchAll(/^gw_partition_next_offset\{topic="([^"]+)",partition="(\d+)"\} (\d+)$/gm)) {
    nextOffsets.set(`${match[1]}/${match[2]}`, BigInt(match[3]!));
  }
  return {
    records: scalar('gw_ingest_records_total'),
    applied: scalar('gw_ingest_applied_total'),
    deadLettered: scalar('gw_dead_letter_total'),
    loopDelayMaxMs: 1000 * Number(/^gw_event_loop_delay_seconds\{quantile="1"\} (\S+)$/m.exec(text)?.[1] ?? 0),
    nextOffsets,
  };
}

function caughtUp(metrics: Metrics, ends: EndOffsets): boolean {
  for (const [topic, partitions] of ends) {
    for (const [partition, end] of partitions) {
      const next = metrics.nextOffsets.get(`${topic}/${partition}`);
      if (next === undefined || next < end) return false;
    }
  }
  return true;
}

export interface IngestResult {
  readonly records: number;
  readonly applied: number;
  readonly deadLettered: number;
  /** Spawn until /healthz answered. */
  readonly httpUpMs: number;
  /** Spawn until the first record was counted. */
  readonly firstRecordMs: number;
  /** Spawn until every partition was caught up: the figure of merit. */
  readonly ms: number;
  readonly recordsPerSecond: number;
  /** Records/s between the first record and catch-up (excludes start-up and group join). */
  readonly steadyRecordsPerSecond: number;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  /** Of the RSS: anonymous memory (V8 heap, native allocations, RocksDB caches) and mapped files. */
  readonly rssAnonBytes: number;
  readonly rssFileBytes: number;
  /** CPU time (utime + stime from /proc) of the gateway process from spawn until caught up. */
  readonly cpuSeconds: number;
  /**
   * Slowest /metrics answer while ingesting: how long the event loop was blocked at worst, i.e.
   * what a query arriving during catch-up could wait.
   */
  readonly slowestMetricsMs: number;
  /**
   * The gateway's own longest event-loop delay (`gw_event_loop_delay_seconds`, quantile 1) over
   * the scrapes from the first record to catch-up; the scrape that saw the first record is left
   * out, its window began during start-up. Includes GC pauses and time the OS gave other processes.
   */
  readonly maxEventLoopDelayMs: number;
  /** Records counted at each whole 5 s after spawn. */
  readonly timeline: Array<{ seconds: number; records: number }>;
  /** Epoch ms of the scrape that first counted a record, and of the one that saw every partition caught up. */
  readonly firstRecordEpochMs: number;
  readonly caughtUpEpochMs: number;
}

/** No progress for this long means ingest is stuck (a crashed consumer, a poison record). */
const STALL_MS = 120_000;

/** Fails fast when the gateway logged that its consumer crashed for good. */
function checkLog(gateway: ServerProcess): void {
  let text: string;
  try {
    text = readFileSync(gateway.logFile, 'utf8');
  } catch {
    return;
  }
  if (/"msg":"consumer crashed".*"willRestart":false/.test(text)) {
    throw new Error(`the gateway's consumer crashed and will not restart:\n${logTail(gateway.logFile, 10)}`);
  }
}

export async function measureIngest(gateway: ServerProcess, ends: EndOffsets, timeoutSeconds: number): Promise<IngestResult> {
  const pollMs = 100;
  const maxPolls = Math.ceil((timeoutSeconds * 1000) / pollMs);
  const deadline = gateway.spawnedAt + timeoutSeconds * 1000;
  const timeline: Array<{ seconds: number; records: number }> = [];
  let firstRecordMs: number | undefined;
  let firstRecordEpochMs: number | undefined;
  let last: Metrics | undefined;
  let progressAt = performance.now();
  let slowestMetricsMs = 0;
  let maxEventLoopDelayMs = 0;
  for (let poll = 0; poll < maxPolls && performance.now() < deadline; poll++) {
    if (gateway.child.exitCode !== null || gateway.child.signalCode !== null) {
      throw new Error(`the gateway exited during ingest (${gateway.child.exitCode ?? gateway.child.signalCode}):\n${logTail(gateway.logFile)}`);
    }
    if (poll % 10 === 0) checkLog(gateway);
    const asked = performance.now();
    const metrics = await readMetrics(gateway.url);
    slowestMetricsMs = Math.max(slowestMetricsMs, performance.now() - asked);
    if (metrics.records !== (last?.records ?? 0)) progressAt = performance.now();
    if (performance.now() - progressAt > STALL_MS) {
      throw new Error(`ingest made no progress for ${STALL_MS / 1000} s at ${metrics.records} records:\n${logTail(gateway.logFile, 10)}`);
    }
    const elapsed = performance.now() - gateway.spawnedAt;
    if (firstRecordMs !== undefined) maxEventLoopDelayMs = Math.max(maxEventLoopDelayMs, metrics.loopDelayMaxMs);
    if (firstRecordMs === undefined && metrics.records > 0) {
      firstRecordMs = elapsed;
      firstRecordEpochMs = Date.now();
    }
    const second = Math.floor(elapsed / 5000) * 5;
    if (second > 0 && (timeline.at(-1)?.seconds ?? 0) < second) timeline.push({ seconds: second, records: metrics.records });
    if (caughtUp(metrics, ends)) {
      const memory = memoryOf(gateway.pid);
      const cpuSeconds = cpuMs(gateway.pid) / 1000;
      const start = firstRecordMs ?? elapsed;
      return {
        records: metrics.records,
        applied: metrics.applied,
        deadLettered: metrics.deadLettered,
        httpUpMs: gateway.upMs,
        firstRecordMs: start,
        ms: elapsed,
        recordsPerSecond: metrics.records / (elapsed / 1000),
        steadyRecordsPerSecond: elapsed > start ? metrics.records / ((elapsed - start) / 1000) : Number.NaN,
        rssBytes: memory.rss,
        peakRssBytes: memory.peak,
        rssAnonBytes: memory.anon,
        rssFileBytes: memory.file,
        cpuSeconds,
        slowestMetricsMs,
        maxEventLoopDelayMs,
        timeline,
        firstRecordEpochMs: firstRecordEpochMs ?? Date.now(),
        caughtUpEpochMs: Date.now(),
      };
    }
    last = metrics;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  throw new Error(
    `the gateway did not catch up within ${timeoutSeconds} s: ${last?.records ?? 0} of ${totalRecords(ends)} records; ` +
      'raise BENCH_INGEST_TIMEOUT to wait longer',
  );
}

/** What test/bench/stall-monitor.ts saw between the first record and catch-up. */
export interface StallSummary {
  /** Stalls with a delay over 50 ms. */
  readonly over50: number;
  /** Of those, the ones with more than 50 ms of the main thread's own CPU time. */
  readonly over50OnCpu: number;
  /** The stall with the longest delay, and the one with the most CPU time of the main thread. */
  readonly longest: Stall | undefined;
  readonly mostCpu: Stall | undefined;
  /**
   * With stalls judged against a perf recording of the main thread (./host-pauses.ts): those in
   * which the host held the core, and the longest stall it did not cause; `mostCpu` then leaves
   * the host's stalls out. Undefined without a recording.
   */
  readonly host?: { readonly stalls: readonly SampledStall[]; readonly longestOwn: Stall | undefined };
}

/** Node flags and environment that preload the stall monitor into a gateway writing to `file`. */
export function stallMonitor(file: string): { nodeArgs: string[]; env: Record<string, string> } {
  return {
    nodeArgs: ['--import', pathToFileURL(path.join(import.meta.dirname, 'stall-monitor.ts')).href],
    env: { STALL_MONITOR_FILE: file },
  };
}

/** The monitor's report, or undefined when it wrote none (not Linux). */
export function readStallReport(file: string): StallReport | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StallReport;
  } catch {
    return undefined;
  }
}

/**
 * The stalls between the first record and catch-up. `sampled`: stalls judged against a perf
 * recording of the main thread (./host-pauses.ts, `sampleStalls`), when there is one.
 */
export function summarizeStalls(
  report: StallReport | undefined,
  fromEpochMs: number,
  toEpochMs: number,
  sampled?: readonly SampledStall[],
): StallSummary | undefined {
  if (!report) return undefined;
  const within = (stall: Stall) => stall.at > fromEpochMs && stall.at <= toEpochMs;
  const stalls = report.stalls.filter(within);
  const hosts = (sampled ?? []).filter((entry) => entry.host && within(entry.stall));
  const hostStalls = new Set(hosts.map((entry) => entry.stall.monotonicUs));
  const own = stalls.filter((stall) => !hostStalls.has(stall.monotonicUs));
  const most = (among: readonly Stall[], key: 'delayMs' | 'cpuMs') =>
    among.reduce<Stall | undefined>((best, stall) => (best && best[key] >= stall[key] ? best : stall), undefined);
  return {
    over50: stalls.filter((stall) => stall.delayMs > 50).length,
    over50OnCpu: stalls.filter((stall) => stall.cpuMs > 50).length,
    longest: most(stalls, 'delayMs'),
    mostCpu: most(own, 'cpuMs'),
    ...(sampled ? { host: { stalls: hosts, longestOwn: most(own, 'delayMs') } } : {}),
  };
}

/** Sanity: all records of the topics were read exactly once, none dead-lettered. */
export function checkIngest(result: IngestResult, ends: EndOffsets): string[] {
  const problems: string[] = [];
  const expected = totalRecords(ends);
  if (result.records !== expected) problems.push(`gateway counted ${result.records} records, the topics hold ${expected}`);
  if (result.deadLettered > 0) problems.push(`${result.deadLettered} records were dead-lettered`);
  return problems;
}
