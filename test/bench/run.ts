/**
 * `npm run bench`: starts its own broker, pre-fills the bench topics, then measures against
 * baselines taken in the same run, one thing at a time (the machine is small):
 *
 *   1. pre-fill (kcat -P)                         produce time, not a figure of merit
 *   2. ingest: gateway vs kcat -C                 records/s
 *   3. gateway RSS once caught up                 MB
 *   4. order(orderId) lookups: gateway vs yoga    QPS, p50, p99 (wrk)
 *   5. grid page, 32 clients and 1 client         QPS, p50, p99 (wrk)
 *
 * Prints a table and writes test/bench/results/latest.json. Figures only: it fails only when
 * something is broken (a query errors, records go missing), never on a missed target.
 * See BENCHMARKS.md.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from './broker.ts';
import { onCleanup, runCleanup } from './cleanup.ts';
import { measure, writeGridScript, writeLookupScript, type LoadResult } from './http-load.ts';
import { checkIngest, kcatConsume, measureIngest, type IngestResult } from './ingest.ts';
import { prefill } from './prefill.ts';
import { profileIngest, type ProfileResult } from './profile.ts';
import { canonical, verifyGrid, verifyLookups, type GridCheck } from './queries.ts';
import { buildRows } from './rows.ts';
import { machine, renderReport, writeReport } from './report.ts';
import { memoryOf, startBaseline, startGateway } from './servers.ts';
import { commandLine, loadSettings, type BenchSettings } from './settings.ts';

const step = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

interface GatewayFigures {
  ingest: IngestResult;
  lookup: LoadResult;
  grid: LoadResult;
  gridSingle: LoadResult;
  gridChecks: GridCheck[];
  rssAfterLoadBytes: number;
  lookupSample: Record<string, unknown>[];
}

async function measureGateway(
  settings: BenchSettings,
  brokers: string,
  work: string,
  ends: Awaited<ReturnType<typeof prefill>>['endOffsets'],
  lookupIds: readonly string[],
): Promise<GatewayFigures> {
  const load = { threads: settings.threads, connections: settings.connections, durationSeconds: settings.durationSeconds };
  step('[3/7] gateway ingest: spawning node src/main.ts, waiting until every partition is caught up');
  const gateway = await startGateway({
    brokers,
    dataDir: path.join(work, 'gateway-data'),
    groupId: `gw-bench-${process.pid}-${Date.now()}`,
    logFile: path.join(work, 'gateway.log'),
  });
  try {
    const ingest = await measureIngest(gateway, ends, settings.ingestTimeoutSeconds);
    const problems = checkIngest(ingest, ends);
    if (problems.length > 0) throw new Error(`ingest is incomplete: ${problems.join('; ')}`);
    step(`      ${ingest.records} records in ${(ingest.ms / 1000).toFixed(1)} s, RSS ${(ingest.rssBytes / 1e6).toFixed(0)} MB`);

    step('[4/7] gateway lookups (wrk)');
    const lookupSample = await verifyLookups('gateway', gateway.url, lookupIds.slice(0, 20));
    const lookupScript = path.join(work, 'lookup.lua');
    writeLookupScript(lookupScript, lookupIds);
    const lookup = await measure({ url: gateway.url, script: lookupScript, ...load }, settings.warmupSeconds);

    step('[5/7] gateway grid pages (wrk, concurrent then single client)');
    const gridChecks = await verifyGrid(gateway.url);
    const gridScript = path.join(work, 'grid.lua');
    writeGridScript(gridScript);
    const grid = await measure({ url: gateway.url, script: gridScript, ...load }, settings.warmupSeconds);
    const gridSingle = await measure(
      { url: gateway.url, script: gridScript, threads: 1, connections: 1, durationSeconds: settings.durationSeconds },
      settings.warmupSeconds,
    );
    const rssAfterLoadBytes = memoryOf(gateway.pid).rss;
    return { ingest, lookup, grid, gridSingle, gridChecks, rssAfterLoadBytes, lookupSample };
  } finally {
    const code = await gateway.stop();
    if (code !== 0) step(`      the gateway exited with ${code} on SIGTERM (log: ${gateway.logFile})`);
  }
}

async function measureBaseline(
  settings: BenchSettings,
  work: string,
  sampleOrders: readonly Record<string, unknown>[],
  lookupIds: readonly string[],
  gatewaySample: readonly Record<string, unknown>[],
): Promise<LoadResult> {
  step('[6/7] baseline lookups: stock graphql-yoga over an in-memory Map (wrk)');
  const ordersFile = path.join(work, 'baseline-orders.json');
  writeFileSync(ordersFile, JSON.stringify(sampleOrders));
  const baseline = await startBaseline(ordersFile, path.join(work, 'baseline.log'));
  try {
    const sample = await verifyLookups('baseline', baseline.url, lookupIds.slice(0, 20));
    sample.forEach((order, i) => {
      if (canonical(order) !== canonical(gatewaySample[i])) {
        throw new Error(`gateway and baseline disagree on ${lookupIds[i]}: ${canonical(gatewaySample[i])} vs ${canonical(order)}`);
      }
    });
    return await measure(
      {
        url: baseline.url,
        script: path.join(work, 'lookup.lua'),
        threads: settings.threads,
        connections: settings.connections,
        durationSeconds: settings.durationSeconds,
      },
      settings.warmupSeconds,
    );
  } finally {
    await baseline.stop();
  }
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const command = commandLine();
  const host = machine();
  const started = new Date();
  const work = mkdtempSync(path.join(settings.tmpRoot, 'gw-bench-'));
  onCleanup('remove temp dir', () => rmSync(work, { recursive: true, force: true }), () => rmSync(work, { recursive: true, force: true }));

  step(`[1/7] starting a fresh broker on 127.0.0.1:${settings.kafkaPort}`);
  const broker = await startBroker({ port: settings.kafkaPort, tmpRoot: settings.tmpRoot });

  step(`[2/7] pre-fill: ${settings.orders} orders, ${settings.customers} customers and their payments via kcat -P`);
  const filled = await prefill(settings, broker.brokers);
  step(`      ${filled.total} records (${(filled.bytes / 1e6).toFixed(0)} MB) in ${(filled.ms / 1000).toFixed(1)} s`);

  step('      baseline ingest: kcat -C over the three topics');
  const kcat = await kcatConsume(broker.brokers, filled.endOffsets, settings.ingestTimeoutSeconds);
  step(`      kcat: ${kcat.records} records in ${(kcat.ms / 1000).toFixed(1)} s`);

  const gateway = await measureGateway(settings, broker.brokers, work, filled.endOffsets, filled.lookupIds);
  const baselineLookup = await measureBaseline(settings, work, filled.sampleOrders, filled.lookupIds, gateway.lookupSample);

  let profile: ProfileResult | undefined;
  if (settings.profile) {
    step('[7/7] profiled ingest (node --cpu-prof), not part of the figures');
    profile = await profileIngest({
      brokers: broker.brokers,
      dataDir: path.join(work, 'profile-data'),
      profileDir: path.join(work, 'profile'),
      logFile: path.join(work, 'gateway-profile.log'),
      ends: filled.endOffsets,
      timeoutSeconds: settings.ingestTimeoutSeconds,
    });
    mkdirSync(settings.resultsDir, { recursive: true });
    const kept = path.join(settings.resultsDir, 'ingest.cpuprofile');
    copyFileSync(profile.file, kept);
    profile = { ...profile, file: path.relative(process.cwd(), kept) };
  } else {
    step('[7/7] profile skipped (BENCH_PROFILE=1 adds a profiled ingest run)');
  }

  const { rows, notes, appendix } = buildRows({ settings, host, prefill: filled, kcat, gateway, baselineLookup, profile });
  const report = {
    date: started.toISOString(),
    command,
    machine: { ...host, loadAverageAtEnd: Math.round(os.loadavg()[0]! * 100) / 100 },
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
      ingest: gateway.ingest,
      rssAfterLoadBytes: gateway.rssAfterLoadBytes,
      lookup: { gateway: gateway.lookup, baseline: baselineLookup },
      grid: { concurrent: gateway.grid, singleClient: gateway.gridSingle, variants: gateway.gridChecks },
      profile,
    },
  };
  process.stdout.write(renderReport(report));
  const file = writeReport(settings.resultsDir, report);
  step(`results written to ${path.relative(process.cwd(), file)}`);
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await runCleanup();
}
process.exit(failed ? 1 : 0);
