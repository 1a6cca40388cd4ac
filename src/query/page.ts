/**
 * Grid pages over one view across a set of partitions: plan the scan (plan.ts), merge the
 * partitions' index scans in sort order (merge.ts), check the remaining filter conditions on the
 * entries or the rows (filter.ts), and stop after one row more than the page needs. Counting
 * lives in count-rows.ts; this module re-exports the filter types and `countRows`, so it stays
 * the query entry point for the rest of the gateway.
 *
 * Everything here is synchronous against the store, and the store applies batches synchronously
 * on the same thread, so one page is read from one consistent state of every partition.
 */
import type { ReadSession, Row, ViewStore } from '../store/view-store.ts';
import { scannedPerMatch } from './count-rows.ts';
import { matchesFilter, matchesNothing, type Filter, type Value } from './filter.ts';
import { createMerge, mergeSource, type Candidate, type MergeSource } from './merge.ts';
import { plan, scanSpec } from './plan.ts';

export { countRows } from './count-rows.ts';
export { matchesFilter, NO_FILTER } from './filter.ts';
export type { EqualityCondition, Filter, RangeCondition, Value } from './filter.ts';

export interface PageRequest {
  readonly sortField: string;
  readonly descending: boolean;
  readonly filter: Filter;
  readonly limit: number;
  /** Read towards the start (Relay `last`/`before`); rows still come back in sort order. */
  readonly backward: boolean;
  /** Exclusive position to continue from: `after` forwards, `before` backwards. */
  readonly cursor?: readonly [Value, string] | undefined;
}

export interface PageRow {
  readonly key: string;
  readonly sortValue: Value;
  readonly row: Row;
  readonly partition: number;
}

export interface PageResult {
  /** In sort order. */
  readonly rows: PageRow[];
  /** More matching rows exist beyond the page in the reading direction. */
  readonly more: boolean;
}

interface Collected {
  /** In scan order, at most limit + 1; `row` is set where the residual filter had to read it. */
  readonly found: Array<Candidate & { row?: Row }>;
  readonly limit: number;
  readonly backward: boolean;
}

/**
 * Finds up to `limit + 1` matching entries in the request's direction. Rows are read here only
 * when a residual condition needs them; otherwise the index entry alone proves the match (index
 * and rows are written in one batch and read in one synchronous turn).
 */
function collect(
  store: ViewStore,
  session: ReadSession,
  partitions: readonly number[],
  request: PageRequest,
  cursorInclusive: boolean,
  alone: boolean,
): Collected {
  const found: Array<Candidate & { row?: Row }> = [];
  const result = { found, limit: request.limit, backward: request.backward };
  if (matchesNothing(request.filter)) return result;
  const chosen = plan(store, partitions, request.filter, request.sortField);
  const reverse = request.descending !== request.backward;
  const wanted = request.limit + 1;
  const sources: MergeSource[] = [];
  for (const partition of partitions) {
    for (const values of chosen.driverValues) {
      const scan = session.openScan(partition, { ...scanSpec(chosen, values, reverse, request.cursor, cursorInclusive), alone });
      sources.push(mergeSource(partition, scan));
    }
  }
  const batch = chosen.needResidual ? Math.max(wanted, 256) : wanted;
  const expected = chosen.needResidual ? Math.ceil(wanted * scannedPerMatch(store, partitions, request.filter, chosen.drivers)) : wanted;
  const merge = createMerge(sources, reverse, expected, batch);
  try {
    if (!chosen.residualOnRows) {
      // No residual, or one the scans checked on the entries' stored values.
      found.push(...merge.take(wanted));
      return result;
    }
    // The residual needs rows: take candidates in growing steps and read their rows in one fetch
    // per step. A selective residual needs many candidates, a loose one few.
    let step = Math.min(expected, batch * sources.length);
    while (found.length < wanted) {
      const candidates = merge.take(step);
      step = Math.min(step * 2, batch * sources.length);
      if (candidates.length === 0) break;
      const rows = store.getRows(candidates);
      for (let i = 0; i < candidates.length && found.length < wanted; i++) {
        const candidate = candidates[i]!;
        const fields = rows[i];
        if (fields && matchesFilter(fields, chosen.residual)) found.push({ ...candidate, row: fields });
      }
    }
    return result;
  } finally {
    merge.close();
  }
}

/** Reads the rows the collected entries still lack (one fetch for all) and shapes the pages. */
function complete(store: ViewStore, collected: readonly Collected[]): PageResult[] {
  const missing = collected.flatMap((entry) => entry.found.slice(0, entry.limit).filter((candidate) => !candidate.row));
  const rows = store.getRows(missing);
  const byRef = new Map<string, Row | undefined>();
  missing.forEach((candidate, i) => {
    byRef.set(`${candidate.partition}/${candidate.key}`, rows[i]);
  });
  return collected.map((entry) => {
    const more = entry.found.length > entry.limit;
    const page: PageRow[] = [];
    for (const candidate of entry.found.slice(0, entry.limit)) {
      const row = candidate.row ?? byRef.get(`${candidate.partition}/${candidate.key}`);
      if (row) page.push({ key: candidate.key, sortValue: candidate.sortValue, row, partition: candidate.partition });
    }
    if (entry.backward) page.reverse();
    return { rows: page, more };
  });
}

/** Reads up to `limit` matching rows plus whether more exist, in the request's direction. */
export function readPage(store: ViewStore, session: ReadSession, partitions: readonly number[], request: PageRequest): PageResult {
  return complete(store, [collect(store, session, partitions, request, false, true)])[0]!;
}

/**
 * Reads several pages of one view (for example one `Customer.orders` page per customer of a
 * grid) with one row fetch for all of them when no residual filter needs rows during the scan.
 */
export function readPages(store: ViewStore, session: ReadSession, partitions: readonly number[], requests: readonly PageRequest[]): PageResult[] {
  return complete(
    store,
    // One page reads each partition once: readers of its own, bounded to each scan, cost less
    // than pooled ones. Several pages (one per parent row) seek pooled readers instead.
    requests.map((request) => collect(store, session, partitions, request, false, requests.length === 1)),
  );
}

/** Whether any matching row lies on the other side of the request's cursor, its own row included. */
export function existsBeyondCursor(store: ViewStore, session: ReadSession, partitions: readonly number[], request: PageRequest): boolean {
  if (!request.cursor) return false;
  return collect(store, session, partitions, { ...request, backward: !request.backward, limit: 0 }, true, true).found.length > 0;
}
