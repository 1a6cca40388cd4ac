/**
 * Storage of one view in the shared RocksDB: rows, secondary indexes, per-partition counters and
 * the consumed offset, all keyed by partition so a partition can be read, dropped or counted alone.
 *
 * Key layout (tuples, see tuple.ts):
 *
 *   ('r', view, partition, key)                              -> offset TAB row as UTF-8 JSON
 *   ('u', view, partition, offset)                           -> "+" key ; the offset of each row's latest version
 *   ('u', view, partition, offset)                           -> "-" key ; a tombstone (row deleted at offset)
 *   ('i', view, partition, indexId, sortValue, key)          -> values  ; plain sort index
 *   ('i', view, partition, indexId, filterValue, sortValue, key) -> values ; filter + sort index
 *   values = JSON array of the row's `indexedFields`, so filters are checked without the row
 *   ('c', view, partition, fields, values)                   -> decimal count of rows whose `fields`
 *                                                               (comma-joined) have `values` (JSON)
 *   ('c', view, partition, '', '[]')                         -> decimal count of all rows
 *   ('o', view, partition)                                   -> next offset to consume, decimal
 *   ('w', view, partition)                                   -> offset below which tombstone markers
 *                                                               were trimmed (see trimTombstones)
 *   ('t', view, partition)                                   -> JSON [[time ms, next offset], ...]: when
 *                                                               offsets were applied (tombstone-trimmer.ts)
 *   ('m', view)                                              -> fingerprint of the layout-relevant declaration
 *
 * Writes for one partition batch (rows, moved index entries, counters, offset) go in one RocksDB
 * write batch, so after a crash a partition is at a consistent offset.
 *
 * The 'u' entries are a compacted change log: every live row once, at the offset of its latest
 * version, plus tombstones. Scanning them from an offset yields what changed since then, the
 * latest value per key, which is how subscriptions resume from a token.
 */
import { createHash } from 'node:crypto';
import type { IndexModel, ViewModel } from '../views/model.ts';
import type { BatchOperation, Key, KeyValueStore, RangeReader } from './rocks.ts';
import { Lru } from '../lru.ts';
import { decodeTuple, encodeTuple, extendTuple, prefixEnd, type TupleElement } from './tuple.ts';

export type Row = Record<string, unknown>;

/** The latest value for a key after a batch: a row, or null for a tombstone. */
export interface RowChange {
  readonly key: string;
  readonly row: Row | null;
  /** Offset of the record; defaults to the batch's next offset minus one. */
  readonly offset?: string;
}

/** One entry of the change log: a key changed (or was deleted) at an offset. */
export interface LoggedChange {
  readonly offset: string;
  readonly key: string;
  readonly deleted: boolean;
}

/** What an applied batch did to one key, with the row before and after. */
export interface AppliedChange {
  readonly key: string;
  readonly offset: string;
  readonly before: Row | undefined;
  readonly after: Row | undefined;
}

export interface RowRef {
  readonly partition: number;
  readonly key: string;
}

export interface SortBound {
  readonly value: string | number;
  readonly inclusive: boolean;
}

/** What to scan in one partition: an index (or the rows by key), optionally narrowed. */
export interface ScanSpec {
  /** undefined scans rows in key order. */
  readonly index: IndexModel | undefined;
  readonly filterValue?: string | number | undefined;
  readonly lower?: SortBound | undefined;
  readonly upper?: SortBound | undefined;
  /** Exclusive position in scan direction: continue after (or before, when reverse) this entry. */
  readonly after?: readonly [sortValue: string | number, key: string] | undefined;
  /** Include the `after` entry itself (used to probe for a previous page). */
  readonly afterInclusive?: boolean;
  /** Also return each entry's indexed field values (the whole row for a scan by key). */
  readonly withValues?: boolean;
  readonly reverse: boolean;
}

export interface ScanEntry {
  readonly key: string;
  readonly sortValue: string | number;
  /** With `withValues`: the indexed fields' values (or the whole row for a scan by key). */
  readonly fields?: Row;
}

