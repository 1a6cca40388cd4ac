/**
 * A map bounded to `limit` entries that drops the least recently used first. `get` and `set`
 * count as uses; `has` and `peek` do not. Built on a Map, which iterates in insertion order:
 * a use re-inserts the key, so the first key is always the least recently used.
 */
export class Lru<K, V> {
  readonly #entries = new Map<K, V>();
  readonly #limit: number;
  readonly #onEvict: ((key: K, value: V) => void) | undefined;

  /** `onEvict` runs for every entry the bound drops (or `evictOldest` drops), not for `delete`. */
  constructor(limit: number, onEvict?: (key: K, value: V) => void) {
    this.#limit = limit;
    this.#onEvict = onEvict;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: K): V | undefined {
    const value = this.#entries.get(key);
    if (value !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, value);
    }
    return value;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  set(key: K, value: V): void {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    while (this.#entries.size > this.#limit) this.evictOldest();
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  /** Deletes every entry whose key matches. */
  deleteWhere(matches: (key: K) => boolean): void {
    for (const key of [...this.#entries.keys()]) if (matches(key)) this.#entries.delete(key);
  }

  /** Drops the least recently used entry; false when empty. */
  evictOldest(): boolean {
    const first = this.#entries.entries().next();
    if (first.done) return false;
    const [key, value] = first.value;
    this.#entries.delete(key);
    this.#onEvict?.(key, value);
    return true;
  }
}
