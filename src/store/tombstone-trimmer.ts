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
  /** One pass over every partition; returns the markers removed. Runs on a timer after `start`. */
  tick(): number;
  start(): void;
  stop(): void;
  /** Markers removed since start. */
  readonly removed: number;
}

interface Sample {
  readonly at: number;
  readonly offset: string;
}

export function createTombstoneTrimmer(options: TombstoneTrimmerOptions): TombstoneTrimmer {
  const now = options.now ?? Date.now;
  const maxEntries = options.maxEntriesPerTick ?? 10_000;
  const minGap = Math.floor(options.retentionMs / 100);
  const samples = new Map<string, Sample[]>();
  let removed = 0;
  let timer: NodeJS.Timeout | undefined;

  const trimPartition = (viewId: string, store: ViewStore, partition: number, at: number): number => {
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
    const trimmed = store.tombstonesTrimmedBelow(partition);
    if (trimmed !== undefined && BigInt(trimmed) >= BigInt(bound.offset)) return 0;
    return store.trimTombstones(partition, bound.offset, maxEntries).removed;
  };

  const trimmer: TombstoneTrimmer = {
    tick() {
      const at = now();
      let count = 0;
      for (const [viewId, store] of options.stores) {
        const partitions = options.partitionCounts.get(viewId) ?? 0;
        for (let partition = 0; partition < partitions; partition++) {
          try {
            count += trimPartition(viewId, store, partition, at);
          } catch (error) {
            options.logger.warn('trimming tombstones failed; retrying on the next tick', { error, view: viewId, partition });
          }
        }
      }
      removed += count;
      if (count > 0) options.logger.debug('tombstone markers trimmed', { count });
      return count;
    },
    start() {
      if (timer) return;
      const every = Math.min(60_000, Math.max(250, Math.floor(options.retentionMs / 4)));
      timer = setInterval(() => trimmer.tick(), every);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
    get removed() {
      return removed;
    },
  };
  return trimmer;
}
