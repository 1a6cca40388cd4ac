/**
 * GraphQL arguments to query-layer requests: `filter` inputs to a Filter, `orderBy` to a sort,
 * first/after/last/before to a page request. Argument problems are GW_QUERY_BAD_ARGUMENT with
 * the argument named, never a silently adjusted page. The GraphQL input types these values
 * arrive in are defined in `input-types.ts`.
 */
import { GatewayError } from '../errors.ts';
import type { EqualityCondition, Filter, PageRequest, RangeCondition, Value } from '../query/page.ts';
import type { FieldModel, ViewModel } from '../views/model.ts';
import { parseTimestamp } from '../views/timestamp.ts';
import { decodeCursor } from './cursor.ts';

export interface FieldConditionInput {
  eq?: Value | null;
  in?: readonly Value[] | null;
  gt?: Value | null;
  gte?: Value | null;
  lt?: Value | null;
  lte?: Value | null;
}

export interface OrderInput {
  field?: string | null;
  direction?: 'ASC' | 'DESC' | null;
}

export interface ConnectionArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  orderBy?: OrderInput | null;
  filter?: Record<string, FieldConditionInput | null | undefined> | null;
}

export interface PagingLimits {
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
}

function badArgument(message: string, argument: string): GatewayError {
  return new GatewayError('GW_QUERY_BAD_ARGUMENT', message, { details: { argument } });
}

/** Timestamps compare as `toISOString()` strings, the form ingest stores. */
export function normalizeTimestamp(value: unknown): string {
  const normalized = parseTimestamp(value);
  if (normalized === undefined) throw new TypeError(`expected an ISO-8601 timestamp with zone, got ${JSON.stringify(value)}`);
  return normalized;
}

function normalize(field: FieldModel, value: Value): Value {
  return field.type === 'timestamp' ? normalizeTimestamp(value) : value;
}

export function toFilter(view: ViewModel, input: ConnectionArgs['filter']): Filter {
  const equals: EqualityCondition[] = [];
  const ranges: RangeCondition[] = [];
  for (const [name, condition] of Object.entries(input ?? {})) {
    if (!condition) continue;
    const field = view.fieldsByName.get(name);
    if (!field) throw badArgument(`filter field ${name} is not part of ${view.name}`, `filter.${name}`);
    if (condition.eq !== undefined && condition.eq !== null) equals.push({ field: name, values: [normalize(field, condition.eq)] });
    if (condition.in !== undefined && condition.in !== null) {
      if (condition.in.length > 1000) throw badArgument('an `in` list holds at most 1000 values', `filter.${name}.in`);
      equals.push({ field: name, values: condition.in.map((value) => normalize(field, value)) });
    }
    const lowerValue = condition.gte ?? condition.gt;
    const upperValue = condition.lte ?? condition.lt;
    if ((condition.gt != null && condition.gte != null) || (condition.lt != null && condition.lte != null)) {
      throw badArgument('use one of gt/gte and one of lt/lte', `filter.${name}`);
    }
    if (lowerValue != null || upperValue != null) {
      ranges.push({
        field: name,
        lower: lowerValue == null ? undefined : { value: normalize(field, lowerValue), inclusive: condition.gte != null },
        upper: upperValue == null ? undefined : { value: normalize(field, upperValue), inclusive: condition.lte != null },
      });
    }
  }
  return { equals, ranges };
}

function pageSize(value: number | null | undefined, name: string, limits: PagingLimits): number | undefined {
  if (value === null || value === undefined) return undefined;
  if (value < 0) throw badArgument(`${name} must not be negative`, name);
  if (value > limits.maxPageSize) throw badArgument(`${name} must be at most ${limits.maxPageSize}`, name);
  return value;
}

/** Builds the page request for a connection; `extra` adds conditions (a relation's parent key). */
export function toPageRequest(view: ViewModel, args: ConnectionArgs, limits: PagingLimits, extra: readonly EqualityCondition[] = []): PageRequest {
  const first = pageSize(args.first, 'first', limits);
  const last = pageSize(args.last, 'last', limits);
  if (first !== undefined && last !== undefined) throw badArgument('pass first or last, not both', 'last');
  if (first !== undefined && args.before) throw badArgument('before pages backwards: use it with last', 'before');
  if (last !== undefined && args.after) throw badArgument('after pages forwards: use it with first', 'after');
  const sortField = args.orderBy?.field ?? view.sortFields[0]!;
  if (!view.sortFields.includes(sortField)) throw badArgument(`${view.name} cannot be ordered by ${sortField}`, 'orderBy.field');
  const backward = last !== undefined || (first === undefined && Boolean(args.before));
  const cursorText = backward ? args.before : args.after;
  const filter = toFilter(view, args.filter);
  return {
    sortField,
    descending: args.orderBy?.direction === 'DESC',
    filter: { equals: [...filter.equals, ...extra], ranges: filter.ranges },
    limit: (backward ? last : first) ?? limits.defaultPageSize,
    backward,
    cursor: cursorText ? decodeCursor(cursorText, sortField) : undefined,
  };
}
