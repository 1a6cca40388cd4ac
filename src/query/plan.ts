/**
 * The scan plan of a filtered, sorted read: which index drives it, which values of the driving
 * condition it scans, and which conditions remain to be checked on the entries or the rows.
 */
import type { ScanSpec, ViewStore } from '../store/view-store.ts';
import { findIndex, type IndexModel } from '../views/model.ts';
import type { EntryCheck } from '../store/keys.ts';
import { matchesFilter, type EqualityCondition, type Filter, type RangeCondition, type Value } from './filter.ts';

export interface Plan {
  readonly index: IndexModel | undefined;
  /** The equality conditions that drive the scan: one per filter field of the index, in its order. */
  readonly drivers: readonly EqualityCondition[];
  /** Every combination of one value per driver: one scan per partition each (`[[]]` without drivers). */
  readonly driverValues: ReadonlyArray<readonly Value[]>;
  readonly sortRange: RangeCondition | undefined;
  readonly residual: Filter;
  readonly needResidual: boolean;
  /** The residual names a field index entries do not carry: check it on the rows. */
  readonly residualOnRows: boolean;
  /** The residual as the scans check it on each entry's stored values, when they can. */
  readonly entryCheck: EntryCheck | undefined;
}

/** Value combinations an index of several filters may be scanned for in one read; beyond, it is not used. */
const MAX_DRIVER_COMBINATIONS = 64;

/** Every combination of one value per condition, in the conditions' order. */
function combinations(conditions: readonly EqualityCondition[]): Value[][] {
  let out: Value[][] = [[]];
  for (const condition of conditions) {
    const values = [...new Set(condition.values)];
    out = out.flatMap((partial) => values.map((value) => [...partial, value]));
  }
  return out;
}

/**
 * Rows the equality conditions match together in these partitions, from the counters; 0 when one
 * of them is on an id-typed field (not counted: one customer's orders are few next to any enum
 * value's). Where the counters do not hold a combination, the fewest rows any one of them matches.
 */
function estimate(store: ViewStore, partitions: readonly number[], conditions: readonly EqualityCondition[], combos: readonly Value[][]): number {
  const view = store.view;
  if (conditions.some((condition) => !view.countedFilters.includes(condition.field))) return 0;
  let total = 0;
  for (const combo of combos) {
    const equals = new Map(conditions.map((condition, i) => [condition.field, combo[i]!]));
    for (const partition of partitions) {
      const rows = store.count(partition, equals);
      if (rows === undefined) {
        return conditions.length === 1
          ? 0
          : Math.min(...conditions.map((condition) => estimate(store, partitions, [condition], combinations([condition]))));
      }
      total += rows;
    }
  }
  return total;
}

/** The conditions that give each of an index's filter fields its values, or undefined if one has none. */
function conditionsFor(index: IndexModel, filter: Filter): EqualityCondition[] | undefined {
  const out: EqualityCondition[] = [];
  for (const field of index.filters) {
    const condition = filter.equals.find((candidate) => candidate.field === field);
    if (!condition) return undefined;
    out.push(condition);
  }
  return out;
}

/**
 * Chooses the index: of the indexes for this sort whose filter fields all have equality
 * conditions, the one matching the fewest rows (by the counters) drives the scan, then the one
 * with more fields, then the one with fewer value combinations; a range on the sort field bounds
 * it; every other condition is checked on the index entries' stored values, without reading rows.
 */
export function plan(store: ViewStore, partitions: readonly number[], filter: Filter, sortField: string): Plan {
  const view = store.view;
  let best: { index: IndexModel; drivers: EqualityCondition[]; combos: Value[][]; rows: number } | undefined;
  for (const index of view.indexes) {
    if (index.sort !== sortField || index.filters.length === 0) continue;
    const drivers = conditionsFor(index, filter);
    if (!drivers) continue;
    const combos = combinations(drivers);
    if (drivers.length > 1 && combos.length > MAX_DRIVER_COMBINATIONS) continue;
    const rows = estimate(store, partitions, drivers, combos);
    const better =
      !best ||
      rows < best.rows ||
      (rows === best.rows &&
        (drivers.length > best.drivers.length || (drivers.length === best.drivers.length && combos.length < best.combos.length)));
    if (better) best = { index, drivers, combos, rows };
  }
  const sortRange = filter.ranges.find((range) => range.field === sortField);
  const index = best ? best.index : sortField === view.keyField ? undefined : findIndex(view, undefined, sortField);
  const drivers: readonly EqualityCondition[] = best?.drivers ?? [];
  const residual = {
    equals: filter.equals.filter((condition) => !drivers.includes(condition)),
    ranges: filter.ranges.filter((range) => range !== sortRange),
  };
  const needResidual = residual.equals.length > 0 || residual.ranges.length > 0;
  const residualOnRows =
    index !== undefined && [...residual.equals, ...residual.ranges].some((condition) => !view.indexedFields.includes(condition.field));
  return {
    index,
    drivers,
    driverValues: best?.combos ?? [[]],
    sortRange,
    residual,
    needResidual,
    residualOnRows,
    entryCheck: needResidual && !residualOnRows ? (fields) => matchesFilter(fields, residual) : undefined,
  };
}

/**
 * The scan of one partition for one combination of driver values (none without drivers): the plan's index
 * within its sort range, from `cursor` (exclusive, or inclusive with `inclusive`) in the given
 * direction, keeping the entries that pass the residual when the entries carry its fields.
 */
export function scanSpec(chosen: Plan, values: readonly Value[], reverse: boolean, cursor?: readonly [Value, string], inclusive = false): ScanSpec {
  return {
    where: chosen.entryCheck,
    index: chosen.index,
    filterValues: values.length > 0 ? values : undefined,
    lower: chosen.sortRange?.lower,
    upper: chosen.sortRange?.upper,
    after: cursor,
    afterInclusive: inclusive,
    reverse,
  };
}
