/**
 * Ingest's recovery paths with a fake Kafka client (the real broker cannot crash a consumer on
 * demand) and a real store: a consumer that crashes for good is restarted; a dead-letter topic
 * that refuses writes pauses the partition at the first reject, with a growing backoff; envelopes
 * and chunks stay within the budget whatever the record's size.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/cluster/partitioner.ts';
import { chunk, createDeadLetterQueue, DeadLetterRefused, envelope } from '../../src/ingest/dead-letter.ts';
import { createIngestor, type Ingestor } from '../../src/ingest/ingestor.ts';
import type { SliceSizerOptions } from '../../src/ingest/slice-sizer.ts';
import {
  ProduceError,
  type BatchRetry,
  type ConsumerOptions,
  type KafkaClient,
  type KafkaRecord,
  type OutgoingRecord,
  type RecordBatch,
} from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { openKeyValueStore, type KeyValueStore } from '../../src/store/rocks.ts';
import { openViewStore, type ViewStore } from '../../src/store/view-store.ts';
import { compileViews } from '../../src/views/model.ts';
import customers from '../../views/customers.ts';
import orders from '../../views/orders.ts';
import payments from '../../views/payments.ts';
import { order } from '../support/data.ts';
import { waitFor } from '../support/wait.ts';

const VIEW = compileViews([orders, customers, payments]).find((view) => view.id === 'orders')!;

/** A Kafka client whose consumers and dead-letter producer the test drives. */
function fakeKafka() {
  const consumers: Array<{ options: ConsumerOptions; started: boolean; stopped: boolean }> = [];
  const sent: OutgoingRecord[][] = [];
  const state = { refuse: false };
  const client: KafkaClient = {
    ensureTopics: async (specs) => new Map(specs.map((spec) => [spec.topic, spec.partitions])),
    offsets: async () => [{ partition: 0, low: '0', high: '0' }],
    describeGroup: async () => ({ state: 'Stable', members: [] }),
    producer: async () => ({
      async send(_topic, records) {
        if (state.refuse) throw new ProduceError('refused', { tooLarge: false, retriable: true, cause: undefined });
        sent.push([...records]);
        return [];
      },
      stop: async () => undefined,
    }),
    consumer(options) {
      const entry = { options, started: false, stopped: false };
      consumers.push(entry);
      return {
        async start() {
          entry.started = true;
        },
        async stop() {
          entry.stopped = true;
        },
      };
    },
    stop: async () => undefined,
  };
  return { client, consumers, sent, state };
}

function record(offset: number, value: string | null, key = order(offset).orderId): KafkaRecord {
  return {
    topic: VIEW.topic,
    partition: partitionForKey(key, 1),
    offset: String(offset),
    key: Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
  };
}

