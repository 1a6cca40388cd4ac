/**
 * RocksDB's flush and compaction threads at a lower CPU priority than the event loop.
 *
 * During a catch-up the main thread decodes and writes while RocksDB flushes and compacts on
 * its own threads; on a machine with few cores the scheduler hands the event loop's core to a
 * compaction for tens of milliseconds, and queries wait that long. RocksDB can lower its pools'
 * priority itself (`Env::LowerThreadPoolCPUPriority`), but the binding does not expose it, and
 * no package does, so the threads are found by name (`rocksdb:low`, `rocksdb:high`, set by
 * RocksDB) in `/proc/self/task` and reniced with `os.setPriority`, which on Linux applies to one
 * thread when given a thread id. The pools start threads lazily, so the scan repeats. Raising a
 * nice value needs no privilege; elsewhere than Linux this does nothing.
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

/** Renices every RocksDB background thread of this process once; returns the ids it changed. */
export function lowerRocksDbThreads(nice: number, done: Set<number> = new Set()): Set<number> {
  let tasks: string[];
  try {
    tasks = readdirSync(TASKS);
  } catch {
    return done;
  }
  for (const task of tasks) {
    const tid = Number(task);
    if (done.has(tid)) continue;
    try {
      if (!THREAD_NAME.test(readFileSync(`${TASKS}/${task}/comm`, 'latin1'))) continue;
      os.setPriority(tid, nice);
      done.add(tid);
    } catch {
      // the thread ended meanwhile, or the system refuses: the thread keeps its priority
    }
  }
  return done;
}

/**
 * Keeps RocksDB's background threads at `nice` (0 to 19; 0 leaves them alone), scanning every
 * `intervalMs` for threads the pools started since.
 */
export function keepRocksDbThreadsLow(nice: number, intervalMs = 2000): BackgroundPriority {
  const threads = new Set<number>();
  if (nice <= 0 || process.platform !== 'linux') return { threads, stop() {} };
  lowerRocksDbThreads(nice, threads);
  const timer = setInterval(() => lowerRocksDbThreads(nice, threads), intervalMs);
  timer.unref();
  return {
    threads,
    stop: () => clearInterval(timer),
  };
}
