/**
 * Reads of this instance's own store over an explicit set of partitions, returning partial
 * results that the routed reader merges with peers' (same shapes travel in the peer protocol).
 * Everything here is synchronous: one call reads one consistent state of the partitions.
 */
import { GatewayError } from '../errors.ts';
import { compareValues } from './compare.ts';
import { countRows } from './count-rows.ts';
import { matchesFilter, type Filter } from './filter.ts';
import { existsBeyondCursor, readPages, type PageRequest, type PageRow } from './page.ts';
import type { Row, RowRef, ViewStore } from '../store/view-store.ts';
import { findIndex } from '../views/model.ts';

/** One request's rows from some partitions: at most `limit`, in sort order. */
export interface PartialPage {
  readonly rows: PageRow[];
  /** More matching rows follow in the reading direction in these partitions. */
  readonly more: boolean;
  /** Matching rows exist on the other side of the request's cursor in these partitions. */
  readonly beyond: boolean;
}

export interface RelatedRow {
  readonly key: string;
  readonly sortValue: string | number;
  readonly row: Row;
}

export interface LocalReads {
  store(viewId: string): ViewStore;
  /** Rows by key; undefined where there is none, or where the row does not match `filter` (a caller's row scope). */
  lookup(viewId: string, refs: readonly RowRef[], filter?: Filter): Array<Row | undefined>;
  pages(viewId: string, partitions: readonly number[], requests: readonly PageRequest[]): PartialPage[];
  count(viewId: string, partitions: readonly number[], filter: Filter): number;
  /**
   * Per value, up to `limit` rows whose `field` equals it, in the view's first sort order; with
   * `filter` (a caller's row scope), only those of them that match it.
   */
  related(
    viewId: string,
    partitions: readonly number[],
    field: string,
    values: readonly string[],
    limit: number,
    filter?: Filter,
  ): Map<string, RelatedRow[]>;
  /** Next offset to apply per partition ('0' before the first record). */
  offsets(viewId: string, partitions: Iterable<number>): Record<string, string>;
}

export function compareEntries(a: { sortValue: string | number; key: string }, b: { sortValue: string | number; key: string }): number {
  return compareValues(a.sortValue, b.sortValue) || compareValues(a.key, b.key);
}

export function createLocalReads(stores: ReadonlyMap<string, ViewStore>): LocalReads {
  const storeOf = (viewId: string): ViewStore => {
    const store = stores.get(viewId);
    if (!store) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', `unknown view ${viewId}`);
    return store;
  };

  return {
    store: storeOf,

    lookup(viewId, refs, filter) {
      const rows = storeOf(viewId).getRows(refs);
      return filter ? rows.map((row) => (row && matchesFilter(row, filter) ? row : undefined)) : rows;
    },

    pages(viewId, partitions, requests) {
      const store = storeOf(viewId);
      const session = store.session();
      try {
        const results = readPages(store, session, partitions, requests);
        return results.map((result, i) => ({
          rows: result.rows,
          more: result.more,
          beyond: existsBeyondCursor(store, session, partitions, requests[i]!),
        }));
      } finally {
        session.close();
      }
    },

    count(viewId, partitions, filter) {
      const store = storeOf(viewId);
      const session = store.session();
      try {
        return countRows(store, session, partitions, filter);
      } finally {
        session.close();
      }
    },

    related(viewId, partitions, field, values, limit, filter) {
      const store = storeOf(viewId);
      const view = store.view;
      const sortField = view.sortFields[0]!;
      const index = findIndex(view, field, sortField);
      if (!index) throw new GatewayError('GW_QUERY_BAD_ARGUMENT', `${view.id} has no index on ${field}`);
      const session = store.session();
      // Values the filter rules out on the relation's own field are not read at all.
      const allowed = (filter?.equals ?? []).filter((condition) => condition.field === field).map((condition) => new Set(condition.values));
      const wanted = [...new Set(values)].filter((value) => allowed.every((set) => set.has(value)));
      const found: Array<{ value: string; entries: Array<RowRef & { sortValue: string | number }> }> = [];
      try {
        // In key order, so each partition's pooled reader seeks forward through the index.
        for (const value of wanted.sort()) {
          const lists = store.valueEntries(session, partitions, index, value, limit);
          let entries: Array<RowRef & { sortValue: string | number }> = [];
          for (let i = 0; i < lists.length; i++) {
            const partition = partitions[i]!;
            for (const entry of lists[i]!) entries.push({ partition, key: entry.key, sortValue: entry.sortValue });
          }
          if (entries.length > 1) entries.sort(compareEntries);
          if (entries.length > limit) entries = entries.slice(0, limit);
          found.push({ value, entries });
        }
      } finally {
        session.close();
      }
      // One fetch for every value's rows; they come back in the order of the entries.
      const rows = store.getRows(found.flatMap((list) => list.entries));
      const out = new Map<string, RelatedRow[]>();
      let at = 0;
      for (const { value, entries } of found) {
        const list: RelatedRow[] = [];
        for (const entry of entries) {
          const row = rows[at++];
          if (row && (!filter || matchesFilter(row, filter))) list.push({ key: entry.key, sortValue: entry.sortValue, row });
        }
        out.set(value, list);
      }
      return out;
    },

    offsets(viewId, partitions) {
      const store = storeOf(viewId);
      const out: Record<string, string> = {};
      for (const partition of partitions) out[String(partition)] = store.nextOffset(partition) ?? '0';
      return out;
    },
  };
}
