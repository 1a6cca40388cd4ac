/**
 * Checks the `args` of a peer request against its op and view (PROTOCOL.md, "Arguments") and
 * returns them typed. Anything else (a wrong type, an unknown field, a list over its bound, a
 * field the view does not have) fails with GW_PEER_BAD_REQUEST naming the argument, before any
 * read: a signed request with bad arguments is a 400, never a 500.
 */
import { GatewayError } from '../errors.ts';
import type { Filter, PageRequest, Value } from '../query/page.ts';
import type { RowRef } from '../store/view-store.ts';
import { findIndex, type ViewModel } from '../views/model.ts';
import type { PeerRequest } from './protocol.ts';

/** Longest list in any argument (keys, values, page requests). The 1 MiB body bounds them too. */
export const MAX_ARG_LIST = 100_000;
/** Most conditions of each kind in one filter. */
export const MAX_FILTER_CONDITIONS = 64;
/** Largest `limit` of a page, a related list or a changes read (MAX_PAGE_SIZE is at most 10,000). */
export const MAX_ARG_LIMIT = 10_000;
/** Longest `waitMs` a `changes` long poll may ask for; the server waits at most 5 s. */
export const MAX_ARG_WAIT_MS = 60_000;

/** Arguments every op may carry. */
export interface CommonArgs {
  /** Offsets the partitions must have applied before the read (a consistency token's share). */
  readonly minOffsets: Readonly<Record<string, string>> | undefined;
  /** The caller's owner is restoring or gone: a copy within the allowed lag may answer. */
  readonly fallback: boolean;
}

export type OpArgs =
  | { readonly op: 'lookup'; readonly keys: RowRef[]; readonly filter: Filter | undefined }
  | { readonly op: 'pages'; readonly requests: PageRequest[] }
  | { readonly op: 'count'; readonly filter: Filter }
  | { readonly op: 'related'; readonly field: string; readonly values: string[]; readonly limit: number; readonly filter: Filter | undefined }
  | { readonly op: 'changes'; readonly since: Readonly<Record<string, string>>; readonly limit: number; readonly waitMs: number };

export type PeerArgs = CommonArgs & OpArgs;

const OFFSET = /^\d{1,19}$/;
const PARTITION_KEY = /^(0|[1-9]\d{0,8})$/;

const OP_FIELDS: Readonly<Record<PeerRequest['op'], readonly string[]>> = {
  lookup: ['keys', 'filter'],
  pages: ['requests'],
  count: ['filter'],
  related: ['field', 'values', 'limit', 'filter'],
  changes: ['since', 'limit', 'waitMs'],
};
const COMMON_FIELDS = ['minOffsets', 'fallback'];

/** `args`, or the argument at `path` within it, as messages name it. */
function named(path: string): string {
  return path === '' ? 'args' : `args.${path}`;
}

function bad(path: string, expected: string): GatewayError {
  return new GatewayError('GW_PEER_BAD_REQUEST', `${named(path)} must be ${expected}`);
}

function record(value: unknown, path: string, fields: readonly string[]): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw bad(path, 'an object');
  const unknown = Object.keys(value).find((field) => !fields.includes(field));
  if (unknown !== undefined) throw new GatewayError('GW_PEER_BAD_REQUEST', `${named(path)} has an unknown field ${JSON.stringify(unknown)}`);
  return value as Record<string, unknown>;
}

function list(value: unknown, path: string, max = MAX_ARG_LIST): unknown[] {
  if (!Array.isArray(value)) throw bad(path, 'an array');
  if (value.length > max) throw bad(path, `an array of at most ${max} entries`);
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string') throw bad(path, 'a string');
  return value;
}

function flag(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw bad(path, 'a boolean');
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw bad(path, `an integer from ${min} to ${max}`);
  return value;
}

function value(raw: unknown, path: string): Value {
  if (typeof raw === 'string' || (typeof raw === 'number' && Number.isFinite(raw))) return raw;
  throw bad(path, 'a string or a finite number');
}

function field(view: ViewModel, raw: unknown, path: string): string {
  const name = text(raw, path);
  if (!view.fieldsByName.has(name)) throw bad(path, `a field of ${view.id}`);
  return name;
}

/** `{ "<partition>": "<offset>" }` over requested partitions only. */
function offsets(raw: unknown, path: string, partitions: readonly number[]): Record<string, string> {
  const entries = record(raw, path, partitions.map(String));
  for (const [partition, offset] of Object.entries(entries)) {
    if (!PARTITION_KEY.test(partition) || typeof offset !== 'string' || !OFFSET.test(offset))
      throw bad(`${path}.${partition}`, 'an offset (decimal string)');
  }
  return entries as Record<string, string>;
}

function bound(raw: unknown, path: string): { value: Value; inclusive: boolean } | undefined {
  if (raw === undefined) return undefined;
  const entry = record(raw, path, ['value', 'inclusive']);
  return { value: value(entry.value, `${path}.value`), inclusive: flag(entry.inclusive, `${path}.inclusive`) };
}

