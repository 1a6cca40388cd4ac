/**
 * Filters of grid queries: equality (`in`) conditions and ranges on a view's fields, and how a
 * row is checked against them.
 */
import type { Row, SortBound } from '../store/view-store.ts';
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

/** Whether no row can match: some equality condition lists no values. */
export function matchesNothing(filter: Filter): boolean {
  return filter.equals.some((condition) => condition.values.length === 0);
}
