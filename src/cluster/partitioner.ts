/**
 * Key → partition, bit-for-bit equal to the Java Kafka producer's default
 * partitioner for keyed records.
 *
 * Why: the topics the gateway serves are written by producers using the
 * Java client's default partitioner, and routing a key to its owner needs
 * the same partition for it as they chose. A mismatch would not fail
 * loudly; it would send a key to a partition that never holds it. So this
 * is pinned against the real Java client: test/unit/partitioner.test.ts
 * checks it against test/fixtures/partitions/java-partitions.json, which
 * test/fixtures/partitions/generate.sh produces from kafka-clients.
 *
 * Contract (kafka-clients 3.x `BuiltInPartitioner.partitionForKey`, same as
 * 2.x `DefaultPartitioner` for non-null keys):
 *
 *   partition = toPositive(murmur2(keyBytes)) % partitionCount
 *   toPositive(h) = h & 0x7fffffff
 *
 * where murmur2 is Kafka's `Utils.murmur2` (MurmurHash2, seed 0x9747b28c,
 * little-endian 4-byte blocks) and, for string keys, keyBytes is what
 * `StringSerializer` produces: `String.getBytes(UTF_8)`. That differs from
 * TextEncoder / Buffer in one corner: an unpaired UTF-16 surrogate becomes
 * `?` (0x3f) in Java but U+FFFD (EF BF BD) in JS. So long well-formed
 * strings go through TextEncoder, and short ones (faster than a native
 * call) or ones with an unpaired surrogate through an inline encoder that
 * writes `?` as Java does.
 *
 * Records with a null key are not partitioned by key in Java (sticky /
 * round-robin), so there is no key-based answer for them; passing anything
 * other than a string or byte array throws.
 */

import { crc32 } from 'node:zlib';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;
const MAX_PARTITIONS = 0x7fffffff; // a Java int

/**
 * Keys up to this many UTF-16 units are encoded by the inline loop: below
 * roughly this length it is faster than a call into the native encoder.
 * (The fixture has ASCII, non-ASCII and malformed keys on both sides.)
 */
const SHORT_KEY = 16;

const utf8 = new TextEncoder();

/** ES2024 `String.prototype.isWellFormed` (Node ≥ 20); our lib is ES2023. */
type WellFormedCheck = string & { isWellFormed(): boolean };

/** Reused UTF-8 scratch for string keys; grows to the largest key seen. */
let scratch = new Uint8Array(256);

/**
 * Kafka's `Utils.murmur2`: MurmurHash2 (32-bit, seed 0x9747b28c) of the
 * bytes. Returns the same signed 32-bit value Java does.
 */
export function murmur2(bytes: Uint8Array): number {
  return murmur2Prefix(bytes, bytes.length);
}

/**
 * The partition the Java producer's default partitioner assigns to a record
 * with this key in a topic of `partitionCount` partitions. String keys are
 * taken as Java's StringSerializer would serialize them (UTF-8, unpaired
 * surrogates as `?`); byte arrays (including Buffer) are used as is.
 */
export function partitionForKey(key: string | Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > MAX_PARTITIONS) {
    throw new RangeError(`partitionCount must be an integer from 1 to ${MAX_PARTITIONS}, got ${describe(partitionCount)}`);
  }
  let hash: number;
  if (typeof key === 'string') {
    // Encode first: it may replace `scratch` with a larger array.
    const length = encodeKey(key);
    hash = murmur2Prefix(scratch, length);
  } else if (key instanceof Uint8Array) {
    hash = murmur2Prefix(key, key.length);
  } else {
    throw new TypeError(`key must be a string or Uint8Array, got ${describe(key)}`);
  }
  return (hash & 0x7fffffff) % partitionCount;
}

