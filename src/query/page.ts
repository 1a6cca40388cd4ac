/**
 * Grid pages over one view across a set of partitions: pick the cheapest index for the filter,
 * merge the partitions' index scans in sort order, check the remaining filter conditions on the
 * rows, and stop after one row more than the page needs.
 *
 * Everything here is synchronous against the store, and the store applies batches synchronously
 * on the same thread, so one page is read from one consistent state of every partition.
 */
import type { ReadSession, Row, Scan, ScanEntry, ScanSpec, SortBound, ViewStore } from '../store/view-store.ts';
import { findIndex, type IndexModel } from '../views/model.ts';
import { compareValues } from './compare.ts';

export type Value = string | number;

export interface EqualityCondition {
  readonly field: string;
  /** The row matches if its field equals any of these (an empty list matches nothing). */
  readonly values: readonly Value[];
}

export interface RangeCondition {
  readonly field: string;
  readonly lower?: SortBound | undefined;
  readonly upper?: SortBound | undefined;
}

export interface Filter {
  readonly equals: readonly EqualityCondition[];
  readonly ranges: readonly RangeCondition[];
}

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

interface Plan {
  readonly index: IndexModel | undefined;
  /** The equality condition whose index drives the scan, if any. */
  readonly driver: EqualityCondition | undefined;
  readonly driverValues: ReadonlyArray<Value | undefined>;
  readonly sortRange: RangeCondition | undefined;
  readonly residual: Filter;
  readonly needResidual: boolean;
  /** The residual names a field index entries do not carry: check it on the rows. */
  readonly residualOnRows: boolean;
}

export const NO_FILTER: Filter = { equals: [], ranges: [] };

/** Whether a row satisfies every condition of a filter. */
export function matchesFilter(row: Row, filter: Filter): boolean {
  for (const condition of filter.equals) {
    const value = row[condition.field];
    if (!condition.values.some((wanted) => wanted === value)) return false;
  }
  for (const range of filter.ranges) {
    const value = row[range.field] as Value | undefined;
    if (value === undefined) return false;
    if (range.lower) {
      const order = compareValues(value, range.lower.value);
      if (order < 0 || (order === 0 && !range.lower.inclusive)) return false;
    }
    if (range.upper) {
      const order = compareValues(value, range.upper.value);
      if (order > 0 || (order === 0 && !range.upper.inclusive)) return false;
    }
  }
  return true;
}

/**
 * Rows an equality condition matches in these partitions, from the counters; 0 for an id-typed
 * field (not counted: one customer's orders are few next to any enum value's).
 */
function estimate(store: ViewStore, partitions: readonly number[], condition: EqualityCondition): number {
  if (!store.view.countedFilters.includes(condition.field)) return 0;
  let total = 0;
  for (const value of new Set(condition.values)) {
    const equals = new Map([[condition.field, value]]);
    for (const partition of partitions) total += store.count(partition, equals) ?? 0;
  }
  return total;
}

/**
 * Chooses the index: of the equality conditions whose field has its own index for this sort, the
 * one matching the fewest rows (by the counters) drives the scan; a range on the sort field bounds
 * it; every other condition is checked on the index entries' stored values, without reading rows.
 */
function plan(store: ViewStore, partitions: readonly number[], filter: Filter, sortField: string): Plan {
  const view = store.view;
  let driver: EqualityCondition | undefined;
  let driverRows = Infinity;
  for (const condition of filter.equals) {
    if (!findIndex(view, condition.field, sortField)) continue;
    const rows = estimate(store, partitions, condition);
    if (!driver || rows < driverRows || (rows === driverRows && condition.values.length < driver.values.length)) {
      driver = condition;
      driverRows = rows;
    }
  }
  const sortRange = filter.ranges.find((range) => range.field === sortField);
  const index = driver
    ? findIndex(view, driver.field, sortField)
    : sortField === view.keyField
      ? undefined
      : findIndex(view, undefined, sortField);
  const residual = {
    equals: filter.equals.filter((condition) => condition !== driver),
    ranges: filter.ranges.filter((range) => range !== sortRange),
  };
  return {
    index,
    driver,
    driverValues: driver ? [...new Set(driver.values)] : [undefined],
    sortRange,
    residual,
    needResidual: residual.equals.length > 0 || residual.ranges.length > 0,
    residualOnRows:
      index !== undefined &&
      [...residual.equals, ...residual.ranges].some((condition) => !view.indexedFields.includes(condition.field)),
  };
}

interface Source {
  readonly partition: number;
  readonly scan: Scan;
  buffer: ScanEntry[];
  at: number;
  done: boolean;
}

