/**
 * `npm run bench`: starts its own broker, pre-fills the bench topics, then measures against
 * baselines taken in the same run, one load at a time (the machine is small):
 *
 *   1. pre-fill (kcat -P)                           produce time, not a figure of merit
 *   2. ingest baselines: kcat -C, Kafka Streams     records/s, CPU seconds (medians of rounds)
 *      KTables (1 and 2 threads)
 *   3. gateway ingest                               records/s, CPU seconds; RSS once caught up,
 *                                                   and 30 s later
 *   4. order(orderId) lookups, 32 clients: gateway vs stock yoga vs PostGraphile; hot ids, every
 *      id, and the id written into the query text    QPS, p50, p99 (wrk, medians of rounds)
 *   5. grid page, 1 client and 32 clients, with and without totalCount: gateway vs PostGraphile
 *   6. optional CPU profiles (BENCH_PROFILE=1)
 *
 * The PostgreSQL 15 copy of the data for PostGraphile (test/bench/postgres.ts) is loaded after
 * the pre-fill, before the gateway starts, so its load competes with nothing measured;
 * BENCH_POSTGRES=0 skips it.
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
import { checkIngest, kcatConsume, measureIngest, readStallReport, stallMonitor, summarizeStalls } from './ingest.ts';
import { compareLookups, measureGrid, measureGridUnderUpdates, step, type LiveGridFigures, type PostgresSide } from './phases.ts';
import { loadGeneratedData, startPostgres } from './postgres.ts';
import { kafkaStreamsIngest, type KafkaStreamsResult } from './kafka-streams.ts';
import { measureIngestFloor, type FloorResult } from './ingest-floor.ts';
import { perfAvailable, sampleStalls, sampleThread } from './host-pauses.ts';
import { prefill } from './prefill.ts';
import { profileGateway, type ProfileResult } from './profile.ts';
import { cpuPressure, machine, renderReport, revision, writeReport } from './report.ts';
import { buildRows, type PostgresBaseline } from './rows.ts';
import { memoryOf, startGateway, startPostGraphile } from './servers.ts';
import { commandLine, loadSettings } from './settings.ts';

/** Idle wait after catch-up before the settled RSS is read: flushes finish, freed pages go back. */
const SETTLE_SECONDS = 30;

/**
 * What the gateway reports of its memory (`gw_process_memory_bytes`, `gw_store_memory_bytes`), by
 * kind: V8's heap, external memory, RocksDB's memtables, table readers and block cache.
 */
