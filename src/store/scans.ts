/**
 * Scans of one partition's rows (in key order) or of one of its indexes (in index order), within
 * read sessions that reuse range readers across scans.
 */
import type { IndexModel, ViewModel } from '../views/model.ts';
import { decodeRowValue, indexValueDecoder, type EntryCheck, type ViewKeys } from './keys.ts';
import type { KeyValueStore, RangeReader, ValueReader } from './rocks.ts';
import { decodeTuple, extendTuple, prefixEnd } from './tuple.ts';

export interface SortBound {
  readonly value: string | number;
  readonly inclusive: boolean;
}

/** What to scan in one partition: an index (or the rows by key), optionally narrowed. */
export interface ScanSpec {
  /** undefined scans rows in key order. */
  readonly index: IndexModel | undefined;
  /** The values of the index's filter fields, in its order; none scans the whole index. */
  readonly filterValues?: readonly (string | number)[] | undefined;
  readonly lower?: SortBound | undefined;
  readonly upper?: SortBound | undefined;
  /** Exclusive position in scan direction: continue after (or before, when reverse) this entry. */
  readonly after?: readonly [sortValue: string | number, key: string] | undefined;
  /** Include the `after` entry itself (used to probe for a previous page). */
  readonly afterInclusive?: boolean;
  /**
   * Only entries whose stored values pass this check: the indexed fields of an index entry, the
   * row of a scan by key. Entries that fail are read and dropped here, before the caller's merge.
   */
  readonly where?: EntryCheck | undefined;
  /**
   * The only scan of its index, partition and direction in the session (one page's merge): read
   * it with a reader of its own, bounded to the scan in RocksDB and reading values alone, instead
   * of a pooled reader that later scans seek. Opening a reader costs about as much as ten
   * entries; a key read costs about as much again as its value (a Buffer per key).
   */
  readonly alone?: boolean;
  readonly reverse: boolean;
}

export interface ScanEntry {
  readonly key: string;
  readonly sortValue: string | number;
}

export interface Scan {
  /**
   * Reads up to `max` further entries and returns those that pass `where` (all of them without
   * one), in scan order. With `where` the answer may be empty before the end: `position` tells.
   */
  next(max: number): ScanEntry[];
  /**
   * The last entry the last `next` read, whether it passed `where` or not (when it passed, the
   * very object handed over): every entry still to read comes after it. Undefined when that read
   * found no entry, that is at the end.
   */
  readonly position: ScanEntry | undefined;
  close(): void;
}

/**
 * Scans opened in one session share one range reader per partition and index while they do not
 * overlap in time, so a batch of related lookups costs one reader per partition, not one per key.
 */
export interface ReadSession {
  openScan(partition: number, spec: ScanSpec): Scan;
  close(): void;
}

const EMPTY_SCAN: Scan = { next: () => [], position: undefined, close: () => undefined };
const ZERO = Buffer.from([0]);

