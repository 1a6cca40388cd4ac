import os from 'node:os';
import path from 'node:path';
import { runMain } from './cleanup.ts';
import { measureOnce, runWrk, summarizeRuns, writeGridScript, type LoadResult } from './http-load.ts';
import { checkIngest, measureIngest } from './ingest.ts';
import { step } from './phases.ts';
import { filledBroker } from './prefill.ts';
import { startWriter } from './writer.ts';
import { gridVariants } from './queries.ts';
import { revision } from './report.ts';
import { startGateway, type ServerProcess } from './servers.ts';
import { commandLine, integerList } from './settings.ts';

const rates = (): number[] => integerList(process.env, 'BENCH_CACHE_RATES', '0,10,100,1000', 0, 100_000);

interface Cell {
  readonly rate: number;
  readonly clients: number;
  readonly fresh: ReturnType<typeof summarizeRuns>;
  readonly kept: ReturnType<typeof summarizeRuns>;
}

async function main(): Promise<void> {
  const { settings, work, broker, filled } = await filledBroker('cache');
  const gateway: ServerProcess = await startGateway({
    brokers: broker.brokers,
    dataDir: path.join(work, 'gateway-data'),
    groupId: `gw-bench-cache-${process.pid}`,
    logFile: path.join(work, 'gateway.log'),
  });
  const ingest = await measureIngest(gateway, filled.endOffsets, settings.ingestTimeoutSeconds);
  const problems = checkIngest(ingest, filled.endOffsets);
  if (problems.length > 0) throw new Error(`ingest is incomplete: ${problems.join('; ')}`);
  step(`gateway caught up: ${ingest.records} records in ${(ingest.ms / 1000).toFixed(1)} s`);

  const variants = gridVariants('gateway', false);
  const freshScript = path.join(work, 'grid-fresh.lua');
  const keptScript = path.join(work, 'grid-kept.lua');
  writeGridScript(freshScript, variants, { fresh: true });
  writeGridScript(keptScript, variants);
  const cells: Cell[] = [];
  for (const rate of rates()) {
    const writer = startWriter(broker.brokers, filled.sampleOrders, rate);
    for (const [threads, connections] of [
      [1, 1],
      [settings.threads, settings.connections],
    ] as const) {
      const load = (script: string) => ({ url: gateway.url, script, threads, connections, durationSeconds: settings.durationSeconds });
      if (settings.warmupSeconds > 0) await runWrk({ ...load(keptScript), durationSeconds: settings.warmupSeconds });
      const fresh: LoadResult[] = [];
      const kept: LoadResult[] = [];
      for (let round = 1; round <= settings.rounds; round++) {
        step(`      ${rate} updates/s, ${connections} client(s), round ${round}/${settings.rounds}: fresh, then cached`);
        fresh.push(await measureOnce(gateway, load(freshScript), rate === 0));
        kept.push(await measureOnce(gateway, load(keptScript), rate === 0));
      }
      cells.push({ rate, clients: connections, fresh: summarizeRuns(fresh), kept: summarizeRuns(kept) });
    }
    const written = await writer.stop();
    step(`      ${rate} updates/s: ${written} updates sent`);
  }

  const f = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const lines = [
    `${commandLine(process.env, { npm: 'bench:cache', file: 'test/bench/response-cache.ts' })}: revision ${revision().head}, ${os.cpus().length} cores, ${settings.orders} orders, ` +
      `${settings.rounds} rounds of ${settings.durationSeconds} s, medians`,
    '',
    '| Updates/s | Clients | Fresh pages/s | Cached pages/s | Ratio | Answers from the cache | Fresh p99 | Cached p99 |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...cells.map(
      (cell) =>
        `| ${cell.rate} | ${cell.clients} | ${f(cell.fresh.qps)} | ${f(cell.kept.qps)} | ${f(cell.kept.qps / cell.fresh.qps, 1)}x | ` +
        `${f((100 * (cell.kept.cacheHits ?? 0)) / Math.max(1, cell.kept.requests), 1)} % | ${f(cell.fresh.p99Ms, 1)} ms | ${f(cell.kept.p99Ms, 1)} ms |`,
    ),
  ];
  const failed = cells.reduce((sum, cell) => sum + cell.fresh.failed + cell.kept.failed, 0);
  if (failed > 0) lines.push('', `note: ${failed} requests failed (not 200, errors, or timed out)`);
  console.log(lines.join('\n'));
}

await runMain(main);