async function memoryBreakdown(url: string): Promise<Record<string, number>> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const out: Record<string, number> = {};
    for (const match of text.matchAll(/^gw_(?:process|store)_memory_bytes\{kind="(\w+)"\} (\S+)$/gm)) out[match[1]!] = Number(match[2]);
    return out;
  } catch {
    return {};
  }
}

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
  let floor: FloorResult | undefined;
  if (settings.ingestFloor) {
    step("      ingest floor: the same records through the gateway's decoding and store writes, no Kafka (ingest-floor.ts)");
    floor = await measureIngestFloor(work, settings.ingestTimeoutSeconds);
    for (const variant of floor.variants) {
      step(
        `      floor, ${variant.name}: writes ${variant.writesPerSecond} rec/s, decoding and writes ${variant.decodeAndWritePerSecond} rec/s, ` +
          `process CPU ${variant.processCpuSeconds.toFixed(1)} s`,
      );
    }
  }

  let pg: (PostgresSide & { load: PostgresBaseline }) | undefined;
  if (settings.postgres) {
    step('      PostgreSQL baseline: initdb, COPY of the final state of the same generated data, indexes, VACUUM ANALYZE');
    const postgres = await startPostgres(work);
    const load = await loadGeneratedData(postgres, settings);
    step(
      `      PostgreSQL ${postgres.version}: ${Object.entries(load.rows)
        .map(([table, rows]) => `${rows} ${table}`)
        .join(', ')} in ${(load.ms / 1000).toFixed(1)} s`,
    );
    const ordersFile = path.join(work, 'all-orders.ndjson');
    const idsFile = path.join(work, 'all-order-ids.txt');
    const iso = (column: string): string => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    await postgres.exportTo(
      `SELECT json_build_object('orderId', order_id, 'customerId', customer_id, 'state', state, 'product', product, ` +
        `'quantity', quantity, 'unitPrice', unit_price, 'currency', currency, 'createdAt', ${iso('created_at')}, ` +
        `'updatedAt', ${iso('updated_at')}) FROM orders`,
      ordersFile,
    );
    await postgres.exportTo('SELECT order_id FROM orders', idsFile);
    const server = await startPostGraphile(postgres.url, settings.postgresPool, path.join(work, 'postgraphile.log'));
    step(`      PostGraphile up at ${server.url} (schema built in ${(server.upMs / 1000).toFixed(1)} s)`);
    pg = {
      server,
      ordersFile,
      idsFile,
      orders: load.rows.orders,
      load: { version: postgres.version, settings: postgres.settings, loadMs: load.ms, rows: load.rows, pool: settings.postgresPool },
    };
  }

  step('[4/7] gateway ingest: spawning node src/main.ts, waiting until every partition is caught up');
  const stallFile = path.join(work, 'stalls.json');
  const gateway = await startGateway({
    brokers: broker.brokers,
    dataDir: path.join(work, 'gateway-data'),
    groupId: `gw-bench-${process.pid}-${Date.now()}`,
    logFile: path.join(work, 'gateway.log'),
    // Splits each event-loop stall into CPU, waiting for a core and blocked (stall-monitor.ts).
    ...stallMonitor(stallFile),
  });
  // The main thread's id is the process's; perf samples it on the guest's timer (host-pauses.ts).
  const recording = settings.hostPauses && perfAvailable() ? path.join(work, 'main-thread.perf') : undefined;
  const sampler = recording ? sampleThread(gateway.pid, recording) : undefined;
  if (settings.hostPauses && !recording) step('      perf cannot record here: the stalls the host caused are not told apart');
  const measure = async () => {
    let ingest: Awaited<ReturnType<typeof measureIngest>>;
    try {
      ingest = await measureIngest(gateway, filled.endOffsets, settings.ingestTimeoutSeconds);
    } finally {
      await sampler?.stop();
    }
    const problems = checkIngest(ingest, filled.endOffsets);
    if (problems.length > 0) throw new Error(`ingest is incomplete: ${problems.join('; ')}`);
    step(
      `      ${ingest.records} records in ${(ingest.ms / 1000).toFixed(1)} s, CPU ${ingest.cpuSeconds.toFixed(1)} s, ` +
        `RSS ${(ingest.rssBytes / 1e6).toFixed(0)} MB`,
    );
    await new Promise((resolve) => setTimeout(resolve, SETTLE_SECONDS * 1000));
    const settledRssBytes = memoryOf(gateway.pid).rss;
    step(`      RSS ${SETTLE_SECONDS} s later, idle: ${(settledRssBytes / 1e6).toFixed(0)} MB`);
    const report = readStallReport(stallFile);
    const sampled = recording && report ? sampleStalls(recording, report.stalls) : undefined;
    const stalls = summarizeStalls(report, ingest.firstRecordEpochMs, ingest.caughtUpEpochMs, sampled);
    step(`[5/7] lookups: gateway vs stock graphql-yoga over an in-memory Map${pg ? ' vs PostGraphile' : ''} (wrk)`);
    const lookup = await compareLookups(settings, gateway, work, { orders: filled.sampleOrders, lookupIds: filled.lookupIds }, pg);
    step(`[6/7] grid pages${pg ? ', gateway vs PostGraphile' : ''} (wrk, 1 client then concurrent)`);
    const grid = await measureGrid(settings, gateway, work, pg?.server);
    const rssAfterLoadBytes = memoryOf(gateway.pid).rss;
    const memoryAfterLoad = await memoryBreakdown(gateway.url);
    let liveGrid: LiveGridFigures | undefined;
    if (settings.liveUpdates > 0) {
      step(`      grid pages again while ${settings.liveUpdates} order updates/s arrive (gateway alone, after the memory figures)`);
      liveGrid = await measureGridUnderUpdates(settings, gateway, work, broker.brokers);
    }
    return { ingest, stalls, lookup, grid, liveGrid, rssAfterLoadBytes, memoryAfterLoad, settledRssBytes, settledSeconds: SETTLE_SECONDS };
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

  await pg?.server.stop();
  const { rows, notes, appendix } = buildRows({
    settings,
    host,
    prefill: filled,
    kcat,
    kafkaStreams,
    floor,
    ...figures,
    postgres: pg?.load,
    profile,
  });
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
      ingestFloor: floor,
      ...figures,
      postgres: pg?.load,
      profile,
    },
  };
  process.stdout.write(renderReport(report));
  const file = writeReport(settings.resultsDir, report);
  step(`results written to ${path.relative(process.cwd(), file)}`);
}

await runMain(main);