/** A read session over one view's keys; close it to release its range readers. */
export function openReadSession(kv: KeyValueStore, view: ViewModel, keys: ViewKeys): ReadSession {
  // One range reader per (partition, index), reused by seeking while no other scan holds it.
  const pool = new Map<string, { reader: RangeReader; busy: boolean }>();
  const opened: RangeReader[] = [];
  return {
    openScan(partition, spec) {
      const indexPrefix = spec.index === undefined ? keys.prefix('r', partition) : keys.prefix('i', partition, spec.index.id);
      const base = spec.filterValues?.length ? extendTuple(indexPrefix, spec.filterValues) : indexPrefix;
      let low: Buffer = base;
      let high: Buffer = prefixEnd(base);
      if (spec.lower) {
        const at = extendTuple(base, [spec.lower.value]);
        low = spec.lower.inclusive ? at : prefixEnd(at);
      }
      if (spec.upper) {
        const at = extendTuple(base, [spec.upper.value]);
        high = spec.upper.inclusive ? prefixEnd(at) : at;
      }
      if (spec.after) {
        const [sortValue, key] = spec.after;
        const at = extendTuple(base, spec.index === undefined ? [key] : [sortValue, key]);
        const justAfter = Buffer.concat([at, ZERO]);
        if (spec.reverse) {
          const bound = spec.afterInclusive ? justAfter : at;
          if (Buffer.compare(bound, high) < 0) high = bound;
        } else {
          const bound = spec.afterInclusive ? at : justAfter;
          if (Buffer.compare(bound, low) > 0) low = bound;
        }
      }
      if (Buffer.compare(low, high) >= 0) return EMPTY_SCAN;
      const where = spec.where;
      if (spec.alone && spec.index !== undefined) {
        if (spec.lower || spec.upper) return boundedScan(kv, view, spec.index, low, high, spec.reverse, where);
        // Without sort bounds the scan ends where the filter value's (or the index's) entries
        // end, whatever the cursor: a parked reader of that whole scope serves it after a seek.
        // In reverse, a seek lands on the cursor's own entry when it is still there, which the
        // scan is to continue before.
        const skip = spec.reverse && spec.after !== undefined && !spec.afterInclusive ? high : undefined;
        return scopeScan(kv, view, spec.index, base, spec.reverse ? high : low, spec.reverse, where, skip);
      }
      const withValues = where !== undefined;
      const slot = `${partition}/${spec.index?.id ?? 0}/${spec.reverse ? 'r' : 'f'}/${withValues ? 'v' : 'k'}`;
      let entry = pool.get(slot);
      if (!entry || entry.busy) {
        // The binding treats a seek at or past the upper bound as "end", even in reverse; the
        // extra byte keeps every `high` below the bound (no key equals prefixEnd + 0x00).
        const bound = Buffer.concat([prefixEnd(indexPrefix), ZERO]);
        const reader = kv.range({ gte: indexPrefix, lt: bound, reverse: spec.reverse, values: withValues });
        opened.push(reader);
        entry = { reader, busy: false };
        if (!pool.has(slot)) pool.set(slot, entry);
      }
      const held = entry;
      held.busy = true;
      const reader = held.reader;
      if (spec.reverse) reader.seek(high);
      else reader.seek(low);
      // Every entry starts with the index's prefix: decode only what follows it, that is
      // [key] for rows, [filterValues..., sortValue, key] for index entries.
      const from = indexPrefix.length;
      const decode = where && spec.index !== undefined ? indexValueDecoder(view, spec.index, where) : undefined;
      let done = false;
      // The pooled reader spans the whole index, so a read may run past this scan's bounds:
      // start with small reads and grow, so a scan of a few entries reads a few entries (an
      // entry read costs microseconds). A scan of one filter value (an order's payments) is
      // often that short.
      let readAhead = base === indexPrefix ? 8 : 3;
      let position: ScanEntry | undefined;
      return {
        next(max) {
          const out: ScanEntry[] = [];
          let read = 0;
          let last: ScanEntry | undefined;
          let lastKey: string | undefined;
          let lastSortValue: string | number = '';
          while (!done && read < max) {
            const chunk = reader.next(Math.min(max - read, readAhead));
            readAhead = Math.min(readAhead * 4, 1000);
            if (chunk.length === 0) done = true;
            for (const [raw, value] of chunk) {
              if (spec.reverse ? Buffer.compare(raw, high) >= 0 : false) continue; // seek landed on the exclusive bound
              if (spec.reverse ? Buffer.compare(raw, low) < 0 : Buffer.compare(raw, high) >= 0) {
                done = true;
                break;
              }
              read++;
              const elements = decodeTuple(raw, from);
              const key = String(elements[elements.length - 1]);
              const sortValue = spec.index === undefined ? key : (elements[elements.length - 2] as string | number);
              const passed =
                where === undefined ||
                (value !== undefined && (spec.index === undefined ? where(decodeRowValue(value).row) : decode!(value, true) !== undefined));
              if (passed) {
                last = { key, sortValue };
                out.push(last);
              } else {
                last = undefined;
                lastKey = key;
                lastSortValue = sortValue;
              }
            }
          }
          // The last entry read, as handed over when it passed (the merge tells it by identity).
          position = last ?? (lastKey === undefined ? undefined : { key: lastKey, sortValue: lastSortValue });
          return out;
        },
        get position() {
          return position;
        },
        close() {
          held.busy = false;
        },
      };
    },
    close() {
      for (const reader of opened.splice(0)) reader.close();
      pool.clear();
    },
  };
}

/**
 * A scan from `from` to the end of the entries under `base` (an index's prefix, or that and a
 * filter value), reading values alone through a reader `KeyValueStore.valuesFrom` may reuse.
 * `skip` is an exclusive start: a first entry whose key equals it is left out.
 */
function scopeScan(
  kv: KeyValueStore,
  view: ViewModel,
  index: IndexModel,
  base: Buffer,
  from: Buffer,
  reverse: boolean,
  where: EntryCheck | undefined,
  skip: Buffer | undefined,
): Scan {
  // prefixEnd(base) is no key, and sorts after every key under base; one byte more lets a
  // reverse read start at it (the binding treats a seek at the upper bound as the end).
  const reader = kv.valuesFrom({ gte: base, lt: Buffer.concat([prefixEnd(base), ZERO]), reverse }, from);
  const skipped = skip && ((entry: ScanEntry) => extendTuple(base, [entry.sortValue, entry.key]).equals(skip));
  return valueScan(reader, indexValueDecoder(view, index, where), skipped);
}

/** A scan of [low, high) in one index with a reader of its own that reads values alone. */
function boundedScan(
  kv: KeyValueStore,
  view: ViewModel,
  index: IndexModel,
  low: Buffer,
  high: Buffer,
  reverse: boolean,
  where: EntryCheck | undefined,
): Scan {
  return valueScan(kv.valueRange({ gte: low, lt: high, reverse }), indexValueDecoder(view, index, where), undefined);
}

/**
 * Index entries decoded from a reader of their values (entries that fail the decoder's `where`
 * left out); `skipFirst` may leave the first entry out.
 */
function valueScan(reader: ValueReader, decode: ReturnType<typeof indexValueDecoder>, skipFirst: ((entry: ScanEntry) => boolean) | undefined): Scan {
  let checkFirst = skipFirst !== undefined;
  let done = false;
  let position: ScanEntry | undefined;
  return {
    next(max) {
      const out: ScanEntry[] = [];
      position = undefined;
      if (done) return out;
      let values = reader.next(max);
      if (checkFirst) {
        checkFirst = false;
        if (values.length > 0 && skipFirst!(decode(values[0]!, false)!)) {
          values = values.slice(1);
          if (values.length === 0) values = reader.next(max);
        }
      }
      if (values.length === 0) {
        done = true;
        return out;
      }
      let entry: ScanEntry | undefined;
      for (let i = 0; i < values.length; i++) {
        entry = decode(values[i]!, true);
        if (entry) out.push(entry);
      }
      position = entry ?? decode(values[values.length - 1]!, false);
      return out;
    },
    get position() {
      return position;
    },
    close() {
      done = true;
      reader.close();
    },
  };
}
