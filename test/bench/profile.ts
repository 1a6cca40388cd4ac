/**
 * Optional (BENCH_PROFILE=1), after all measured runs so it cannot disturb them: a second ingest
 * of the same topics under `node --cpu-prof`, then a gateway over that data (nothing left to
 * ingest) serving a few rounds of grid pages under the profiler. Each gateway is stopped with
 * SIGTERM, which writes its .cpuprofile; the top functions by self time are printed and stored
 * with the results, for whoever optimizes ingest or pages.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { measureIngest, type EndOffsets } from './ingest.ts';
import { GRID_VARIANTS, gridBody, post } from './queries.ts';
import { startGateway, type ServerProcess } from './servers.ts';
import { REPO_ROOT } from './settings.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface HotFunction {
  readonly fn: string;
  readonly location: string;
  readonly selfMs: number;
  readonly percent: number;
}

export interface ProfileResult {
  readonly file: string;
  /** Throughput under the profiler (records/s for ingest, pages/s for grid). */
  readonly rate: number;
  readonly rateUnit: string;
  readonly totalMs: number;
  readonly top: HotFunction[];
}

/** Sequential rounds over the grid variants in the grid profile. */
const GRID_PROFILE_ROUNDS = 3;

function shortUrl(url: string): string {
  if (url === '') return '';
  const plain = url.startsWith('file://') ? url.slice('file://'.length) : url;
  const modules = plain.lastIndexOf('/node_modules/');
  if (modules >= 0) return plain.slice(modules + 1);
  return plain.startsWith(REPO_ROOT) ? path.relative(REPO_ROOT, plain) : plain;
}

/** Self time per function (name + location), largest first. */
export function summarize(profile: CpuProfile, top = 10): { totalMs: number; top: HotFunction[] } {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, { fn: string; location: string; us: number }>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    totalUs += delta;
    const frame = byNode.get(id)?.callFrame;
    if (!frame) return;
    const url = shortUrl(frame.url);
    const location = url === '' ? '' : `${url}:${frame.lineNumber + 1}`;
    const fn = frame.functionName || '(anonymous)';
    const id2 = `${fn} ${location}`;
    const entry = self.get(id2) ?? { fn, location, us: 0 };
    entry.us += delta;
    self.set(id2, entry);
  });
  const sorted = [...self.values()].sort((a, b) => b.us - a.us).slice(0, top);
  return {
    totalMs: totalUs / 1000,
    top: sorted.map((entry) => ({ fn: entry.fn, location: entry.location, selfMs: entry.us / 1000, percent: (100 * entry.us) / totalUs })),
  };
}

/** Runs `work` against a gateway started with `--cpu-prof`, stops it, and summarizes the profile. */
async function profiled<T>(
  options: { brokers: string; dataDir: string; profileDir: string; logFile: string },
  work: (gateway: ServerProcess) => Promise<T>,
): Promise<{ result: T; file: string; totalMs: number; top: HotFunction[] }> {
  mkdirSync(options.profileDir, { recursive: true });
  const gateway = await startGateway({
    brokers: options.brokers,
    dataDir: options.dataDir,
    groupId: `gw-bench-profile-${process.pid}-${Date.now()}`,
    logFile: options.logFile,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`],
  });
  let result: T;
  try {
    result = await work(gateway);
  } finally {
    const code = await gateway.stop();
    if (code !== 0) process.stderr.write(`bench: profiled gateway exited with ${code}\n`);
  }
  const name = readdirSync(options.profileDir).find((entry) => entry.endsWith('.cpuprofile'));
  if (!name) throw new Error(`no .cpuprofile written in ${options.profileDir} (did the gateway exit cleanly?)`);
  const file = path.join(options.profileDir, name);
  return { result, file, ...summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile) };
}

export interface ProfileOptions {
  readonly brokers: string;
  /** Ingest profile: fresh dir; the grid profile then reopens it (already caught up). */
  readonly dataDir: string;
  readonly workDir: string;
  readonly ends: EndOffsets;
  readonly timeoutSeconds: number;
}

/** A second ingest under the profiler; then a gateway over that data serving grid pages under the profiler. */
export async function profileGateway(options: ProfileOptions): Promise<{ ingest: ProfileResult; grid: ProfileResult }> {
  const ingest = await profiled(
    { ...options, profileDir: path.join(options.workDir, 'profile-ingest'), logFile: path.join(options.workDir, 'profile-ingest.log') },
    async (gateway) => (await measureIngest(gateway, options.ends, options.timeoutSeconds)).recordsPerSecond,
  );
  const grid = await profiled(
    { ...options, profileDir: path.join(options.workDir, 'profile-grid'), logFile: path.join(options.workDir, 'profile-grid.log') },
    async (gateway) => {
      await measureIngest(gateway, options.ends, options.timeoutSeconds); // nothing left to read
      const started = performance.now();
      let pages = 0;
      for (let round = 0; round < GRID_PROFILE_ROUNDS; round++) {
        for (const variant of GRID_VARIANTS) {
          const { status } = await post(gateway.url, gridBody(variant));
          if (status !== 200) throw new Error(`grid page "${variant.name}" answered ${status} under the profiler`);
          pages++;
        }
      }
      return pages / ((performance.now() - started) / 1000);
    },
  );
  return {
    ingest: { file: ingest.file, rate: ingest.result, rateUnit: 'rec/s', totalMs: ingest.totalMs, top: ingest.top },
    grid: { file: grid.file, rate: grid.result, rateUnit: 'pages/s', totalMs: grid.totalMs, top: grid.top },
  };
}
