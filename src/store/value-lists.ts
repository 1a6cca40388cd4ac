/**
 * The first entries of one filter value in an index with a filter (an order's payments by
 * `orderId`), cached per (partition, index, filter value) for relation fan-out. Every write drops
 * the cached lists of the filter values it touches, in the same synchronous step, so a cached
 * list never differs from the index.
 */
import { Lru } from '../lru.ts';
import type { IndexModel, ViewModel } from '../views/model.ts';
import { sortElement, type Row } from './keys.ts';
import type { ReadSession, ScanEntry } from './scans.ts';

export interface ValueLists {
  /**
   * The first `limit` entries of `value` in `index`, in index order: from the cache when a cached
   * list covers them, else from a scan in `session` (then cached).
   */
  entries(session: ReadSession, partition: number, index: IndexModel, value: string | number, limit: number): readonly ScanEntry[];
  /** Drops the cached lists of every filter value a changed row left or entered. */
  written(partition: number, changes: ReadonlyArray<{ readonly before: Row | undefined; readonly after: Row | undefined }>): void;
  /** Drops the cached lists of a partition. */
  dropPartition(partition: number): void;
  /** Drops every cached list. */
  clear(): void;
}

/** `limit`: lists kept cached (0: none, every entry drops as it is set). */
export function createValueLists(view: ViewModel, limit: number): ValueLists {
  // Keyed by partition first, so dropping a partition drops its entries.
  const lists = new Lru<string, { limit: number; entries: readonly ScanEntry[] }>(limit);
  const listId = (partition: number, index: number, value: string | number): string =>
    `${partition}\u0000${index}\u0000${typeof value}\u0000${value}`;
  const forget = (partition: number, row: Row | undefined): void => {
    if (!row || lists.size === 0) return;
    for (const index of view.indexes) {
      if (index.filter !== undefined) lists.delete(listId(partition, index.id, sortElement(row, index.filter)));
    }
  };
  return {
    entries(session, partition, index, value, limit) {
      const id = listId(partition, index.id, value);
      const hit = lists.get(id);
      // A shorter cached list is complete when it ended before its own limit.
      if (hit && (hit.limit >= limit || hit.entries.length < hit.limit)) {
        return hit.entries.length > limit ? hit.entries.slice(0, limit) : hit.entries;
      }
      const scan = session.openScan(partition, { index, filterValue: value, reverse: false });
      let entries: ScanEntry[];
      try {
        entries = scan.next(limit);
      } finally {
        scan.close();
      }
      lists.set(id, { limit, entries }); // with a zero bound, dropped at once
      return entries;
    },

    written(partition, changes) {
      for (let i = 0; i < changes.length && lists.size > 0; i++) {
        forget(partition, changes[i]!.before);
        forget(partition, changes[i]!.after);
      }
    },

    dropPartition(partition) {
      lists.deleteWhere((id) => id.startsWith(`${partition}\u0000`));
    },

    clear() {
      lists.clear();
    },
  };
}
