/**
 * The one module that imports the RocksDB binding. It exposes the few operations the store needs,
 * synchronous where the binding offers it (reads of a page or a batch write take microseconds to a
 * few milliseconds; a thread hop would cost more than the work), and counts read round trips so
 * tests and metrics can check that a page costs a bounded number of them.
 */
import { RocksLevel } from '@nxtedition/rocksdb';
import { GatewayError } from '../errors.ts';

export type Key = Buffer;

export interface BatchOperation {
  readonly type: 'put' | 'del';
  readonly key: Key;
  readonly value?: Buffer | string;
}

/**
 * A write batch being built: puts and deletes go straight into the native batch (no operation
 * objects in between); `commit` writes them in one atomic RocksDB write, `discard` drops them.
 * One batch is open per store at a time: the store is written synchronously, start to commit.
 */
export interface WriteBatch {
  put(key: Key, value: Buffer | string): void;
  del(key: Key): void;
  /** Operations added so far. */
  readonly length: number;
  /**
   * Writes the batch. `note` says what it changed, for the write listener (`onWrite`); it is
   * called only while one is set. Without it, or when it gives undefined, the listener hears
   * that anything may have changed.
   */
  commit(note?: () => WriteNote | undefined): void;
  discard(): void;
}

/**
 * What one write changed in one partition of a view, for the caches of read workers: the record
 * keys whose rows it wrote, and the filter values whose cached lists it touched.
 */
export interface WriteNote {
  readonly view: string;
  readonly partition: number;
  readonly keys: readonly string[];
  readonly values: ReadonlyArray<string | number>;
}

/**
 * Hears of each write while it is under way (the write sequence still odd), so that whoever
 * sees the sequence it ends at (`sequence`, even) can rely on having been told: its note, or
 * undefined when anything may have changed (a range delete, a write without a note).
 */
export type WriteListener = (sequence: number, note: WriteNote | undefined) => void;

export interface RangeOptions {
  readonly gt?: Key;
  readonly gte?: Key;
  readonly lt?: Key;
  readonly lte?: Key;
  readonly reverse?: boolean;
  /** Return values too (default false: keys only). */
  readonly values?: boolean;
}

/** A positioned cursor over a key range; `next` returns up to `max` entries, `[]` at the end. */
export interface RangeReader {
  next(max: number): Array<[Key, string | undefined]>;
  /** Jumps to the first key >= target (or <= target when reverse). */
  seek(target: Key): void;
  close(): void;
}

/** A cursor over the values of one key range, bounded in RocksDB itself; see `valueRange`. */
export interface ValueReader {
  /** Up to `max` further values in range order; `[]` at the end. */
  next(max: number): string[];
  close(): void;
}

export interface ReadStats {
  /** getMany calls plus range readers opened, or parked ones positioned again (`valuesFrom`). */
  roundTrips: number;
  /** Native iterators opened (a parked reader's reuse opens none). */
  readersOpened: number;
  /** Keys asked of getMany plus entries returned by range readers. */
  entriesRead: number;
}

