/**
 * Admission for a cache that would otherwise take every key read once: a key is admitted on its
 * second read within a window of recent first reads (the "doorkeeper" of TinyLFU). Reads spread
 * over a data set much larger than the cache (lookups over a million orders through a 20,000-row
 * cache) then stop replacing cached rows with rows that are not read again: each such row was
 * decoded, linked into the cache, kept alive past two young-generation collections, promoted and
 * collected again from the old generation, for a hit rate of about 2 %. Keys read again (a grid's
 * rows, a hot set of lookups) are admitted on their second read and stay cached as before. The
 * response cache (src/server/response-cache.ts) keeps an answer from its second offer the same way.
 *
 * Hand-written because lru-cache, the cache the gateway uses, has no admission policy, and the
 * JavaScript TinyLFU caches on npm are unmaintained; this is the doorkeeper alone, a Bloom filter
 * of 16 bits per key of the window, two probes from one 32-bit FNV-1a hash of the key, cleared
 * when the window is full. A false positive admits a key on its first read (about 1.4 % of them
 * with a full window); that costs what every read cost without admission.
 */

/** Bits per key of the window: with two probes, about 1.4 % false positives at a full window. */
const BITS_PER_KEY = 16;
/** The smallest window: a small cache still admits keys read twice a few thousand reads apart. */
const MIN_WINDOW = 4_096;

export interface Admission {
  /** True when `key` was offered since the last reset (so it is read again: admit it); records it otherwise. */
  admit(key: string): boolean;
}

/** A doorkeeper over the last `window` distinct first reads (at least 4,096). */
export function createAdmission(window: number): Admission {
  const keys = Math.max(MIN_WINDOW, Math.ceil(window));
  let size = 32;
  while (size < keys * BITS_PER_KEY) size *= 2;
  const bits = new Uint32Array(size / 32);
  const mask = size - 1;
  let recorded = 0;
  return {
    admit(key) {
      let hash = 0x811c9dc5;
      for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
      const first = hash & mask;
      const second = ((hash >>> 16) | (hash << 16)) & mask;
      const seen = (bits[first >>> 5]! & (1 << (first & 31))) !== 0 && (bits[second >>> 5]! & (1 << (second & 31))) !== 0;
      if (seen) return true;
      if (++recorded > keys) {
        bits.fill(0);
        recorded = 1;
      }
      bits[first >>> 5]! |= 1 << (first & 31);
      bits[second >>> 5]! |= 1 << (second & 31);
      return false;
    },
  };
}
