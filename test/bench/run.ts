/**
 * `npm run bench`: starts its own broker, pre-fills the bench topics, then measures against
 * baselines taken in the same run, one load at a time (the machine is small):
 *
 *   1. pre-fill (kcat -P)                           produce time, not a figure of merit
 *   2. ingest baselines: kcat -C, Kafka Streams     records/s, CPU seconds (medians of rounds)
 *      KTables (1 and 2 threads)
 *   3. gateway ingest                               records/s, CPU seconds; RSS once caught up,
 *                                                   and 30 s later
 *   4. order(orderId) lookups: gateway vs yoga      QPS, p50, p99 (wrk, medians of rounds)
 *   5. grid page, 1 client and 32 clients           QPS, p50, p99 (wrk, medians of rounds)
 *   6. optional CPU profiles (BENCH_PROFILE=1)
 *
 * Prints a table and writes test/bench/results/latest.json. Figures only: it fails only when
 * something is broken (a query errors, records go missing), never on a missed target.
 * See BENCHMARKS.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from './broker.ts';
import { onCleanup, runMain } from './cleanup.ts';
import { checkIngest, kcatConsume, measureIngest } from './ingest.ts';
import { kafkaStreamsIngest, type KafkaStreamsResult } from './kafka-streams.ts';
import { compareLookups, measureGrid, step } from './phases.ts';
import { prefill } from './prefill.ts';
import { profileGateway, type ProfileResult } from './profile.ts';
import { cpuPressure, machine, renderReport, revision, writeReport } from './report.ts';
import { buildRows } from './rows.ts';
import { memoryOf, startGateway } from './servers.ts';
import { commandLine, loadSettings } from './settings.ts';

/** Idle wait after catch-up before the settled RSS is read: flushes finish, freed pages go back. */
const SETTLE_SECONDS = 30;

