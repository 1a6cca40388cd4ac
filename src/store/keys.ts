/**
 * The storage layout of one view in the shared RocksDB: the key grammar, the formats of the
 * values stored under those keys, and the fingerprint that tells when stored data no longer fits
 * the view's declaration. Every key but the view's fingerprint is keyed by partition, so a
 * partition can be read, dropped or counted alone.
 *
 * Key layout (tuples, see tuple.ts):
 *
 *   ('r', view, partition, key)                              -> offset TAB row as UTF-8 JSON
 *   ('u', view, partition, offset)                           -> "+" key ; the offset of each row's latest version
 *   ('u', view, partition, offset)                           -> "-" key ; a tombstone (row deleted at offset)
 *   ('i', view, partition, indexId, sortValue, key)          -> values  ; plain sort index
 *   ('i', view, partition, indexId, filterValue, sortValue, key) -> values ; filter + sort index
 *   ('i', view, partition, indexId, filterValue, ..., sortValue, key) -> values ; declared combination
 *   values = JSON array of the row's `indexedFields`, so filters are checked without the row
 *   ('c', view, partition, fields, values)                   -> decimal count of rows whose `fields`
 *                                                               (comma-joined) have `values` (JSON)
 *   ('c', view, partition, '', '[]')                         -> decimal count of all rows
 *   ('o', view, partition)                                   -> next offset to consume, decimal
 *   ('w', view, partition)                                   -> offset below which tombstone markers
 *                                                               were trimmed (see change-log.ts)
 *   ('t', view, partition)                                   -> JSON [[time ms, next offset], ...]: when
 *                                                               offsets were applied (tombstone-trimmer.ts)
 *   ('m', view)                                              -> fingerprint of the layout-relevant declaration
 *
 * The 'u' entries are a compacted change log: every live row once, at the offset of its latest
 * version, plus tombstones (see change-log.ts).
 */
import { createHash } from 'node:crypto';
import type { IndexModel, ViewModel } from '../views/model.ts';
import type { Key } from './rocks.ts';
import { encodeTuple, extendTuple, type TupleElement } from './tuple.ts';

/** A row of a view: its fields by name, stored as JSON. */
export type Row = Record<string, unknown>;

/** The tags of every per-partition key (all but the view's 'm' fingerprint), see the layout above. */
export const PARTITION_TAGS = ['r', 'u', 'i', 'c', 'o', 'w', 't'] as const;

export type PartitionTag = (typeof PARTITION_TAGS)[number];

/**
 * The keys of one view, as the layout above defines them. Prefixes are encoded once per (tag,
 * partition, index) and the returned prefix buffers are shared: callers must not change them.
 */
export interface ViewKeys {
  /** ('m', view): the layout fingerprint. */
  readonly meta: Key;
  /** (tag, view): what every key of that kind starts with, in every partition. */
  viewPrefix(tag: PartitionTag): Key;
  /** (tag, view, partition), or (tag, view, partition, extra): what every key of that kind starts with. */
  prefix(tag: PartitionTag, partition: number, extra?: number): Key;
  /** ('r', view, partition, key) */
  row(partition: number, key: string): Key;
  /** ('i', view, partition, indexId, [filterValue, ...] sortValue, key), from the row's fields. */
  index(partition: number, index: IndexModel, row: Row, key: string): Key;
  /** ('u', view, partition, offset) */
  changeLog(partition: number, offset: string | bigint): Key;
  /** ('c', view, partition, fields, values) */
  counter(partition: number, fields: string, values: string): Key;
  /** ('o', view, partition) */
  nextOffset(partition: number): Key;
  /** ('w', view, partition) */
  trimPoint(partition: number): Key;
  /** ('t', view, partition) */
  appliedTimes(partition: number): Key;
}

