/**
 * Pre-fill: creates the compacted bench topics through the project's Kafka client and streams the
 * seeded generator's output into one `kcat -P` per topic (keyed lines "key<TAB>json", the
 * Java-compatible murmur2 partitioner, idempotent so per-key order holds). Uncompressed by
 * default; BENCH_COMPRESSION=gzip|snappy|lz4|zstd compresses it (the gateway reads all four).
 * Much faster than producing millions of records through KafkaJS; the gateway's lookups then confirm that the
 * partitions match its own partitioner. Afterwards every topic's end offsets must add up to the
 * records written, or the bench stops.
 *
 * While generating it keeps a deterministic sample of orders (last value per key) for the
 * lookup script and the baseline server.
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { createDataGenerator, type GeneratedRecord } from '../../src/demo/generator.ts';
import { createKafkaClient, type KafkaClient } from '../../src/kafka/client.ts';
import { createLogger } from '../../src/log.ts';
import { startBroker } from './broker.ts';
import { exited, onCleanup, spawnTracked } from './cleanup.ts';
import { step } from './phases.ts';
import { loadSettings, PARTITIONS, TOPIC_PREFIX, TOPICS, type BenchSettings, type TopicName } from './settings.ts';

export type OrderRow = Record<string, unknown>;

export interface PrefillResult {
  readonly records: Record<TopicName, number>;
  readonly total: number;
  readonly bytes: number;
  /** Wall time from the first generated record until every kcat producer flushed and exited. */
  readonly ms: number;
  /** End offsets per topic and partition, after the pre-fill. */
  readonly endOffsets: Map<string, Map<number, bigint>>;
  /** Sampled orders (final value per key), for the baseline server. */
  readonly sampleOrders: OrderRow[];
  /** Order ids for the lookup script: a seeded random subset of the sample. */
  readonly lookupIds: string[];
}

export const topicName = (topic: TopicName): string => `${TOPIC_PREFIX}${topic}`;

/** FNV-1a over UTF-16 units: a cheap, stable sample selector that needs no key format. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/** Seeded Fisher–Yates (mulberry32). */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface TopicWriter {
  readonly topic: TopicName;
  readonly stdin: Writable;
  readonly done: Promise<number | string>;
  readonly stderr: string[];
  lines: string[];
  count: number;
}

function startProducer(brokers: string, topic: TopicName, compression: string): TopicWriter {
  const child = spawnTracked(
    'kcat',
    [
      '-P',
      '-b',
      brokers,
      '-t',
      topicName(topic),
      '-K',
      '\t',
      '-Z',
      '-z',
      compression,
      '-X',
      'topic.partitioner=murmur2_random',
      '-X',
      'enable.idempotence=true',
      '-X',
      'linger.ms=20',
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  return { topic, stdin: child.stdin!, done: exited(child), stderr, lines: [], count: 0 };
}

async function flushLines(writer: TopicWriter): Promise<number> {
  if (writer.lines.length === 0) return 0;
  const text = `${writer.lines.join('\n')}\n`;
  writer.lines = [];
  if (!writer.stdin.write(text)) await once(writer.stdin, 'drain');
  return Buffer.byteLength(text);
}

export async function endOffsets(kafka: KafkaClient): Promise<Map<string, Map<number, bigint>>> {
  const out = new Map<string, Map<number, bigint>>();
  for (const topic of TOPICS) {
    const offsets = await kafka.offsets(topicName(topic));
    out.set(topicName(topic), new Map(offsets.map((entry) => [entry.partition, BigInt(entry.high)])));
  }
  return out;
}

export async function prefill(settings: BenchSettings, brokers: string): Promise<PrefillResult> {
  const kafka = createKafkaClient({ brokers: brokers.split(','), clientId: 'gw-bench', logger: createLogger('warn') });
  try {
    await kafka.ensureTopics(TOPICS.map((topic) => ({ topic: topicName(topic), partitions: PARTITIONS, compacted: true })));
    const started = performance.now();
    const writers = new Map(TOPICS.map((topic) => [topic, startProducer(brokers, topic, settings.compression)] as const));
    const stride = Math.max(1, Math.floor(settings.orders / settings.baselineOrders));
    const sample = new Map<string, OrderRow>();
    let bytes = 0;
    const generator = createDataGenerator({ seed: settings.seed, customers: settings.customers });
    const take = (chunk: readonly GeneratedRecord[]): void => {
      for (const record of chunk) {
        const writer = writers.get(record.topic);
        if (!writer) throw new Error(`generator produced a record for unknown topic ${record.topic}`);
        if (/[\t\n]/.test(record.key)) throw new Error(`key ${JSON.stringify(record.key)} contains a tab or newline`);
        const value = record.value === null ? '' : JSON.stringify(record.value);
        writer.lines.push(`${record.key}\t${value}`);
        writer.count++;
        if (record.topic === 'orders' && fnv1a(record.key) % stride === 0) {
          if (record.value === null) sample.delete(record.key);
          else sample.set(record.key, record.value);
        }
      }
    };
    take(generator.customers());
    for (const writer of writers.values()) bytes += await flushLines(writer);
    for (const chunk of generator.history(settings.orders, { chunk: 2000 })) {
      take(chunk);
      for (const writer of writers.values()) bytes += await flushLines(writer);
    }
    for (const writer of writers.values()) writer.stdin.end();
    for (const writer of writers.values()) {
      const code = await writer.done;
      if (code !== 0) throw new Error(`kcat -P ${writer.topic} exited with ${code}: ${writer.stderr.join('').slice(-2000)}`);
    }
    const ms = performance.now() - started;

    const records = Object.fromEntries(TOPICS.map((topic) => [topic, writers.get(topic)!.count])) as Record<TopicName, number>;
    const offsets = await endOffsets(kafka);
    for (const topic of TOPICS) {
      const inLog = [...(offsets.get(topicName(topic))?.values() ?? [])].reduce((sum, end) => sum + end, 0n);
      if (inLog !== BigInt(records[topic])) {
        throw new Error(`${topicName(topic)} holds ${inLog} records after the pre-fill, expected ${records[topic]}`);
      }
    }
    const sampleOrders = [...sample.values()];
    const lookupIds = shuffled([...sample.keys()], settings.seed).slice(0, settings.lookupIds);
    const total = TOPICS.reduce((sum, topic) => sum + records[topic], 0);
    return { records, total, bytes, ms, endOffsets: offsets, sampleOrders, lookupIds };
  } finally {
    await kafka.stop();
  }
}

/**
 * The start of the benches that measure one gateway on generated data: settings (BENCH_ORDERS
 * defaulting to `orders`), a temp dir removed at exit, a fresh broker and the pre-filled topics.
 */
export async function filledBroker(label: string, orders = '200000') {
  const settings = loadSettings({ ...process.env, BENCH_ORDERS: process.env.BENCH_ORDERS ?? orders });
  const work = mkdtempSync(path.join(settings.tmpRoot, `gw-bench-${label}-`));
  const removeWork = (): void => rmSync(work, { recursive: true, force: true });
  onCleanup('remove temp dir', removeWork, removeWork);
  step(`starting a fresh broker on 127.0.0.1:${settings.kafkaPort}`);
  const broker = await startBroker({ port: settings.kafkaPort, tmpRoot: settings.tmpRoot });
  step(`pre-fill: ${settings.orders} orders`);
  const filled = await prefill(settings, broker.brokers);
  return { settings, work, broker, filled };
}
