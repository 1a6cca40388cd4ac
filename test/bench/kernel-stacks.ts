/**
 * Where a thread blocks, by the kernel's account: samples one thread's state and kernel stack
 * (`/proc/<pid>/task/<tid>/stat` and `stack`) every INTERVAL_MS and counts, per stack, the samples
 * in which it slept or waited uninterruptibly outside the event loop's own `epoll_wait`. The
 * stall monitor (./stall-monitor.ts) says how long the main thread was blocked; this says in
 * which call. Reading another thread's kernel stack needs root.
 *
 *   node test/bench/kernel-stacks.ts <pid> [tid] [seconds]   (tid defaults to the pid: the main thread)
 *
 * Prints one JSON line per sample taken off the loop (epoch ms, state, the innermost frames) as
 * it goes, and at the end the stacks by count. Stops when the thread ends or after `seconds`
 * (default 120). Linux only. Figures only.
 */
import { readFileSync } from 'node:fs';

const INTERVAL_MS = 2;
const FRAMES = 16;

const [pid, tid = pid, seconds = '120'] = process.argv.slice(2);
if (!pid) {
  console.error('usage: node test/bench/kernel-stacks.ts <pid> [tid] [seconds]');
  process.exit(2);
}
const task = `/proc/${pid}/task/${tid}`;
const counts = new Map<string, number>();
const until = Date.now() + Number(seconds) * 1000;

const sample = (): boolean => {
  try {
    const stat = readFileSync(`${task}/stat`, 'latin1');
    const state = stat[stat.lastIndexOf(')') + 2];
    if (state !== 'S' && state !== 'D') return true;
    const frames = readFileSync(`${task}/stack`, 'latin1')
      .split('\n')
      .filter((line) => line.trim())
      .map((line) => line.replace(/^\[<[0-9a-f]+>\] /, '').replace(/\+0x.*$/, ''));
    // The event loop waiting for work is not a stall.
    if (frames.some((frame) => frame.includes('ep_poll') || frame.includes('do_epoll_wait'))) return true;
    const key = `${state}:${frames.slice(0, FRAMES).join('<')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    console.log(JSON.stringify({ at: Date.now(), stack: key }));
    return true;
  } catch {
    return false; // the thread ended
  }
};

const report = (): void => {
  const sorted = [...counts].sort((a, b) => b[1] - a[1]);
  console.log(JSON.stringify({ intervalMs: INTERVAL_MS, stacks: sorted.map(([stack, samples]) => ({ samples, stack })) }));
};

const timer = setInterval(() => {
  if (!sample() || Date.now() > until) {
    clearInterval(timer);
    report();
  }
}, INTERVAL_MS);
