/**
 * `node test/bench/ingest-ab.ts`: catch-ups of two (or more) source trees of the gateway, or of
 * one tree under two (or more) sets of node flags, on the same topics, alternating variant by
 * variant and round by round, so a change to ingest is measured against its parent in one
 * session (the shared machine's load moves both alike). Figures per catch-up, first record to
 * caught up:
 *
 *   rec/s, wall s; CPU s of the whole process and of its main thread (from /proc, so V8's GC
 *   helpers and RocksDB's flush and compaction threads count too), per thread group; the
 *   gateway's own longest event-loop delay (gw_event_loop_delay_seconds max) and slowest
 *   /metrics answer; the longest stall and the stall with the most main-thread CPU, split by
 *   stall-monitor.ts (preloaded), each stall over 40 ms marked `host` when the host held the
 *   core (host-pauses.ts, where `perf` can record); RSS and peak RSS at catch-up.
 *
 * It uses a running broker whose bench topics are filled (AB_PREFILL_ORDERS=n fills them first,
 * with the bench's generator). Environment:
 *
 *   AB_BROKERS         broker, default 127.0.0.1:49392
 *   AB_ROOTS           comma-separated source trees (each with src/main.ts and node_modules)
 *   AB_RUNS            rounds, default 2
 *   AB_NODE_FLAGS      `;`-separated sets of node flags added after `npm start`'s, each run
 *                      with every tree (settings.ts, nodeFlagSets); for example
 *                      `;--v8-pool-size=4 --parallel-scavenge` against V8's defaults
 *   AB_PREFILL_ORDERS  orders to produce before measuring (default: none, topics already filled)
 *   AB_HOST_PAUSES     0: no perf recording of the main thread (default: record where perf works)
 *   AB_KEEP_DIR        keep each tree's store of its last catch-up in AB_KEEP_DIR/tree-<n> (n
 *                      from 0 in AB_ROOTS order), for ./http-ab.ts to compare trees whose store
 *                      layouts differ
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createKafkaClient } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { perfAvailable, sampleStalls, sampleThread } from './host-pauses.ts';
import { readStallReport, stallMonitor, summarizeStalls } from './ingest.ts';
import { prefill, topicName } from './prefill.ts';
import { cpuSeconds, memoryMb, threads } from './proc.ts';
import { freePort } from './servers.ts';
import { GATEWAY_NODE_FLAGS, gatewayAllocatorEnv, loadSettings, nodeFlagSets, REPO_ROOT, TOPIC_PREFIX, TOPICS } from './settings.ts';

const brokers = process.env.AB_BROKERS ?? '127.0.0.1:49392';
const roots = (process.env.AB_ROOTS ?? REPO_ROOT).split(',').map((root) => path.resolve(root));
const runs = Number(process.env.AB_RUNS ?? 2);
const flagSets = nodeFlagSets(process.env.AB_NODE_FLAGS);
const hostPauses = process.env.AB_HOST_PAUSES !== '0' && perfAvailable();
const keepDir = process.env.AB_KEEP_DIR;

async function endOffsets(): Promise<Map<string, number>> {
  const kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'gw-bench-ab', logger: createLogger('warn') });
  try {
    const ends = new Map<string, number>();
    for (const topic of TOPICS)
      for (const entry of await kafka.offsets(topicName(topic))) ends.set(`${topicName(topic)}/${entry.partition}`, Number(entry.high));
    return ends;
  } finally {
    await kafka.stop();
  }
}

/** `keepAs`: where the store goes after the gateway stopped (AB_KEEP_DIR), else it is removed. */
async function catchUp(
  root: string,
  flags: readonly string[],
  ends: Map<string, number>,
  work: string,
  keepAs: string | undefined,
): Promise<Record<string, unknown>> {
  const dataDir = mkdtempSync(path.join(work, 'data-'));
  const port = await freePort();
  const log = createWriteStream(path.join(work, 'gateway.log'));
  const stallFile = path.join(work, 'stalls.json');
  const monitor = stallMonitor(stallFile);
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, ...flags, ...monitor.nodeArgs, path.join(root, 'src/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      KAFKA_BROKERS: brokers,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      TOPIC_PREFIX,
      GROUP_ID: `gw-bench-ab-${process.pid}-${Date.now()}`,
      LOG_LEVEL: 'warn',
      ...monitor.env,
      ...gatewayAllocatorEnv(),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.pipe(log);
  const pid = child.pid!;
  // The main thread on the guest's timer, to tell the stalls the host caused (./host-pauses.ts).
  const recording = hostPauses ? path.join(work, 'main-thread.perf') : undefined;
  const sampler = recording ? sampleThread(pid, recording) : undefined;
  let first: { at: number; epochMs: number; cpu: number } | undefined;
  let slowestMs = 0;
  let loopMs = 0;
  try {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the gateway in ${root} exited (see ${work}/gateway.log)`);
      const asked = performance.now();
      let text: string;
      try {
        text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      } catch {
        continue; // not listening yet
      }
      const records = Number(/^gw_ingest_records_total (\S+)$/m.exec(text)?.[1] ?? 0);
      if (!first) {
        // The scrape that sees the first record covers start-up: its delay is not ingest's.
        if (records > 0) first = { at: performance.now(), epochMs: Date.now(), cpu: cpuSeconds(`/proc/${pid}/stat`).seconds };
        continue;
      }
      slowestMs = Math.max(slowestMs, performance.now() - asked);
      loopMs = Math.max(loopMs, 1000 * Number(/^gw_event_loop_delay_seconds\{quantile="1"\} (\S+)$/m.exec(text)?.[1] ?? 0));
      const next = new Map(
        [...text.matchAll(/^gw_partition_next_offset\{topic="([^"]+)",partition="(\d+)"\} (\d+)$/gm)].map((m) => [`${m[1]}/${m[2]}`, Number(m[3])]),
      );
      if (![...ends].every(([id, end]) => (next.get(id) ?? -1) >= end)) continue;
      const seconds = (performance.now() - first.at) / 1000;
      const caughtUpMs = Date.now();
      const cpu = Math.round((cpuSeconds(`/proc/${pid}/stat`).seconds - first.cpu) * 10) / 10;
      const memory = memoryMb(pid);
      const threadCpu = threads(pid);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // the monitor writes its file once a second
      await sampler?.stop();
      const report = readStallReport(stallFile);
      const sampled = recording && report ? sampleStalls(recording, report.stalls) : undefined;
      const stalls = summarizeStalls(report, first.epochMs, caughtUpMs, sampled);
      const hosts = new Set(sampled?.filter((entry) => entry.host).map((entry) => entry.stall.monotonicUs));
      // Every stall over 40 ms from spawn to catch-up, at its second after the first record.
      const long = (report?.stalls ?? [])
        .filter((stall) => stall.delayMs > 40 && stall.at <= caughtUpMs)
        .map(({ at, ...stall }) => ({
          second: Math.round((at - first!.epochMs) / 100) / 10,
          ...stall,
          ...(sampled ? { host: hosts.has(stall.monotonicUs) } : {}),
        }));
      return {
        tree: root,
        nodeFlags: flags.join(' '),
        records,
        recordsPerSecond: Math.round(records / seconds),
        seconds: Math.round(seconds * 10) / 10,
        cpuSeconds: cpu,
        threads: threadCpu,
        maxEventLoopDelayMs: Math.round(loopMs),
        slowestMetricsMs: Math.round(slowestMs),
        stalls,
        stallsOver40ms: long,
        ...memory,
      };
    }
  } finally {
    await sampler?.stop();
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    if (keepAs) {
      rmSync(keepAs, { recursive: true, force: true });
      renameSync(dataDir, keepAs);
    } else rmSync(dataDir, { recursive: true, force: true });
  }
}

const work = mkdtempSync(path.join(os.tmpdir(), 'gw-bench-ab-'));
try {
  if (process.env.AB_PREFILL_ORDERS) {
    const filled = await prefill(loadSettings({ BENCH_ORDERS: process.env.AB_PREFILL_ORDERS }), brokers);
    process.stdout.write(`pre-filled ${filled.total} records\n`);
  }
  const ends = await endOffsets();
  for (let run = 0; run < runs; run++) {
    for (const [index, root] of roots.entries()) {
      const keepAs = keepDir && run === runs - 1 ? path.join(keepDir, `tree-${index}`) : undefined;
      if (keepAs) mkdirSync(keepDir!, { recursive: true });
      for (const flags of flagSets) process.stdout.write(`${JSON.stringify({ run, ...(await catchUp(root, flags, ends, work, keepAs)) })}\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(0);
