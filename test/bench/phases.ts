/**
 * The measured phases against running servers: lookups (gateway and baseline alternating, round
 * by round, so a burst of other work on the machine hits both alike) and grid pages (single
 * client first, then concurrent). Every request type is checked once before it is measured.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  measureOnce,
  summarizeRuns,
  warmUp,
  writeGridScript,
  writeLookupScript,
  type LoadOptions,
  type LoadResult,
  type LoadSummary,
} from './http-load.ts';
import { canonical, verifyGrid, verifyLookups, type GridCheck } from './queries.ts';
import { startBaseline, type ServerProcess } from './servers.ts';
import type { BenchSettings } from './settings.ts';

export const step = (text: string): void => {
  process.stderr.write(`bench: ${text}\n`);
};

export interface LookupFigures {
  readonly gateway: LoadSummary;
  readonly baseline: LoadSummary;
  /** gateway QPS / baseline QPS per round. */
  readonly qpsRatios: number[];
}

export async function compareLookups(
  settings: BenchSettings,
  gateway: ServerProcess,
  work: string,
  sampleOrders: readonly Record<string, unknown>[],
  lookupIds: readonly string[],
): Promise<LookupFigures> {
  const checkIds = lookupIds.slice(0, 20);
  const gatewaySample = await verifyLookups('gateway', gateway.url, checkIds);
  const ordersFile = path.join(work, 'baseline-orders.json');
  writeFileSync(ordersFile, JSON.stringify(sampleOrders));
  const baseline = await startBaseline(ordersFile, path.join(work, 'baseline.log'));
  try {
    const baselineSample = await verifyLookups('baseline', baseline.url, checkIds);
    baselineSample.forEach((order, i) => {
      if (canonical(order) !== canonical(gatewaySample[i])) {
        throw new Error(`gateway and baseline disagree on ${checkIds[i]}: ${canonical(gatewaySample[i])} vs ${canonical(order)}`);
      }
    });
    const script = path.join(work, 'lookup.lua');
    writeLookupScript(script, lookupIds);
    const load = (server: ServerProcess): LoadOptions => ({
      url: server.url,
      script,
      threads: settings.threads,
      connections: settings.connections,
      durationSeconds: settings.durationSeconds,
    });
    await warmUp(gateway, load(gateway), settings.warmupSeconds);
    await warmUp(baseline, load(baseline), settings.warmupSeconds);
    const gatewayRuns: LoadResult[] = [];
    const baselineRuns: LoadResult[] = [];
    for (let round = 1; round <= settings.rounds; round++) {
      step(`      lookup round ${round}/${settings.rounds}: gateway, then baseline`);
      gatewayRuns.push(await measureOnce(gateway, load(gateway)));
      baselineRuns.push(await measureOnce(baseline, load(baseline)));
    }
    return {
      gateway: summarizeRuns(gatewayRuns),
      baseline: summarizeRuns(baselineRuns),
      qpsRatios: gatewayRuns.map((run, i) => run.qps / baselineRuns[i]!.qps),
    };
  } finally {
    await baseline.stop();
  }
}

export interface GridFigures {
  readonly singleClient: LoadSummary;
  readonly concurrent: LoadSummary;
  readonly variants: GridCheck[];
}

/**
 * Single client first, warmed up with a single client: pages queued by 32 clients can take long
 * to drain, so the concurrent rounds go last and each waits for the previous one's leftovers.
 */
export async function measureGrid(settings: BenchSettings, gateway: ServerProcess, work: string): Promise<GridFigures> {
  const variants = await verifyGrid(gateway.url);
  const script = path.join(work, 'grid.lua');
  writeGridScript(script);
  const single: LoadOptions = { url: gateway.url, script, threads: 1, connections: 1, durationSeconds: settings.durationSeconds };
  const concurrent: LoadOptions = { ...single, threads: settings.threads, connections: settings.connections };
  await warmUp(gateway, single, settings.warmupSeconds);
  const singleRuns: LoadResult[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    step(`      grid round ${round}/${settings.rounds}, 1 client`);
    singleRuns.push(await measureOnce(gateway, single));
  }
  const concurrentRuns: LoadResult[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    step(`      grid round ${round}/${settings.rounds}, ${settings.connections} clients`);
    concurrentRuns.push(await measureOnce(gateway, concurrent));
  }
  return { singleClient: summarizeRuns(singleRuns), concurrent: summarizeRuns(concurrentRuns), variants };
}