/** A fresh store per test, for the recovery and slice tests. */
let dir: string;
let kv: KeyValueStore;
let store: ViewStore;
let ingestor: Ingestor | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'gw-ingest-'));
  kv = await openKeyValueStore(dir);
  store = await openViewStore(kv, VIEW);
});
afterEach(async () => {
  await ingestor?.stop();
  await kv.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ingest recovery', () => {
  const start = async (kafka: KafkaClient, slices?: SliceSizerOptions) => {
    ingestor = createIngestor({
      ...(slices ? { slices } : {}),
      kafka,
      stores: new Map([[VIEW.id, store]]),
      groupId: 'g',
      replicaGroupId: 'g.replica',
      deadLetterTopic: 'dlq',
      deadLetterMaxBytes: 64 * 1024,
      recordMaxBytes: 1 << 20,
      partitionOf: partitionForKey,
      topicPartitions: 1,
      logger: createLogger('silent'),
      maxLag: 0,
    });
    await ingestor.prepare();
    await ingestor.start();
    return ingestor;
  };

  it('restarts a consumer that crashed with an error KafkaJS does not restart from', async () => {
    const kafka = fakeKafka();
    const ingest = await start(kafka.client);
    expect(kafka.consumers).toHaveLength(1);
    kafka.consumers[0]!.options.onCrash!(new Error('disk on fire'), false);
    expect(ingest.failure?.message).toBe('disk on fire');
    await waitFor(() => kafka.consumers.length === 2 && kafka.consumers[1]!.started, { what: 'a new consumer', timeoutMs: 5000 });
    expect(kafka.consumers[0]!.stopped).toBe(true);
    expect(ingest.failure).toBeUndefined();
    expect(ingest.counters.consumerRestarts).toBe(1);
    // KafkaJS restarts retriable crashes itself: no second consumer for those.
    kafka.consumers[1]!.options.onCrash!(new Error('broker moved'), true);
    expect(ingest.failure).toBeUndefined();
    expect(kafka.consumers).toHaveLength(2);
  });

  it('applies up to the first reject and waits there with a growing backoff while dead letters are refused', async () => {
    const kafka = fakeKafka();
    const ingest = await start(kafka.client);
    const onBatch = kafka.consumers[0]!.options.onBatch;
    const batch: RecordBatch = {
      topic: VIEW.topic,
      partition: 0,
      highWatermark: '4',
      records: [record(0, JSON.stringify(order(0))), record(1, JSON.stringify(order(1))), record(2, '{"broken'), record(3, JSON.stringify(order(3)))],
    };
    kafka.state.refuse = true;
    const first = (await onBatch(batch)) as BatchRetry;
    const second = (await onBatch(batch)) as BatchRetry;
    expect(first.retryAfterMs).toBeGreaterThan(0);
    expect(second.retryAfterMs).toBe(first.retryAfterMs * 2);
    expect(store.nextOffset(0)).toBe('2');
    expect(ingest.stalled()).toEqual([expect.objectContaining({ topic: VIEW.topic, partition: 0, attempts: 2 })]);
    expect(ingest.counters.records).toBe(2);

    kafka.state.refuse = false;
    expect(await onBatch(batch)).toBeUndefined();
    expect(store.nextOffset(0)).toBe('4');
    expect(ingest.stalled()).toEqual([]);
    expect(ingest.counters).toMatchObject({ records: 4, applied: 3, deadLettered: 1 });
    expect(kafka.sent.flat()).toHaveLength(1);
  });
});

describe('ingest slices', () => {
  /** Slices of exactly three records (an ample time target, a three-record cap). */
  const start = async (kafka: KafkaClient) => {
    ingestor = createIngestor({
      kafka,
      stores: new Map([[VIEW.id, store]]),
      groupId: 'g',
      replicaGroupId: 'g.replica',
      deadLetterTopic: 'dlq',
      deadLetterMaxBytes: 64 * 1024,
      recordMaxBytes: 1 << 20,
      partitionOf: partitionForKey,
      topicPartitions: 1,
      logger: createLogger('silent'),
      maxLag: 0,
      slices: { targetMs: 10_000, min: 1, max: 3, initial: 3 },
    });
    await ingestor.prepare();
    await ingestor.start();
    return ingestor;
  };
  const batchOf = (count: number): RecordBatch => ({
    topic: VIEW.topic,
    partition: 0,
    highWatermark: String(count),
    records: Array.from({ length: count }, (_, i) => record(i, JSON.stringify(order(i)))),
  });

  it('writes each slice with its own next offset and announces it after the write, yielding before every slice', async () => {
    const kafka = fakeKafka();
    const ingest = await start(kafka.client);
    const seen: Array<{ nextOffset: string; stored: string | undefined; offsets: string[]; yielded: number }> = [];
    let yields = 0;
    ingest.events.on('applied', (event) => {
      seen.push({ nextOffset: event.nextOffset, stored: store.nextOffset(0), offsets: event.changes.map((c) => c.offset), yielded: yields });
      setImmediate(() => yields++);
    });
    setImmediate(() => yields++);
    expect(await kafka.consumers[0]!.options.onBatch(batchOf(8))).toBeUndefined();
    expect(seen.map((slice) => [slice.nextOffset, slice.stored, slice.offsets])).toEqual([
      ['3', '3', ['0', '1', '2']],
      ['6', '6', ['3', '4', '5']],
      ['8', '8', ['6', '7']],
    ]);
    // The loop ran in between: before the first slice and between every two.
    expect(seen.map((slice) => slice.yielded)).toEqual([1, 2, 3]);
  });

  it('keeps the slices written before a failed write: a restart resumes after the last one', async () => {
    const kafka = fakeKafka();
    await start(kafka.client);
    const apply = store.apply.bind(store);
    let calls = 0;
    store.apply = (partition, changes, nextOffset) => {
      if (++calls === 2) throw new Error('disk full');
      return apply(partition, changes, nextOffset);
    };
    await expect(kafka.consumers[0]!.options.onBatch(batchOf(8))).rejects.toThrow('disk full');
    expect(store.nextOffset(0)).toBe('3');
    expect(store.getRows([{ partition: 0, key: order(3).orderId }])).toEqual([undefined]);
    // Read again from the stored offset (records below it are skipped), it completes.
    expect(await kafka.consumers[0]!.options.onBatch(batchOf(8))).toBeUndefined();
    expect(store.nextOffset(0)).toBe('8');
    expect(store.getRows([{ partition: 0, key: order(7).orderId }])[0]).toMatchObject({ orderId: order(7).orderId });
  });
});