export function createViewKeys(viewId: string): ViewKeys {
  // tag -> partition -> extra (-1: none) -> prefix; numeric keys, no id string built per key.
  const prefixes = new Map<string, Map<number, Map<number, Buffer>>>();
  const prefix = (tag: PartitionTag, partition: number, extra?: number): Buffer => {
    let byPartition = prefixes.get(tag);
    if (!byPartition) prefixes.set(tag, (byPartition = new Map()));
    let byExtra = byPartition.get(partition);
    if (!byExtra) byPartition.set(partition, (byExtra = new Map()));
    let cached = byExtra.get(extra ?? -1);
    if (!cached) {
      cached = encodeTuple(extra === undefined ? [tag, viewId, partition] : [tag, viewId, partition, extra]);
      byExtra.set(extra ?? -1, cached);
    }
    return cached;
  };
  return {
    meta: encodeTuple(['m', viewId]),
    viewPrefix: (tag) => encodeTuple([tag, viewId]),
    prefix,
    row: (partition, key) => extendTuple(prefix('r', partition), [key]),
    index(partition, index, row, key) {
      const elements: TupleElement[] = [];
      for (const filter of index.filters) elements.push(sortElement(row, filter));
      elements.push(sortElement(row, index.sort), key);
      return extendTuple(prefix('i', partition, index.id), elements);
    },
    changeLog: (partition, offset) => extendTuple(prefix('u', partition), [Number(offset)]),
    counter: (partition, fields, values) => extendTuple(prefix('c', partition), [fields, values]),
    nextOffset: (partition) => prefix('o', partition),
    trimPoint: (partition) => prefix('w', partition),
    appliedTimes: (partition) => prefix('t', partition),
  };
}

/** A field's value as an index key element: numbers as numbers, anything else as its string. */
export function sortElement(row: Row, field: string): string | number {
  return asKeyElement(row[field]);
}

function asKeyElement(value: unknown): string | number {
  return typeof value === 'number' ? value : String(value);
}

/** A stored row value: the offset of its latest version, a tab, the row's JSON. */
export function encodeRowValue(offset: string, row: Row): string {
  return `${offset}\t${JSON.stringify(row)}`;
}

/** Splits a value written by `encodeRowValue`. */
export function decodeRowValue(text: string): { offset: string; row: Row } {
  const tab = text.indexOf('\t');
  return { offset: text.slice(0, tab), row: JSON.parse(text.slice(tab + 1)) as Row };
}

/**
 * An index entry's value: the row's key, then its `indexedFields` in declaration order (missing
 * ones as null). With the key in the value, a scan bounded in RocksDB reads values alone
 * (`KeyValueStore.valueRange`): the entry's key, sort value and filter fields all come from it.
 */
export function encodeIndexValue(view: ViewModel, row: Row, key: string): string {
  const values: unknown[] = [key];
  for (const field of view.indexedFields) values.push(row[field] ?? null);
  return JSON.stringify(values);
}

/** The row key and sort value of a value written by `encodeIndexValue`. */
export interface IndexEntryValue {
  readonly key: string;
  /** The sort value of `index`, as its key element (`sortElement`). */
  readonly sortValue: string | number;
}

/** A check of an entry's stored values; the row it is given may be reused for the next entry. */
export type EntryCheck = (fields: Row) => boolean;

/**
 * A decoder of the values `encodeIndexValue` wrote, for the entries of `index`: made once per scan,
 * called per entry. With `where` and `check`, an entry whose indexed fields fail it decodes to
 * undefined; the fields are set on one object the decoder reuses, so an entry that fails costs no
 * allocation.
 */
