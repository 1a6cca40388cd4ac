/**
 * Counting the rows that match a filter in a set of partitions (`totalCount`): from the store's
 * row counters when the filter is equalities on counted fields only, else by scanning the planned
 * index. The same counters tell a page how many index entries its scan reads per match.
 */
import type { ReadSession, ViewStore } from '../store/view-store.ts';
import { matchesFilter, matchesNothing, NO_FILTER, type EqualityCondition, type Filter, type Value } from './filter.ts';
import { plan, scanSpec } from './plan.ts';

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
export function countFromCounters(store: ViewStore, partitions: readonly number[], filter: Filter): number | undefined {
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
 * drivers (or no condition) match over the rows the whole filter matches, from the counters.
 * 1 when the counters cannot tell; the merge's reads then grow as they run dry.
 */
export function scannedPerMatch(store: ViewStore, partitions: readonly number[], filter: Filter, drivers: readonly EqualityCondition[]): number {
  // A range narrows both alike; only the equalities change the density of matches.
  const matches = countFromCounters(store, partitions, { equals: filter.equals, ranges: [] });
  const scanned = countFromCounters(store, partitions, drivers.length > 0 ? { equals: drivers, ranges: [] } : NO_FILTER);
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
    for (const values of chosen.driverValues) {
      const scan = session.openScan(partition, scanSpec(chosen, values, false));
      try {
        for (let entries = scan.next(1000); scan.position !== undefined; entries = scan.next(1000)) {
          if (!chosen.residualOnRows) {
            // No residual, or one the scan checked on the entries' stored values.
            total += entries.length;
            continue;
          }
          const rows = store.getRows(entries.map((entry) => ({ partition, key: entry.key })));
          for (const row of rows) if (row && matchesFilter(row, chosen.residual)) total++;
        }
      } finally {
        scan.close();
      }
    }
  }
  return total;
}
