/**
 * The first entries of one filter value in an index with a filter (an order's payments by
 * `orderId`), cached per (index, filter value) with one list per partition, for relation
 * fan-out. Every write drops the cached lists of the filter values it touches, in the same
 * synchronous step, so a cached list never differs from the index.
 *
 * One cache entry holds every partition's list of a value: a relation asks for a value in all
 * its partitions at once (the payments of 50 orders are 50 values in each of 6 partitions), and
 * one lookup by the value itself (a string whose hash V8 keeps) costs less than one per
 * partition by a key built for the occasion.
 */
import { Lru } from '../lru.ts';
import type { IndexModel, ViewModel } from '../views/model.ts';
import { sortElement, type Row } from './keys.ts';
import type { ReadSession, ScanEntry } from './scans.ts';

export interface ValueLists {
  /**
   * For each of `partitions` (same order), the first `limit` entries of `value` in `index`, in
   * index order: from the cache when a cached list covers them, else from a scan in `session`
   * (then cached).
   */
  entries(session: ReadSession, partitions: readonly number[], index: IndexModel, value: string | number, limit: number): Array<readonly ScanEntry[]>;
  /** Drops the cached lists of every filter value a changed row left or entered. */
  written(changes: ReadonlyArray<{ readonly before: Row | undefined; readonly after: Row | undefined }>): void;
  /** The filter values whose lists `written` drops for these changes (for another thread's cache). */
  touched(changes: ReadonlyArray<{ readonly before: Row | undefined; readonly after: Row | undefined }>): Array<string | number>;
  /** Drops the cached lists of these filter values. */
  forgetValues(values: ReadonlyArray<string | number>): void;
  /** Drops every cached list. */
  clear(): void;
}

interface CachedList {
  readonly limit: number;
  readonly entries: readonly ScanEntry[];
}

/** The cached lists of one value: by index position (among the view's indexes), then partition. */
type ValueEntry = Array<Array<CachedList | undefined> | undefined>;

/** `limit`: values kept cached (0: none, every entry drops as it is set). */
export function createValueLists(view: ViewModel, limit: number): ValueLists {
  const lists = new Lru<string | number, ValueEntry>(limit);
  const position = new Map(view.indexes.map((index, i) => [index.id, i]));
  // Lists are kept for indexes of one filter (relations read them). A write drops the whole
  // value, every index and partition of it: simpler than finding its slot, and the other lists
  // of a value a write touched are read again at most once.
  const listFilters = [...new Set(view.indexes.filter((index) => index.filters.length === 1).map((index) => index.filters[0]!))];
  const forget = (row: Row | undefined): void => {
    if (!row || lists.size === 0) return;
    for (const filter of listFilters) lists.delete(sortElement(row, filter));
  };
  return {
    entries(session, partitions, index, value, wanted) {
      const at = position.get(index.id);
      if (at === undefined) throw new Error(`index ${index.id} is not one of view ${view.id}'s`);
      let cached = lists.get(value);
      if (!cached) {
        cached = [];
        lists.set(value, cached); // with a zero bound, dropped at once
      }
      const byPartition = (cached[at] ??= []);
      const out: Array<readonly ScanEntry[]> = new Array(partitions.length);
      for (let i = 0; i < partitions.length; i++) {
        const partition = partitions[i]!;
        const hit = byPartition[partition];
        // A shorter cached list is complete when it ended before its own limit.
        if (hit && (hit.limit >= wanted || hit.entries.length < hit.limit)) {
          out[i] = hit.entries.length > wanted ? hit.entries.slice(0, wanted) : hit.entries;
          continue;
        }
        const scan = session.openScan(partition, { index, filterValues: [value], reverse: false });
        let entries: ScanEntry[];
        try {
          entries = scan.next(wanted);
        } finally {
          scan.close();
        }
        byPartition[partition] = { limit: wanted, entries };
        out[i] = entries;
      }
      return out;
    },

    written(changes) {
      for (let i = 0; i < changes.length && lists.size > 0; i++) {
        forget(changes[i]!.before);
        forget(changes[i]!.after);
      }
    },

    touched(changes) {
      const values = new Set<string | number>();
      for (const { before, after } of changes) {
        for (const filter of listFilters) {
          if (before) values.add(sortElement(before, filter));
          if (after) values.add(sortElement(after, filter));
        }
      }
      return [...values];
    },

    forgetValues(values) {
      for (let i = 0; i < values.length && lists.size > 0; i++) lists.delete(values[i]!);
    },

    clear() {
      lists.clear();
    },
  };
}
