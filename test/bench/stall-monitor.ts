/**
 * Where an event-loop stall's time went, by the kernel's account. Preloaded into the gateway by
 * the bench's ingest phase (`node --import ./test/bench/stall-monitor.ts src/main.ts`, with
 * STALL_MONITOR_FILE set), it runs a 5 ms timer on the main thread. When a tick comes late, the
 * main thread's scheduler counters (`/proc/thread-self/schedstat`: time on a core, time runnable
 * but waiting for one) say how the gap split:
 *
 * - on the CPU: the thread ran: JavaScript, native code such as RocksDB's write, or V8's garbage
 *   collection on this thread;
 * - waiting for a core: it could have run, but the OS had both cores busy with other threads
 *   (the broker, RocksDB's compactions, V8's helpers, other processes);
 * - neither: idle in the loop's poll until the tick was due, or blocked (a lock, I/O, a page
 *   fault served from disk, a GC pause waiting for V8's helper threads).
 *
 * Apart from that split, the wall time of garbage-collection pauses within the gap
 * (`PerformanceObserver` 'gc' entries), which may fall in any of the three; how much of the time
 * on the CPU was the kernel's (`process.threadCpuUsage()`); and the thread's page faults.
 *
 * `monitorEventLoopDelay` gives the gap only; no library splits it, hence this file. Stalls longer
 * than REPORT_MS are written, with their epoch time, as JSON to STALL_MONITOR_FILE once a second,
 * so the bench can keep the ones between the first record and catch-up. A small worker thread
 * writes the file: a rename that replaces a file frees the old one's blocks, and on a file system
 * mounted with `discard` the kernel waits for the device in that call (`blkdev_issue_discard`
 * from `rename`, seen in the main thread's kernel stack for tens of ms); the monitor must not
 * stall the loop it measures. Linux only; elsewhere it does nothing.
 */