export interface Scan {
  /** Up to `max` further entries in scan order; empty at the end. */
  next(max: number): ScanEntry[];
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

const EMPTY_SCAN: Scan = { next: () => [], close: () => undefined };
/** The tags of every per-partition key (all but the view's 'm' fingerprint), see the layout above. */
const PARTITION_TAGS = ['r', 'u', 'i', 'c', 'o', 'w', 't'] as const;
const ZERO = Buffer.from([0]);

export interface ApplyResult {
  readonly upserts: number;
  readonly deletes: number;
  /** Per key that changed, the row before and after, in offset order. */
  readonly changes: AppliedChange[];
}

export interface ViewStore {
  readonly view: ViewModel;
  /** The next offset to consume for a partition, or undefined if nothing was applied yet. */
  nextOffset(partition: number): string | undefined;
  /** Writes the batch's final row states and the partition's next offset atomically. */
  apply(partition: number, changes: readonly RowChange[], nextOffset: string): ApplyResult;
  getRows(refs: readonly RowRef[]): Array<Row | undefined>;
  /** A read session; close it to release its range readers. */
  session(): ReadSession;
  /**
   * The first `limit` entries of one filter value in an index with a filter (an order's payments
   * by `orderId`), in index order. Cached like rows (same bound): every write drops the cached
   * lists of the filter values it touches, in the same synchronous step.
   */
  valueEntries(session: ReadSession, partition: number, index: IndexModel, value: string | number, limit: number): readonly ScanEntry[];
  /**
   * Rows in a partition, in all (no conditions) or whose fields equal the given values, from
   * counters maintained on write; undefined when that set of fields has no counters (see
   * `ViewModel.counterSets`).
   */
  count(partition: number, equals?: ReadonlyMap<string, string | number>): number | undefined;
  /** Change-log entries with offset >= `from`, in offset order, at most `limit`. */
  changesSince(partition: number, from: string, limit: number): LoggedChange[];
  /**
   * The offset below which tombstone markers were trimmed from the change log, or undefined if
   * none were. A resume from an earlier offset could miss deletions.
   */
  tombstonesTrimmedBelow(partition: number): string | undefined;
  /**
   * Deletes the change log's tombstone markers with offsets below `below`, reading at most
   * `maxEntries` change-log entries from the previous trim point; live rows' entries stay.
   * Returns how far it got (the new trim point) and how many markers it removed.
   */
  trimTombstones(partition: number, below: string, maxEntries: number): { trimmedBelow: string | undefined; removed: number };
  /** When offsets were applied, as the tombstone trimmer sampled them; [] when none were kept. */
  appliedTimes(partition: number): Array<{ at: number; offset: string }>;
  /** Replaces the partition's applied-offset samples. */
  saveAppliedTimes(partition: number, samples: ReadonlyArray<{ at: number; offset: string }>): void;
  /** Removes every row, index entry, counter and offset of a partition. */
  dropPartition(partition: number): Promise<void>;
}

function sortElement(row: Row, field: string): string | number {
  const value = row[field];
  return typeof value === 'number' ? value : String(value);
}

/** A stored row value: the offset of its latest version, a tab, the row's JSON. */
function splitRow(text: string): { offset: string; row: Row } {
  const tab = text.indexOf('\t');
  return { offset: text.slice(0, tab), row: JSON.parse(text.slice(tab + 1)) as Row };
}

function counterId(fields: string, values: string): string {
  return `${fields}\u0000${values}`;
}

function fingerprint(view: ViewModel): string {
  const shape = {
    key: view.keyField,
    layout: 4,
    indexes: view.indexes,
    fields: view.fields.map((field) => [field.name, field.type]),
    counted: view.counterSets,
    values: view.indexedFields,
  };
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}

interface PartitionState {
  nextOffset: string | undefined;
  counts: Map<string, number>;
  trimmedBelow: string | undefined;
}

/**
 * Opens the storage of one view. If the stored layout fingerprint differs from the declaration's
 * (an index was added, a field changed type), the view's data is dropped so ingest rebuilds it
 * from the topic; the returned store then reports no offsets.
 */
export interface ViewStoreOptions {
  /**
   * Rows kept decoded in memory, most recently read first (0: none). Reads of a cached row skip
   * RocksDB and JSON parsing; writes update or drop cached rows in the same synchronous step, so
   * the cache never differs from the store. Cached rows are shared: callers must not change them
   * (Pothos adds a type-brand symbol to node objects, which is harmless and why they are not frozen).
   */
  readonly rowCache?: number;
}

interface StoredRow {
  readonly offset: string;
  readonly row: Row;
}

export async function openViewStore(kv: KeyValueStore, view: ViewModel, options: ViewStoreOptions = {}): Promise<ViewStore> {
  const metaKey = encodeTuple(['m', view.id]);
  const wanted = fingerprint(view);
  const stored = kv.getMany([metaKey])[0];
  if (stored !== wanted) {
    for (const tag of PARTITION_TAGS) {
      const prefix = encodeTuple([tag, view.id]);
      await kv.clearRange(prefix, prefixEnd(prefix));
    }
    kv.write([{ type: 'put', key: metaKey, value: wanted }]);
  }

  const partitions = new Map<number, PartitionState>();
  const prefixes = new Map<string, Buffer>();
  const prefix = (tag: string, partition: number, extra?: number): Buffer => {
    const id = `${tag}/${partition}/${extra ?? ''}`;
    let cached = prefixes.get(id);
    if (!cached) {
      cached = encodeTuple(extra === undefined ? [tag, view.id, partition] : [tag, view.id, partition, extra]);
      prefixes.set(id, cached);
    }
    return cached;
  };

  const rowKey = (partition: number, key: string): Key => extendTuple(prefix('r', partition), [key]);
  const indexKey = (partition: number, index: IndexModel, row: Row, key: string): Key => {
    const elements: TupleElement[] = index.filter === undefined ? [] : [sortElement(row, index.filter)];
    elements.push(sortElement(row, index.sort), key);
    return extendTuple(prefix('i', partition, index.id), elements);
  };

  const state = (partition: number): PartitionState => {
    let found = partitions.get(partition);
    if (found) return found;
    const [offset, trimmed] = kv.getMany([prefix('o', partition), prefix('w', partition)]);
    const counts = new Map<string, number>();
    const counterPrefix = prefix('c', partition);
    const reader = kv.range({ gte: counterPrefix, lt: prefixEnd(counterPrefix), values: true });
    try {
      for (let batch = reader.next(1000); batch.length > 0; batch = reader.next(1000)) {
        for (const [key, value] of batch) {
          const [, , , fields, values] = decodeTuple(key);
          counts.set(counterId(String(fields), String(values)), Number(value ?? 0));
        }
      }
    } finally {
      reader.close();
    }
    found = { nextOffset: offset, counts, trimmedBelow: trimmed };
    partitions.set(partition, found);
    return found;
  };

  // Both caches are keyed by partition first, so dropping a partition drops its entries. A zero
  // bound (ROW_CACHE_ROWS=0) drops every entry as it is set.
  const cacheLimit = options.rowCache ?? 0;
  const cache = new Lru<string, StoredRow>(cacheLimit);
  const cacheId = (partition: number, key: string): string => `${partition}\u0000${key}`;
  /**
   * Rows by key, from the cache where present and one RocksDB read for the rest; `populate` caches
   * what was read (queries do; ingest, which reads each incoming key's old row once, does not).
   */
  const readRows = (partition: (i: number) => number, keys: readonly string[], populate: boolean): Array<StoredRow | undefined> => {
    const out: Array<StoredRow | undefined> = new Array(keys.length);
    const missing: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const hit = cache.get(cacheId(partition(i), keys[i]!));
      if (hit) out[i] = hit;
      else missing.push(i);
    }
    if (missing.length > 0) {
      const values = kv.getMany(missing.map((i) => rowKey(partition(i), keys[i]!)));
      missing.forEach((i, j) => {
        const value = values[j];
        if (value === undefined) return;
        const stored = splitRow(value);
        out[i] = stored;
        if (populate) cache.set(cacheId(partition(i), keys[i]!), stored);
      });
    }
    return out;
  };

