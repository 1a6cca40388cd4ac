/**
 * The bench's test of whether a stall was the host's (test/bench/host-pauses.ts): a stall whose
 * CPU time got the samples it should is the gateway's own, one with few samples and a long gap
 * is the host's, and a stall mostly spent waiting for a core or blocked is judged by its CPU time
 * alone.
 */
import { describe, expect, it } from 'vitest';
import { classifyStalls, SAMPLE_HZ } from '../bench/host-pauses.ts';
import type { Stall } from '../bench/stall-monitor.ts';

const PERIOD = 1 / SAMPLE_HZ;

/** A stall that ended at `endS` (monotonic seconds). */
function stall(endS: number, delayMs: number, cpuMs: number): Stall {
  return {
    at: 0,
    monotonicUs: Math.round(endS * 1e6),
    delayMs,
    cpuMs,
    waitMs: 0,
    blockedMs: Math.max(0, delayMs - cpuMs),
    systemMs: 0,
    minorFaults: 0,
    majorFaults: 0,
    gcMs: 0,
  };
}

/** Sample times every 4 ms from `fromS` to `toS`. */
const every = (fromS: number, toS: number): number[] => Array.from({ length: Math.floor((toS - fromS) / PERIOD) + 1 }, (_, i) => fromS + i * PERIOD);

describe('stalls the host caused', () => {
  it('takes a stall sampled all through for the gateway own, and one with a long gap for the host', () => {
    const times = [...every(10, 10.2), ...every(10.262, 10.4)];
    const [own, host] = classifyStalls(times, [stall(10.1, 70, 70), stall(10.27, 70, 70)]);
    expect(own).toMatchObject({ host: false, expected: 18 });
    expect(own!.samples).toBeGreaterThanOrEqual(17);
    expect(own!.longestGapMs).toBeLessThan(5);
    expect(host).toMatchObject({ host: true, expected: 18 });
    expect(host!.samples).toBeLessThanOrEqual(5);
    expect(host!.longestGapMs).toBeGreaterThan(60);
  });

  it('expects samples only for the time on the CPU', () => {
    // 60 ms late, 8 ms of it on the CPU: two samples are all it should get.
    const [waiting] = classifyStalls([20.001, 20.005], [stall(20.05, 60, 8)]);
    expect(waiting).toMatchObject({ host: false, samples: 2, expected: 2 });
  });

  it('does not judge a stall spent waiting for a core', () => {
    // 90 ms late with 18 ms on the CPU and no sample: too little CPU time to miss 30 ms of it.
    const [waiting] = classifyStalls([], [stall(50.09, 90, 18)]);
    expect(waiting).toMatchObject({ host: false, samples: 0 });
  });

  it('needs a long gap as well as few samples', () => {
    // Half the samples, spread evenly: sampling was thin, not stopped.
    const thin = Array.from({ length: 10 }, (_, i) => 30 + i * 0.008);
    const [sparse] = classifyStalls(thin, [stall(30.08, 80, 80)]);
    expect(sparse!.host).toBe(false);
  });

  it('counts no sample outside the stall', () => {
    const [alone] = classifyStalls([...every(39, 39.9), ...every(40.2, 41)], [stall(40.1, 90, 90)]);
    expect(alone).toMatchObject({ host: true, samples: 0 });
  });
});