import { closeSync, openSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';

export interface Stall {
  /** Epoch ms when the late tick ran. */
  readonly at: number;
  /**
   * The same moment on the monotonic clock, in µs: the time base of a V8 CPU profile
   * (`node --cpu-prof`), to find the stall's samples in one.
   */
  readonly monotonicUs: number;
  /** Lateness of the tick, in ms: what `monitorEventLoopDelay` would report. */
  readonly delayMs: number;
  readonly cpuMs: number;
  readonly waitMs: number;
  readonly blockedMs: number;
  /**
   * The part of `cpuMs` spent in the kernel (system calls, page faults), from the thread's
   * `getrusage` split; the kernel divides its exact run time by sampled ticks, so this is close,
   * not exact.
   */
  readonly systemMs: number;
  /** Page faults of the main thread within the gap (minor: no disk; major: read from disk). */
  readonly minorFaults: number;
  readonly majorFaults: number;
  /** Wall time of garbage-collection pauses within the gap (on the CPU or not). */
  gcMs: number;
}

export interface StallReport {
  readonly pid: number;
  readonly intervalMs: number;
  /** Stalls with a delay over REPORT_MS, oldest first (at most MAX_STALLS). */
  readonly stalls: Stall[];
}

const INTERVAL_MS = 5;
const REPORT_MS = 20;
const MAX_STALLS = 20_000;

function schedstat(fd: number, buffer: Buffer): [run: number, wait: number] {
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const [run, wait] = buffer.toString('latin1', 0, length).split(' ');
  return [Number(run) / 1e6, Number(wait) / 1e6];
}

/** The thread's minor and major page faults so far (`/proc/thread-self/stat`, fields 10 and 12). */
function faults(fd: number, buffer: Buffer): [minor: number, major: number] {
  const length = readSync(fd, buffer, 0, buffer.length, 0);
  const text = buffer.toString('latin1', 0, length);
  // The command name in parentheses may hold spaces; the fields count from after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return [Number(fields[7]), Number(fields[9])];
}

function start(file: string): void {
  let fd: number;
  let statFd: number;
  try {
    fd = openSync('/proc/thread-self/schedstat', 'r');
    statFd = openSync('/proc/thread-self/stat', 'r');
  } catch {
    return;
  }
  const buffer = Buffer.alloc(128);
  const statBuffer = Buffer.alloc(1024);
  const stalls: Stall[] = [];
  // Whether the file is behind: a stall was added or got its GC share since the last write.
  let changed = true;
  const writer = reportWriter(file);
  // Stalls whose GC share is not known yet: 'gc' entries reach the observer after the gap.
  const pending: Array<{ stall: Stall; from: number; to: number }> = [];
  const collections: Array<{ start: number; end: number }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) collections.push({ start: entry.startTime, end: entry.startTime + entry.duration });
  });
  observer.observe({ entryTypes: ['gc'] });

  let last = performance.now();
  let [lastRun, lastWait] = schedstat(fd, buffer);
  let [lastMinor, lastMajor] = faults(statFd, statBuffer);
  let lastSystem = process.threadCpuUsage().system;
  const tick = setInterval(() => {
    const now = performance.now();
    const [run, wait] = schedstat(fd, buffer);
    const [minor, major] = faults(statFd, statBuffer);
    const system = process.threadCpuUsage().system;
    const gapMs = now - last;
    const delayMs = gapMs - INTERVAL_MS;
    if (delayMs > REPORT_MS && stalls.length < MAX_STALLS) {
      const cpuMs = run - lastRun;
      const waitMs = wait - lastWait;
      const stall: Stall = {
        at: Math.round(performance.timeOrigin + now),
        monotonicUs: Number(process.hrtime.bigint() / 1000n),
        delayMs: round(delayMs),
        cpuMs: round(cpuMs),
        waitMs: round(waitMs),
        blockedMs: round(Math.max(0, gapMs - cpuMs - waitMs)),
        systemMs: round((system - lastSystem) / 1000),
        minorFaults: minor - lastMinor,
        majorFaults: major - lastMajor,
        gcMs: 0,
      };
      stalls.push(stall);
      pending.push({ stall, from: last, to: now });
      changed = true;
    }
    last = now;
    lastRun = run;
    lastWait = wait;
    lastMinor = minor;
    lastMajor = major;
    lastSystem = system;
  }, INTERVAL_MS);
  tick.unref();

  const flush = (): void => {
    const settled = performance.now() - 500;
    while (pending.length > 0 && pending[0]!.to < settled) {
      const { stall, from, to } = pending.shift()!;
      let gc = 0;
      for (const collection of collections) gc += Math.max(0, Math.min(to, collection.end) - Math.max(from, collection.start));
      stall.gcMs = round(gc);
      changed = true;
    }
    // Keep only the collections a pending stall may still need.
    const oldest = pending[0]?.from ?? settled;
    while (collections.length > 0 && collections[0]!.end < oldest) collections.shift();
    if (!changed) return;
    changed = false;
    const report: StallReport = { pid: process.pid, intervalMs: INTERVAL_MS, stalls };
    writer.postMessage(JSON.stringify(report));
  };
  const flushTimer = setInterval(flush, 1000);
  flushTimer.unref();
  process.once('exit', () => {
    // The worker may still hold an earlier report; the last one is written here, synchronously.
    void writer.terminate();
    const report: StallReport = { pid: process.pid, intervalMs: INTERVAL_MS, stalls };
    replace(file, JSON.stringify(report));
    closeSync(fd);
    closeSync(statFd);
  });
}

/**
 * Writes `text` to `file` whole: readers see the old report or the new one, never a part. The
 * temporary file is the calling thread's own, so the writer thread and the exit handler never
 * write the same one.
 */
function replace(file: string, text: string): void {
  const temporary = `${file}.${threadId}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

/** Marks the monitor's own writer thread among the process's workers. */
const WRITER = 'stallMonitorReportFile';

/** A thread running this module that writes each report it is sent to `file`, off the monitored loop. */
function reportWriter(file: string): Worker {
  const worker = new Worker(new URL(import.meta.url), { workerData: { [WRITER]: file } });
  worker.unref();
  return worker;
}

const round = (ms: number): number => Math.round(ms * 100) / 100;

const file = process.env.STALL_MONITOR_FILE;
if (isMainThread && file) start(file);
const writerFile = (workerData as Record<string, unknown> | null)?.[WRITER];
if (!isMainThread && typeof writerFile === 'string') parentPort!.on('message', (text: string) => replace(writerFile, text));
