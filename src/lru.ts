/**
 * A map bounded to `limit` entries that drops the least recently used first. `get` and `set`
 * count as uses; `has` does not. An adapter over `lru-cache` with the few operations the
 * gateway's caches use (rows, value lists, rate-limit buckets, parsed documents).
 *
 * A Map re-inserted on every use evicts in O(1) only until deletions pile up at its front: V8
 * keeps deleted slots until the table is rebuilt, and finding the oldest live entry walks over
 * them (about 60 µs per eviction in a full 200,000-entry cache). lru-cache keeps its order in
 * typed-array links instead.
 */
import { LRUCache } from 'lru-cache';

/** Up to this bound the cache pre-allocates its links (fastest); beyond it they grow as needed. */
const PREALLOCATED = 1 << 16;

export class Lru<K extends {}, V extends {}> {
  readonly #entries: LRUCache<K, V> | undefined;

  /** `onEvict` runs for every entry the bound drops (or `evictOldest` drops), not for `delete`. */
  constructor(limit: number, onEvict?: (key: K, value: V) => void) {
    if (limit <= 0) return; // keeps nothing
    const dispose = onEvict && ((value: V, key: K, reason: LRUCache.DisposeReason) => reason === 'evict' && onEvict(key, value));
    this.#entries =
      limit <= PREALLOCATED
        ? new LRUCache<K, V>({ max: limit, ...(dispose ? { dispose } : {}) })
        : new LRUCache<K, V>({ maxSize: limit, sizeCalculation: () => 1, ...(dispose ? { dispose } : {}) });
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }

  get(key: K): V | undefined {
    return this.#entries?.get(key);
  }

  has(key: K): boolean {
    return this.#entries?.has(key) ?? false;
  }

  set(key: K, value: V): void {
    this.#entries?.set(key, value);
  }

  delete(key: K): void {
    this.#entries?.delete(key);
  }

  /** Deletes every entry whose key matches. */
  deleteWhere(matches: (key: K) => boolean): void {
    const entries = this.#entries;
    if (!entries) return;
    for (const key of [...entries.keys()]) if (matches(key)) entries.delete(key);
  }

  clear(): void {
    this.#entries?.clear();
  }

  /** Drops the least recently used entry; false when empty. */
  evictOldest(): boolean {
    return this.#entries?.pop() !== undefined;
  }
}
