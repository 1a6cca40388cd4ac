/**
 * Keeps the change log from growing with every key ever deleted. Live rows have one change-log
 * entry each, but a deletion leaves a tombstone marker, which subscribers need only while they
 * may still resume from a token older than it. Like Kafka's `delete.retention.ms` on compacted
 * topics, markers are kept for TOMBSTONE_RETENTION_MS after they were applied, then removed.
 *
 * Offsets carry no time, so each partition's applied offset is sampled on every tick; the trim
 * bound is the offset sampled at least one retention ago. Samples are at least a hundredth of the
 * retention apart (so a partition keeps about a hundred, and a marker may outlive the retention
 * by that much) and are kept in the store with the partition, so a restart continues from them
 * instead of waiting one more retention: instances restarted more often than the retention would
 * otherwise never trim. Dropping or rebuilding a partition drops its samples too. A resume from
 * below a partition's trim point fails with GW_RESUME_TOO_FAR (see recent-changes.ts).
 *
 * Trimming runs on the event loop, so a tick works in steps of STEP_ENTRIES change-log entries
 * and yields between them. A tick in one go read up to `maxEntriesPerTick` entries of every
 * partition at once: once a retention has passed over a large load, every tick until the backlog
 * is gone (`node test/bench/tombstone-trim.ts`; BENCHMARKS.md, "Tombstone trimming").
 */
import type { Logger } from '../log.ts';
import type { ViewStore } from './view-store.ts';

export interface TombstoneTrimmerOptions {
  /** View stores and their partition counts. */
  readonly stores: ReadonlyMap<string, ViewStore>;
  readonly partitionCounts: ReadonlyMap<string, number>;
  readonly retentionMs: number;
  readonly logger: Logger;
  /** Change-log entries read per partition and tick at most (default 10,000). */
  readonly maxEntriesPerTick?: number;
  readonly now?: () => number;
}

export interface TombstoneTrimmer {
  /**
   * One pass over every partition, in steps that yield to the event loop; resolves to the markers
   * removed. Runs on a timer after `start`; a tick that finds the previous one running does nothing.
   */
  tick(): Promise<number>;
  start(): void;
  stop(): void;
  /** Markers removed since start. */
  readonly removed: number;
}

interface Sample {
  readonly at: number;
  readonly offset: string;
}

/** Change-log entries read per step: a few ms of work between two yields. */
const STEP_ENTRIES = 1_000;

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createTombstoneTrimmer(options: TombstoneTrimmerOptions): TombstoneTrimmer {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntriesPerTick ?? 10_000;
  const minGap = Math.floor(options.retentionMs / 100);
  const samples = new Map<string, Sample[]>();
  let removed = 0;
  let timer: NodeJS.Timeout | undefined;

  let running = false;
  // Set by `stop`: a tick between two steps ends there (the stores close after stop).
  let stopped = false;

  const trimPartition = async (viewId: string, store: ViewStore, partition: number, at: number): Promise<number> => {
    const offset = store.nextOffset(partition);
    const id = `${viewId}/${partition}`;
    if (offset === undefined) {
      samples.delete(id); // dropped or never held: start over when it has data again
      return 0;
    }
    let list = samples.get(id);
    if (!list) {
      list = store.appliedTimes(partition);
      samples.set(id, list);
    }
    let changed = false;
    const last = list.at(-1);
    if (!last || (last.offset !== offset && at - last.at >= minGap)) {
      list.push({ at, offset });
      changed = true;
    }
    // The newest sample at least one retention old is the bound; older ones are no longer needed.
    let bound: Sample | undefined;
    while (list.length > 0 && list[0]!.at <= at - options.retentionMs) {
      bound = list[0];
      if (list.length > 1 && list[1]!.at <= at - options.retentionMs) {
        list.shift();
        changed = true;
      } else break;
    }
    if (changed) store.saveAppliedTimes(partition, list);
    if (!bound) return 0;
    let count = 0;
    // Each step reads from where the last one stopped (the partition's trim point) up to the
    // bound; the partition may have been dropped or rebuilt while the loop yielded.
    for (let read = 0; read < maxEntries && !stopped; read += STEP_ENTRIES) {
      const trimmed = store.tombstonesTrimmedBelow(partition);
      if (store.nextOffset(partition) === undefined) break;
      if (trimmed !== undefined && BigInt(trimmed) >= BigInt(bound.offset)) break;
      count += store.trimTombstones(partition, bound.offset, Math.min(STEP_ENTRIES, maxEntries - read)).removed;
      await yieldToLoop();
    }
    return count;
  };

  const trimmer: TombstoneTrimmer = {
    async tick() {
      if (running) return 0;
      running = true;
      try {
        const at = now();
        let count = 0;
        for (const [viewId, store] of options.stores) {
          const partitions = options.partitionCounts.get(viewId) ?? 0;
          for (let partition = 0; partition < partitions && !stopped; partition++) {
            try {
              count += await trimPartition(viewId, store, partition, at);
            } catch (error) {
              options.logger.warn('trimming tombstones failed; retrying on the next tick', { error, view: viewId, partition });
            }
          }
        }
        removed += count;
        if (count > 0) options.logger.debug('tombstone markers trimmed', { count });
        return count;
      } finally {
        running = false;
      }
    },
    start() {
      stopped = false;
      if (timer) return;
      const every = Math.min(60_000, Math.max(250, Math.floor(options.retentionMs / 4)));
      timer = setInterval(() => void trimmer.tick(), every);
      timer.unref();
    },
    stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    get removed() {
      return removed;
    },
  };
  return trimmer;
}