type Candidate = ScanEntry & { partition: number };

/**
 * Merges sorted scans; `take(n)` returns the next n entries overall. Each source first reads its
 * even share of `expected` (how many entries the caller expects to consume) and doubles its read
 * each time it runs dry, up to `chunk`: a page merged from 6 partitions reads about a sixth of its
 * entries from each, not a whole page from every one (an index entry costs microseconds to read,
 * and most of a fixed read-ahead would be thrown away).
 */
function createMerge(sources: Source[], reverse: boolean, expected: number, chunk: number) {
  const reads = new Map<Source, number>();
  // A fifth more than the even share: the sources are rarely exactly even.
  const firstRead = Math.min(chunk, Math.ceil((expected * 1.2) / Math.max(1, sources.length)) + 2);
  const head = (source: Source): ScanEntry | undefined => {
    if (source.at >= source.buffer.length && !source.done) {
      const size = reads.get(source) ?? firstRead;
      reads.set(source, Math.min(chunk, size * 2));
      source.buffer = source.scan.next(size);
      source.at = 0;
      if (source.buffer.length === 0) source.done = true;
    }
    return source.buffer[source.at];
  };
  const order = (a: ScanEntry, b: ScanEntry): number => {
    const bySort = compareValues(a.sortValue, b.sortValue);
    const result = bySort !== 0 ? bySort : compareValues(a.key, b.key);
    return reverse ? -result : result;
  };
  /** The source holding the next entry in merge order, or undefined when all are done. */
  const next = (): Source | undefined => {
    let best: Source | undefined;
    let bestEntry: ScanEntry | undefined;
    for (const source of sources) {
      const entry = head(source);
      if (entry && (!bestEntry || order(entry, bestEntry) < 0)) {
        best = source;
        bestEntry = entry;
      }
    }
    return best;
  };
  const consume = (source: Source): Candidate => {
    const entry = source.buffer[source.at++]!;
    return { key: entry.key, sortValue: entry.sortValue, fields: entry.fields, partition: source.partition };
  };
  return {
    /**
     * The next `count` entries (that satisfy `matches`, when given), consuming no entry after the
     * last one returned, so no source reads further than the page needs.
     */
    take(count: number, matches?: (entry: Candidate) => boolean): Candidate[] {
      const out: Candidate[] = [];
      while (out.length < count) {
        const source = next();
        if (!source) break;
        const entry = consume(source);
        if (!matches || matches(entry)) out.push(entry);
      }
      return out;
    },
    close() {
      for (const source of sources) source.scan.close();
    },
  };
}

function scanSpec(chosen: Plan, value: Value | undefined, reverse: boolean, cursor?: readonly [Value, string], inclusive = false): ScanSpec {
  return {
    withValues: chosen.needResidual,
    index: chosen.index,
    filterValue: value,
    lower: chosen.sortRange?.lower,
    upper: chosen.sortRange?.upper,
    after: cursor,
    afterInclusive: inclusive,
    reverse,
  };
}

