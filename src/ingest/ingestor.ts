/**
 * Ingest: consumes the view topics, decodes each record against its view, sends rejects to the
 * dead-letter topic, and applies each partition batch to the store in one write together with the
 * partition's next offset.
 *
 * Ordering per partition: KafkaJS hands a partition's batches one at a time, and a batch is
 * applied (or retried whole) before the next, so per key updates apply in offset order.
 * Rejects are produced, and acknowledged by the broker, before the batch that skips them is
 * applied: a crash in between re-reads them and may dead-letter them twice, never zero times.
 *
 * Nothing a producer writes stops ingest:
 * - a record is rejected (dead-lettered, not applied) when it is larger than `recordMaxBytes`,
 *   is not a valid row of its view, or sits on a partition its key does not map to under the
 *   deployment's partitioner (applying it would leave a second copy of the key in the view);
 * - when the dead-letter topic refuses writes, only that partition stalls: it is paused and read
 *   again after a backoff (500 ms doubling to 30 s), and `stalled()` names it meanwhile;
 * - a consumer that crashes with an error KafkaJS does not restart from is restarted
 *   (restarting-consumer.ts), with the same backoff.
 *
 * One unit, longer than most files: the per-partition state of the consume loop (end offsets,
 * assignment, stalls, counters) is read and written by each of its steps. Decoding
 * (decode.ts), dead letters (dead-letter.ts) and consumer restarts live in their own files.
 */
import type { ErrorCode } from '../errors.ts';
import type { BatchRetry, GroupAssignor, KafkaClient, KafkaRecord, RecordBatch } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import { inSpan, SpanKind, tracingEnabled } from '../tracing.ts';
import { createChangeEvents, type ChangeEvents } from '../store/changes.ts';
import type { RowChange, ViewStore } from '../store/view-store.ts';
import { createDeadLetterQueue, DeadLetterRefused, type Reject } from './dead-letter.ts';
import { decodeRecord } from './decode.ts';
import { createRestartingConsumer, type RestartingConsumer } from './restarting-consumer.ts';
import { createSliceSizer, INGEST_SLICES, type SliceSizer, type SliceSizerOptions } from './slice-sizer.ts';

export interface IngestorOptions {
  readonly kafka: KafkaClient;
  readonly stores: ReadonlyMap<string, ViewStore>;
  readonly groupId: string;
  readonly deadLetterTopic: string;
  /** Largest dead-letter request (and envelope), in bytes. */
  readonly deadLetterMaxBytes: number;
  /** Slice sizing of the synchronous apply steps (default INGEST_SLICES, slice-sizer.ts). */
  readonly slices?: SliceSizerOptions;
  /** Records with a larger key plus value are rejected unread (GW_RECORD_TOO_LARGE). */
  readonly recordMaxBytes: number;
  /** The producers' partitioner: a record on another partition than its key's is rejected. */
  readonly partitionOf: (key: Uint8Array, partitionCount: number) => number;
  readonly topicPartitions: number;
  readonly logger: Logger;
  /** Assignor for the partitioned views' group (membership carries this instance's URL). */
  readonly assignor?: GroupAssignor;
  /** Group id for replicated views: unique per instance, so it receives every partition. */
  readonly replicaGroupId: string;
  /** Called after every rebalance of the partitioned views' group. */
  readonly onRebalance?: () => void;
  /** A partition is caught up (servable) when at most this many records behind its end. */
  readonly maxLag: number;
  /** How often end offsets are re-read for lag (default 1000 ms). */
  readonly endOffsetRefreshMs?: number;
  readonly sessionTimeoutMs?: number;
}

export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** Next offset to apply (everything below is applied); undefined before the first record. */
  readonly nextOffset: string | undefined;
  /** The broker's end offset as last seen. */
  readonly endOffset: string;
  readonly lag: number;
}

export interface IngestCounters {
  records: number;
  applied: number;
  deadLettered: number;
  batches: number;
  /** Dead letters by error code. */
  readonly deadLetteredByCode: Record<string, number>;
  /** Times a partition was paused because the dead-letter topic refused writes. */
  stalls: number;
  /** Consumers restarted after a crash KafkaJS would not restart from. */
  consumerRestarts: number;
}

/** A partition that waits because it cannot go on (the dead-letter topic refuses writes). */
export interface StalledPartition {
  readonly topic: string;
  readonly partition: number;
  /** Epoch ms of the first failed attempt. */
  readonly since: number;
  readonly attempts: number;
  readonly reason: string;
}

