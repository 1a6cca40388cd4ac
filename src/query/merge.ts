/**
 * The merge of several partitions' sorted scans into one stream in sort order, reading from each
 * scan no further than the caller consumes.
 */
import type { Scan, ScanEntry } from '../store/view-store.ts';
import { compareValues } from './compare.ts';

/** One scan in a merge, with the entries read from it and not yet consumed. */
export interface MergeSource {
  readonly partition: number;
  readonly scan: Scan;
  buffer: ScanEntry[];
  at: number;
  done: boolean;
}

/** A merged entry, with the partition it came from. */
export type Candidate = ScanEntry & { partition: number };

export interface Merge {
  /**
   * The next `count` entries (that satisfy `matches`, when given), consuming no entry after the
   * last one returned, so no source reads further than the page needs.
   */
  take(count: number, matches?: (entry: Candidate) => boolean): Candidate[];
  /** Closes every source's scan. */
  close(): void;
}

/**
 * Merges sorted scans (by sort value, then key; descending when `reverse`); `take(n)` returns the
 * next n entries overall. Each source first reads its even share of `expected` (how many entries
 * the caller expects to consume) and doubles its read each time it runs dry, up to `chunk`: a
 * page merged from 6 partitions reads about a sixth of its entries from each, not a whole page
 * from every one (an index entry costs microseconds to read, and most of a fixed read-ahead would
 * be thrown away).
 */
export function createMerge(sources: MergeSource[], reverse: boolean, expected: number, chunk: number): Merge {
  const reads = new Map<MergeSource, number>();
  // A fifth more than the even share: the sources are rarely exactly even.
  const firstRead = Math.min(chunk, Math.ceil((expected * 1.2) / Math.max(1, sources.length)) + 2);
  const head = (source: MergeSource): ScanEntry | undefined => {
    if (source.at >= source.buffer.length && !source.done) {
      const size = reads.get(source) ?? firstRead;
      reads.set(source, Math.min(chunk, size * 2));
      source.buffer = source.scan.next(size);
      source.at = 0;
      if (source.buffer.length === 0) source.done = true;
    }
    return source.buffer[source.at];
  };
  const order = (a: ScanEntry, b: ScanEntry): number => {
    const bySort = compareValues(a.sortValue, b.sortValue);
    const result = bySort !== 0 ? bySort : compareValues(a.key, b.key);
    return reverse ? -result : result;
  };
  /** The source holding the next entry in merge order, or undefined when all are done. */
  const next = (): MergeSource | undefined => {
    let best: MergeSource | undefined;
    let bestEntry: ScanEntry | undefined;
    for (const source of sources) {
      const entry = head(source);
      if (entry && (!bestEntry || order(entry, bestEntry) < 0)) {
        best = source;
        bestEntry = entry;
      }
    }
    return best;
  };
  const consume = (source: MergeSource): Candidate => {
    const entry = source.buffer[source.at++]!;
    return { key: entry.key, sortValue: entry.sortValue, fields: entry.fields, partition: source.partition };
  };
  return {
    take(count, matches) {
      const out: Candidate[] = [];
      while (out.length < count) {
        const source = next();
        if (!source) break;
        const entry = consume(source);
        if (!matches || matches(entry)) out.push(entry);
      }
      return out;
    },
    close() {
      for (const source of sources) source.scan.close();
    },
  };
}