function matchesNothing(filter: Filter): boolean {
  return filter.equals.some((condition) => condition.values.length === 0);
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
): Collected {
  const found: Array<Candidate & { row?: Row }> = [];
  const result = { found, limit: request.limit, backward: request.backward };
  if (matchesNothing(request.filter)) return result;
  const chosen = plan(store, partitions, request.filter, request.sortField);
  const reverse = request.descending !== request.backward;
  const wanted = request.limit + 1;
  const sources: Source[] = [];
  for (const partition of partitions) {
    for (const value of chosen.driverValues) {
      const scan = session.openScan(partition, scanSpec(chosen, value, reverse, request.cursor, cursorInclusive));
      sources.push({ partition, scan, buffer: [], at: 0, done: false });
    }
  }
  const batch = chosen.needResidual ? Math.max(wanted, 256) : wanted;
  const expected = chosen.needResidual ? Math.ceil(wanted * scannedPerMatch(store, partitions, request.filter, chosen)) : wanted;
  const merge = createMerge(sources, reverse, expected, batch);
  try {
    if (!chosen.needResidual) {
      found.push(...merge.take(wanted));
      return result;
    }
    if (!chosen.residualOnRows) {
      // The entries carry every field the residual names: check each as it comes off the merge.
      found.push(...merge.take(wanted, (candidate) => candidate.fields !== undefined && matchesFilter(candidate.fields, chosen.residual)));
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
  missing.forEach((candidate, i) => byRef.set(`${candidate.partition}/${candidate.key}`, rows[i]));
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
  return complete(store, [collect(store, session, partitions, request, false)])[0]!;
}

/**
 * Reads several pages of one view (for example one `Customer.orders` page per customer of a
 * grid) with one row fetch for all of them when no residual filter needs rows during the scan.
 */
export function readPages(
  store: ViewStore,
  session: ReadSession,
  partitions: readonly number[],
  requests: readonly PageRequest[],
): PageResult[] {
  return complete(store, requests.map((request) => collect(store, session, partitions, request, false)));
}

/** Whether any matching row lies on the other side of the request's cursor, its own row included. */
export function existsBeyondCursor(
  store: ViewStore,
  session: ReadSession,
  partitions: readonly number[],
  request: PageRequest,
): boolean {
  if (!request.cursor) return false;
  return collect(store, session, partitions, { ...request, backward: !request.backward, limit: 0 }, true).found.length > 0;
}

/** Every combination of one value per condition (the cartesian product of `in` lists). */
function combinations(conditions: readonly EqualityCondition[]): Array<Map<string, Value>> {
  let out: Array<Map<string, Value>> = [new Map()];
  for (const condition of conditions) {
    out = out.flatMap((partial) => [...new Set(condition.values)].map((value) => new Map(partial).set(condition.field, value)));
  }
  return out;
}

/**
 * Rows matching the filter from the counters alone: when it is equalities on counted fields only
 * (any combination of them, `in` lists included, as long as the value combinations stay few).
 * Undefined when the counters cannot tell.
 */
function countFromCounters(store: ViewStore, partitions: readonly number[], filter: Filter): number | undefined {
  const view = store.view;
  const fields = new Set(filter.equals.map((condition) => condition.field));
  const countable =
    filter.ranges.length === 0 &&
    fields.size === filter.equals.length &&
    filter.equals.every((condition) => view.countedFilters.includes(condition.field));
  const combos = countable ? combinations(filter.equals) : [];
  // Counters exist for every subset of counted fields (see ViewModel.counterSets) unless a view
  // has more than four; probe one combination to know.
  if (combos.length === 0 || combos.length > 1000 || store.count(partitions[0] ?? 0, combos[0]) === undefined) return undefined;
  let total = 0;
  for (const partition of partitions) for (const combo of combos) total += store.count(partition, combo) ?? 0;
  return total;
}

/**
 * How many index entries a scan is expected to read per match of the whole filter: the rows its
 * driver (or no condition) matches over the rows the whole filter matches, from the counters.
 * 1 when the counters cannot tell; the merge's reads then grow as they run dry.
 */
function scannedPerMatch(store: ViewStore, partitions: readonly number[], filter: Filter, chosen: Plan): number {
  // A range narrows both alike; only the equalities change the density of matches.
  const matches = countFromCounters(store, partitions, { equals: filter.equals, ranges: [] });
  const scanned = countFromCounters(store, partitions, chosen.driver ? { equals: [chosen.driver], ranges: [] } : NO_FILTER);
  if (matches === undefined || scanned === undefined) return 1;
  // No match at all: the scan reads to the end, in reads that grow; a large first read gains nothing.
  return matches === 0 ? 1 : Math.max(1, scanned / matches);
}

/**
 * Number of matching rows: from counters when the filter is equalities on counted fields only
 * (any combination of them, `in` lists included, as long as the value combinations stay few),
 * else by scanning the chosen index and checking its stored values.
 */
export function countRows(store: ViewStore, session: ReadSession, partitions: readonly number[], filter: Filter): number {
  if (matchesNothing(filter)) return 0;
  const counted = countFromCounters(store, partitions, filter);
  if (counted !== undefined) return counted;
  const view = store.view;
  const rangeField = filter.ranges.find((range) => view.sortFields.includes(range.field))?.field;
  const chosen = plan(store, partitions, filter, rangeField ?? view.sortFields[0]!);
  let total = 0;
  for (const partition of partitions) {
    for (const value of chosen.driverValues) {
      const scan = session.openScan(partition, scanSpec(chosen, value, false));
      try {
        for (let entries = scan.next(1000); entries.length > 0; entries = scan.next(1000)) {
          if (!chosen.needResidual) {
            total += entries.length;
            continue;
          }
          const rows = chosen.residualOnRows ? store.getRows(entries.map((entry) => ({ partition, key: entry.key }))) : undefined;
          entries.forEach((entry, i) => {
            const fields = rows ? rows[i] : entry.fields;
            if (fields && matchesFilter(fields, chosen.residual)) total++;
          });
        }
      } finally {
        scan.close();
      }
    }
  }
  return total;
}
