/**
 * RocksDB's flush and compaction threads at a lower CPU priority than the event loop.
 *
 * During a catch-up the main thread decodes and writes while RocksDB flushes and compacts on
 * its own threads; on a machine with few cores a compaction competes with the event loop for a
 * core (BENCHMARKS.md, "Steps, fetches and background priority", has what it changed and what it
 * did not). RocksDB can lower its pools'
 * priority itself (`Env::LowerThreadPoolCPUPriority`), but the binding does not expose it, and
 * no package does, so the threads are found by name (`rocksdb:low`, `rocksdb:high`, set by
 * RocksDB) in `/proc/self/task` and reniced with `os.setPriority`, which on Linux applies to one
 * thread when given a thread id. The pools start threads lazily, so the scan repeats; every
 * thread is looked at once. A thread already at `nice` or lower priority is left as it is (a
 * process started with `nice 15` keeps its threads there). Raising a nice value needs no
 * privilege; elsewhere than Linux this does nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

const TASKS = '/proc/self/task';
const THREAD_NAME = /^rocksdb:/;

export interface BackgroundPriority {
  /** Thread ids reniced so far. */
  readonly threads: ReadonlySet<number>;
  stop(): void;
}

/**
 * Renices the RocksDB background threads of this process that are not in `seen`, adding every
 * thread it looks at to `seen`; returns the ids it changed.
 */
export function lowerRocksDbThreads(nice: number, seen: Set<number> = new Set()): number[] {
  const changed: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(TASKS);
  } catch {
    return changed;
  }
  for (const task of tasks) {
    const tid = Number(task);
    if (seen.has(tid)) continue;
    seen.add(tid);
    try {
      if (!THREAD_NAME.test(readFileSync(`${TASKS}/${task}/comm`, 'latin1'))) continue;
      if (os.getPriority(tid) >= nice) continue;
      os.setPriority(tid, nice);
      changed.push(tid);
    } catch {
      // the thread ended meanwhile, or the system refuses: the thread keeps its priority
    }
  }
  return changed;
}

/**
 * Keeps RocksDB's background threads at `nice` (0 to 19; 0 leaves them alone), scanning every
 * `intervalMs` for threads the pools started since.
 */
export function keepRocksDbThreadsLow(nice: number, intervalMs = 2000): BackgroundPriority {
  const threads = new Set<number>();
  if (nice <= 0 || process.platform !== 'linux') return { threads, stop() {} };
  const seen = new Set<number>();
  const scan = (): void => {
    for (const tid of lowerRocksDbThreads(nice, seen)) threads.add(tid);
  };
  scan();
  const timer = setInterval(scan, intervalMs);
  timer.unref();
  return {
    threads,
    stop: () => clearInterval(timer),
  };
}
