/**
 * How many records ingest applies in one synchronous step (decode, one atomic store write with
 * the slice's next offset, change events). A step blocks the event loop, so its size follows
 * the time the last steps took per record: it grows while steps are quick (fewer, larger writes
 * cost less per record) and shrinks when they are slow (updates write twice what inserts do, and
 * a busy machine or a RocksDB write slowdown stretches everything), aiming at `targetMs` per step.
 */

export interface SliceSizerOptions {
  /** Wanted duration of one step, in ms. */
  readonly targetMs: number;
  /** Bounds of a slice, in records. */
  readonly min: number;
  readonly max: number;
  /** Size of the first slice. */
  readonly initial: number;
}

export interface SliceSizer {
  /** Records in the next slice. */
  size(): number;
  /** Reports that a step of `records` records took `ms`. */
  took(records: number, ms: number): void;
}

/**
 * Defaults of ingest: 5 ms steps. A step can share a turn of the event loop with KafkaJS parsing
 * a fetch response and with a garbage collection; 5 ms leaves room for both under a 50 ms stall
 * budget (BENCHMARKS.md, "Steps, fetches and background priority": 15 ms steps with 2 MB fetches
 * stalled the loop past 50 ms several times a minute). The first slice is the smallest: before
 * V8 has optimized decoding and the batch write, a record costs several times what it costs a
 * second later, and the sizer has no measure yet.
 */
export const INGEST_SLICES: SliceSizerOptions = { targetMs: 5, min: 50, max: 4000, initial: 50 };

export function createSliceSizer(options: SliceSizerOptions): SliceSizer {
  // Smoothed cost of one record in ms; slices smaller than this many records say little.
  let perRecordMs: number | undefined;
  let current = options.initial;
  return {
    size: () => current,
    took(records, ms) {
      if (records <= 0 || !(ms >= 0)) return;
      const sample = ms / records;
      // A slow step counts at once (the next one must be short); quick ones pull the estimate down gradually.
      perRecordMs = perRecordMs === undefined || sample > perRecordMs ? sample : perRecordMs * 0.7 + sample * 0.3;
      const wanted = perRecordMs > 0 ? Math.floor(options.targetMs / perRecordMs) : options.max;
      // Growing at most doubles a slice, so one cheap step cannot make the next one huge.
      current = Math.max(options.min, Math.min(options.max, wanted, current * 2));
    },
  };
}
