/**
 * What the store keeps in memory per partition: the next offset to consume, the row counters and
 * the change log's trim point. Each is read from the store on a partition's first use and then
 * changed together with the writes that change it on disk.
 */
import { loadCounts, type Counts } from './counters.ts';
import type { ViewKeys } from './keys.ts';
import type { KeyValueStore } from './rocks.ts';

export interface PartitionState {
  nextOffset: string | undefined;
  counts: Counts;
  trimmedBelow: string | undefined;
}

export interface PartitionStates {
  /** The partition's state, read from the store on first use. */
  get(partition: number): PartitionState;
  /** Forgets a partition's state; the next `get` reads it again. */
  forget(partition: number): void;
  /** Forgets every partition's state. */
  forgetAll(): void;
}

export function createPartitionStates(kv: KeyValueStore, keys: ViewKeys): PartitionStates {
  const partitions = new Map<number, PartitionState>();
  return {
    get(partition) {
      let found = partitions.get(partition);
      if (found) return found;
      const [offset, trimmed] = kv.getMany([keys.nextOffset(partition), keys.trimPoint(partition)]);
      const counts = loadCounts(kv, keys, partition);
      found = { nextOffset: offset, counts, trimmedBelow: trimmed };
      partitions.set(partition, found);
      return found;
    },
    forget(partition) {
      partitions.delete(partition);
    },
    forgetAll() {
      partitions.clear();
    },
  };
}
