/**
 * The change log of one view: the 'u' entries are a compacted log, every live row once at the
 * offset of its latest version plus tombstones. Scanning them from an offset yields what changed
 * since then, the latest value per key, which is how subscriptions resume from a token. Tombstone
 * markers are trimmed once they are old enough (tombstone-trimmer.ts decides when, from the
 * applied-offset samples kept here); live rows' entries stay.
 */
import { decodeChangeLogValue, isTombstoneValue, type ViewKeys } from './keys.ts';
import type { PartitionStates } from './partition-state.ts';
import type { BatchOperation, KeyValueStore } from './rocks.ts';
import { decodeTuple, prefixEnd } from './tuple.ts';

/** One entry of the change log: a key changed (or was deleted) at an offset. */
export interface LoggedChange {
  readonly offset: string;
  readonly key: string;
  readonly deleted: boolean;
}

export interface ChangeLog {
  /** Entries with offset >= `from`, in offset order, at most `limit`. */
  changesSince(partition: number, from: string, limit: number): LoggedChange[];
  /**
   * Deletes the tombstone markers with offsets below `below`, reading at most `maxEntries`
   * entries from the previous trim point, and stores the new trim point in the same write.
   * Returns how far it got (the new trim point) and how many markers it removed.
   */
  trimTombstones(partition: number, below: string, maxEntries: number): { trimmedBelow: string | undefined; removed: number };
  /** The applied-offset samples of a partition; [] when none were kept or they are unreadable. */
  appliedTimes(partition: number): Array<{ at: number; offset: string }>;
  /** Replaces the partition's applied-offset samples. */
  saveAppliedTimes(partition: number, samples: ReadonlyArray<{ at: number; offset: string }>): void;
}

export function createChangeLog(kv: KeyValueStore, view: string, keys: ViewKeys, states: PartitionStates): ChangeLog {
  return {
    changesSince(partition, from, limit) {
      const start = keys.changeLog(partition, from);
      const reader = kv.range({ gte: start, lt: prefixEnd(keys.prefix('u', partition)), values: true });
      try {
        return reader.next(limit).map(([raw, value]) => {
          const elements = decodeTuple(raw);
          return { offset: String(elements[elements.length - 1]), ...decodeChangeLogValue(value ?? '') };
        });
      } finally {
        reader.close();
      }
    },

    trimTombstones(partition, below, maxEntries) {
      const partitionState = states.get(partition);
      const from = BigInt(partitionState.trimmedBelow ?? '0');
      const limit = BigInt(below);
      if (limit <= from) return { trimmedBelow: partitionState.trimmedBelow, removed: 0 };
      const reader = kv.range({ gte: keys.changeLog(partition, from), lt: keys.changeLog(partition, limit), values: true });
      const ops: BatchOperation[] = [];
      let reached = limit;
      try {
        const entries = reader.next(maxEntries);
        for (const [key, value] of entries) {
          if (isTombstoneValue(value)) ops.push({ type: 'del', key });
        }
        // A full read may have stopped short of `below`: continue after its last entry next time.
        if (entries.length === maxEntries) {
          const last = decodeTuple(entries[entries.length - 1]![0]);
          reached = BigInt(last[last.length - 1] as number) + 1n;
        }
      } finally {
        reader.close();
      }
      const trimmedBelow = String(reached);
      ops.push({ type: 'put', key: keys.trimPoint(partition), value: trimmedBelow });
      // The change log is not cached; the trim point is in the partition's state.
      kv.write(ops, () => ({ view, partition, keys: [], values: [] }));
      partitionState.trimmedBelow = trimmedBelow;
      return { trimmedBelow, removed: ops.length - 1 };
    },

    appliedTimes(partition) {
      const stored = kv.getMany([keys.appliedTimes(partition)])[0];
      if (stored === undefined) return [];
      try {
        const parsed = JSON.parse(stored) as unknown;
        if (!Array.isArray(parsed)) return [];
        return parsed
          .filter((pair): pair is [number, string] => Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'string')
          .map(([at, offset]) => ({ at, offset }));
      } catch {
        return []; // unreadable samples only delay trimming
      }
    },

    saveAppliedTimes(partition, samples) {
      const value = JSON.stringify(samples.map((sample) => [sample.at, sample.offset]));
      kv.write([{ type: 'put', key: keys.appliedTimes(partition), value }], () => ({ view, partition, keys: [], values: [] }));
    },
  };
}
