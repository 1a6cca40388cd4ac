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
  /** The equality condition whose index drives the scan, if any. */
  readonly driver: EqualityCondition | undefined;
  readonly driverValues: ReadonlyArray<Value | undefined>;
  readonly sortRange: RangeCondition | undefined;
  readonly residual: Filter;
  readonly needResidual: boolean;
  /** The residual names a field index entries do not carry: check it on the rows. */
  readonly residualOnRows: boolean;
  /** The residual as the scans check it on each entry's stored values, when they can. */
  readonly entryCheck: EntryCheck | undefined;
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
export function plan(store: ViewStore, partitions: readonly number[], filter: Filter, sortField: string): Plan {
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
  const index = driver ? findIndex(view, driver.field, sortField) : sortField === view.keyField ? undefined : findIndex(view, undefined, sortField);
  const residual = {
    equals: filter.equals.filter((condition) => condition !== driver),
    ranges: filter.ranges.filter((range) => range !== sortRange),
  };
  const needResidual = residual.equals.length > 0 || residual.ranges.length > 0;
  const residualOnRows =
    index !== undefined && [...residual.equals, ...residual.ranges].some((condition) => !view.indexedFields.includes(condition.field));
  return {
    index,
    driver,
    driverValues: driver ? [...new Set(driver.values)] : [undefined],
    sortRange,
    residual,
    needResidual,
    residualOnRows,
    entryCheck: needResidual && !residualOnRows ? (fields) => matchesFilter(fields, residual) : undefined,
  };
}

/**
 * The scan of one partition for one driver value (undefined without a driver): the plan's index
 * within its sort range, from `cursor` (exclusive, or inclusive with `inclusive`) in the given
 * direction, keeping the entries that pass the residual when the entries carry its fields.
 */
export function scanSpec(chosen: Plan, value: Value | undefined, reverse: boolean, cursor?: readonly [Value, string], inclusive = false): ScanSpec {
  return {
    where: chosen.entryCheck,
    index: chosen.index,
    filterValue: value,
    lower: chosen.sortRange?.lower,
    upper: chosen.sortRange?.upper,
    after: cursor,
    afterInclusive: inclusive,
    reverse,
  };
}
