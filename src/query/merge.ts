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
  /** Entries read that passed the scan's check, from `at` on not yet consumed. */
  buffer: ScanEntry[];
  at: number;
  /** The scan's position after its last read; undefined before the first and once it is read again. */
  frontier: ScanEntry | undefined;
  done: boolean;
}

/** A merged entry, with the partition it came from. */
export type Candidate = ScanEntry & { partition: number };

export interface Merge {
  /**
   * The next `count` entries, consuming no entry after the last one returned, so no source reads
   * further than the page needs.
   */
  take(count: number): Candidate[];
  /** Closes every source's scan. */
  close(): void;
}

/** A source of a merge over `scan`, nothing read yet. */
export function mergeSource(partition: number, scan: Scan): MergeSource {
  return { partition, scan, buffer: [], at: 0, frontier: undefined, done: false };
}

/**
 * Merges sorted scans (by sort value, then key; descending when `reverse`); `take(n)` returns the
 * next n entries overall. Each source first reads its even share of `expected` (how many entries
 * the caller expects the sources to read) and doubles its read each time it runs dry, up to
 * `chunk`: a page merged from 6 partitions reads about a sixth of its entries from each, not a
 * whole page from every one (an index entry costs microseconds to read, and most of a fixed
 * read-ahead would be thrown away).
 *
 * Scans that check a residual condition hand over only the entries that pass. A source whose
 * passed entries are all consumed takes its place in the merge by its frontier, the last entry it
 * read: everything it has not read comes after that. It is read again only when its frontier
 * comes first, so a source is read as far as the merged order needs, as if every entry read had
 * gone through the merge, while entries that fail cost no comparison here.
 */
export function createMerge(sources: MergeSource[], reverse: boolean, expected: number, chunk: number): Merge {
  const reads = new Map<MergeSource, number>();
  // A fifth more than the even share: the sources are rarely exactly even.
  const firstRead = Math.min(chunk, Math.ceil((expected * 1.2) / Math.max(1, sources.length)) + 2);
  const read = (source: MergeSource): void => {
    const size = reads.get(source) ?? firstRead;
    reads.set(source, Math.min(chunk, size * 2));
    source.buffer = source.scan.next(size);
    source.at = 0;
    source.frontier = source.scan.position;
    if (source.frontier === undefined) source.done = true;
  };
  /** The entry that places the source in the merge: its next passed entry, else its frontier. */
  const head = (source: MergeSource): ScanEntry | undefined => {
    if (source.at < source.buffer.length) return source.buffer[source.at];
    if (source.done) return undefined;
    // A frontier that passed was consumed with the buffer: what comes next is unread.
    if (source.frontier === undefined || source.frontier === source.buffer[source.buffer.length - 1]) read(source);
    return source.at < source.buffer.length ? source.buffer[source.at] : source.frontier;
  };
  const order = (a: ScanEntry, b: ScanEntry): number => {
    const bySort = compareValues(a.sortValue, b.sortValue);
    const result = bySort !== 0 ? bySort : compareValues(a.key, b.key);
    return reverse ? -result : result;
  };
  /** The source holding the next entry in merge order, or undefined when all are done. */
  const next = (): MergeSource | undefined => {
    for (;;) {
      let best: MergeSource | undefined;
      let bestEntry: ScanEntry | undefined;
      for (const source of sources) {
        const entry = head(source);
        if (entry && (!bestEntry || order(entry, bestEntry) < 0)) {
          best = source;
          bestEntry = entry;
        }
      }
      if (!best || best.at < best.buffer.length) return best;
      // A frontier comes first: that source's next entry may come before every other head.
      best.frontier = undefined;
    }
  };
  const consume = (source: MergeSource): Candidate => {
    const entry = source.buffer[source.at++]!;
    return { key: entry.key, sortValue: entry.sortValue, partition: source.partition };
  };
  return {
    take(count) {
      const out: Candidate[] = [];
      while (out.length < count) {
        const source = next();
        if (!source) break;
        out.push(consume(source));
      }
      return out;
    },
    close() {
      for (const source of sources) source.scan.close();
    },
  };
}
