/**
 * `npm run bench:cluster`: the scale-out benchmark. Own broker, pre-filled bench topics
 * (6 partitions), gateway instances of one group behind HAProxy, all measured in one run:
 *
 *   A. 1 instance behind HAProxy: grid pages (wrk)                      QPS, p50, p99
 *   B. scale out to 3: time from starting 2 instances until all 3 serve  s, s per million records moved
 *   C. 3 instances behind HAProxy: the same grid pages                  QPS, p50, p99 vs A
 *   D. SIGKILL one instance under bounded lookup load                    unavailability window, errors
 *
 * Knobs: BENCH_ORDERS (default 200000), BENCH_CUSTOMERS, BENCH_DURATION (s per wrk run, 15),
 * BENCH_WARMUP (3), BENCH_ROUNDS (default 1 here), BENCH_CLUSTER_KAFKA_PORT (49592),
 * BENCH_CLUSTER_CONNECTIONS (8), BENCH_MAX_LOAD (3: waits up to 10 min for the 1-minute load
 * average to drop below it before starting). Writes test/bench/results/cluster.json and
 * test/bench/cluster-report.md. Figures only: fails only when something is broken.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker } from './broker.ts';
import { onCleanup, runMain } from './cleanup.ts';
import { lookupsAcrossKill, type KillFigures } from './cluster-kill.ts';
import { metricsOf, readyStatus, spawnInstance, startHaproxy, waitAllReady, waitHaproxyUp, type Haproxy, type Instance } from './cluster-procs.ts';
import { runWrk, summarizeRuns, writeGridScript, type LoadOptions, type LoadResult, type LoadSummary } from './http-load.ts';
import { step } from './phases.ts';
import { prefill, topicName } from './prefill.ts';
import { verifyGrid, verifyLookups } from './queries.ts';
import { cpuPressure, machine, renderReport, revision, type Report, type Row } from './report.ts';
import { freePort, waitIdle } from './servers.ts';
import { loadSettings, REPO_ROOT, TOPICS, type BenchSettings } from './settings.ts';

process.env.BENCH_ORDERS ??= '200000';
process.env.BENCH_ROUNDS ??= '1';

const loadNow = (): number => Math.round(os.loadavg()[0]! * 100) / 100;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

/**
 * Waits (polling every 20 s) for the 1-minute load average to drop to maxLoad. All calls share one
 * budget of 10 minutes; once it is spent, measuring goes ahead and the load is reported.
 */
let waitBudgetMs = 600_000;
const waits: Array<{ before: string; waitedS: number; load: number }> = [];
async function waitForQuietMachine(before: string, maxLoad: number): Promise<number> {
  const started = Date.now();
  while (loadNow() > maxLoad && waitBudgetMs > 0) {
    step(`      load average ${loadNow()} > ${maxLoad} before ${before}: waiting 20 s (budget left ${Math.round(waitBudgetMs / 1000)} s)`);
    const slice = Math.min(20_000, waitBudgetMs);
    await sleep(slice);
    waitBudgetMs -= slice;
  }
  const load = loadNow();
  waits.push({ before, waitedS: Math.round((Date.now() - started) / 1000), load });
  return load;
}

/** Waits for every running instance to be idle, then one wrk run per round (after an unmeasured warm-up). */
async function gridLoad(settings: BenchSettings, instances: readonly Instance[], options: LoadOptions): Promise<LoadSummary> {
  const idle = async (): Promise<number> => {
    let waited = 0;
    for (const instance of instances) if (instance.server) waited += await waitIdle(instance.server, 120_000);
    return waited;
  };
  if (settings.warmupSeconds > 0) {
    await idle();
    await runWrk({ ...options, durationSeconds: settings.warmupSeconds });
  }
  const runs: LoadResult[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    const idleWaitMs = await idle();
    const loadAtStart = loadNow();
    runs.push({ ...(await runWrk(options)), idleWaitMs });
    step(
      `      round ${round}/${settings.rounds}: ${runs.at(-1)!.qps.toFixed(1)} QPS, p50 ${runs.at(-1)!.p50Ms.toFixed(1)} ms, p99 ${runs.at(-1)!.p99Ms.toFixed(1)} ms, ${runs.at(-1)!.failed} failed (load ${loadAtStart})`,
    );
  }
  return summarizeRuns(runs);
}