export interface KeyValueStore {
  readonly stats: ReadStats;
  /**
   * The store's write sequence, shared with read workers (../server/read-workers.ts): odd while a
   * write or range delete runs, advanced by two by each. A reader on another thread that sees
   * the same even value before and after its reads saw one state of the store.
   */
  readonly writes: Int32Array;
  /** The open database's native handle, for a read worker to attach to (`attachKeyValueStore`). */
  readonly handle: bigint;
  getMany(keys: readonly Key[]): Array<string | undefined>;
  range(options: RangeOptions): RangeReader;
  /**
   * The values of the keys in [gte, lt), without the keys: RocksDB holds the bounds, so a scan
   * needs no key to know where it ends. A key comes back as a Buffer, which costs the binding an
   * allocation of its own (about half an entry's cost); a value comes back as a string.
   */
  valueRange(options: { readonly gte: Key; readonly lt: Key; readonly reverse: boolean }): ValueReader;
  /**
   * The values from `from` to the end of `scope` (in reverse: from the last key at or before
   * `from` down to `scope.gte`), without the keys; `from` must lie in [gte, lt). A closed reader
   * is parked and the next read of the same scope and direction seeks it instead of opening one,
   * for as long as the store has not been written since it opened (an iterator sees the store as
   * it was when it opened). Opening an iterator costs two to three seeks on a store of several
   * levels; a parked one costs a seek. A store attached to another thread's database keeps its
   * parked readers across writes instead, until `forgetReaders` names their keys.
   */
  valuesFrom(scope: { readonly gte: Key; readonly lt: Key; readonly reverse: boolean }, from: Key): ValueReader;
  /**
   * Closes the parked readers whose scope starts with one of `prefixes` (all of them without).
   * An attached store's reader must be told of every write to its keys (by the owner's write
   * notes) before its next read; one in use while it is told is not parked again.
   */
  forgetReaders(prefixes?: readonly Key[]): void;
  /** Writes the operations in one batch; `note` as for `WriteBatch.commit`. */
  write(operations: readonly BatchOperation[], note?: () => WriteNote | undefined): void;
  /** Opens the store's write batch; it must be committed or discarded before the next one opens. */
  batch(): WriteBatch;
  /** Sets the one write listener (undefined: none); what it throws is ignored. */
  onWrite(listener: WriteListener | undefined): void;
  /** Bytes RocksDB holds in memtables, table readers (indexes and filters) and the block cache. */
  memory(): Record<'memtables' | 'table_readers' | 'block_cache', number | undefined>;
  /** Deletes every key in [gte, lt). */
  clearRange(gte: Key, lt: Key): Promise<void>;
  close(): Promise<void>;
}

interface NativeIterator {
  _nextvSync(size: number, options: object): { rows: Array<Buffer | string | undefined>; finished: boolean };
  _seekSync(target: Buffer): void;
  _closeSync(): void;
}

interface NativeBatch {
  _put(key: Buffer, value: Buffer | string, options: object): void;
  _del(key: Buffer, options: object): void;
  _writeSync(options: object): void;
  _clear(): void;
  _closeSync(): void;
}

interface NativeLevel {
  _getManySync(keys: readonly Buffer[], options: object): Array<string | undefined>;
  _chainedBatch(): NativeBatch;
  _iterator(options: object): NativeIterator;
  /** abstract-level's registry of open resources, closed with the database. */
  detachResource(resource: object): void;
}

const EMPTY = {};
/**
 * Values are read as strings: everything the store writes is UTF-8 text (JSON, decimals), and the
 * binding then makes a V8 string straight from RocksDB's bytes instead of a Buffer (a copy into a
 * new backing store, counted as external memory, that the caller decodes again).
 */
const AS_TEXT = { valueEncoding: 'utf8' };

/**
 * The binding reports every failed open as "Database is not open", with RocksDB's reason in
 * `cause`; name the directory and the reason instead. A held lock means another process (most
 * often a second instance started with the same DATA_DIR) has the store open.
 */
async function openOrExplain(db: RocksLevel, directory: string, options: object): Promise<void> {
  try {
    await db.open(options);
  } catch (error) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    if (/\block\b/i.test(reason)) {
      throw new GatewayError('GW_CONFIG_INVALID', `DATA_DIR ${directory} is in use by another process (its RocksDB lock is held): ${reason}`, {
        details: { variable: 'DATA_DIR' },
        cause: error,
      });
    }
    throw new GatewayError('GW_STORE_UNAVAILABLE', `the store at ${directory} cannot be opened: ${reason}`, { cause: error });
  }
}

/** The read operations, shared by the store that owns the database and those attached to it. */
/**
 * The binding's iterators default to not filling the block cache and to asynchronous, adaptive
 * read-ahead, made for long scans. Grid scans are short and repeat: their blocks stay cached, and
 * no read-ahead buffers are set up per iterator (BENCHMARKS.md, "RocksDB options").
 */
const SHORT_SCANS = { fillCache: true, asyncIO: false, adaptiveReadahead: false, autoReadaheadSize: false };

/** Closes an iterator and detaches it from the database. */
function closeIterator(native: NativeLevel, iterator: { _closeSync(): void }): void {
  iterator._closeSync();
  // Every iterator registers itself with the database (abstract-level's resources, closed with
  // it); only the public, asynchronous close takes it out again. Without this, each closed
  // iterator stayed reachable: about 1 kB each, a gigabyte of heap after some minutes of grid
  // pages.
  native.detachResource(iterator);
}

