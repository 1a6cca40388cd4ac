/**
 * Row counters of one view, per partition: the rows in all, and the rows per combination of
 * values of each counted field set (`ViewModel.counterSets`). They live in memory, keyed by
 * `counterId`, and every batch writes the counters it changed in its own write batch, so they
 * match the rows at the partition's offset.
 */
import type { ViewModel } from '../views/model.ts';
import type { Row, ViewKeys } from './keys.ts';
import type { KeyValueStore, WriteBatch } from './rocks.ts';
import { decodeTuple, prefixEnd } from './tuple.ts';

/** A partition's counts by `counterId`. */
export type Counts = Map<string, number>;

/** The in-memory id of a counter: its fields (comma-joined) and their values (JSON). */
function counterId(fields: string, values: string): string {
  return `${fields}\u0000${values}`;
}

/** Reads every counter of a partition from the store. */
export function loadCounts(kv: KeyValueStore, keys: ViewKeys, partition: number): Counts {
  const counts: Counts = new Map();
  const counterPrefix = keys.prefix('c', partition);
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
  return counts;
}

/** The counter updates of one batch. */
export interface CounterUpdate {
  /** Counts a row into (delta 1) or out of (delta -1) every counter it belongs to, in memory. */
  add(row: Row, delta: number): void;
  /**
   * Appends the writes of every counter changed so far, in the order they were first changed: a
   * put of its count, or a delete when it reached zero (which also removes it from memory).
   */
  write(batch: Pick<WriteBatch, 'put' | 'del'>): void;
}

export interface Counters {
  /**
   * The id of the counter of rows whose fields equal the given values (of all rows without
   * values), or undefined when that set of fields has no counters.
   */
  idFor(equals: ReadonlyMap<string, string | number> | undefined): string | undefined;
  /** Starts the updates of one batch to a partition's counts. */
  update(partition: number, counts: Counts): CounterUpdate;
}

export function createCounters(view: ViewModel, keys: ViewKeys): Counters {
  const counterSets = [{ name: '', fields: [] as readonly string[] }, ...view.counterSets.map((fields) => ({ name: fields.join(','), fields }))];
  // The counted fields, and per set the positions of its fields among them: a row's values are
  // turned into JSON once per field, not once per set it belongs to.
  const counted = [...new Set(view.counterSets.flat())];
  const positions = counterSets.map((set) => set.fields.map((field) => counted.indexOf(field)));
  const json = new Array<string>(counted.length);
  return {
    idFor(equals) {
      const set = counterSets.find(
        (candidate) => candidate.fields.length === (equals?.size ?? 0) && candidate.fields.every((field) => equals?.has(field)),
      );
      if (!set) return undefined;
      const values = JSON.stringify(set.fields.map((field) => equals!.get(field)));
      return counterId(set.name, values);
    },

    update(partition, counts) {
      const dirty = new Map<string, readonly [fields: string, values: string]>();
      return {
        add(row, delta) {
          // As JSON.stringify(set.fields.map((field) => row[field])) would write it: a missing value is null.
          for (let i = 0; i < counted.length; i++) json[i] = JSON.stringify(row[counted[i]!]) ?? 'null';
          for (let s = 0; s < counterSets.length; s++) {
            const set = counterSets[s]!;
            const at = positions[s]!;
            let values = '[';
            for (let i = 0; i < at.length; i++) values += i === 0 ? json[at[i]!] : `,${json[at[i]!]}`;
            values += ']';
            const id = counterId(set.name, values);
            counts.set(id, (counts.get(id) ?? 0) + delta);
            if (!dirty.has(id)) dirty.set(id, [set.name, values]);
          }
        },
        write(batch) {
          for (const [id, [fields, values]] of dirty) {
            const count = counts.get(id) ?? 0;
            const key = keys.counter(partition, fields, values);
            if (count === 0) {
              counts.delete(id);
              batch.del(key);
            } else {
              batch.put(key, String(count));
            }
          }
        },
      };
    },
  };
}