/** murmur2 of data[0, length). */
function murmur2Prefix(data: Uint8Array, length: number): number {
  let h = SEED ^ length;
  const blocksEnd = length & ~3;
  let i = 0;
  for (; i < blocksEnd; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // Tail: the last length % 4 bytes (Java's fall-through switch).
  const tail = length & 3;
  if (tail === 3) h ^= data[i + 2]! << 16;
  if (tail >= 2) h ^= data[i + 1]! << 8;
  if (tail >= 1) {
    h ^= data[i]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/**
 * Writes `s` into `scratch` as Java's `String.getBytes(UTF_8)` would and
 * returns the byte length. Each UTF-16 unit needs at most 3 bytes (a
 * surrogate pair, two units, needs 4), so 3 × length always fits.
 */
function encodeKey(s: string): number {
  const n = s.length;
  if (n * 3 > scratch.length) scratch = new Uint8Array(Math.max(n * 3, scratch.length * 2));
  if (n > SHORT_KEY) {
    const written = utf8.encodeInto(s, scratch).written;
    // written === n only for pure ASCII. Otherwise TextEncoder agrees with
    // Java unless the string has an unpaired surrogate.
    if (written === n || (s as WellFormedCheck).isWellFormed()) return written;
  }
  return encodeJavaUtf8Inline(s, scratch);
}

/** The inline Java-compatible encoder; `out` must have room (see encodeKey). */
function encodeJavaUtf8Inline(s: string, out: Uint8Array): number {
  const n = s.length;
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
    } else if (c < 0x800) {
      out[o++] = 0xc0 | (c >>> 6);
      out[o++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      out[o++] = 0xe0 | (c >>> 12);
      out[o++] = 0x80 | ((c >>> 6) & 0x3f);
      out[o++] = 0x80 | (c & 0x3f);
    } else {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        out[o++] = 0xf0 | (cp >>> 18);
        out[o++] = 0x80 | ((cp >>> 12) & 0x3f);
        out[o++] = 0x80 | ((cp >>> 6) & 0x3f);
        out[o++] = 0x80 | (cp & 0x3f);
        i++;
      } else {
        out[o++] = 0x3f; // unpaired surrogate: Java writes '?'
      }
    }
  }
  return o;
}

function describe(value: unknown): string {
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'string') return `string ${JSON.stringify(value)}`;
  if (typeof value === 'bigint') return `bigint ${value}n`;
  if (value === null) return 'null';
  if (typeof value === 'object') return Object.prototype.toString.call(value);
  if (typeof value === 'boolean') return `boolean ${value}`;
  return typeof value;
}

/** How a deployment's producers map a key to a partition. */
export type Partitioner = (key: string | Uint8Array, partitionCount: number) => number;

/**
 * The partitioners producers use by default:
 * - `murmur2`: the Java client's (`partitionForKey` above); librdkafka's `murmur2_random`;
 * - `crc32`: librdkafka's `consistent` and `consistent_random` (its default, so Python, Go, .NET
 *   clients and kcat): CRC-32 (IEEE) of the key bytes, modulo the partition count.
 */
export const PARTITIONERS = {
  murmur2: partitionForKey,
  crc32: crc32Partition,
} as const satisfies Record<string, Partitioner>;

export type PartitionerName = keyof typeof PARTITIONERS;

/** librdkafka's `consistent` partitioner for a non-empty key: crc32(keyBytes) % partitionCount. */
export function crc32Partition(key: string | Uint8Array, partitionCount: number): number {
  if (!Number.isInteger(partitionCount) || partitionCount < 1 || partitionCount > MAX_PARTITIONS) {
    throw new RangeError(`partitionCount must be an integer from 1 to ${MAX_PARTITIONS}, got ${describe(partitionCount)}`);
  }
  if (typeof key !== 'string' && !(key instanceof Uint8Array)) throw new TypeError(`key must be a string or Uint8Array, got ${describe(key)}`);
  return crc32(typeof key === 'string' ? Buffer.from(key, 'utf8') : key) % partitionCount;
}
