/**
 * Optional (BENCH_PROFILE=1): a second, profiled ingest of the same topics with
 * `node --cpu-prof`, after all measured runs so it cannot disturb them. The gateway is stopped
 * with SIGTERM once caught up, which writes the .cpuprofile; the top functions by self time are
 * printed and stored with the results, for whoever optimizes ingest.
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { measureIngest, type EndOffsets } from './ingest.ts';
import { startGateway } from './servers.ts';
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
  readonly recordsPerSecond: number;
  readonly totalMs: number;
  readonly top: HotFunction[];
}

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

export async function profileIngest(options: {
  brokers: string;
  dataDir: string;
  profileDir: string;
  logFile: string;
  ends: EndOffsets;
  timeoutSeconds: number;
}): Promise<ProfileResult> {
  mkdirSync(options.profileDir, { recursive: true });
  const gateway = await startGateway({
    brokers: options.brokers,
    dataDir: options.dataDir,
    groupId: `gw-bench-profile-${process.pid}-${Date.now()}`,
    logFile: options.logFile,
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`],
  });
  let recordsPerSecond: number;
  try {
    recordsPerSecond = (await measureIngest(gateway, options.ends, options.timeoutSeconds)).recordsPerSecond;
  } finally {
    const code = await gateway.stop();
    if (code !== 0) process.stderr.write(`bench: profiled gateway exited with ${code}\n`);
  }
  const file = readdirSync(options.profileDir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written in ${options.profileDir} (did the gateway exit cleanly?)`);
  const full = path.join(options.profileDir, file);
  const summary = summarize(JSON.parse(readFileSync(full, 'utf8')) as CpuProfile);
  return { file: full, recordsPerSecond, ...summary };
}