export function indexValueDecoder(
  view: ViewModel,
  index: IndexModel,
  where?: EntryCheck,
): (text: string, check: boolean) => IndexEntryValue | undefined {
  const fields = view.indexedFields;
  const sortAt = fields.indexOf(index.sort) + 1;
  const scratch: Row = {};
  // Reused for every entry: a scan reads hundreds of them per page.
  const values: unknown[] = [];
  return (text, check) => {
    const checking = where !== undefined && check;
    readIndexValue(text, checking ? fields.length : sortAt, values);
    if (checking) {
      for (let i = 0; i < fields.length; i++) scratch[fields[i]!] = values[i + 1];
      if (!where(scratch)) return undefined;
    }
    return { key: values[0] as string, sortValue: asKeyElement(values[sortAt]) };
  };
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Elements 0 to `last` of an index value (`encodeIndexValue`) into `out`, as `JSON.parse` would
 * give them (undefined past the array's end). A scan needs only the key and the sort value of
 * most entries; here they are sliced out of the text, and the elements after `last` are not read.
 * `JSON.stringify` escapes every quote, backslash and control character in a string with a
 * backslash, so in a text without one each string ends at its next quote. A text with a
 * backslash, or with anything but scalars, goes to `JSON.parse`.
 */
export function readIndexValue(text: string, last: number, out: unknown[]): void {
  if (text.charCodeAt(0) === OPEN && text.indexOf('\\') === -1 && scanScalars(text, last, out)) return;
  const parsed = JSON.parse(text) as unknown[];
  for (let i = 0; i <= last; i++) out[i] = parsed[i];
}

/** `readIndexValue` without escapes; false when the text is not a flat array of scalars. */
function scanScalars(text: string, last: number, out: unknown[]): boolean {
  const length = text.length;
  let at = 1;
  let i = 0;
  if (text.charCodeAt(at) === CLOSE) {
    for (; i <= last; i++) out[i] = undefined;
    return at === length - 1;
  }
  for (; i <= last; i++) {
    let end: number;
    if (text.charCodeAt(at) === QUOTE) {
      const closing = text.indexOf('"', at + 1);
      if (closing === -1) return false;
      out[i] = text.slice(at + 1, closing);
      end = closing + 1;
    } else {
      end = at;
      while (end < length) {
        const code = text.charCodeAt(end);
        if (code === COMMA || code === CLOSE) break;
        end++;
      }
      const token = text.slice(at, end);
      if (token === 'null') out[i] = null;
      else if (token === 'true') out[i] = true;
      else if (token === 'false') out[i] = false;
      else {
        // Number() reads a JSON number to the same double; anything else (an object, an array,
        // an empty element, hex) is left to JSON.parse.
        if (!JSON_NUMBER.test(token)) return false;
        out[i] = Number(token);
      }
    }
    const separator = text.charCodeAt(end);
    if (separator === COMMA) {
      at = end + 1;
      continue;
    }
    if (separator !== CLOSE || end !== length - 1) return false;
    for (i++; i <= last; i++) out[i] = undefined;
    return true;
  }
  return true;
}

/** A change-log value: "+" and the key for a row's latest version, "-" and the key for a tombstone. */
export function encodeChangeLogValue(key: string, deleted: boolean): string {
  return `${deleted ? '-' : '+'}${key}`;
}

/** The key and kind of a change-log value written by `encodeChangeLogValue`. */
export function decodeChangeLogValue(text: string): { key: string; deleted: boolean } {
  return { key: text.slice(1), deleted: isTombstoneValue(text) };
}

/** Whether a change-log value is a tombstone's (false for a missing value). */
export function isTombstoneValue(text: string | undefined): boolean {
  return text?.[0] === '-';
}

/**
 * The fingerprint stored under ('m', view): a hash of every part of the declaration the layout
 * depends on, and of the layout's version (`layout`, raised whenever the keys or values above change).
 * Stored data whose fingerprint differs is dropped and rebuilt from the topic.
 */
export function layoutFingerprint(view: ViewModel): string {
  const shape = {
    key: view.keyField,
    layout: 5,
    // An index of one filter or none in the shape it had before combinations could be declared,
    // so that stores of views without declared indexes stay valid.
    indexes: view.indexes.map(({ id, filters, sort }) => (filters.length > 1 ? { id, filters, sort } : { id, filter: filters[0], sort })),
    fields: view.fields.map((field) => [field.name, field.type]),
    counted: view.counterSets,
    values: view.indexedFields,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
