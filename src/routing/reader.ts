/**
 * The read side that GraphQL sees: lookups, pages, counts and relation fan-out over a view,
 * resolved to partitions and served from the local store. It sits between the GraphQL layer and
 * the store so that routing to peers (partitions owned elsewhere) can be added here without the
 * GraphQL layer knowing about partitions at all.
 *
 * A partition this instance is not assigned is never read silently: the call fails with
 * GW_PARTITION_UNAVAILABLE naming it.
 */
import { GatewayError } from '../errors.ts';
import { countRows, existsBeyondCursor, readPages, type Filter, type PageRequest, type PageRow } from '../query/page.ts';
import { compareValues } from '../query/compare.ts';
import type { Row, ViewStore } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { partitionForKey } from './partitioner.ts';

export interface Page {
  readonly rows: PageRow[];
  readonly hasNextPage: boolean;
  readonly hasPreviousPage: boolean;
}

export interface ViewReader {
  readonly views: readonly ViewModel[];
  view(id: string): ViewModel;
  /** Rows by key, in the order asked; undefined where there is none. One store round trip. */
  lookup(viewId: string, keys: readonly string[]): Array<Row | undefined>;
  /** Pages of one view; a batch shares range readers and one row fetch. */
  pages(viewId: string, requests: readonly PageRequest[]): Page[];
  count(viewId: string, filter: Filter): number;
  /**
   * Rows whose `field` equals each of `values`, each list in the view's first sort order, at
   * most `limit` per value. One range reader per partition plus one row fetch for the batch.
   */
  related(viewId: string, field: string, values: readonly string[], limit: number): Map<string, Row[]>;
  /** Applied (next) offsets per topic and partition, for `extensions`. */
  freshness(viewIds: Iterable<string>): Record<string, Record<string, string>>;
}

export interface LocalReaderOptions {
  readonly stores: ReadonlyMap<string, ViewStore>;
  /** Partition count per view id. */
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** Partitions this instance serves, per topic. */
  readonly servedPartitions: (topic: string) => readonly number[];
}

export function createLocalReader(options: LocalReaderOptions): ViewReader {
  const { stores } = options;
  const storeOf = (viewId: string): ViewStore => {
    const store = stores.get(viewId);
    if (!store) throw new GatewayError('GW_INTERNAL_ERROR', `unknown view ${viewId}`);
    return store;
  };
  const partitionCount = (viewId: string): number => options.partitionCounts.get(viewId) ?? 1;

  /** Every partition of the view, checked to be served here. */
  const allPartitions = (store: ViewStore): number[] => {
    const served = new Set(options.servedPartitions(store.view.topic));
    const all = Array.from({ length: partitionCount(store.view.id) }, (_, partition) => partition);
    const missing = all.filter((partition) => !served.has(partition));
    if (missing.length > 0) {
      throw new GatewayError(
        'GW_PARTITION_UNAVAILABLE',
        `${store.view.topic} partition(s) ${missing.join(', ')} are not served by this instance yet`,
        { details: { topic: store.view.topic, partitions: missing } },
      );
    }
    return all;
  };

  return {
    views: [...stores.values()].map((store) => store.view),

    view(id) {
      return storeOf(id).view;
    },

    lookup(viewId, keys) {
      const store = storeOf(viewId);
      const count = partitionCount(viewId);
      const served = new Set(options.servedPartitions(store.view.topic));
      const refs = keys.map((key) => ({ key, partition: partitionForKey(key, count) }));
      const unserved = [...new Set(refs.filter((ref) => !served.has(ref.partition)).map((ref) => ref.partition))];
      if (unserved.length > 0) {
        throw new GatewayError('GW_PARTITION_UNAVAILABLE', `${store.view.topic} partition(s) ${unserved.join(', ')} are not served by this instance yet`, {
          details: { topic: store.view.topic, partitions: unserved },
        });
      }
      return store.getRows(refs);
    },

    pages(viewId, requests) {
      const store = storeOf(viewId);
      const partitions = allPartitions(store);
      const session = store.session();
      try {
        const results = readPages(store, session, partitions, requests);
        return results.map((result, i) => {
          const request = requests[i]!;
          const otherSide = existsBeyondCursor(store, session, partitions, request);
          return {
            rows: result.rows,
            hasNextPage: request.backward ? otherSide : result.more,
            hasPreviousPage: request.backward ? result.more : otherSide,
          };
        });
      } finally {
        session.close();
      }
    },

    count(viewId, filter) {
      const store = storeOf(viewId);
      const partitions = allPartitions(store);
      const session = store.session();
      try {
        return countRows(store, session, partitions, filter);
      } finally {
        session.close();
      }
    },

    related(viewId, field, values, limit) {
      const store = storeOf(viewId);
      const partitions = allPartitions(store);
      const view = store.view;
      const sortField = view.sortFields[0]!;
      const index = view.indexes.find((candidate) => candidate.filter === field && candidate.sort === sortField);
      if (!index) throw new GatewayError('GW_INTERNAL_ERROR', `${view.id} has no index on ${field}`);
      const session = store.session();
      const wanted = [...new Set(values)];
      const found = new Map<string, Array<{ partition: number; key: string; sortValue: string | number }>>();
      try {
        for (const value of wanted) {
          const entries: Array<{ partition: number; key: string; sortValue: string | number }> = [];
          for (const partition of partitions) {
            const scan = session.openScan(partition, { index, filterValue: value, reverse: false });
            try {
              for (const entry of scan.next(limit)) entries.push({ partition, ...entry });
            } finally {
              scan.close();
            }
          }
          entries.sort((a, b) => compareValues(a.sortValue, b.sortValue) || compareValues(a.key, b.key));
          found.set(value, entries.slice(0, limit));
        }
      } finally {
        session.close();
      }
      const refs = [...found.values()].flat();
      const rows = store.getRows(refs);
      const byKey = new Map<string, Row>();
      refs.forEach((ref, i) => {
        const row = rows[i];
        if (row) byKey.set(ref.key, row);
      });
      const out = new Map<string, Row[]>();
      for (const [value, entries] of found) {
        out.set(value, entries.flatMap((entry) => (byKey.has(entry.key) ? [byKey.get(entry.key)!] : [])));
      }
      return out;
    },

    freshness(viewIds) {
      const out: Record<string, Record<string, string>> = {};
      for (const viewId of viewIds) {
        const store = storeOf(viewId);
        const offsets: Record<string, string> = {};
        for (const partition of options.servedPartitions(store.view.topic)) {
          offsets[String(partition)] = store.nextOffset(partition) ?? '0';
        }
        out[store.view.topic] = offsets;
      }
      return out;
    },
  };
}