async function main(): Promise<void> {
  const settings = loadSettings();
  const kafkaPort = intEnv('BENCH_CLUSTER_KAFKA_PORT', 49592);
  const connections = intEnv('BENCH_CLUSTER_CONNECTIONS', 8);
  const maxLoad = Number(process.env.BENCH_MAX_LOAD ?? 3);
  const knobs = Object.keys(process.env)
    .filter((name) => name.startsWith('BENCH_'))
    .sort()
    .map((name) => `${name}=${process.env[name]}`);
  const command = [...knobs, process.env.npm_lifecycle_event === 'bench:cluster' ? 'npm run bench:cluster' : 'node test/bench/cluster.ts'].join(' ');
  const started = new Date();
  const startRevision = revision();
  const loads: Record<string, number> = {};

  step(`[0/6] machine load average ${loadNow()} (other benchmarks may be running)`);
  loads.start = await waitForQuietMachine('the start', maxLoad);
  const host = machine();

  const work = mkdtempSync(path.join(settings.tmpRoot, 'gw-bench-cluster-'));
  const removeWork = (): void => rmSync(work, { recursive: true, force: true });
  onCleanup('remove temp dir', removeWork, removeWork);

  step(`[1/6] starting a fresh broker on 127.0.0.1:${kafkaPort}`);
  const broker = await startBroker({ port: kafkaPort, tmpRoot: settings.tmpRoot });
  step(`[2/6] pre-fill: ${settings.orders} orders, ${settings.customers} customers and their payments via kcat -P`);
  const filled = await prefill(settings, broker.brokers);
  step(`      ${filled.total} records in ${(filled.ms / 1000).toFixed(1)} s`);

  const ports = [await freePort(), await freePort(), await freePort()];
  const instances: Instance[] = ports.map((port, i) => ({
    name: `gw${i + 1}`,
    port,
    url: `http://127.0.0.1:${port}`,
    dataDir: path.join(work, `gw${i + 1}`),
    logFile: path.join(work, `gw${i + 1}.log`),
  }));
  const env = {
    brokers: broker.brokers,
    groupId: `gw-bench-cluster-${process.pid}-${Date.now()}`,
    peerSecret: randomBytes(24).toString('hex'),
    sessionTimeoutMs: 2000,
  };
  const [gw1, gw2, gw3] = instances as [Instance, Instance, Instance];

  // Phase A ------------------------------------------------------------------------------------
  step('[3/6] phase A: 1 instance behind HAProxy (all 3 servers configured; 2 and 3 not started, so their checks fail)');
  const catchUpStart = performance.now();
  await spawnInstance(gw1, env);
  const haproxy: Haproxy = await startHaproxy(work, await freePort(), instances);
  await waitAllReady([gw1], settings.ingestTimeoutSeconds * 1000);
  const singleCatchUpMs = performance.now() - catchUpStart;
  step(`      gw1 ready after ${(singleCatchUpMs / 1000).toFixed(1)} s (all ${filled.total} records)`);
  await waitHaproxyUp(haproxy, ['gw1'], 30_000);
  const gridChecks = await verifyGrid(haproxy.url);
  await verifyLookups('through HAProxy', haproxy.url, filled.lookupIds.slice(0, 20));
  const script = path.join(work, 'grid.lua');
  writeGridScript(script);
  const wrkOptions: LoadOptions = { url: haproxy.url, script, threads: 2, connections, durationSeconds: settings.durationSeconds };
  for (const instance of [gw1]) await waitIdle(instance.server!, 120_000);
  loads.phaseA = await waitForQuietMachine('phase A', maxLoad);
  const gridA = await gridLoad(settings, [gw1], wrkOptions);

  // Phase B ------------------------------------------------------------------------------------
  step('[4/6] phase B: scale out, starting gw2 and gw3 in the same group');
  loads.phaseB = await waitForQuietMachine('phase B', maxLoad);
  const scaleStart = performance.now();
  await Promise.all([spawnInstance(gw2, env), spawnInstance(gw3, env)]);
  // A new instance that has joined but holds nothing yet may not answer 200; all three must be 200 at once.
  const allReady = await waitAllReady(instances, settings.ingestTimeoutSeconds * 1000);
  const scaleOutMs = allReady - scaleStart;
  const haproxyUpStart = performance.now();
  const upStatus = await waitHaproxyUp(haproxy, ['gw1', 'gw2', 'gw3'], 30_000);
  const haproxyAllUpMs = performance.now() - scaleStart;
  step(
    `      all 3 ready ${(scaleOutMs / 1000).toFixed(2)} s after starting gw2 and gw3; HAProxy all UP after ${(haproxyAllUpMs / 1000).toFixed(2)} s (${Math.round(performance.now() - haproxyUpStart)} ms after ready)`,
  );
  const partitioned = new Set(TOPICS.filter((topic) => topic !== 'customers').map(topicName));
  const assignment: Record<string, string[]> = {};
  let movedRecords = 0;
  let movedPartitions = 0;
  const ingestedByNew: Record<string, number> = {};
  for (const instance of instances) {
    const metrics = await metricsOf(instance.url);
    assignment[instance.name] = [...metrics.nextOffsets.keys()].filter((key) => partitioned.has(key.split('/')[0]!)).sort();
    if (instance === gw1) continue;
    ingestedByNew[instance.name] = metrics.ingestRecords;
    for (const key of assignment[instance.name]!) {
      const [topic, partition] = key.split('/') as [string, string];
      movedRecords += Number(filled.endOffsets.get(topic)?.get(Number(partition)) ?? 0n);
      movedPartitions++;
    }
  }
  const totalIngestedByNew = Object.values(ingestedByNew).reduce((sum, value) => sum + value, 0);
  const secondsPerMillionMoved = scaleOutMs / 1000 / (movedRecords / 1e6);
  const secondsPerMillionIngested = scaleOutMs / 1000 / (totalIngestedByNew / 1e6);
  step(
    `      moved: ${movedPartitions} partitions of orders/payments, ${movedRecords} records; new instances ingested ${totalIngestedByNew} records (replicated customers included)`,
  );

  // Phase C ------------------------------------------------------------------------------------
  step('[5/6] phase C: 3 instances behind HAProxy, the same grid load');
  await verifyGrid(haproxy.url);
  await verifyLookups('through HAProxy, 3 instances', haproxy.url, filled.lookupIds.slice(0, 20));
  for (const instance of instances) await waitIdle(instance.server!, 120_000);
  loads.phaseC = await waitForQuietMachine('phase C', maxLoad);
  const gridC = await gridLoad(settings, instances, wrkOptions);

  // Phase D ------------------------------------------------------------------------------------
  step('[6/6] phase D: SIGKILL gw2 under lookup load (4 concurrent, 20 s, kill at 5 s)');
  for (const instance of instances) await waitIdle(instance.server!, 120_000);
  loads.phaseD = await waitForQuietMachine('phase D', maxLoad);
  const haproxyLogMark = haproxy.log.length;
  const killWall = { at: '' };
  const kill: KillFigures = await lookupsAcrossKill({
    url: haproxy.url,
    ids: filled.lookupIds,
    concurrency: 4,
    durationMs: 20_000,
    killAfterMs: 5000,
    requestTimeoutMs: 10_000,
    kill: () => {
      killWall.at = new Date().toISOString();
      gw2.server!.child.kill('SIGKILL');
    },
  });
  const survivorsReady = await Promise.all([gw1, gw3].map((instance) => readyStatus(instance.url)));
  // Survivors' log lines from the kill on (info and above): rebalance, restore, routing errors.
  const survivorLogs = [gw1, gw3].flatMap((instance) =>
    readFileSync(instance.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{') && (/"time":"([^"]+)"/.exec(line)?.[1] ?? '') >= killWall.at)
      .slice(0, 40)
      .map((line) => `${instance.name} ${line.slice(0, 400)}`),
  );
  step(
    `      ${kill.requests} lookups, ${kill.failed} failed (${kill.failedAfterKill} after the kill); window ${kill.windowMs} ms; reasons ${JSON.stringify(kill.reasons)}`,
  );
  loads.end = loadNow();

  // Report -------------------------------------------------------------------------------------
  const ratio = (value: number, baseline: number): number => value / baseline;
  const rows: Row[] = [
    {
      figure: 'grid QPS, 3 instances (baseline: 1 instance)',
      value: gridC.qps,
      unit: 'QPS',
      baseline: gridA.qps,
      ratio: ratio(gridC.qps, gridA.qps),
      note: `wrk -t2 -c${connections} -d${settings.durationSeconds}s via HAProxy`,
    },
    {
      figure: 'grid p50, 3 instances (baseline: 1 instance)',
      value: gridC.p50Ms,
      unit: 'ms',
      baseline: gridA.p50Ms,
      ratio: ratio(gridA.p50Ms, gridC.p50Ms),
    },
    {
      figure: 'grid p99, 3 instances (baseline: 1 instance)',
      value: gridC.p99Ms,
      unit: 'ms',
      baseline: gridA.p99Ms,
      ratio: ratio(gridA.p99Ms, gridC.p99Ms),
    },
    {
      figure: 'grid failed responses, 3 instances (baseline: 1 instance)',
      value: gridC.failed,
      unit: 'responses',
      baseline: gridA.failed,
      target: '0',
      met: gridA.failed + gridC.failed === 0,
      note: `of ${gridC.requests} (C) and ${gridA.requests} (A)`,
    },
    {
      figure: 'scale-out: start of 2 instances until all 3 ready',
      value: scaleOutMs / 1000,
      unit: 's',
      baseline: singleCatchUpMs / 1000,
      note: 'baseline: 1 instance catching up on everything',
    },
    {
      figure: 'records in partitions moved to the new instances',
      value: movedRecords,
      unit: 'records',
      note: `${movedPartitions} orders/payments partitions`,
    },
    {
      figure: 'scale-out time per million records moved',
      value: secondsPerMillionMoved,
      unit: 's/M',
      baseline: singleCatchUpMs / 1000 / (filled.total / 1e6),
      note: 'baseline: 1-instance full catch-up per million records',
    },
    {
      figure: 'scale-out time per million records ingested by the new instances',
      value: secondsPerMillionIngested,
      unit: 's/M',
      note: `${totalIngestedByNew} records incl. replicated customers`,
    },
    {
      figure: 'unavailability window after SIGKILL',
      value: kill.windowMs,
      unit: 'ms',
      target: '<= 2000 ms',
      met: kill.windowMs <= 2000,
      note: `GROUP_SESSION_TIMEOUT_MS=2000`,
    },
    {
      figure: 'failed lookups after SIGKILL',
      value: kill.failedAfterKill,
      unit: 'requests',
      note: `of ${kill.requests} lookups, 4 concurrent, 20 s`,
    },
  ];
  const notes = [
    `loads (1-minute average): ${Object.entries(loads)
      .map(([phase, load]) => `${phase} ${load}`)
      .join(', ')}; waits for load <= ${maxLoad}: ${waits.map((w) => `${w.before} ${w.waitedS} s`).join(', ')}`,
    `all processes share ${host.nproc} cores: the broker, 1 or 3 gateways, HAProxy and wrk; on a small machine 3 instances compete for the same CPUs`,
    `scale-out: HAProxy reported all 3 UP ${(haproxyAllUpMs / 1000).toFixed(2)} s after the start (checks every 500 ms, rise 2); assignment of orders/payments after scale-out: ${JSON.stringify(assignment)}`,
    `kill: gw2 SIGKILLed at ${killWall.at}; first failure ${kill.firstFailureAfterKillMs ?? '-'} ms after the kill; survivors' /readyz after the load: gw1 ${survivorsReady[0]}, gw3 ${survivorsReady[1]}`,
  ];
  const report: Report = {
    date: started.toISOString(),
    command,
    revision: { start: startRevision, end: revision() },
    machine: { ...host, loadAverageAtEnd: loads.end, cpuPressureAtEnd: cpuPressure() },
    scale: {
      orders: settings.orders,
      customers: settings.customers,
      records: filled.total,
      partitions: 6,
      ...Object.fromEntries(Object.entries(filled.records).map(([topic, count]) => [`${topic} records`, count])),
    },
    rows,
    notes,
    appendix: [
      `kill timeline after the kill (500 ms buckets, ok/failed): ${kill.timeline.map((b) => `${b.fromMs}:${b.ok}/${b.failed}`).join(' ')}`,
      ...(kill.failures.length > 0
        ? [
            `failed lookups (ms relative to the kill): ${kill.failures
              .slice(0, 20)
              .map((f) => `[${f.startMs}..${f.endMs}] ${f.what}`)
              .join('; ')}`,
          ]
        : []),
      'HAProxy during the kill phase:',
      ...haproxy.log.slice(haproxyLogMark).map((line) => `  ${line}`),
      'survivor log lines (warn and above) from the kill on:',
      ...survivorLogs
        .filter((line) => !line.includes('"level":"info"'))
        .slice(0, 15)
        .map((line) => `  ${line.slice(0, 300)}`),
    ],
    details: {
      settings: { ...settings, resultsDir: undefined, tmpRoot: undefined, kafkaPort, connections },
      loads,
      waits,
      brokerStartMs: Math.round(broker.startMs),
      prefill: { records: filled.records, total: filled.total, ms: Math.round(filled.ms) },
      gridChecks,
      phaseA: { singleCatchUpMs: Math.round(singleCatchUpMs), grid: gridA },
      phaseB: {
        scaleOutMs: Math.round(scaleOutMs),
        haproxyAllUpMs: Math.round(haproxyAllUpMs),
        haproxyStatus: upStatus,
        assignment,
        movedPartitions,
        movedRecords,
        ingestedByNew,
        secondsPerMillionMoved,
        secondsPerMillionIngested,
      },
      phaseC: { grid: gridC },
      phaseD: { ...kill, killedAt: killWall.at, survivorsReady, survivorLogs },
      haproxyLog: haproxy.log,
    },
  };
  const text = renderReport(report)
    .replace('Gateway benchmark,', 'Gateway scale-out benchmark,')
    .replace(' Gateway |', '   Value |')
    .replace(
      'Ratios are gateway/baseline for throughput and baseline/gateway for latency: above 1 means the gateway is ahead.',
      'Value = 3 instances (or the figure itself), Baseline = 1 instance in the same run. Ratios: 3/1 for QPS, 1/3 for latency (above 1 = 3 instances ahead).',
    );
  process.stdout.write(text);
  mkdirSync(settings.resultsDir, { recursive: true });
  const jsonFile = path.join(settings.resultsDir, 'cluster.json');
  writeFileSync(jsonFile, `${JSON.stringify(report, null, 2)}\n`);
  const mdFile = path.join(REPO_ROOT, 'test/bench/cluster-report.md');
  writeFileSync(
    mdFile,
    [
      '# Scale-out benchmark',
      '',
      'Generated by `test/bench/cluster.ts` (`npm run bench:cluster`). Value = 3 instances behind HAProxy (or the figure itself); Baseline = 1 instance behind HAProxy in the same run.',
      '',
      '```',
      text.trim(),
      '```',
      '',
    ].join('\n'),
  );
  step(`results written to ${path.relative(process.cwd(), jsonFile)} and ${path.relative(process.cwd(), mdFile)}`);
  for (const instance of instances) {
    if (instance !== gw2) {
      const code = await instance.server!.stop();
      if (code !== 0) step(`      ${instance.name} exited with ${code} on SIGTERM`);
    }
  }
}

await runMain(main);
