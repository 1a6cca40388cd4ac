/**
 * Answers of the fast path (./fast-path.ts) kept while everything they read is unchanged. Every
 * answer names, in `extensions.freshness`, the next offset of each topic partition it read
 * (src/routing/reader.ts observes them for every read, local or a peer's). The materialized state
 * of a partition is a function of that offset: while each partition an answer read is served by
 * this instance and still at the same offset, reading it again gives the same bytes. So a kept
 * answer is checked against the partitions' offsets on every use and dropped the moment one moved;
 * there is no time to live and no stale answer.
 *
 * Hand-written because the ecosystem's response cache (@envelop/response-cache) invalidates by
 * time and by the entity ids an answer holds: a grid page changes when an order it did not hold
 * enters its range, which no entity id names. The offsets make the exact check cheap: one
 * comparison per partition read.
 *
 * Only answers that cost something to make are kept (`minMs`), and only from a request's second
 * time on: a lookup whose row is cached runs in tens of microseconds, and a lookup of one id among
 * millions is seldom asked twice; keeping those would only churn the cache.
 * A request with `Cache-Control: no-cache` or `no-store` is read fresh and not kept.
 */
import { LRUCache } from 'lru-cache';
import type { DocumentNode } from 'graphql';
import { createAdmission } from '../store/admission.ts';

/** An answer as the fast path sends it. */
export interface CachedAnswer {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly document: DocumentNode;
  readonly operationName: string | undefined;
  /** topic -> partition -> next offset when it was read (the answer's `extensions.freshness`). */
  readonly freshness: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

export interface ResponseCacheOptions {
  /** Bytes of keys and answers kept at most; 0 turns the cache off. */
  readonly maxBytes: number;
  /** Answers that took less than this to run are not kept. */
  readonly minMs: number;
  /**
   * The next offset of a partition as this instance serves it now, or undefined where it does not
   * serve it from its own store (not assigned, restoring, stalled).
   */
  readonly servedOffset: (topic: string, partition: number) => string | undefined;
  /** Keep an answer the first time it is offered (default: from the second time on). */
  readonly keepFirst?: boolean;
}

export interface ResponseCacheStats {
  hits: number;
  /** Kept answers dropped on use because a partition they read moved on. */
  stale: number;
  stored: number;
}

export interface ResponseCache {
  readonly enabled: boolean;
  readonly stats: ResponseCacheStats;
  /** Bytes kept now. */
  readonly size: number;
  /** The kept answer for `key` if every partition it read is unchanged; drops it otherwise. */
  get(key: string): CachedAnswer | undefined;
  /** Keeps an answer (its body as `text`) that took `ms` to run, if it is worth keeping. */
  set(key: string, answer: Omit<CachedAnswer, 'bytes'> & { readonly text: string }, ms: number): void;
}

/** Bytes counted per entry beyond its key and answer: the entry, its freshness, the LRU's node. */
const ENTRY_OVERHEAD = 256;
/** Request bodies longer than this are not used as keys. */
export const MAX_KEY_CHARS = 16 * 1024;

/**
 * Keys offered once are remembered (../store/admission.ts), up to this many, then forgotten all
 * at once; a false positive only keeps an answer one offer early.
 */
const OFFERED_WINDOW = 1 << 16;

/** Whether a request's `Cache-Control` asks for a fresh answer. */
export function wantsFresh(cacheControl: string | string[] | undefined): boolean {
  if (cacheControl === undefined) return false;
  return /(^|[\s,])no-(cache|store)\b/i.test(Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl);
}

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  const stats: ResponseCacheStats = { hits: 0, stale: 0, stored: 0 };
  if (options.maxBytes <= 0) {
    return { enabled: false, stats, size: 0, get: () => undefined, set: () => {} };
  }
  const entries = new LRUCache<string, CachedAnswer>({
    maxSize: options.maxBytes,
    sizeCalculation: (answer, key) => key.length + answer.bytes.length + ENTRY_OVERHEAD,
  });
  const offered = createAdmission(OFFERED_WINDOW);
  const current = (answer: Pick<CachedAnswer, 'freshness'>): boolean => {
    for (const topic in answer.freshness) {
      const offsets = answer.freshness[topic]!;
      for (const partition in offsets) {
        if (options.servedOffset(topic, Number(partition)) !== offsets[partition]) return false;
      }
    }
    return true;
  };
  return {
    enabled: true,
    stats,
    get size() {
      return entries.calculatedSize;
    },
    get(key) {
      const answer = entries.get(key);
      if (answer === undefined) return undefined;
      if (!current(answer)) {
        entries.delete(key);
        stats.stale++;
        return undefined;
      }
      stats.hits++;
      return answer;
    },
    set(key, { text, ...answer }, ms) {
      if (ms < options.minMs || key.length > MAX_KEY_CHARS) return;
      // An answer over an eighth of the cache would push out many smaller ones for one entry.
      if (key.length + text.length + ENTRY_OVERHEAD > options.maxBytes / 8) return;
      if (!options.keepFirst && !offered.admit(key)) return;
      // Kept only while current: an answer that read a partition this instance does not serve
      // (a peer's), or one that moved on while the query ran, could never be checked.
      if (!current(answer)) return;
      entries.set(key, { ...answer, bytes: Buffer.from(text) });
      stats.stored++;
    },
  };
}
