/**
 * Storage of one view in the shared RocksDB: rows, secondary indexes, per-partition counters, the
 * change log and the consumed offset, all keyed by partition so a partition can be read, dropped
 * or counted alone. This module composes the parts and is the store's public interface:
 *
 *   keys.ts             the key layout grammar, value formats and layout fingerprint
 *   apply.ts            one partition batch in one atomic write
 *   scans.ts            read sessions and index scans
 *   change-log.ts       changes since an offset, tombstone trimming
 *   counters.ts         row counts per partition and field values
 *   rows.ts             rows by key through the row cache
 *   value-lists.ts      cached entries of one filter value
 *   partition-state.ts  per-partition offset, counts and trim point in memory
 */
import type { IndexModel, ViewModel } from '../views/model.ts';
import { applyBatch, type ApplyResult, type RowChange } from './apply.ts';
import { createChangeLog, type LoggedChange } from './change-log.ts';
import { createCounters } from './counters.ts';
import { createViewKeys, layoutFingerprint, PARTITION_TAGS, type Row } from './keys.ts';
import { createPartitionStates } from './partition-state.ts';
import type { KeyValueStore, WriteNote } from './rocks.ts';
import { createRowReader, type RowRef } from './rows.ts';
import { openReadSession, type ReadSession, type ScanEntry } from './scans.ts';
import { prefixEnd } from './tuple.ts';
import { createValueLists } from './value-lists.ts';

export type { AppliedChange, ApplyResult, RowChange } from './apply.ts';
export type { LoggedChange } from './change-log.ts';
export type { Row } from './keys.ts';
export type { RowRef } from './rows.ts';
export type { ReadSession, Scan, ScanEntry, ScanSpec, SortBound } from './scans.ts';

export interface ViewStore {
  readonly view: ViewModel;
  /** The next offset to consume for a partition, or undefined if nothing was applied yet. */
  nextOffset(partition: number): string | undefined;
  /** Writes the batch's final row states and the partition's next offset atomically. */
  apply(partition: number, changes: readonly RowChange[], nextOffset: string): ApplyResult;
  getRows(refs: readonly RowRef[]): Array<Row | undefined>;
  /** A read session; close it to release its range readers. */
  session(): ReadSession;
  /**
   * For each of `partitions` (same order), the first `limit` entries of one filter value in an
   * index with a filter (an order's payments by `orderId`), in index order. Cached like rows
   * (the same bound, in values): every write drops the cached lists of the filter values it
   * touches, in the same synchronous step.
   */
  valueEntries(
    session: ReadSession,
    partitions: readonly number[],
    index: IndexModel,
    value: string | number,
    limit: number,
  ): Array<readonly ScanEntry[]>;
  /**
   * Rows in a partition, in all (no conditions) or whose fields equal the given values, from
   * counters maintained on write; undefined when that set of fields has no counters (see
   * `ViewModel.counterSets`).
   */
  count(partition: number, equals?: ReadonlyMap<string, string | number>): number | undefined;
  /** Change-log entries with offset >= `from`, in offset order, at most `limit`. */
  changesSince(partition: number, from: string, limit: number): LoggedChange[];
  /**
   * The offset below which tombstone markers were trimmed from the change log, or undefined if
   * none were. A resume from an earlier offset could miss deletions.
   */
  tombstonesTrimmedBelow(partition: number): string | undefined;
  /**
   * Deletes the change log's tombstone markers with offsets below `below`, reading at most
   * `maxEntries` change-log entries from the previous trim point; live rows' entries stay.
   * Returns how far it got (the new trim point) and how many markers it removed.
   */
  trimTombstones(partition: number, below: string, maxEntries: number): { trimmedBelow: string | undefined; removed: number };
  /** When offsets were applied, as the tombstone trimmer sampled them; [] when none were kept. */
  appliedTimes(partition: number): Array<{ at: number; offset: string }>;
  /** Replaces the partition's applied-offset samples. */
  saveAppliedTimes(partition: number, samples: ReadonlyArray<{ at: number; offset: string }>): void;
  /** Removes every row, index entry, counter and offset of a partition. */
  dropPartition(partition: number): Promise<void>;
  /**
   * Drops every cached row, list, partition state and parked reader; the next reads go to the
   * store. For a store opened by a read worker, whose caches no write updates
   * (../server/read-workers.ts).
   */
  forgetCached(): void;
  /**
   * Drops what one write of the owning thread changed, by its note (`KeyValueStore.onWrite`):
   * the cached rows of its keys, the lists of its filter values, its partition's state and the
   * parked readers of its partition. For a read worker's store, which keeps the rest.
   */
  forgetWritten(note: WriteNote): void;
}