/** Parked readers kept at most; each pins a few blocks and the store's files of its moment. */
const PARKED_READERS = 128;
/** How often parked readers are checked for writes when no read comes to close them. */
const PARKED_SWEEP_MS = 1_000;

type ReadOperations = Pick<KeyValueStore, 'stats' | 'getMany' | 'range' | 'valueRange' | 'valuesFrom' | 'forgetReaders'> & {
  /** Closes the parked readers for good (before the database closes). */
  release(): void;
};

/**
 * `told`: the owner's writes are told to this store (`forgetReaders`), so a parked reader stays
 * until a write to its scope is told; otherwise any write closes every parked reader.
 */
function readOperations(native: NativeLevel, writes: Int32Array, ensureOpen: () => void, told: boolean): ReadOperations {
  const stats: ReadStats = { roundTrips: 0, readersOpened: 0, entriesRead: 0 };
  // Parked iterators by direction and scope, with the write sequence each opened at. Untold, all
  // of them opened at `parkedAt`: a write moves the sequence on and they are closed at the next
  // read. Either way the sweep closes those opened before the latest write, so none outlives the
  // state it sees by more than a sweep, and none keeps memtables and files pinned longer.
  const parked = new Map<string, { readonly iterator: NativeIterator; readonly gte: Key; readonly opened: number }>();
  let parkedAt = -1;
  // Counts `forgetReaders` calls: a reader in use during one is closed, not parked (it may be
  // one the call would have closed).
  let forgets = 0;
  let released = false;
  const close = (iterator: NativeIterator): void => closeIterator(native, iterator);
  const closeParked = (keep?: (entry: { readonly gte: Key; readonly opened: number }) => boolean): void => {
    for (const [slot, entry] of parked) {
      if (keep?.(entry)) continue;
      close(entry.iterator);
      parked.delete(slot);
    }
  };
  const sweep = setInterval(() => {
    const now = Atomics.load(writes, 0);
    if (parked.size > 0) closeParked((entry) => entry.opened === now);
  }, PARKED_SWEEP_MS);
  sweep.unref();
  /** A native iterator with the options every scan shares. */
  const create = (options: object): NativeIterator => {
    stats.readersOpened++;
    return native._iterator({ ...options, valueEncoding: 'utf8', ...SHORT_SCANS });
  };
  /** Reads `iterator` until closed; `next` gives the binding's flat [key, value, ...] rows. */
  const reader = (iterator: NativeIterator, release: (iterator: NativeIterator) => void) => {
    let closed = false;
    return {
      next(max: number): Array<Buffer | string | undefined> {
        if (closed) return [];
        const { rows } = iterator._nextvSync(max, EMPTY);
        stats.entriesRead += rows.length / 2;
        return rows;
      },
      seek(target: Key) {
        iterator._seekSync(target);
      },
      close() {
        if (!closed) {
          closed = true;
          release(iterator);
        }
      },
    };
  };
  const open = (options: object) => {
    ensureOpen();
    stats.roundTrips++;
    return reader(create(options), close);
  };
  /** A reader of values alone over a reader of the binding's rows (keys not asked for). */
  const valuesOf = (rows: ReturnType<typeof reader>): ValueReader => ({
    next(max) {
      const flat = rows.next(max);
      const out: string[] = new Array(flat.length / 2);
      for (let i = 1; i < flat.length; i += 2) out[(i - 1) / 2] = flat[i] as string;
      return out;
    },
    close: rows.close,
  });
  return {
    stats,
    getMany(keys) {
      ensureOpen();
      stats.roundTrips++;
      if (keys.length === 0) return [];
      stats.entriesRead += keys.length;
      return native._getManySync(keys, AS_TEXT);
    },
    range(range) {
      const iterator = open({
        gt: range.gt,
        gte: range.gte,
        lt: range.lt,
        lte: range.lte,
        reverse: range.reverse ?? false,
        keys: true,
        values: range.values ?? false,
        keyEncoding: 'buffer',
      });
      return {
        next(max) {
          const rows = iterator.next(max);
          const out: Array<[Key, string | undefined]> = [];
          for (let i = 0; i < rows.length; i += 2) out.push([rows[i] as Buffer, rows[i + 1] as string | undefined]);
          return out;
        },
        seek: iterator.seek,
        close: iterator.close,
      };
    },
    valueRange(range) {
      return valuesOf(open({ gte: range.gte, lt: range.lt, reverse: range.reverse, keys: false, values: true }));
    },
    valuesFrom(scope, from) {
      ensureOpen();
      const now = Atomics.load(writes, 0);
      if (!told && now !== parkedAt) {
        closeParked();
        parkedAt = now;
      }
      const slot = `${scope.reverse ? 'r' : 'f'}${scope.gte.toString('latin1')}\u0000${scope.lt.toString('latin1')}`;
      stats.roundTrips++;
      const taken = parked.get(slot);
      let iterator: NativeIterator;
      if (taken) {
        parked.delete(slot);
        iterator = taken.iterator;
        iterator._seekSync(from);
      } else {
        iterator = create({ gte: scope.gte, lt: scope.lt, reverse: scope.reverse, keys: false, values: true });
        // Opening positions the iterator at the scope's first (or last) key.
        if (scope.reverse || !from.equals(scope.gte)) iterator._seekSync(from);
      }
      const opened = taken?.opened ?? now;
      const forgetsAtTake = forgets;
      return valuesOf(
        reader(iterator, (held) => {
          // Untold: parked only if no write began since it opened (an odd sequence is a write
          // under way). Told: only if no write was told while it was in use.
          const reusable = told ? forgets === forgetsAtTake : now % 2 === 0 && Atomics.load(writes, 0) === now && parkedAt === now;
          if (!released && reusable && !parked.has(slot) && parked.size < PARKED_READERS)
            parked.set(slot, { iterator: held, gte: scope.gte, opened });
          else close(held);
        }),
      );
    },
    forgetReaders(prefixes) {
      forgets++;
      if (parked.size === 0) return;
      if (!prefixes) closeParked();
      else
        closeParked(
          (entry) =>
            !prefixes.some((prefix) => entry.gte.length >= prefix.length && entry.gte.compare(prefix, 0, prefix.length, 0, prefix.length) === 0),
        );
    },
    release() {
      released = true;
      clearInterval(sweep);
      closeParked();
    },
  };
}