export interface Ingestor {
  /** Creates missing topics and returns partition counts per view id. */
  prepare(): Promise<Map<string, number>>;
  start(): Promise<void>;
  stop(): Promise<void>;
  progress(): PartitionProgress[];
  /** Partitions of a topic currently assigned to this instance. */
  assigned(topic: string): readonly number[];
  /**
   * Records the local copy of a partition is behind the topic's end (as last seen), or undefined
   * when this instance holds nothing of it. Counts for revoked partitions too: their data is kept.
   */
  lag(topic: string, partition: number): number | undefined;
  /** Whether a local copy is within the allowed lag. */
  caughtUp(topic: string, partition: number): boolean;
  readonly counters: IngestCounters;
  /** Partitions waiting to retry, with why. */
  stalled(): StalledPartition[];
  /** One partition's wait, if it waits. */
  stall(topic: string, partition: number): StalledPartition | undefined;
  /** Set while a consumer that crashed is down (until its restart succeeds). */
  readonly failure: Error | undefined;
  readonly events: ChangeEvents;
}

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

const backoff = (attempts: number) => Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.min(attempts - 1, 16));

function lagOf(nextOffset: string | undefined, endOffset: string): number {
  const end = Number(endOffset);
  return Math.max(0, end - Number(nextOffset ?? 0));
}