export interface ViewStoreOptions {
  /**
   * Rows kept decoded in memory, most recently read first (0: none); a row enters on its second
   * read within a window of recent reads (./admission.ts). Reads of a cached row skip
   * RocksDB and JSON parsing; writes update or drop cached rows in the same synchronous step, so
   * the cache never differs from the store. Cached rows are shared: callers must not change them
   * (Pothos adds a type-brand symbol to node objects, which is harmless and why they are not frozen).
   * Lists of one filter value (`valueEntries`) are cached with the same bound, counted in values.
   */
  readonly rowCache?: number;
}

/**
 * Opens the storage of one view. If the stored layout fingerprint differs from the declaration's
 * (an index was added, a field changed type), the view's data is dropped so ingest rebuilds it
 * from the topic; the returned store then reports no offsets.
 */
export async function openViewStore(kv: KeyValueStore, view: ViewModel, options: ViewStoreOptions = {}): Promise<ViewStore> {
  const keys = createViewKeys(view.id);
  const wanted = layoutFingerprint(view);
  const stored = kv.getMany([keys.meta])[0];
  if (stored !== wanted) {
    for (const tag of PARTITION_TAGS) {
      const start = keys.viewPrefix(tag);
      await kv.clearRange(start, prefixEnd(start));
    }
    kv.write([{ type: 'put', key: keys.meta, value: wanted }]);
  }

  const states = createPartitionStates(kv, keys);
  const counters = createCounters(view, keys);
  const rows = createRowReader(kv, keys, options.rowCache ?? 0);
  const lists = createValueLists(view, options.rowCache ?? 0);
  const changeLog = createChangeLog(kv, view.id, keys, states);
  const target = { kv, view, keys, states, counters, rows, lists };

  return {
    view,

    nextOffset(partition) {
      return states.get(partition).nextOffset;
    },

    apply(partition, changes, nextOffset) {
      return applyBatch(target, partition, changes, nextOffset);
    },

    getRows(refs) {
      return rows
        .read(
          (i) => refs[i]!.partition,
          refs.map((ref) => ref.key),
          true,
        )
        .map((stored) => stored?.row);
    },

    session() {
      return openReadSession(kv, view, keys);
    },

    valueEntries(session, partitions, index, value, limit) {
      return lists.entries(session, partitions, index, value, limit);
    },

    count(partition, equals) {
      const id = counters.idFor(equals);
      if (id === undefined) return undefined;
      return states.get(partition).counts.get(id) ?? 0;
    },

    changesSince(partition, from, limit) {
      return changeLog.changesSince(partition, from, limit);
    },

    tombstonesTrimmedBelow(partition) {
      return states.get(partition).trimmedBelow;
    },

    trimTombstones(partition, below, maxEntries) {
      return changeLog.trimTombstones(partition, below, maxEntries);
    },

    appliedTimes(partition) {
      return changeLog.appliedTimes(partition);
    },

    saveAppliedTimes(partition, samples) {
      changeLog.saveAppliedTimes(partition, samples);
    },

    async dropPartition(partition) {
      // Partitions leave an instance rarely (a rebalance), and every cached value may hold a
      // list of this one: all go.
      lists.clear();
      rows.dropPartition(partition);
      for (const tag of PARTITION_TAGS) {
        const start = keys.prefix(tag, partition);
        await kv.clearRange(start, prefixEnd(start));
      }
      states.forget(partition);
    },

    forgetCached() {
      rows.clear();
      lists.clear();
      states.forgetAll();
      kv.forgetReaders();
    },

    forgetWritten(note) {
      rows.forget(note.partition, note.keys);
      lists.forgetValues(note.values);
      states.forget(note.partition);
      kv.forgetReaders(PARTITION_TAGS.map((tag) => keys.prefix(tag, note.partition)));
    },
  };
}