/**
 * A read-only store over a database another thread opened (`KeyValueStore.handle`), for a read
 * worker. Writes throw. The owner must outlive it: the owning thread terminates its workers
 * before it closes the database.
 */
export function attachKeyValueStore(handle: bigint, writes: Int32Array): KeyValueStore {
  const db = new RocksLevel(handle as never, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  let open = true;
  const reads = readOperations(
    db as unknown as NativeLevel,
    writes,
    () => {
      if (!open) throw new GatewayError('GW_STORE_UNAVAILABLE', 'the attached store is closed');
    },
    true,
  );
  const readOnly = (): never => {
    throw new Error('an attached store is read-only');
  };
  return {
    stats: reads.stats,
    writes,
    handle,
    getMany: reads.getMany,
    range: reads.range,
    valueRange: reads.valueRange,
    valuesFrom: reads.valuesFrom,
    forgetReaders: reads.forgetReaders,
    write: readOnly,
    batch: readOnly,
    onWrite: readOnly,
    clearRange: readOnly,
    memory: () => ({ memtables: undefined, table_readers: undefined, block_cache: undefined }),
    async close() {
      open = false;
      reads.release();
    },
  };
}

/** Opens (creating if needed) a RocksDB database in `directory`. */
export async function openKeyValueStore(directory: string, options: { cacheSize?: number; memtableBudget?: number } = {}): Promise<KeyValueStore> {
  const db = new RocksLevel(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await openOrExplain(db, directory, {
    createIfMissing: true,
    cacheSize: options.cacheSize ?? 32 << 20,
    walCompression: false,
    // No block compression: the data is a copy of Kafka topics, and on a small machine the CPU
    // that compressing flushes and compactions takes is missed by ingest and queries
    // (BENCHMARKS.md, "RocksDB options").
    compression: false,
    // Bloom filters in the memtables and hash indexes in data blocks: ingest looks up every
    // incoming key's previous row, and most of those lookups miss on a first load.
    optimize: 'point-lookup',
    // Index and filter blocks stay in the table readers, outside the block cache. In the cache
    // every new iterator looks up or re-reads a table's whole index block, which costs grid pages
    // far more than the memory saved (BENCHMARKS.md, "RocksDB options").
    cacheIndexAndFilterBlocks: false,
    // Universal compaction with a quarter of the budget per memtable (16 MB at the default 64):
    // smaller memtables keep the skip list every write searches small, and universal compaction
    // rewrites the data fewer times than leveled; RSS at catch-up is lower, ingest and grid no
    // slower (BENCHMARKS.md, "RocksDB options"). Stores written with leveled compaction open as
    // they are.
    compaction: 'universal',
    memtableMemoryBudget: options.memtableBudget ?? 64 << 20,
  } as object);
  const native = db as unknown as NativeLevel;
  const writes = new Int32Array(new SharedArrayBuffer(4));
  let open = true;
  const ensureOpen = (): void => {
    if (!open) throw new GatewayError('GW_STORE_UNAVAILABLE', `the store at ${directory} is closed`);
  };
  const reads = readOperations(native, writes, ensureOpen, false);
  // One native batch, cleared after each write: ingest writes thousands of batches, and a batch
  // object per write costs an allocation and a finalizer each.
  let nativeBatch: NativeBatch | undefined;
  let building = false;
  let count = 0;
  let listener: WriteListener | undefined;
  /** Tells the listener of the write that ends at `sequence`; called while the sequence is odd. */
  const tell = (sequence: number, note: (() => WriteNote | undefined) | undefined): void => {
    if (!listener) return;
    try {
      listener(sequence, note?.());
    } catch {
      // A listener's failure must not fail the write; a reader that missed a note drops all.
    }
  };
  const finish = (): void => {
    building = false;
    count = 0;
    nativeBatch?._clear();
  };
  const writeBatch: WriteBatch = {
    put(key, value) {
      // The binding takes Buffers only; it would make the same copy of a string.
      nativeBatch!._put(key, typeof value === 'string' ? Buffer.from(value) : value, EMPTY);
      count++;
    },
    del(key) {
      nativeBatch!._del(key, EMPTY);
      count++;
    },
    get length() {
      return count;
    },
    commit(note) {
      try {
        ensureOpen();
        const sequence = Atomics.add(writes, 0, 1) + 2;
        let written = false;
        try {
          nativeBatch!._writeSync(EMPTY);
          written = true;
        } finally {
          tell(sequence, written ? note : undefined);
          Atomics.add(writes, 0, 1);
        }
      } finally {
        finish();
      }
    },
    discard: finish,
  };
  const batch = (): WriteBatch => {
    ensureOpen();
    if (building) throw new Error('a write batch is already open on this store');
    nativeBatch ??= native._chainedBatch();
    building = true;
    return writeBatch;
  };

  return {
    stats: reads.stats,
    writes,
    handle: (db as unknown as { handle: bigint }).handle,
    getMany: reads.getMany,
    range: reads.range,
    valueRange: reads.valueRange,
    valuesFrom: reads.valuesFrom,
    forgetReaders: reads.forgetReaders,
    write(operations, note) {
      const writer = batch();
      try {
        for (const op of operations) {
          if (op.type === 'put') writer.put(op.key, op.value ?? '');
          else writer.del(op.key);
        }
      } catch (error) {
        writer.discard();
        throw error;
      }
      writer.commit(note);
    },
    batch,
    onWrite(next) {
      listener = next;
    },
    memory() {
      const property = (name: string): number | undefined => {
        if (!open) return undefined;
        try {
          const value = Number((db as unknown as { getProperty(name: string): string }).getProperty(name));
          return Number.isFinite(value) ? value : undefined;
        } catch {
          return undefined;
        }
      };
      return {
        memtables: property('rocksdb.cur-size-all-mem-tables'),
        table_readers: property('rocksdb.estimate-table-readers-mem'),
        block_cache: property('rocksdb.block-cache-usage'),
      };
    },
    async clearRange(gte, lt) {
      const sequence = Atomics.add(writes, 0, 1) + 2;
      try {
        await db.clear({ gte, lt });
      } finally {
        tell(sequence, undefined);
        Atomics.add(writes, 0, 1);
      }
    },
    async close() {
      open = false;
      reads.release();
      nativeBatch?._closeSync();
      nativeBatch = undefined;
      await db.close();
    },
  };
}
