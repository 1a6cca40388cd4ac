/**
 * What an index entry costs to read through the RocksDB binding, by what a scan asks for: keys
 * and values, keys alone, or values alone (`KeyValueStore.range` against `valueRange`), and values
 * alone through a parked reader that each read seeks (`valuesFrom`). A
 * throw-away store in a temporary directory gets 300,000 entries shaped like the gateway's index
 * entries (tuple-encoded keys, a JSON array value with the row key first); then each mode opens
 * bounded iterators over one of six "partitions" in turn and reads a fixed number of entries,
 * rounds alternating. Prints µs per iterator and per entry (the opening included), with medians.
 *
 *   node test/bench/iterators.ts [entries-per-iterator ...]   (default: 1 13 200)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openKeyValueStore } from '../../src/store/rocks.ts';
import { encodeTuple, prefixEnd } from '../../src/store/tuple.ts';

const PARTITIONS = 6;
const PER_PARTITION = 50_000;
const ITERATORS = 4_000;
const ROUNDS = 5;
const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);

const dir = mkdtempSync(path.join(os.tmpdir(), 'gw-iterators-'));
const kv = await openKeyValueStore(dir);
try {
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for (let from = 0; from < PER_PARTITION; from += 5_000) {
      const batch = kv.batch();
      for (let n = from; n < from + 5_000; n++) {
        const key = `ord-${String(n * PARTITIONS + partition).padStart(10, '0')}`;
        const createdAt = 1_700_000_000_000 + n * 1_000;
        batch.put(
          encodeTuple(['i', 'orders', partition, 1, 'SHIPPED', createdAt, key]),
          JSON.stringify([key, 'SHIPPED', `cus-${n % 5_000}`, 'EUR', new Date(createdAt).toISOString(), new Date(createdAt).toISOString()]),
        );
      }
      batch.commit();
    }
  }
  const prefixes = Array.from({ length: PARTITIONS }, (_, partition) => encodeTuple(['i', 'orders', partition, 1]));
  /** Reads `size` entries from a reader and closes it. */
  const drain = (reader: { next(max: number): unknown[]; close(): void }, size: number): number => {
    const read = reader.next(size).length;
    reader.close();
    return read;
  };
  const modes: Record<string, (gte: Buffer, lt: Buffer, size: number) => number> = {
    'keys and values': (gte, lt, size) => drain(kv.range({ gte, lt, values: true }), size),
    'keys alone': (gte, lt, size) => drain(kv.range({ gte, lt, values: false }), size),
    'values alone': (gte, lt, size) => drain(kv.valueRange({ gte, lt, reverse: false }), size),
    // The store is not written during the rounds, so each partition's reader stays parked and
    // every read after the first is a seek.
    'values, parked': (gte, lt, size) => drain(kv.valuesFrom({ gte, lt: Buffer.concat([lt, Buffer.from([0])]), reverse: false }, gte), size),
  };
  for (const size of sizes.length > 0 ? sizes : [1, 13, 200]) {
    const perIterator = new Map<string, number[]>(Object.keys(modes).map((mode) => [mode, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [mode, read] of Object.entries(modes)) {
        let entries = 0;
        const started = process.hrtime.bigint();
        for (let i = 0; i < ITERATORS; i++) {
          const prefix = prefixes[i % PARTITIONS]!;
          entries += read(prefix, prefixEnd(prefix), size);
        }
        const us = Number(process.hrtime.bigint() - started) / 1e3;
        if (entries !== ITERATORS * size) throw new Error(`${mode}: read ${entries} entries, expected ${ITERATORS * size}`);
        perIterator.get(mode)!.push(us / ITERATORS);
      }
    }
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
    const baseline = median(perIterator.get('keys and values')!);
    for (const [mode, values] of perIterator) {
      const us = median(values);
      console.log(
        `${String(size).padStart(4)} entries, ${mode.padEnd(16)}: ${us.toFixed(1).padStart(6)} µs per iterator, ` +
          `${(us / size).toFixed(3)} µs per entry (median of ${ROUNDS}), ${(us / baseline).toFixed(2)}x keys and values`,
      );
    }
  }
} finally {
  await kv.close();
  rmSync(dir, { recursive: true, force: true });
}
