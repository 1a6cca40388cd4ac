/**
 * Ingest: consumes the view topics, decodes each record against its view, sends rejects to the
 * dead-letter topic, and applies each partition batch to the store in one write together with the
 * partition's next offset.
 *
 * Ordering per partition: KafkaJS hands a partition's batches one at a time, and a batch is
 * applied (or retried whole) before the next, so per key updates apply in offset order.
 * Rejects are produced, and acknowledged by the broker, before the batch that skips them is
 * applied: a crash in between re-reads them and may dead-letter them twice, never zero times.
 */
import type { GroupAssignor, KafkaClient, KafkaRecord, RecordBatch, RecordConsumer, RecordProducer } from '../kafka/client.ts';
import type { Logger } from '../log.ts';
import { createChangeEvents, type ChangeEvents } from '../store/changes.ts';
import type { AppliedChange, RowChange, ViewStore } from '../store/view-store.ts';
import type { ViewModel } from '../views/model.ts';
import { decodeRecord } from './decode.ts';

export interface IngestorOptions {
  readonly kafka: KafkaClient;
  readonly stores: ReadonlyMap<string, ViewStore>;
  readonly groupId: string;
  readonly deadLetterTopic: string;
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
  /** Set when a consumer crashed for good (not restarting): the instance is then unhealthy. */
  readonly failure: Error | undefined;
  readonly events: ChangeEvents;
}

/** Records per atomic write: small enough to keep the event loop responsive (a few ms). */
const SLICE = 500;

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
  const counters: IngestCounters = { records: 0, applied: 0, deadLettered: 0, batches: 0 };
  const events = createChangeEvents();
  const consumers: RecordConsumer[] = [];
  let failure: Error | undefined;
  let deadLetters: RecordProducer | undefined;

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

  /** Applies one slice of a batch: decode, dead-letter the rejects, write rows and offset. */
  const applySlice = async (store: ViewStore, batch: RecordBatch, records: readonly KafkaRecord[], from: bigint): Promise<void> => {
    const changes: RowChange[] = [];
    const rejects: Array<{ key: Buffer | null; value: string; headers: Record<string, string> }> = [];
    let last: bigint | undefined;
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (offset < from) continue; // already applied before a restart or a re-seek
      last = offset;
      counters.records++;
      const decoded = decodeRecord(store.view, record.key, record.value);
      if (decoded.ok) {
        changes.push({ key: decoded.key, row: decoded.row, offset: record.offset });
        continue;
      }
      rejects.push({
        key: record.key,
        value: JSON.stringify({
          code: decoded.code,
          reason: decoded.reason,
          view: store.view.id,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key: record.key?.toString('base64') ?? null,
          value: record.value?.toString('base64') ?? null,
        }),
        headers: {
          'gw-code': decoded.code,
          'gw-source': `${record.topic}/${record.partition}/${record.offset}`,
        },
      });
    }
    if (last === undefined) return;
    if (rejects.length > 0) {
      deadLetters ??= await kafka.producer();
      await deadLetters.send(options.deadLetterTopic, rejects);
      counters.deadLettered += rejects.length;
      logger.warn('records dead-lettered', {
        topic: batch.topic,
        partition: batch.partition,
        count: rejects.length,
        first: JSON.parse(rejects[0]!.value).reason,
      });
    }
    const nextOffset = String(last + 1n);
    const result = store.apply(batch.partition, changes, nextOffset);
    counters.applied += changes.length;
    counters.batches++;
    events.emit('applied', { view: store.view, partition: batch.partition, nextOffset, changes: result.changes });
  };

  /**
   * A fetched batch is applied in slices of at most SLICE records, each one atomic with its
   * offset, yielding to the event loop in between so queries are not blocked behind a big batch.
   */
  const onBatch = async (batch: RecordBatch): Promise<void> => {
    const store = byTopic.get(batch.topic);
    if (!store) return;
    endOffsets.set(`${batch.topic}/${batch.partition}`, batch.highWatermark);
    for (let start = 0; start < batch.records.length; start += SLICE) {
      const stored = store.nextOffset(batch.partition);
      await applySlice(store, batch, batch.records.slice(start, start + SLICE), stored === undefined ? -1n : BigInt(stored));
      if (start + SLICE < batch.records.length) await new Promise((resolve) => setImmediate(resolve));
    }
  };

  return {
    counters,
    events,
    get failure() {
      return failure;
    },

    async prepare() {
      const specs = [...byTopic.keys()].map((topic) => ({ topic, partitions: options.topicPartitions, compacted: true }));
      specs.push({ topic: options.deadLetterTopic, partitions: 1, compacted: false });
      const counts = await kafka.ensureTopics(specs);
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
        const consumer = kafka.consumer({
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
          onCrash: (error, willRestart) => {
            logger.error('consumer crashed', { error, willRestart });
            if (!willRestart) failure = error;
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
      await deadLetters?.stop();
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
