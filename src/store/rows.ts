/**
 * Reads of rows by key, through a cache of decoded rows (most recently read first) that every
 * write updates in the same synchronous step, so the cache never differs from the store. A row
 * read enters the cache on its second read within a window of recent reads (./admission.ts), so
 * reads spread over far more rows than the cache holds do not churn it.
 */
import { Lru } from '../lru.ts';
import { createAdmission } from './admission.ts';
import { decodeRowValue, type Row, type ViewKeys } from './keys.ts';
import type { KeyValueStore } from './rocks.ts';

export interface RowRef {
  readonly partition: number;
  readonly key: string;
}

/** A row as stored: with the offset of its latest version. */
export interface StoredRow {
  readonly offset: string;
  readonly row: Row;
}

export interface RowReader {
  /**
   * Rows by key (undefined where absent), in the order of `keys`; `partition(i)` is the partition
   * of `keys[i]`. Cached rows come from the cache, the rest from one RocksDB read; `populate`
   * offers what was read to the cache, which takes a row read a second time (queries do; ingest,
   * which reads each incoming key's old row once, does not).
   */
  read(partition: (i: number) => number, keys: readonly string[], populate: boolean): Array<StoredRow | undefined>;
  /**
   * Makes the cache follow a written batch: a cached row takes its new version (or leaves with
   * its tombstone); rows nobody read stay out of the cache.
   */
  written(partition: number, changes: ReadonlyArray<{ readonly key: string; readonly offset: string; readonly after: Row | undefined }>): void;
  /** Drops the cached rows of these keys of a partition. */
  forget(partition: number, keys: readonly string[]): void;
  /** Drops the cached rows of a partition. */
  dropPartition(partition: number): void;
  /** Drops every cached row. */
  clear(): void;
}

/** `limit`: rows kept cached (0: none, every entry drops as it is set). */
export function createRowReader(kv: KeyValueStore, keys: ViewKeys, limit: number): RowReader {
  // Keyed by partition first, so dropping a partition drops its entries.
  const cache = new Lru<string, StoredRow>(limit);
  const cacheId = (partition: number, key: string): string => `${partition}\u0000${key}`;
  // A row enters the cache on its second read in a while (./admission.ts), not on its first.
  const admission = createAdmission(limit);
  return {
    read(partition, rowKeys, populate) {
      const out: Array<StoredRow | undefined> = new Array(rowKeys.length);
      const missing: number[] = [];
      // The cache ids of the missing rows, for admission (none without a cache).
      const missingIds: string[] = [];
      for (let i = 0; i < rowKeys.length; i++) {
        if (limit <= 0) {
          missing.push(i);
          continue;
        }
        const id = cacheId(partition(i), rowKeys[i]!);
        const hit = cache.get(id);
        if (hit) out[i] = hit;
        else {
          missing.push(i);
          missingIds.push(id);
        }
      }
      if (missing.length > 0) {
        const values = kv.getMany(missing.map((i) => keys.row(partition(i), rowKeys[i]!)));
        missing.forEach((i, j) => {
          const value = values[j];
          if (value === undefined) return;
          const stored = decodeRowValue(value);
          out[i] = stored;
          if (populate && limit > 0 && admission.admit(missingIds[j]!)) cache.set(missingIds[j]!, stored);
        });
      }
      return out;
    },

    written(partition, changes) {
      for (let i = 0; i < changes.length && cache.size > 0; i++) {
        const change = changes[i]!;
        const id = cacheId(partition, change.key);
        if (!cache.has(id)) continue;
        if (change.after === undefined) cache.delete(id);
        else cache.set(id, { offset: change.offset, row: change.after });
      }
    },

    forget(partition, rowKeys) {
      for (let i = 0; i < rowKeys.length && cache.size > 0; i++) cache.delete(cacheId(partition, rowKeys[i]!));
    },

    dropPartition(partition) {
      cache.deleteWhere((id) => id.startsWith(`${partition}\u0000`));
    },

    clear() {
      cache.clear();
    },
  };
}