export function createIngestor(options: IngestorOptions): Ingestor {
  const { kafka, stores, logger } = options;
  const byTopic = new Map<string, ViewStore>();
  for (const store of stores.values()) byTopic.set(store.view.topic, store);
  const endOffsets = new Map<string, string>();
  const assigned = new Map<string, readonly number[]>();
  const counters: IngestCounters = { records: 0, applied: 0, deadLettered: 0, batches: 0, deadLetteredByCode: {}, stalls: 0, consumerRestarts: 0 };
  const events = createChangeEvents();
  const consumers: RestartingConsumer[] = [];
  const deadLetters = createDeadLetterQueue({ kafka, topic: options.deadLetterTopic, maxBytes: options.deadLetterMaxBytes });
  const stalls = new Map<string, StalledPartition>();
  // Per topic: a view's records cost alike, another view's may not.
  const sizers = new Map<string, SliceSizer>();
  const sizerOf = (topic: string): SliceSizer => {
    let sizer = sizers.get(topic);
    if (!sizer) sizers.set(topic, (sizer = createSliceSizer(options.slices ?? INGEST_SLICES)));
    return sizer;
  };
  let partitionCounts = new Map<string, number>();

  const refreshEndOffsets = async (): Promise<void> => {
    for (const topic of byTopic.keys()) {
      for (const entry of await kafka.offsets(topic)) {
        const id = `${topic}/${entry.partition}`;
        // Never move backwards: a batch may already have reported a later high watermark.
        if (BigInt(entry.high) > BigInt(endOffsets.get(id) ?? '0')) endOffsets.set(id, entry.high);
        else if (!endOffsets.has(id)) endOffsets.set(id, entry.high);
      }
    }
  };
  let refreshTimer: NodeJS.Timeout | undefined;
  const lagOfPartition = (topic: string, partition: number): number | undefined => {
    const store = byTopic.get(topic);
    const next = store?.nextOffset(partition);
    const end = endOffsets.get(`${topic}/${partition}`) ?? '0';
    if (next === undefined) return end === '0' ? 0 : undefined;
    return lagOf(next, end);
  };

  /** Why a record cannot be applied before it is decoded, if it cannot. */
  const precheck = (record: KafkaRecord, partitionCount: number): { code: ErrorCode; reason: string } | undefined => {
    const size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
    if (size > options.recordMaxBytes) {
      return { code: 'GW_RECORD_TOO_LARGE', reason: `record is ${size} bytes (key and value), over the limit of ${options.recordMaxBytes}` };
    }
    if (record.key !== null && record.key.length > 0) {
      const expected = options.partitionOf(record.key, partitionCount);
      if (expected !== record.partition) {
        return {
          code: 'GW_RECORD_WRONG_PARTITION',
          reason: `record key maps to partition ${expected} of ${partitionCount}, not ${record.partition}: its producer uses another partitioner`,
        };
      }
    }
    return undefined;
  };

  /**
   * Applies one slice of a batch: decode, dead-letter the rejects, write rows and offset.
   * Returns false, having applied nothing, when the dead-letter topic refused the rejects.
   */
  const applySlice = async (store: ViewStore, batch: RecordBatch, records: readonly KafkaRecord[], from: bigint): Promise<boolean> => {
    const started = performance.now();
    const changes: RowChange[] = [];
    const rejects: Reject[] = [];
    const partitionCount = partitionCounts.get(batch.topic) ?? options.topicPartitions;
    let last: bigint | undefined;
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (offset < from) continue; // already applied before a restart or a re-seek
      last = offset;
      counters.records++;
      const refused = precheck(record, partitionCount);
      const decoded = refused ? { ok: false as const, ...refused } : decodeRecord(store.view, record.key, record.value);
      if (decoded.ok) {
        changes.push({ key: decoded.key, row: decoded.row, offset: record.offset });
        continue;
      }
      rejects.push({ record, view: store.view.id, code: decoded.code, reason: decoded.reason });
    }
    if (last === undefined) return true;
    let busyMs = performance.now() - started;
    if (rejects.length > 0) {
      try {
        await deadLetters.send(rejects);
      } catch (error) {
        if (!(error instanceof DeadLetterRefused)) throw error;
        // The valid records before the first reject are applied; the partition waits at the reject.
        const firstReject = BigInt(rejects[0]!.record.offset);
        const before = changes.filter((change) => BigInt(change.offset!) < firstReject);
        if (before.length > 0) commit(store, batch.partition, before, String(firstReject));
        // The rest is counted again when it is read again.
        counters.records -= records.filter((record) => BigInt(record.offset) >= firstReject).length;
        const id = `${batch.topic}/${batch.partition}`;
        const previous = stalls.get(id);
        stalls.set(id, {
          topic: batch.topic,
          partition: batch.partition,
          since: previous?.since ?? Date.now(),
          attempts: (previous?.attempts ?? 0) + 1,
          reason: error.message,
        });
        counters.stalls++;
        logger.warn('partition waits: dead letters not accepted', {
          topic: batch.topic,
          partition: batch.partition,
          attempts: stalls.get(id)!.attempts,
          error,
        });
        return false;
      }
      counters.deadLettered += rejects.length;
      for (const reject of rejects) counters.deadLetteredByCode[reject.code] = (counters.deadLetteredByCode[reject.code] ?? 0) + 1;
      logger.warn('records dead-lettered', {
        topic: batch.topic,
        partition: batch.partition,
        count: rejects.length,
        first: { offset: rejects[0]!.record.offset, code: rejects[0]!.code, reason: rejects[0]!.reason.slice(0, 200) },
      });
    }
    stalls.delete(`${batch.topic}/${batch.partition}`);
    const committing = performance.now();
    commit(store, batch.partition, changes, String(last + 1n));
    busyMs += performance.now() - committing;
    sizerOf(batch.topic).took(records.length, busyMs);
    return true;
  };

  /** Writes changes and the next offset in one batch, then announces them. */
  const commit = (store: ViewStore, partition: number, changes: RowChange[], nextOffset: string): void => {
    const result = store.apply(partition, changes, nextOffset);
    counters.applied += changes.length;
    counters.batches++;
    events.emit('applied', { view: store.view, partition, nextOffset, changes: result.changes });
  };

  const nextTurn = createTurns();

  /**
   * A fetched batch is applied in slices (sized by slice-sizer.ts to a few ms each), each one
   * atomic with its own next offset, so a crash between slices resumes after the last one
   * written. Before every slice, the first of a batch too, ingest yields to the event loop:
   * KafkaJS hands over the batches of one fetch back to back, without yielding in between. The
   * consumers' slices take turns: one per event-loop turn (`createTurns`).
   */
  const applyBatch = async (batch: RecordBatch): Promise<BatchRetry | undefined> => {
    const store = byTopic.get(batch.topic);
    if (!store) return undefined;
    endOffsets.set(`${batch.topic}/${batch.partition}`, batch.highWatermark);
    const sizer = sizerOf(batch.topic);
    for (let start = 0; start < batch.records.length; ) {
      await nextTurn();
      const end = start + sizer.size();
      const stored = store.nextOffset(batch.partition);
      const applied = await applySlice(store, batch, batch.records.slice(start, end), stored === undefined ? -1n : BigInt(stored));
      if (!applied) return { retryAfterMs: backoff(stalls.get(`${batch.topic}/${batch.partition}`)?.attempts ?? 1) };
      start = end;
    }
    return undefined;
  };

  /** With tracing on, each batch is an `ingest batch` span (a root: no request waits for it). */
  const onBatch = (batch: RecordBatch): Promise<BatchRetry | undefined> => {
    if (!tracingEnabled()) return applyBatch(batch);
    const attributes = {
      'messaging.destination.name': batch.topic,
      'messaging.destination.partition.id': String(batch.partition),
      'messaging.batch.message_count': batch.records.length,
    };
    return inSpan('ingest batch', { kind: SpanKind.CONSUMER, attributes }, async (span) => {
      const before = { applied: counters.applied, deadLettered: counters.deadLettered };
      const retry = await applyBatch(batch);
      span?.setAttributes({
        'gw.applied': counters.applied - before.applied,
        'gw.dead_lettered': counters.deadLettered - before.deadLettered,
        'gw.stalled': retry !== undefined,
      });
      return retry;
    });
  };

  return {
    counters,
    events,
    get failure() {
      return consumers.find((consumer) => consumer.failure)?.failure;
    },

    stalled() {
      return [...stalls.values()];
    },

    stall(topic, partition) {
      return stalls.size === 0 ? undefined : stalls.get(`${topic}/${partition}`);
    },

    async prepare() {
      const specs = [...byTopic.keys()].map((topic) => ({ topic, partitions: options.topicPartitions, compacted: true }));
      specs.push({ topic: options.deadLetterTopic, partitions: 1, compacted: false });
      const counts = await kafka.ensureTopics(specs);
      partitionCounts = counts;
      await refreshEndOffsets();
      const out = new Map<string, number>();
      for (const [topic, store] of byTopic) out.set(store.view.id, counts.get(topic) ?? options.topicPartitions);
      return out;
    },

    async start() {
      const groups = [
        { groupId: options.groupId, stores: [...stores.values()].filter((store) => !store.view.replicated), partitioned: true },
        { groupId: options.replicaGroupId, stores: [...stores.values()].filter((store) => store.view.replicated), partitioned: false },
      ];
      for (const group of groups) {
        if (group.stores.length === 0) continue;
        const topics = group.stores.map((store) => store.view.topic);
        const consumer = createRestartingConsumer({
          kafka,
          logger,
          backoff,
          onRestart: () => counters.consumerRestarts++,
          consumer: {
            groupId: group.groupId,
            topics,
            startOffset: (topic, partition) => byTopic.get(topic)?.nextOffset(partition),
            onBatch,
            ...(group.partitioned && options.assignor ? { assignor: options.assignor } : {}),
            ...(options.sessionTimeoutMs ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
            onAssignment: (assignment) => {
              for (const topic of topics) assigned.set(topic, assignment.get(topic) ?? []);
              refreshEndOffsets().catch((error: unknown) => logger.warn('end offsets refresh failed', { error }));
              logger.info('partitions assigned', { group: group.groupId, assignment: Object.fromEntries(assignment) });
              if (group.partitioned) options.onRebalance?.();
            },
          },
        });
        consumers.push(consumer);
        await consumer.start();
      }
      refreshTimer = setInterval(() => {
        refreshEndOffsets().catch((error: unknown) => logger.debug('end offsets refresh failed', { error }));
      }, options.endOffsetRefreshMs ?? 1000);
      refreshTimer.unref();
    },

    async stop() {
      clearInterval(refreshTimer);
      for (const consumer of consumers.splice(0)) await consumer.stop();
      await deadLetters.stop();
    },

    assigned(topic) {
      return assigned.get(topic) ?? [];
    },

    lag: lagOfPartition,

    caughtUp(topic, partition) {
      const lag = lagOfPartition(topic, partition);
      return lag !== undefined && lag <= options.maxLag;
    },

    progress() {
      const out: PartitionProgress[] = [];
      for (const [topic, store] of byTopic) {
        for (const partition of assigned.get(topic) ?? []) {
          const nextOffset = store.nextOffset(partition);
          const endOffset = endOffsets.get(`${topic}/${partition}`) ?? '0';
          out.push({ topic, partition, nextOffset, endOffset, lag: lagOf(nextOffset, endOffset) });
        }
      }
      return out;
    },
  };
}

/**
 * Event-loop turns for ingest slices, one slice per turn across every consumer of the instance.
 * Each consumer (the partitioned views' group and the replicated views' group) applies its batch
 * in slices and yields before each one; with a bare `setImmediate` per slice, the slices of both
 * consumers that were waiting ran in the same check phase, back to back, so timers and requests
 * waited for all of them. Here the waiting slices form one queue and each check phase starts the
 * first of them only.
 */
export function createTurns(): () => Promise<void> {
  const waiting: Array<() => void> = [];
  let scheduled = false;
  const runOne = (): void => {
    // The slice runs in the microtasks right after this callback; an immediate queued now runs
    // in the next turn of the loop.
    waiting.shift()?.();
    if (waiting.length > 0) setImmediate(runOne);
    else scheduled = false;
  };
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (!scheduled) {
        scheduled = true;
        setImmediate(runOne);
      }
    });
}