describe('dead-letter envelopes', () => {
  const reject = (key: Buffer | null, value: Buffer | null) => ({
    record: { topic: 't', partition: 0, offset: '7', key, value },
    view: 'orders',
    code: 'GW_RECORD_INVALID' as const,
    reason: 'state: expected one of …',
  });
  const size = (record: OutgoingRecord) => Buffer.byteLength(record.value as string);

  it.each([
    ['small', 10, 100],
    ['a large value', 10, 5 << 20],
    ['a large key', 2 << 20, 10],
    ['both large', 3 << 20, 3 << 20],
    ['empty', 0, 0],
  ])('stays within the budget for %s', (_, keyBytes, valueBytes) => {
    for (const budget of [4096, 64 * 1024, 512 * 1024]) {
      const out = envelope(reject(Buffer.alloc(keyBytes, 0x61), Buffer.alloc(valueBytes, 0x62)), budget);
      expect(size(out)).toBeLessThanOrEqual(budget);
      const body = JSON.parse(out.value as string);
      expect(body).toMatchObject({ v: 2, keyBytes, valueBytes, offset: '7' });
      if (!body.valueTruncated) expect(Buffer.from(body.value, 'base64').length).toBe(valueBytes);
    }
  });

  it('keeps null keys and tombstone values as null', () => {
    const body = JSON.parse(envelope(reject(null, null), 4096).value as string);
    expect(body).toMatchObject({ key: null, value: null, valueSha256: null });
  });

  it('chunks consecutive envelopes within the budget, in order, one at least per chunk', () => {
    const records = Array.from({ length: 300 }, (_, i) => envelope(reject(Buffer.from(`k${i}`), Buffer.alloc(2000, 0x63)), 64 * 1024));
    const chunks = chunk(records, 64 * 1024);
    expect(chunks.flat()).toEqual(records);
    for (const part of chunks) expect(part.reduce((sum, record) => sum + size(record) + 200, 0)).toBeLessThanOrEqual(64 * 1024);
    expect(chunk([records[0]!], 10)).toEqual([[records[0]]]);
  });

  it('sends a batch again after a refusal part-way through from the first chunk not written, and asks for an idempotent producer', async () => {
    const kafka = fakeKafka();
    const asked: Array<{ idempotent?: boolean } | undefined> = [];
    const realSend = (await kafka.client.producer()).send;
    let sends = 0;
    const queue = createDeadLetterQueue({ kafka: kafka.client, topic: 'dlq', maxBytes: 16 * 1024 });
    const rejects = Array.from({ length: 40 }, (_, i) => ({
      ...reject(Buffer.from(`k${i}`), Buffer.alloc(2000, 0x63)),
      record: { topic: 't', partition: 3, offset: String(100 + i), key: Buffer.from(`k${i}`), value: Buffer.alloc(2000, 0x63) },
    }));
    kafka.client.producer = async (options) => {
      asked.push(options);
      return {
        async send(topic, records) {
          // The third chunk is refused once.
          if (++sends === 3) throw new ProduceError('refused', { tooLarge: false, retriable: true, cause: undefined });
          return realSend(topic, records);
        },
        stop: async () => undefined,
      };
    };
    await expect(queue.send(rejects)).rejects.toBeInstanceOf(DeadLetterRefused);
    const before = kafka.sent.flat().length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(rejects.length);
    await queue.send(rejects);
    const offsets = kafka.sent.flat().map((record) => JSON.parse(record.value as string).offset);
    expect(offsets).toEqual(rejects.map((entry) => entry.record.offset));
    // A later batch of the same partition, and another partition, are sent whole.
    await queue.send([{ ...rejects[0]!, record: { ...rejects[0]!.record, partition: 4 } }]);
    expect(kafka.sent.flat().length).toBe(rejects.length + 1);
    expect(asked.every((options) => options?.idempotent === true)).toBe(true);
    await queue.stop();
  });
});