  // Entries per (partition, index, filter value), for relation fan-out; same bound as rows.
  const lists = new Lru<string, { limit: number; entries: readonly ScanEntry[] }>(cacheLimit);
  const listId = (partition: number, index: number, value: string | number): string =>
    `${partition}\u0000${index}\u0000${typeof value}\u0000${value}`;
  const forgetLists = (partition: number, row: Row | undefined): void => {
    if (!row || lists.size === 0) return;
    for (const index of view.indexes) {
      if (index.filter !== undefined) lists.delete(listId(partition, index.id, sortElement(row, index.filter)));
    }
  };

  const counterSets = [{ name: '', fields: [] as readonly string[] }, ...view.counterSets.map((fields) => ({ name: fields.join(','), fields }))];
  const indexValue = (row: Row): string => JSON.stringify(view.indexedFields.map((field) => row[field] ?? null));

  return {
    view,

    nextOffset(partition) {
      return state(partition).nextOffset;
    },

    apply(partition, changes, nextOffset) {
      const partitionState = state(partition);
      // Only the last change per key matters: intermediate versions never reach the store.
      const latest = new Map<string, Row | null>();
      const offsets = new Map<string, string>();
      const fallbackOffset = String(BigInt(nextOffset) - 1n);
      for (const change of changes) {
        latest.delete(change.key); // re-insert so the map's order is the order of last offsets
        latest.set(change.key, change.row);
        offsets.set(change.key, change.offset ?? fallbackOffset);
      }
      const keys = [...latest.keys()];
      const rowKeys = keys.map((key) => rowKey(partition, key));
      const previous = readRows(() => partition, keys, false);
      const ops: BatchOperation[] = [];
      const dirty = new Map<string, readonly [fields: string, values: string]>();
      const bump = (row: Row, delta: number): void => {
        for (const set of counterSets) {
          const values = JSON.stringify(set.fields.map((field) => row[field]));
          const id = counterId(set.name, values);
          partitionState.counts.set(id, (partitionState.counts.get(id) ?? 0) + delta);
          dirty.set(id, [set.name, values]);
        }
      };
      let upserts = 0;
      let deletes = 0;
      const applied: AppliedChange[] = [];
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i]!;
        const next = latest.get(key) ?? null;
        const stored = previous[i];
        const old = stored?.row;
        const offset = offsets.get(key)!;
        if (stored) ops.push({ type: 'del', key: extendTuple(prefix('u', partition), [Number(stored.offset)]) });
        applied.push({ key, offset, before: old, after: next ?? undefined });
        const oldValue = old === undefined ? undefined : indexValue(old);
        const nextValue = next === null ? undefined : indexValue(next);
        for (const index of view.indexes) {
          const samePosition =
            old !== undefined &&
            next !== null &&
            old[index.sort] === next[index.sort] &&
            (index.filter === undefined || old[index.filter] === next[index.filter]);
          if (samePosition) {
            if (oldValue !== nextValue) ops.push({ type: 'put', key: indexKey(partition, index, next, key), value: nextValue });
            continue;
          }
          if (old !== undefined) ops.push({ type: 'del', key: indexKey(partition, index, old, key) });
          if (next !== null) ops.push({ type: 'put', key: indexKey(partition, index, next, key), value: nextValue });
        }
        if (old !== undefined) bump(old, -1);
        if (next !== null) {
          bump(next, 1);
          ops.push({ type: 'put', key: rowKeys[i]!, value: `${offset}\t${JSON.stringify(next)}` });
          ops.push({ type: 'put', key: extendTuple(prefix('u', partition), [Number(offset)]), value: `+${key}` });
          upserts++;
        } else {
          if (old !== undefined) {
            ops.push({ type: 'del', key: rowKeys[i]! });
            deletes++;
          }
          ops.push({ type: 'put', key: extendTuple(prefix('u', partition), [Number(offset)]), value: `-${key}` });
        }
      }
      for (const [id, [fields, values]] of dirty) {
        const count = partitionState.counts.get(id) ?? 0;
        const key = extendTuple(prefix('c', partition), [fields, values]);
        if (count === 0) {
          partitionState.counts.delete(id);
          ops.push({ type: 'del', key });
        } else {
          ops.push({ type: 'put', key, value: String(count) });
        }
      }
      ops.push({ type: 'put', key: prefix('o', partition), value: nextOffset });
      kv.write(ops);
      partitionState.nextOffset = nextOffset;
      // Cached lists of a filter value drop when a row enters or leaves that value.
      for (let i = 0; i < keys.length && lists.size > 0; i++) {
        forgetLists(partition, previous[i]?.row);
        forgetLists(partition, latest.get(keys[i]!) ?? undefined);
      }
      // Cached rows follow the write at once; rows nobody read stay out of the cache.
      for (let i = 0; i < keys.length && cache.size > 0; i++) {
        const id = cacheId(partition, keys[i]!);
        if (!cache.has(id)) continue;
        const next = latest.get(keys[i]!) ?? null;
        if (next === null) cache.delete(id);
        else cache.set(id, { offset: offsets.get(keys[i]!)!, row: next });
      }
      return { upserts, deletes, changes: applied };
    },

    getRows(refs) {
      return readRows(
        (i) => refs[i]!.partition,
        refs.map((ref) => ref.key),
        true,
      ).map((stored) => stored?.row);
    },

    changesSince(partition, from, limit) {
      const start = extendTuple(prefix('u', partition), [Number(from)]);
      const reader = kv.range({ gte: start, lt: prefixEnd(prefix('u', partition)), values: true });
      try {
        return reader.next(limit).map(([raw, value]) => {
          const elements = decodeTuple(raw);
          const text = value ?? '';
          return { offset: String(elements[elements.length - 1]), key: text.slice(1), deleted: text[0] === '-' };
        });
      } finally {
        reader.close();
      }
    },

    tombstonesTrimmedBelow(partition) {
      return state(partition).trimmedBelow;
    },

    trimTombstones(partition, below, maxEntries) {
      const partitionState = state(partition);
      const from = BigInt(partitionState.trimmedBelow ?? '0');
      const limit = BigInt(below);
      if (limit <= from) return { trimmedBelow: partitionState.trimmedBelow, removed: 0 };
      const reader = kv.range({
        gte: extendTuple(prefix('u', partition), [Number(from)]),
        lt: extendTuple(prefix('u', partition), [Number(limit)]),
        values: true,
      });
      const ops: BatchOperation[] = [];
      let reached = limit;
      try {
        const entries = reader.next(maxEntries);
        for (const [key, value] of entries) {
          if (value?.[0] === '-') ops.push({ type: 'del', key });
        }
        // A full read may have stopped short of `below`: continue after its last entry next time.
        if (entries.length === maxEntries) {
          const last = decodeTuple(entries[entries.length - 1]![0]);
          reached = BigInt(last[last.length - 1] as number) + 1n;
        }
      } finally {
        reader.close();
      }
      const trimmedBelow = String(reached);
      ops.push({ type: 'put', key: prefix('w', partition), value: trimmedBelow });
      kv.write(ops);
      partitionState.trimmedBelow = trimmedBelow;
      return { trimmedBelow, removed: ops.length - 1 };
    },

    session() {
      // One range reader per (partition, index), reused by seeking while no other scan holds it.
      const pool = new Map<string, { reader: RangeReader; busy: boolean }>();
      const opened: RangeReader[] = [];
      return {
        openScan(partition, spec) {
          const indexPrefix = spec.index === undefined ? prefix('r', partition) : prefix('i', partition, spec.index.id);
          const base = spec.filterValue === undefined ? indexPrefix : extendTuple(indexPrefix, [spec.filterValue]);
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
          const withValues = spec.withValues === true;
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
          // [key] for rows, [sortValue, key] or [filterValue, sortValue, key] for index entries.
          const from = indexPrefix.length;
          let done = false;
          // The pooled reader spans the whole index, so a read may run past this scan's bounds:
          // start with small reads and grow, so a scan of a few entries reads a few entries (an
          // entry read costs microseconds). A scan of one filter value (an order's payments) is
          // often that short.
          let readAhead = spec.filterValue === undefined ? 8 : 3;
          return {
            next(max) {
              const out: ScanEntry[] = [];
              while (!done && out.length < max) {
                const chunk = reader.next(Math.min(max - out.length, readAhead));
                readAhead = Math.min(readAhead * 4, 1000);
                if (chunk.length === 0) done = true;
                for (const [raw, value] of chunk) {
                  if (spec.reverse ? Buffer.compare(raw, high) >= 0 : false) continue; // seek landed on the exclusive bound
                  if (spec.reverse ? Buffer.compare(raw, low) < 0 : Buffer.compare(raw, high) >= 0) {
                    done = true;
                    break;
                  }
                  const elements = decodeTuple(raw, from);
                  const key = String(elements[elements.length - 1]);
                  const sortValue = spec.index === undefined ? key : (elements[elements.length - 2] as string | number);
                  if (!withValues || value === undefined) {
                    out.push({ key, sortValue });
                  } else if (spec.index === undefined) {
                    out.push({ key, sortValue, fields: splitRow(value).row });
                  } else {
                    const values = JSON.parse(value) as unknown[];
                    const fields: Row = {};
                    view.indexedFields.forEach((field, i) => {
                      fields[field] = values[i];
                    });
                    out.push({ key, sortValue, fields });
                  }
                }
              }
              return out;
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
    },

    count(partition, equals) {
      const set = counterSets.find(
        (candidate) => candidate.fields.length === (equals?.size ?? 0) && candidate.fields.every((field) => equals?.has(field)),
      );
      if (!set) return undefined;
      const values = JSON.stringify(set.fields.map((field) => equals!.get(field)));
      return state(partition).counts.get(counterId(set.name, values)) ?? 0;
    },

    valueEntries(session, partition, index, value, limit) {
      const id = listId(partition, index.id, value);
      const hit = lists.get(id);
      // A shorter cached list is complete when it ended before its own limit.
      if (hit && (hit.limit >= limit || hit.entries.length < hit.limit)) {
        return hit.entries.length > limit ? hit.entries.slice(0, limit) : hit.entries;
      }
      const scan = session.openScan(partition, { index, filterValue: value, reverse: false });
      let entries: ScanEntry[];
      try {
        entries = scan.next(limit);
      } finally {
        scan.close();
      }
      lists.set(id, { limit, entries }); // with a zero bound, dropped at once
      return entries;
    },

    appliedTimes(partition) {
      const stored = kv.getMany([prefix('t', partition)])[0];
      if (stored === undefined) return [];
      try {
        const parsed = JSON.parse(stored) as unknown;
        if (!Array.isArray(parsed)) return [];
        return parsed
          .filter((pair): pair is [number, string] => Array.isArray(pair) && typeof pair[0] === 'number' && typeof pair[1] === 'string')
          .map(([at, offset]) => ({ at, offset }));
      } catch {
        return []; // unreadable samples only delay trimming
      }
    },

    saveAppliedTimes(partition, samples) {
      kv.write([{ type: 'put', key: prefix('t', partition), value: JSON.stringify(samples.map((sample) => [sample.at, sample.offset])) }]);
    },

    async dropPartition(partition) {
      const ofPartition = (id: string): boolean => id.startsWith(`${partition}\u0000`);
      lists.deleteWhere(ofPartition);
      cache.deleteWhere(ofPartition);
      for (const tag of PARTITION_TAGS) {
        const start = prefix(tag, partition);
        await kv.clearRange(start, prefixEnd(start));
      }
      partitions.delete(partition);
    },
  };
}