async function main(): Promise<void> {
  const settings = loadSettings();
  const command = commandLine();
  const host = machine();
  const startRevision = revision();
  const started = new Date();
  const work = mkdtempSync(path.join(settings.tmpRoot, 'gw-bench-'));
  const removeWork = (): void => rmSync(work, { recursive: true, force: true });
  onCleanup('remove temp dir', removeWork, removeWork);

  step(`[1/7] starting a fresh broker on 127.0.0.1:${settings.kafkaPort}`);
  const broker = await startBroker({ port: settings.kafkaPort, tmpRoot: settings.tmpRoot });

  step(`[2/7] pre-fill: ${settings.orders} orders, ${settings.customers} customers and their payments via kcat -P`);
  const filled = await prefill(settings, broker.brokers);
  step(`      ${filled.total} records (${(filled.bytes / 1e6).toFixed(0)} MB) in ${(filled.ms / 1000).toFixed(1)} s`);
  step(`[3/7] baseline ingest: kcat -C over the three topics, ${settings.rounds} rounds`);
  const kcat = await kcatConsume(broker.brokers, filled.endOffsets, settings.ingestTimeoutSeconds, settings.rounds);
  step(`      kcat: ${kcat.records} records in ${(kcat.ms / 1000).toFixed(1)} s (median)`);
  let kafkaStreams: KafkaStreamsResult | undefined;
  if (settings.kafkaStreams) {
    step(`      Kafka Streams KTables (1 and 2 threads, and 1 thread exactly_once_v2), ${settings.rounds} rounds`);
    kafkaStreams = await kafkaStreamsIngest({
      brokers: broker.brokers,
      ends: filled.endOffsets,
      workDir: work,
      timeoutSeconds: settings.ingestTimeoutSeconds,
      rounds: settings.rounds,
      variants: [
        { threads: 1, guarantee: 'at_least_once' },
        { threads: 2, guarantee: 'at_least_once' },
        { threads: 1, guarantee: 'exactly_once_v2' },
      ],
    });
    for (const variant of kafkaStreams.variants) {
      step(
        `      Kafka Streams ${variant.threads} thread(s) ${variant.guarantee}: ${(variant.ms / 1000).toFixed(1)} s, ` +
          `${Math.round(variant.recordsPerSecond)} rec/s, CPU ${variant.cpuSeconds.toFixed(1)} s (medians)`,
      );
    }
  } else {
    step('      Kafka Streams baseline skipped (BENCH_KAFKA_STREAMS=0)');
  }

  step('[4/7] gateway ingest: spawning node src/main.ts, waiting until every partition is caught up');
  const gateway = await startGateway({
    brokers: broker.brokers,
    dataDir: path.join(work, 'gateway-data'),
    groupId: `gw-bench-${process.pid}-${Date.now()}`,
    logFile: path.join(work, 'gateway.log'),
  });
  const measure = async () => {
    const ingest = await measureIngest(gateway, filled.endOffsets, settings.ingestTimeoutSeconds);
    const problems = checkIngest(ingest, filled.endOffsets);
    if (problems.length > 0) throw new Error(`ingest is incomplete: ${problems.join('; ')}`);
    step(
      `      ${ingest.records} records in ${(ingest.ms / 1000).toFixed(1)} s, CPU ${ingest.cpuSeconds.toFixed(1)} s, ` +
        `RSS ${(ingest.rssBytes / 1e6).toFixed(0)} MB`,
    );
    await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
    const settledRssBytes = memoryOf(gateway.pid).rss;
    step(`      RSS ${SETTLE_SECONDS} s later, idle: ${(settledRssBytes / 1e6).toFixed(0)} MB`);
    step('[5/7] lookups: gateway vs stock graphql-yoga over an in-memory Map (wrk)');
    const lookup = await compareLookups(settings, gateway, work, filled.sampleOrders, filled.lookupIds);
    step('[6/7] grid pages (wrk, 1 client then concurrent)');
    const grid = await measureGrid(settings, gateway, work);
    return { ingest, lookup, grid, rssAfterLoadBytes: memoryOf(gateway.pid).rss, settledRssBytes, settledSeconds: SETTLE_SECONDS };
  };
  let figures: Awaited<ReturnType<typeof measure>>;
  try {
    figures = await measure();
  } finally {
    const code = await gateway.stop();
    if (code !== 0) step(`      the gateway exited with ${code} on SIGTERM (pages still queued by the last run?)`);
  }

  let profile: { ingest: ProfileResult; grid: ProfileResult } | undefined;
  if (settings.profile) {
    step('[7/7] profiles (node --cpu-prof): a second ingest, then grid pages; not part of the figures');
    profile = await profileGateway({
      brokers: broker.brokers,
      dataDir: path.join(work, 'profile-data'),
      workDir: work,
      ends: filled.endOffsets,
      timeoutSeconds: settings.ingestTimeoutSeconds,
    });
    mkdirSync(settings.resultsDir, { recursive: true });
    for (const [name, result] of Object.entries(profile) as Array<['ingest' | 'grid', ProfileResult]>) {
      const kept = path.join(settings.resultsDir, `${name}.cpuprofile`);
      copyFileSync(result.file, kept);
      profile[name] = { ...result, file: path.relative(process.cwd(), kept) };
    }
  } else {
    step('[7/7] profiles skipped (BENCH_PROFILE=1 adds profiled ingest and grid runs)');
  }

  const { rows, notes, appendix } = buildRows({ settings, host, prefill: filled, kcat, kafkaStreams, ...figures, profile });
  const report = {
    date: started.toISOString(),
    command,
    revision: { start: startRevision, end: revision() },
    machine: { ...host, loadAverageAtEnd: Math.round(os.loadavg()[0]! * 100) / 100, cpuPressureAtEnd: cpuPressure() },
    scale: {
      orders: settings.orders,
      customers: settings.customers,
      records: filled.total,
      ...Object.fromEntries(Object.entries(filled.records).map(([topic, count]) => [`${topic} records`, count])),
    },
    rows,
    notes,
    appendix,
    details: {
      settings: { ...settings, resultsDir: undefined, tmpRoot: undefined },
      brokerStartMs: Math.round(broker.startMs),
      prefill: { records: filled.records, total: filled.total, bytes: filled.bytes, ms: Math.round(filled.ms) },
      kcat,
      kafkaStreams,
      ...figures,
      profile,
    },
  };
  process.stdout.write(renderReport(report));
  const file = writeReport(settings.resultsDir, report);
  step(`results written to ${path.relative(process.cwd(), file)}`);
}

await runMain(main);
