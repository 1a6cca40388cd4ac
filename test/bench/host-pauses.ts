/**
 * Stalls in which the host, not the gateway, held the main thread's core. On a virtual machine
 * the hypervisor may take a vCPU away for tens of milliseconds. A guest without steal-time
 * accounting (this bench machine's `/proc/stat` shows none) goes on charging that time to the
 * thread that was running, so such a stall looks like the gateway's own work: time on the CPU,
 * no GC. What tells them apart is a sampler driven by the guest's own timer interrupts: while the
 * vCPU is away no interrupt fires, so `perf record -F 250` of the main thread takes no sample,
 * where the gateway's own work gets one every 4 ms.
 *
 * The bench (and `node test/bench/host-pauses.ts <perf.data> <stalls.json>` on a recording made
 * by hand) records the main thread with `perf record -k mono` (the monitor's `monotonicUs` is
 * on the same clock) and counts the samples within each stall. A stall whose time on the CPU,
 * less 4 ms per sample, leaves 30 ms or more unsampled, with a stretch of at least 30 ms without
 * a sample, is the host's. A stall spent waiting for a core is not judged: the thread was not
 * running, whoever held the core. Hand-written: no library reads `perf` recordings from Node.
 *
 * Needs `perf` (Debian's `linux-perf`) and permission to sample another process; without them the
 * bench leaves these figures out.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { exited, spawnTracked } from './cleanup.ts';
import type { Stall, StallReport } from './stall-monitor.ts';

/** Sampling frequency, Hz: one sample every 4 ms of the thread's time on the CPU. */
export const SAMPLE_HZ = 250;
const PERIOD_MS = 1000 / SAMPLE_HZ;
/**
 * A stall is the host's when at least this much of its time on the CPU went without a sample
 * (its CPU time less a period per sample), with a gap of at least as long between two samples.
 */
const UNSAMPLED_MS = 30;
/** Stalls up to this long are not judged. */
const JUDGED_MS = 40;

export interface ThreadSampler {
  /** Stops the recording and waits until perf has written it. */
  stop(): Promise<void>;
}

/** Whether `perf` can record another process here (it exists and the kernel allows it). */
export function perfAvailable(): boolean {
  const probe = spawnSync('perf', ['record', '-q', '-F', String(SAMPLE_HZ), '-o', '/dev/null', '--', 'true'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Starts recording the thread `tid` into `file`, timestamps on the monotonic clock. */
export function sampleThread(tid: number, file: string): ThreadSampler {
  const child = spawnTracked('perf', ['record', '-q', '-k', 'mono', '-F', String(SAMPLE_HZ), '-t', String(tid), '-o', file], {
    stdio: 'ignore',
  });
  return {
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited(child);
    },
  };
}

export interface SampledStall {
  readonly stall: Stall;
  /** Samples of the main thread within the stall, and how many its CPU time would give. */
  readonly samples: number;
  readonly expected: number;
  /** The longest stretch of the stall without a sample, ms. */
  readonly longestGapMs: number;
  /** Whether the host held the core: 30 ms or more of its CPU time unsampled, and a gap as long. */
  readonly host: boolean;
}

/** Sample times (monotonic seconds) of a recording, in order. */
function sampleTimes(file: string): number[] {
  const text = execFileSync('perf', ['script', '-i', file, '-F', 'time'], {
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const times: number[] = [];
  for (const match of text.matchAll(/(\d+\.\d+):/g)) times.push(Number(match[1]));
  return times;
}

/** Each stall over 40 ms with the samples the recording holds within it (shorter ones are not judged). */
export function sampleStalls(file: string, stalls: readonly Stall[]): SampledStall[] {
  return classifyStalls(
    sampleTimes(file),
    stalls.filter((stall) => stall.delayMs > JUDGED_MS),
  );
}

/** Each stall with the samples among `times` (monotonic seconds, in order) that fall within it. */
export function classifyStalls(times: readonly number[], stalls: readonly Stall[]): SampledStall[] {
  return stalls.map((stall) => {
    const end = stall.monotonicUs / 1e6;
    const start = end - stall.delayMs / 1000 - PERIOD_MS / 1000;
    let samples = 0;
    let previous = start;
    let longestGap = 0;
    for (const time of times) {
      if (time < start) continue;
      if (time > end) break;
      samples++;
      longestGap = Math.max(longestGap, time - previous);
      previous = time;
    }
    longestGap = Math.max(longestGap, end - previous);
    const expected = stall.cpuMs / PERIOD_MS;
    const longestGapMs = Math.round(longestGap * 1e4) / 10;
    const unsampledMs = stall.cpuMs - samples * PERIOD_MS;
    return { stall, samples, expected: Math.round(expected), longestGapMs, host: unsampledMs >= UNSAMPLED_MS && longestGapMs >= UNSAMPLED_MS };
  });
}

if (import.meta.main) {
  const [recording, reportFile] = process.argv.slice(2);
  if (!recording || !reportFile) throw new Error('usage: node test/bench/host-pauses.ts <perf.data> <stalls.json>');
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as StallReport;
  for (const sampled of sampleStalls(recording, report.stalls)) {
    const { stall } = sampled;
    process.stdout.write(
      `${new Date(stall.at).toISOString()} ${stall.delayMs} ms late, ${stall.cpuMs} ms on the CPU, GC ${stall.gcMs} ms: ` +
        `${sampled.samples} samples of ${sampled.expected} expected, longest gap ${sampled.longestGapMs} ms${sampled.host ? ' (the host)' : ''}\n`,
    );
  }
}
