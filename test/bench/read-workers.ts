/**
 * `npm run bench:workers`: how reads scale with the read workers (READ_WORKERS): the same
 * gateway, store and loads with each worker count in turn. Figures only: it asserts nothing and
 * has no targets.
 *
 * One run: a fresh broker (BENCH_KAFKA_PORT), the bench's generated data (BENCH_ORDERS, default
 * 200,000 here), one data directory. The first gateway catches up from the topics; each later
 * one resumes from the store. Per round (BENCH_ROUNDS) and worker count (BENCH_WORKERS, default
 * 0,1), a gateway is started as `npm start` starts it with READ_WORKERS set, warmed up, and
 * measured with wrk: grid pages read from the store (the bench's rotation without totalCount,
 * `Cache-Control: no-cache`) with 1 client and with BENCH_CONNECTIONS, and lookups by orderId with
 * variables over every order with BENCH_CONNECTIONS. The share of answers the workers gave comes
 * from the gateway's `gw_read_worker_tasks_total`. With BENCH_WRITE_RATE (records per second,
 * default 0), orders are updated at that rate while each gateway is measured (test/bench/writer.ts):
 * a worker then runs a query again, or hands it back, when the store was written during its run.
 * BENCH_NODE_FLAGS (`;`-separated sets of node flags added after `npm start`'s; settings.ts,
 * nodeFlagSets) measures each worker count under each set, for example
 * `BENCH_WORKERS=1 BENCH_NODE_FLAGS=';--v8-pool-size=4 --parallel-scavenge'` for the V8 flags.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runMain } from './cleanup.ts';
import { measureOnce, runWrk, summarizeRuns, writeGridScript, writeLookupScript, type LoadResult } from './http-load.ts';
import { checkIngest, measureIngest } from './ingest.ts';
import { step } from './phases.ts';
import { filledBroker } from './prefill.ts';
import { gridVariants } from './queries.ts';
import { revision } from './report.ts';
import { startGateway } from './servers.ts';
import { startWriter } from './writer.ts';
import { commandLine, integerList, nodeFlagSets } from './settings.ts';

type Load = 'grid, 1 client' | 'grid, N clients' | 'lookups, N clients';

async function main(): Promise<void> {
  const { settings, work, broker, filled } = await filledBroker('workers');
  const counts = integerList(process.env, 'BENCH_WORKERS', '0,1', 0, 64);
  const [writeRate] = integerList(process.env, 'BENCH_WRITE_RATE', '0', 0, 100_000) as [number];
  const variants = counts.flatMap((count) =>
    nodeFlagSets(process.env.BENCH_NODE_FLAGS).map((args) => ({ count, args, flags: args.join(' '), key: `${count}\u0000${args.join(' ')}` })),
  );
  const gridScript = path.join(work, 'grid-fresh.lua');
  writeGridScript(gridScript, gridVariants('gateway', false), { fresh: true });
  // The generator numbers orders from 1 (`ord-` and ten digits): every order, one id per line.
  const idsFile = path.join(work, 'all-order-ids.txt');
  writeFileSync(idsFile, Array.from({ length: settings.orders }, (_, i) => `ord-${String(i + 1).padStart(10, '0')}`).join('\n'));
  const lookupScript = path.join(work, 'lookups-all.lua');
  writeLookupScript(lookupScript, { file: idsFile });
  const loads: ReadonlyArray<readonly [Load, string, number, number]> = [
    ['grid, 1 client', gridScript, 1, 1],
    ['grid, N clients', gridScript, settings.threads, settings.connections],
    ['lookups, N clients', lookupScript, settings.threads, settings.connections],
  ];

  const runs = new Map<string, LoadResult[]>();
  const dataDir = path.join(work, 'gateway-data');
  for (let round = 1; round <= settings.rounds; round++) {
    for (const [index, { count, args, flags, key: variant }] of variants.entries()) {
      const gateway = await startGateway({
        brokers: broker.brokers,
        dataDir,
        groupId: 'gw-bench-workers',
        logFile: path.join(work, `gateway-${round}-${index}.log`),
        env: { READ_WORKERS: String(count) },
        nodeArgs: args,
      });
      try {
        const ingest = await measureIngest(gateway, filled.endOffsets, settings.ingestTimeoutSeconds);
        // The first gateway applies every record; the later ones resume from the store.
        const problems = runs.size === 0 ? checkIngest(ingest, filled.endOffsets) : [];
        if (problems.length > 0) throw new Error(`ingest is incomplete: ${problems.join('; ')}`);
        step(`round ${round}/${settings.rounds}, READ_WORKERS=${count}${flags ? ` ${flags}` : ''}: caught up in ${(ingest.ms / 1000).toFixed(1)} s`);
        const writer = startWriter(broker.brokers, filled.sampleOrders, writeRate);
        for (const [name, script, threads, connections] of loads) {
          const load = { url: gateway.url, script, threads, connections, durationSeconds: settings.durationSeconds };
          if (settings.warmupSeconds > 0) await runWrk({ ...load, durationSeconds: settings.warmupSeconds });
          const result = await measureOnce(gateway, load, writeRate === 0);
          step(`      ${name}: ${result.qps.toFixed(0)} req/s, p99 ${result.p99Ms.toFixed(1)} ms`);
          const key = `${name}\u0000${variant}`;
          runs.set(key, [...(runs.get(key) ?? []), result]);
        }
        await writer.stop();
      } finally {
        await gateway.stop();
      }
    }
  }

  const f = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const baseline = variants[0]!;
  const label = (flags: string) => (flags ? `\`${flags}\`` : '-');
  const lines = [
    `${commandLine(process.env, { npm: 'bench:workers', file: 'test/bench/read-workers.ts' })}: revision ${revision().head}, ` +
      `${os.cpus().length} cores, ${settings.orders} orders, ${settings.rounds} rounds of ${settings.durationSeconds} s, ` +
      `N = ${settings.connections}, ${writeRate} updates/s, medians; ratio against READ_WORKERS=${baseline.count}` +
      `${baseline.flags ? ` with ${baseline.flags}` : ''} in the same run`,
    '',
    '| Load | READ_WORKERS | Node flags added | req/s | Ratio | p50 | p99 | Answered by workers | Failed |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [name] of loads) {
    const base = summarizeRuns(runs.get(`${name}\u0000${baseline.key}`)!);
    for (const { count, flags, key } of variants) {
      const summary = summarizeRuns(runs.get(`${name}\u0000${key}`)!);
      const share =
        summary.workerAnswers === undefined ? '-' : `${f(Math.min(100, (100 * summary.workerAnswers) / Math.max(1, summary.requests)), 1)} %`;
      lines.push(
        `| ${name.replace('N clients', `${settings.connections} clients`)} | ${count} | ${label(flags)} | ${f(summary.qps)} | ${f(summary.qps / base.qps, 2)}x | ` +
          `${f(summary.p50Ms, 2)} ms | ${f(summary.p99Ms, 1)} ms | ${share} | ${summary.failed} |`,
      );
    }
  }
  console.log(lines.join('\n'));
}

await runMain(main);