function filter(view: ViewModel, raw: unknown, path: string): Filter {
  const entry = record(raw, path, ['equals', 'ranges']);
  return {
    equals: list(entry.equals, `${path}.equals`, MAX_FILTER_CONDITIONS).map((condition, i) => {
      const at = `${path}.equals[${i}]`;
      const fields = record(condition, at, ['field', 'values']);
      return {
        field: field(view, fields.field, `${at}.field`),
        values: list(fields.values, `${at}.values`).map((v, j) => value(v, `${at}.values[${j}]`)),
      };
    }),
    ranges: list(entry.ranges, `${path}.ranges`, MAX_FILTER_CONDITIONS).map((condition, i) => {
      const at = `${path}.ranges[${i}]`;
      const fields = record(condition, at, ['field', 'lower', 'upper']);
      return {
        field: field(view, fields.field, `${at}.field`),
        lower: bound(fields.lower, `${at}.lower`),
        upper: bound(fields.upper, `${at}.upper`),
      };
    }),
  };
}

function pageRequest(view: ViewModel, raw: unknown, path: string): PageRequest {
  const entry = record(raw, path, ['sortField', 'descending', 'filter', 'limit', 'backward', 'cursor']);
  const sortField = text(entry.sortField, `${path}.sortField`);
  if (!view.sortFields.includes(sortField)) throw bad(`${path}.sortField`, `a sort field of ${view.id} (${view.sortFields.join(', ')})`);
  let cursor: readonly [Value, string] | undefined;
  if (entry.cursor !== undefined) {
    const pair = list(entry.cursor, `${path}.cursor`, 2);
    if (pair.length !== 2) throw bad(`${path}.cursor`, '[sort value, key]');
    cursor = [value(pair[0], `${path}.cursor[0]`), text(pair[1], `${path}.cursor[1]`)];
  }
  return {
    sortField,
    descending: flag(entry.descending, `${path}.descending`),
    filter: filter(view, entry.filter, `${path}.filter`),
    limit: integer(entry.limit, `${path}.limit`, 0, MAX_ARG_LIMIT),
    backward: flag(entry.backward, `${path}.backward`),
    cursor,
  };
}

function opArgs(view: ViewModel, request: PeerRequest, args: Record<string, unknown>): OpArgs {
  switch (request.op) {
    case 'lookup': {
      const partitions = new Set(request.partitions);
      const keys = list(args.keys, 'keys').map((raw, i) => {
        const ref = record(raw, `keys[${i}]`, ['partition', 'key']);
        const partition = integer(ref.partition, `keys[${i}].partition`, 0, Number.MAX_SAFE_INTEGER);
        if (!partitions.has(partition)) throw bad(`keys[${i}].partition`, 'one of the requested partitions');
        return { partition, key: text(ref.key, `keys[${i}].key`) };
      });
      return { op: 'lookup', keys, filter: args.filter === undefined ? undefined : filter(view, args.filter, 'filter') };
    }
    case 'pages':
      return { op: 'pages', requests: list(args.requests, 'requests').map((raw, i) => pageRequest(view, raw, `requests[${i}]`)) };
    case 'count':
      return { op: 'count', filter: filter(view, args.filter, 'filter') };
    case 'related': {
      const name = field(view, args.field, 'field');
      // Related rows are read through the (field, first sort key) index.
      if (!findIndex(view, name, view.sortFields[0]!)) {
        throw bad('field', `a field of ${view.id} with an index for ${view.sortFields[0]}`);
      }
      return {
        op: 'related',
        field: name,
        values: list(args.values, 'values').map((v, i) => text(v, `values[${i}]`)),
        limit: integer(args.limit, 'limit', 1, MAX_ARG_LIMIT),
        filter: args.filter === undefined ? undefined : filter(view, args.filter, 'filter'),
      };
    }
    case 'changes': {
      const since = offsets(args.since, 'since', request.partitions);
      for (const partition of request.partitions) {
        if (since[String(partition)] === undefined) throw bad(`since.${partition}`, `the offset to read partition ${partition} from`);
      }
      return {
        op: 'changes',
        since,
        limit: args.limit === undefined ? 1000 : integer(args.limit, 'limit', 1, MAX_ARG_LIMIT),
        waitMs: args.waitMs === undefined ? 0 : integer(args.waitMs, 'waitMs', 0, MAX_ARG_WAIT_MS),
      };
    }
  }
}

/** The request's arguments, checked against its op and `view`; throws GW_PEER_BAD_REQUEST. */
export function parsePeerArgs(view: ViewModel, request: PeerRequest): PeerArgs {
  const args = record(request.args, '', [...OP_FIELDS[request.op], ...COMMON_FIELDS]);
  return {
    ...opArgs(view, request, args),
    minOffsets: args.minOffsets === undefined ? undefined : offsets(args.minOffsets, 'minOffsets', request.partitions),
    fallback: args.fallback === undefined ? false : flag(args.fallback, 'fallback'),
  };
}
