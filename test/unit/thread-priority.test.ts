/**
 * RocksDB's background threads at a lower CPU priority (src/store/thread-priority.ts), against a
 * real database that flushes: its flush thread is found by name and reniced, and no other
 * thread of the process is.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';
import { keepRocksDbThreadsLow, lowerRocksDbThreads } from '../../src/store/thread-priority.ts';

interface Task {
  readonly tid: number;
  readonly name: string;
  readonly nice: number;
}

function tasks(): Task[] {
  return readdirSync('/proc/self/task').flatMap((task) => {
    try {
      const stat = readFileSync(`/proc/self/task/${task}/stat`, 'latin1');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields after the name start at the third (state); nice is the nineteenth.
      return [{ tid: Number(task), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), nice: Number(fields[16]) }];
    } catch {
      return [];
    }
  });
}

const rocksDbThreads = (): Task[] => tasks().filter((task) => task.name.startsWith('rocksdb:'));

describe.runIf(process.platform === 'linux')('RocksDB background thread priority', () => {
  let dir: string;
  let kv: KeyValueStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'thread-priority-'));
    // 2 MB memtables: the writes below fill several, so RocksDB starts its flush thread.
    kv = await openKeyValueStore(dir, { memtableBudget: 8 << 20 });
    const value = Buffer.alloc(1024, 7);
    for (let batch = 0; batch < 16 && rocksDbThreads().length === 0; batch++) {
      kv.write(Array.from({ length: 1024 }, (_, n) => ({ type: 'put' as const, key: Buffer.from(`k${batch}-${n}`), value })));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  afterEach(async () => {
    await kv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('renices the flush and compaction threads and nothing else', () => {
    const before = tasks();
    expect(before.filter((task) => task.name.startsWith('rocksdb:')).length).toBeGreaterThan(0);
    const nice = Math.max(...before.map((task) => task.nice)) + 3;
    expect(nice).toBeLessThanOrEqual(19);

    const changed = lowerRocksDbThreads(nice);

    const after = tasks();
    const rocks = after.filter((task) => task.name.startsWith('rocksdb:'));
    expect(rocks.length).toBeGreaterThan(0);
    for (const task of rocks) expect(task).toMatchObject({ nice });
    expect([...changed].sort()).toEqual(rocks.map((task) => task.tid).sort());
    for (const task of after.filter((candidate) => !candidate.name.startsWith('rocksdb:'))) {
      expect(task.nice).toBe(before.find((was) => was.tid === task.tid)?.nice ?? task.nice);
    }
  });

  it('never raises the priority of a thread, and looks at each thread once', () => {
    const nice = Math.max(...rocksDbThreads().map((task) => task.nice)) + 1;
    expect(nice).toBeLessThanOrEqual(18);
    lowerRocksDbThreads(nice);
    const before = rocksDbThreads();
    expect(before.every((task) => task.nice === nice)).toBe(true);

    // A lower nice value would raise their priority: nothing changes.
    expect(lowerRocksDbThreads(nice - 1)).toEqual([]);
    expect(rocksDbThreads()).toEqual(before);

    // Threads already looked at are skipped, whatever the value asked for now.
    const seen = new Set<number>();
    lowerRocksDbThreads(nice, seen);
    for (const task of before) expect(seen.has(task.tid)).toBe(true);
    expect(lowerRocksDbThreads(nice + 1, seen)).toEqual([]);
    expect(rocksDbThreads()).toEqual(before);
  });

  it('does nothing at nice 0', () => {
    const before = rocksDbThreads();
    const kept = keepRocksDbThreadsLow(0);
    kept.stop();
    expect(kept.threads.size).toBe(0);
    expect(rocksDbThreads().map((task) => task.nice)).toEqual(before.map((task) => task.nice));
  });
});
