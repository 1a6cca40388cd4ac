/**
 * Applying one partition batch: the batch's final row states, the index entries that move with
 * them, the change log, the counters and the partition's next offset go in one RocksDB write
 * batch, so after a crash a partition is at a consistent offset. The in-memory state and caches
 * follow in the same synchronous step.
 */
import type { ViewModel } from '../views/model.ts';
import type { Counters } from './counters.ts';
import { encodeChangeLogValue, encodeIndexValue, encodeRowValue, type Row, type ViewKeys } from './keys.ts';
import type { PartitionStates } from './partition-state.ts';
import type { KeyValueStore } from './rocks.ts';
import type { RowReader } from './rows.ts';
import type { ValueLists } from './value-lists.ts';

/** Keys of a batch at most for its write note to name them (`WriteNote`). */
const NOTE_MAX_KEYS = 512;

/** The latest value for a key after a batch: a row, or null for a tombstone. */
export interface RowChange {
  readonly key: string;
  readonly row: Row | null;
  /** Offset of the record; defaults to the batch's next offset minus one. */
  readonly offset?: string;
}

/** What an applied batch did to one key, with the row before and after. */
export interface AppliedChange {
  readonly key: string;
  readonly offset: string;
  readonly before: Row | undefined;
  readonly after: Row | undefined;
}

export interface ApplyResult {
  readonly upserts: number;
  readonly deletes: number;
  /** Per key that changed, the row before and after, in offset order. */
  readonly changes: AppliedChange[];
}

/** The parts of a view store a batch writes to. */
export interface ApplyTarget {
  readonly kv: KeyValueStore;
  readonly view: ViewModel;
  readonly keys: ViewKeys;
  readonly states: PartitionStates;
  readonly counters: Counters;
  readonly rows: RowReader;
  readonly lists: ValueLists;
}

/**
 * Writes the batch's final row states and the partition's next offset atomically (one
 * `kv.batch()` commit), then updates the partition's in-memory state and the caches. Only the last change
 * per key is written. Throws what the write throws.
 */
export function applyBatch(target: ApplyTarget, partition: number, changes: readonly RowChange[], nextOffset: string): ApplyResult {
  const { kv, view, keys: viewKeys } = target;
  const partitionState = target.states.get(partition);
  // Only the last change per key matters: intermediate versions never reach the store.
  const latest = new Map<string, Row | null>();
  const offsets = new Map<string, string>();
  const fallbackOffset = String(BigInt(nextOffset) - 1n);
  for (const change of changes) {
    latest.delete(change.key); // re-insert so the map's order is the order of last offsets
    latest.set(change.key, change.row);
    offsets.set(change.key, change.offset ?? fallbackOffset);
  }
  const keys = [...latest.keys()];
  const rowKeys = keys.map((key) => viewKeys.row(partition, key));
  const previous = target.rows.read(() => partition, keys, false);
  const batch = kv.batch();
  const counts = target.counters.update(partition, partitionState.counts);
  let upserts = 0;
  let deletes = 0;
  const applied: AppliedChange[] = [];
  try {
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const next = latest.get(key) ?? null;
      const stored = previous[i];
      const old = stored?.row;
      const offset = offsets.get(key)!;
      // The change log holds each key once, at its latest offset: the previous entry goes.
      if (stored) batch.del(viewKeys.changeLog(partition, stored.offset));
      applied.push({ key, offset, before: old, after: next ?? undefined });
      const oldValue = old === undefined ? undefined : encodeIndexValue(view, old, key);
      const nextValue = next === null ? undefined : encodeIndexValue(view, next, key);
      // Every index entry of the row carries the same value: its bytes are made once.
      let nextBytes: Buffer | undefined;
      for (const index of view.indexes) {
        const samePosition =
          old !== undefined && next !== null && old[index.sort] === next[index.sort] && index.filters.every((filter) => old[filter] === next[filter]);
        if (samePosition) {
          if (oldValue !== nextValue) batch.put(viewKeys.index(partition, index, next, key), (nextBytes ??= Buffer.from(nextValue!)));
          continue;
        }
        if (old !== undefined) batch.del(viewKeys.index(partition, index, old, key));
        if (next !== null) batch.put(viewKeys.index(partition, index, next, key), (nextBytes ??= Buffer.from(nextValue!)));
      }
      if (old !== undefined) counts.add(old, -1);
      if (next !== null) {
        counts.add(next, 1);
        batch.put(rowKeys[i]!, encodeRowValue(offset, next));
        batch.put(viewKeys.changeLog(partition, offset), encodeChangeLogValue(key, false));
        upserts++;
      } else {
        if (old !== undefined) {
          batch.del(rowKeys[i]!);
          deletes++;
        }
        batch.put(viewKeys.changeLog(partition, offset), encodeChangeLogValue(key, true));
      }
    }
    counts.write(batch);
    batch.put(viewKeys.nextOffset(partition), nextOffset);
  } catch (error) {
    batch.discard();
    throw error;
  }
  // A large batch (a slice of a catch-up) is told as "anything changed": a reader's caches churn
  // through it anyway, and its note would cost a copy of every key.
  batch.commit(() => (keys.length > NOTE_MAX_KEYS ? undefined : { view: view.id, partition, keys, values: target.lists.touched(applied) }));
  partitionState.nextOffset = nextOffset;
  // Cached lists of a filter value drop when a row enters or leaves that value.
  target.lists.written(applied);
  // Cached rows follow the write at once; rows nobody read stay out of the cache.
  target.rows.written(partition, applied);
  return { upserts, deletes, changes: applied };
}
